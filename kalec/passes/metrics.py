"""Pass: the ``pipeline-metrics`` cells -> the names reported as pipeline metrics.

One name per line, bare (``accuracy``) or printed (``print(accuracy)``, Kale's spelling).
Which step reports each one is decided by the data flow, like any other read.
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
    found: dict[str, Metric] = {}
    for cell in pipeline.cells:
        if cell.tags.role is not Role.METRICS:
            continue
        for statement in parse(cell.analyzed).body:
            origin = Origin(cell.number, statement.lineno)
            names = _names(statement.value) if isinstance(statement, ast.Expr) else None
            if names is None:
                diagnostics.append(
                    D.METRICS_LINE(
                        "a pipeline-metrics cell names one variable per line: `accuracy` or "
                        "`print(accuracy)`",
                        origin,
                        hint="compute the metric in a step, and name only the variable here",
                    )
                )
                continue
            for name in names:
                found.setdefault(name, Metric(name, origin))
    return replace(
        pipeline,
        metrics=tuple(found.values()),
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )
