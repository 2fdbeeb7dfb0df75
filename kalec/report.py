"""``kalec check``: the compiled pipeline as a person reads it, step by step."""

from __future__ import annotations

from kalec.analysis.names import describe
from kalec.ir import InputKind, Pipeline


def check_report(pipeline: Pipeline) -> str:
    count = len(pipeline.steps)
    lines = [
        f"pipeline {pipeline.settings.name}: {count} step{'s' * (count != 1)} "
        f"(from {pipeline.source})"
    ]
    if pipeline.params:
        params = ", ".join(
            f"{p.name}: {p.type.value}{' or None' if p.default is None else ''} = {p.default!r}"
            for p in pipeline.params
        )
        lines.append(f"parameters: {params}")
    if pipeline.metrics:
        lines.append(
            "metrics: " + ", ".join(f"{m.name} (from {m.producer})" for m in pipeline.metrics)
        )
    if pipeline.prelude:
        lines.append(
            "prelude (run first in every step): cells "
            + ", ".join(str(n) for n in pipeline.prelude)
        )
    for step in pipeline.steps:
        lines.append("")
        lines.append(f"step {step.name}  (cells {', '.join(str(n) for n in step.cells)})")
        if step.dependencies:
            after = ", ".join(
                d.step + ("" if d.reason == "prev" else f" [added: reads {describe(d.variable)}]")
                for d in step.dependencies
            )
            lines.append(f"  after:   {after}")
        described = []
        for item in step.inputs:
            if item.kind in (InputKind.ARTIFACT, InputKind.FILE):
                described.append(f"{describe(item.name)} <- {item.producer}")
            elif item.kind is InputKind.PARAM:
                described.append(f"{item.name} <- parameter")
            else:
                described.append(f"{item.name} <- `{item.statement}`")
        if described:
            lines.append(f"  inputs:  {', '.join(described)}")
        if step.outputs:
            lines.append(f"  outputs: {', '.join(describe(n) for n in step.outputs)}")
        if step.metrics:
            lines.append(f"  metrics: {', '.join(step.metrics)}")
        options = step.options
        settings = [f"{k}={v}" for k, v in options.limits]
        if options.image:
            settings.append(f"image={options.image}")
        if options.retries is not None:
            settings.append(f"retries={options.retries}")
        if options.timeout_seconds is not None:
            settings.append(f"timeout={options.timeout_seconds}s")
        if options.cache is not None:
            settings.append("cache=" + ("enabled" if options.cache else "disabled"))
        if settings:
            lines.append(f"  settings: {', '.join(settings)}")
    warnings = [d for d in pipeline.diagnostics if d.severity.value != "note"]
    lines.append("")
    lines.append(
        f"{len(warnings)} warning{'s' * (len(warnings) != 1)}" if warnings else "no problems found"
    )
    return "\n".join(lines) + "\n"
