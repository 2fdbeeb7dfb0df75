"""Reading names out of expressions."""

from __future__ import annotations

import ast
import builtins

from kalec.analysis.parsing import walk
from kalec.runtime import global_state

FILE_PREFIX = "file:"  # how a file stands among a step's free names: "file:out/clean.csv"
# what a notebook's code reads without binding: Python's builtins and IPython's own
BUILTIN_NAMES = frozenset(dir(builtins)) | {
    "__file__", "__name__", "__builtins__", "__doc__", "get_ipython", "display", "In", "Out",
    "exit", "quit", "_", "__", "___", "_ih", "_oh", "_dh",
}  # fmt: skip


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


def tree_modules(tree: ast.AST) -> set[str]:
    """Top-level names of the absolute imports in ``tree``, at any depth."""
    modules: set[str] = set()
    for node in walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def describe(name: str) -> str:
    """A variable's name for messages; what a file or a generator's state stands for."""
    if name.startswith(FILE_PREFIX):
        return f"file {name[len(FILE_PREFIX) :]}"
    return global_state.describe(name)
