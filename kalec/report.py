"""``kalec check``: the compiled pipeline as a person reads it, step by step, or as JSON."""

from __future__ import annotations

from typing import Any

from kalec.analysis.symbols import describe
from kalec.ir import Diagnostic, InputKind, Pipeline, Severity


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
    warnings = [d for d in pipeline.diagnostics if d.severity is not Severity.NOTE]
    lines.append("")
    lines.append(
        f"{len(warnings)} warning{'s' * (len(warnings) != 1)}" if warnings else "no problems found"
    )
    return "\n".join(lines) + "\n"


def not_a_notebook(source: str, error: Exception) -> dict[str, Any]:
    """``check_data`` of a file that is not a notebook at all (K100)."""
    from kalec.diagnostics import NOT_A_NOTEBOOK

    return {"notebook": source, "ok": False, "diagnostics": [NOT_A_NOTEBOOK(str(error)).as_dict()]}


def _where(origin: Any) -> dict[str, int | None]:
    return {
        "cell": origin.cell if origin else None,
        "line": (origin.line or None) if origin else None,
    }


def check_data(pipeline: Pipeline, diagnostics: tuple[Diagnostic, ...] | None = None) -> dict:
    """The compiled pipeline as JSON-ready data: ``kalec check --format json``, and what a
    server returns. ``diagnostics`` replaces the pipeline's own (after ``--ignore``)."""
    shown = pipeline.diagnostics if diagnostics is None else diagnostics
    return {
        "notebook": pipeline.source,
        "pipeline": pipeline.settings.name,
        "ok": not any(d.severity is Severity.ERROR for d in shown),
        "parameters": [
            {"name": p.name, "type": p.type.value, "default": p.default, **_where(p.origin)}
            for p in pipeline.params
        ],
        "metrics": [
            {"name": m.name, "step": m.producer, **_where(m.origin)} for m in pipeline.metrics
        ],
        "prelude": list(pipeline.prelude),
        "steps": [
            {
                "name": step.name,
                "cells": list(step.cells),
                "dependencies": [
                    {"step": d.step, "reason": d.reason, "variable": d.variable, **_where(d.origin)}
                    for d in step.dependencies
                ],
                "inputs": [
                    {
                        "name": i.name,
                        "kind": i.kind.value,
                        "producer": i.producer,
                        "statement": i.statement,
                        **_where(i.origin),
                    }
                    for i in step.inputs
                ],
                "outputs": list(step.outputs),
                "metrics": list(step.metrics),
            }
            for step in pipeline.steps
        ],
        "diagnostics": [d.as_dict() for d in shown],
    }
