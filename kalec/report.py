"""``kalec check``: the compiled pipeline as a person reads it, step by step, or as JSON."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from kalec.analysis.symbols import describe
from kalec.ir import Diagnostic, DiagnosticData, InputKind, Pipeline, Severity
from kalec.ir.places import cell_name, diagnostic_data, notebook_of, notebook_path, place

# What ``check_data`` gives (``kalec check --format json``, the service's check), declared once:
# the service's answers and the panel's TypeScript interfaces are made from these. A record
# that points into the notebook has its cell and line; in a composition also its notebook.


class _Place(TypedDict):
    cell: int | None
    line: int | None


class Where(_Place, total=False):
    notebook: str | None  # in a composition: the cell's notebook (None: the root)


class ParameterData(Where):
    name: str
    type: str
    default: Any


class MetricData(Where):
    name: str
    step: str | None


class NotebookData(Where):
    name: str  # the scope its steps' names start with
    path: str


class DependencyData(Where):
    step: str
    reason: str
    variable: str | None


class InputData(Where):
    name: str
    kind: str
    producer: str | None
    statement: str | None


class _StepFields(TypedDict):
    name: str
    cells: list[int]
    dependencies: list[DependencyData]
    inputs: list[InputData]
    outputs: list[str]
    metrics: list[str]


class StepData(_StepFields, total=False):
    notebook: str | None  # in a composition: the step's notebook (None: the root)
    global_cells: list[int]  # in a composition: its cells as the whole program numbers them


class CheckReport(TypedDict):
    notebook: str
    pipeline: str
    ok: bool
    parameters: list[ParameterData]
    metrics: list[MetricData]
    prelude: list[int]
    search: dict[str, Any] | None  # Katib's Experiment fields, when the notebook has a space
    notebooks: list[NotebookData]
    steps: list[StepData]
    diagnostics: list[DiagnosticData]


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
            "metrics: " + ", ".join(f"{m.reported} (from {m.producer})" for m in pipeline.metrics)
        )
    if pipeline.prelude:
        lines.append("prelude (run first in every step): " + _cells(pipeline, pipeline.prelude, ""))
    scope = ""
    for step in pipeline.steps:
        lines.append("")
        if step.scope != scope:
            scope = step.scope
            lines.append(_notebook_heading(pipeline, scope))
        lines.append(f"step {step.name}  ({_cells(pipeline, step.cells, step.scope)})")
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


def _cells(pipeline: Pipeline, numbers: tuple[int, ...], scope: str) -> str:
    """ "cells 3, 4" as their notebook numbers them (another notebook's named)."""
    shown = []
    for number in numbers:
        where, own = place(pipeline, number)
        shown.append(str(own) if where == scope else cell_name(pipeline, number))
    return ("cell " if len(numbers) == 1 else "cells ") + ", ".join(shown)


def _notebook_heading(pipeline: Pipeline, scope: str) -> str:
    """The line that starts a notebook's steps in a composition."""
    if not scope:
        return f"notebook {pipeline.source} (the root):"
    reference = next(n for n in pipeline.notebooks if n.scope == scope).reference
    return (
        f"notebook {scope}: {notebook_path(pipeline, scope)} "
        f"(referenced in {cell_name(pipeline, reference.cell)})"
    )


def not_a_notebook(source: str, error: Exception) -> dict[str, Any]:
    """``check_data`` of a file that is not a notebook at all (K100)."""
    from kalec.diagnostics import NOT_A_NOTEBOOK

    return {"notebook": source, "ok": False, "diagnostics": [NOT_A_NOTEBOOK(error=error).as_dict()]}


def _where(pipeline: Pipeline, origin: Any) -> Where:
    """Cell and line as the cell's notebook numbers them; in a composition also which
    notebook that is (None: the root)."""
    if origin is None:
        found: Where = {"cell": None, "line": None}
    else:
        found = {"cell": place(pipeline, origin.cell)[1], "line": origin.line or None}
    if pipeline.places:
        found["notebook"] = notebook_of(pipeline, origin.cell) if origin else None
    return found


def check_data(
    pipeline: Pipeline, diagnostics: tuple[Diagnostic, ...] | None = None
) -> CheckReport:
    """The compiled pipeline as JSON-ready data: ``kalec check --format json``, and what a
    server returns. ``diagnostics`` replaces the pipeline's own (after ``--ignore``)."""
    shown = pipeline.diagnostics if diagnostics is None else diagnostics
    return {
        "notebook": pipeline.source,
        "pipeline": pipeline.settings.name,
        "ok": not any(d.severity is Severity.ERROR for d in shown),
        "parameters": [
            {
                "name": p.name,
                "type": p.type.value,
                "default": p.default,
                **_where(pipeline, p.origin),
            }
            for p in pipeline.params
        ],
        "metrics": [
            {"name": m.reported, "step": m.producer, **_where(pipeline, m.origin)}
            for m in pipeline.metrics
        ],
        "prelude": [place(pipeline, n)[1] for n in pipeline.prelude],
        # the search space of ``kalec tune`` (Katib's Experiment fields), when the notebook has one
        "search": json.loads(pipeline.settings.search) if pipeline.settings.search else None,
        "notebooks": [
            {
                "name": n.scope,
                "path": n.path,
                **_where(pipeline, n.reference),
            }
            for n in pipeline.notebooks
        ],
        "steps": [
            {
                "name": step.name,
                "cells": [place(pipeline, n)[1] for n in step.cells],
                **(
                    {"notebook": notebook_of(pipeline, step.cells[0]), "global_cells": step.cells}
                    if pipeline.places
                    else {}
                ),
                "dependencies": [
                    {
                        "step": d.step,
                        "reason": d.reason,
                        "variable": d.variable,
                        **_where(pipeline, d.origin),
                    }
                    for d in step.dependencies
                ],
                "inputs": [
                    {
                        "name": i.name,
                        "kind": i.kind.value,
                        "producer": i.producer,
                        "statement": i.statement,
                        **_where(pipeline, i.origin),
                    }
                    for i in step.inputs
                ],
                "outputs": list(step.outputs),
                "metrics": list(step.metrics),
            }
            for step in pipeline.steps
        ],
        "diagnostics": [diagnostic_data(pipeline, d) for d in shown],
    }
