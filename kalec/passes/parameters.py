"""Pass: the ``pipeline-parameters`` cells -> typed pipeline parameters.

Only what a pipeline can carry as a typed input is accepted: a simple assignment of an int,
float, str, bool, list or dict constant (a literal, or arithmetic on literals such as
``2 * 50``, evaluated here without running anything), or ``None``, which makes an optional
string. Anything else is an error that points at the line, so that a parameter never silently
turns into a hard-coded value. Names and values must also survive the targets: KFP names
parameters with ASCII letters, digits and ``_`` starting with a letter, and carries numbers as
JSON (finite, and exact only up to 2**53).
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.constants import NotConstant, constant_value
from kalec.analysis.parsing import parse
from kalec.ir import Diagnostic, Origin, Param, ParamType, Pipeline, Role

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


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESERVED = {"Output"}  # kfp's name for a component's single output
_EXACT_INT = 2**53  # beyond this a JSON number (a double) no longer holds every integer


def _value_problem(value: object, depth: int = 0) -> str | None:
    """Why a default cannot travel as a pipeline parameter, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number, which JSON (how pipelines carry it) cannot hold"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _EXACT_INT:
        return f"{value} is larger than 2**53, past which pipelines carry integers inexactly"
    if isinstance(value, str) and not _encodable(value):
        return f"{value!r} holds a lone surrogate, which no UTF-8 text (how pipelines carry it) can"
    if isinstance(value, list):
        return next((p for v in value if (p := _value_problem(v, depth + 1))), None)
    if isinstance(value, dict):
        return next(
            (
                p
                for k, v in value.items()
                if (p := _value_problem(k, depth + 1) or _value_problem(v, depth + 1))
            ),
            None,
        )
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def param_type(value: object) -> ParamType | None:
    for python_type, kind in _TYPES:
        if type(value) is python_type:
            return (
                kind if kind not in (ParamType.LIST, ParamType.DICT) or _json_able(value) else None
            )
    return None


def parameters(pipeline: Pipeline) -> Pipeline:
    """Each notebook's parameters (the last assignment of a name is its default); in a
    composition one parameter per name, declared by the notebook nearest the root: the root's
    own, else the first in reading order. (In the program a composition stands for, a
    parameters cell assigns only the names it declares for the pipeline.)"""
    diagnostics: list[Diagnostic] = []
    by_scope: dict[str, dict[str, Param]] = {}
    for cell in pipeline.cells:
        if cell.tags.role is not Role.PARAMETERS:
            continue
        found = by_scope.setdefault(cell.scope, {})
        tree = parse(cell.analyzed)
        for statement in tree.body:
            origin = Origin(cell.number, statement.lineno)
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, value_node = statement.targets[0], statement.value
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                target, value_node = statement.target, statement.value
            else:
                diagnostics.append(D.PARAM_NOT_ASSIGNMENT(origin))
                continue
            if not isinstance(target, ast.Name):
                diagnostics.append(D.PARAM_NOT_A_NAME(origin))
                continue
            if target.id in _RESERVED:
                diagnostics.append(D.PARAM_RESERVED(origin, name=target.id))
                continue
            if not _NAME.fullmatch(target.id):
                diagnostics.append(D.PARAM_NAME_INVALID(origin, name=target.id))
                continue
            try:
                value = constant_value(value_node)
            except (NotConstant, RecursionError, MemoryError) as error:
                diagnostics.append(
                    D.PARAM_NOT_CONSTANT(
                        origin,
                        name=target.id,
                        expression=ast.unparse(value_node)[:80],
                        error=error,
                    )
                )
                continue
            if value is None:  # an optional string: None unless a run gives a value
                found[target.id] = Param(target.id, ParamType.STR, None, origin)
                continue
            problem = _value_problem(value)
            if problem:
                diagnostics.append(D.PARAM_VALUE_INVALID(origin, name=target.id, problem=problem))
                continue
            kind = param_type(value)
            if kind is None:
                diagnostics.append(
                    D.PARAM_TYPE(
                        origin,
                        name=target.id,
                        value=repr(value)[:80],
                        type=type(value).__name__,
                    )
                )
                continue
            if target.id in found:
                diagnostics.append(D.PARAM_REASSIGNED(origin, name=target.id))
            found[target.id] = Param(target.id, kind, value, origin)
    declared: dict[str, Param] = {}
    for scope in sorted(by_scope, key=lambda s: s != ""):  # the root first, then reading order
        for name, param in by_scope[scope].items():
            declared.setdefault(name, param)
    return replace(
        pipeline,
        params=tuple(declared.values()),
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )
