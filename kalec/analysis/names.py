"""Reading names out of expressions."""

from __future__ import annotations

import ast


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
