"""Pass: the ``pipeline-metrics`` cells -> the names reported as pipeline metrics.

One name per line, bare (``accuracy``) or printed (``print(accuracy)``, Kale's spelling).
Which step reports each one is decided by the data flow, like any other read. In a composition
every notebook's metrics are reported; a name two notebooks report is reported under
``SCOPE/NAME`` for the referenced ones (the root keeps the bare name), so both are seen.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.parsing import parse
from kalec.ir import Diagnostic, Metric, Origin, Pipeline, Role


def _names(expression: ast.expr) -> list[str] | None:
    if isinstance(expression, ast.Name):
        return [expression.id]
    if (
        isinstance(expression, ast.Call)
        and isinstance(expression.func, ast.Name)
        and expression.func.id == "print"
        and not expression.keywords
        and all(isinstance(a, ast.Name) for a in expression.args)
    ):
        return [a.id for a in expression.args]
    return None


def metrics(pipeline: Pipeline) -> Pipeline:
    diagnostics: list[Diagnostic] = []
    found: dict[tuple[str, str], Metric] = {}  # (scope, name) -> metric
    for cell in pipeline.cells:
        if cell.tags.role is not Role.METRICS:
            continue
        for statement in parse(cell.analyzed).body:
            origin = Origin(cell.number, statement.lineno)
            names = _names(statement.value) if isinstance(statement, ast.Expr) else None
            if names is None:
                diagnostics.append(D.METRICS_LINE(origin))
                continue
            for name in names:
                found.setdefault((cell.scope, name), Metric(name, origin))
    scopes_of: dict[str, list[str]] = {}
    for scope, name in found:
        scopes_of.setdefault(name, []).append(scope)
    labelled = tuple(
        replace(metric, label=f"{scope}/{name}") if scope and len(scopes_of[name]) > 1 else metric
        for (scope, name), metric in found.items()
    )
    return replace(
        pipeline,
        metrics=labelled,
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )
