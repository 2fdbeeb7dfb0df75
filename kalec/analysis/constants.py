"""Constant expressions (``2 * 50``, ``1e-3 * 5``, ``[1, 2] * 3``) evaluated without running code.

A ``pipeline-parameters`` cell is data: its defaults must be known when compiling, which never
runs the notebook. ``ast.literal_eval`` accepts only literals; people also write arithmetic on
literals. This evaluates exactly that, by walking the syntax tree, with bounds on the size of
what it builds so that no default (``10 ** 10 ** 10``, ``[0] * 10 ** 9``) can exhaust memory.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

_MAX_INT_BITS = 4096
_MAX_LENGTH = 100_000

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}


class NotConstant(ValueError):
    """The expression is not made of literals and arithmetic; the message says what it holds."""


def _check_size(value: Any) -> Any:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value.bit_length() > _MAX_INT_BITS
    ):
        raise NotConstant("the number is too large")
    if isinstance(value, (str, list, tuple)) and len(value) > _MAX_LENGTH:
        raise NotConstant("the value is too long")
    return value


def _guard_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and max(base.bit_length(), 1) * exponent > _MAX_INT_BITS
    ):
        raise NotConstant("the number is too large")


def _guard_repeat(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        if (
            isinstance(sequence, (str, list, tuple))
            and isinstance(count, int)
            and len(sequence) * max(count, 0) > _MAX_LENGTH
        ):
            raise NotConstant("the value is too long")


def constant_value(node: ast.expr) -> Any:
    """The value of a constant expression; ``NotConstant`` for anything else."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (bytes, complex)) or node.value is Ellipsis:
            raise NotConstant(f"{type(node.value).__name__} values are not parameters")
        return node.value
    if isinstance(node, ast.List):
        return _check_size([constant_value(e) for e in node.elts])
    if isinstance(node, ast.Tuple):
        return _check_size(tuple(constant_value(e) for e in node.elts))
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise NotConstant("`**` in a dict is not a constant")
        return {
            constant_value(k): constant_value(v)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = constant_value(node.operand)
        if isinstance(operand, (str, list, tuple, dict)) and not isinstance(node.op, ast.Not):
            raise NotConstant("a sign applies to numbers only")
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = constant_value(node.left), constant_value(node.right)
        if isinstance(node.op, ast.Pow):
            _guard_power(left, right)
        if isinstance(node.op, ast.Mult):
            _guard_repeat(left, right)
        if isinstance(node.op, ast.Mod) and isinstance(left, str):
            raise NotConstant("string formatting is not a constant")
        try:
            return _check_size(_BINARY[type(node.op)](left, right))
        except (ArithmeticError, TypeError, ValueError) as error:
            raise NotConstant(f"it cannot be computed: {error}") from None
    if isinstance(node, ast.Name):
        raise NotConstant(f"it reads the name {node.id}")
    if isinstance(node, ast.Call):
        raise NotConstant("it calls a function")
    raise NotConstant(f"it is {type(node).__name__.lower()} syntax, not a constant")
