"""Pass: the ``pipeline-parameters`` cells -> typed pipeline parameters.

Only what a pipeline can carry as a typed input is accepted: a simple assignment of an int,
float, str, bool, list or dict literal. Anything else is an error that points at the line, so
that a parameter never silently turns into a hard-coded value.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from kalec.ir import Diagnostic, Origin, Param, ParamType, Pipeline, Role, Severity

_TYPES = (
    (bool, ParamType.BOOL),
    (int, ParamType.INT),
    (float, ParamType.FLOAT),
    (str, ParamType.STR),
    (list, ParamType.LIST),
    (dict, ParamType.DICT),
)


def _json_able(value: object) -> bool:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return True
    if isinstance(value, list):
        return all(_json_able(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_able(v) for k, v in value.items())
    return False


def param_type(value: object) -> ParamType | None:
    for python_type, kind in _TYPES:
        if type(value) is python_type:
            return (
                kind if kind not in (ParamType.LIST, ParamType.DICT) or _json_able(value) else None
            )
    return None


def parameters(pipeline: Pipeline) -> Pipeline:
    diagnostics: list[Diagnostic] = []
    found: dict[str, Param] = {}
    for cell in pipeline.cells:
        if cell.tags.role is not Role.PARAMETERS:
            continue
        tree = ast.parse(cell.analyzed)
        for statement in tree.body:
            origin = Origin(cell.number, statement.lineno)
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, value_node = statement.targets[0], statement.value
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                target, value_node = statement.target, statement.value
            else:
                diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        "a pipeline-parameters cell holds only assignments like `N = 500`",
                        origin,
                        hint="move other code into a step, or into a cell tagged functions",
                    )
                )
                continue
            if not isinstance(target, ast.Name):
                diagnostics.append(
                    Diagnostic(Severity.ERROR, "a parameter is assigned to one plain name", origin)
                )
                continue
            try:
                value = ast.literal_eval(value_node)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        f"parameter {target.id} must be a literal value, not `{ast.unparse(value_node)}`",
                        origin,
                        hint="write the value itself; compute derived values in a step",
                    )
                )
                continue
            kind = param_type(value)
            if kind is None:
                diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        f"parameter {target.id} = {value!r} is a {type(value).__name__}; a parameter "
                        "is an int, float, str, bool, list or dict (of those, with str keys)",
                        origin,
                        hint="use a list for a tuple; give None-able parameters a default of their type",
                    )
                )
                continue
            if target.id in found:
                diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        f"parameter {target.id} is assigned again; the last value is its default",
                        origin,
                    )
                )
            found[target.id] = Param(target.id, kind, value, origin)
    return replace(
        pipeline,
        params=tuple(found.values()),
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )
