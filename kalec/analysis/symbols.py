"""Reading names out of expressions."""

from __future__ import annotations

import ast

from kalec.runtime import global_state

FILE_PREFIX = "file:"  # how a file stands among a step's free names: "file:out/clean.csv"


def dotted_name(node: ast.AST) -> str | None:
    """``np.random.shuffle`` -> "np.random.shuffle"; anything but names and attributes -> None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def describe(name: str) -> str:
    """A variable's name for messages; what a file or a generator's state stands for."""
    if name.startswith(FILE_PREFIX):
        return f"file {name[len(FILE_PREFIX) :]}"
    return global_state.describe(name)
