"""Syntax trees of cells, shared by the passes that read them, and one walk through each.

Several passes read the same cells (syntax, parameters, metrics, cell facts, grouping, packages):
``parse`` keeps the trees of recent texts, so in a notebook of ordinary size a cell costs one
parse. The trees are shared: readers must not change them. The cache is bounded by what the
trees weigh (about a hundred bytes a character of source, measured here), and kept small: a
parse costs some 30 microseconds a cell, while every tree kept is memory, and objects each
garbage collection goes through. A notebook of 50,000 cells is parsed again by each sweep over
it, which is what lets it compile in a few hundred megabytes.
"""

from __future__ import annotations

import ast
import functools
import warnings

from kalec.sized_cache import sized

TREE_BYTES_PER_CHARACTER = 100
MAX_TREE_BYTES = 16 * 2**20


@sized(MAX_TREE_BYTES, lambda text, tree: TREE_BYTES_PER_CHARACTER * len(text) + 500)
def parse(text: str) -> ast.Module:
    """The syntax tree of ``text``; ``SyntaxError`` (and ``RecursionError``) as ``ast.parse``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "\d" in a plain string
        return ast.parse(text)


def children(node: ast.AST) -> list[ast.AST]:
    """The direct children of ``node``, in ``ast.iter_child_nodes``'s order, in one list."""
    found = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            found.append(value)
        elif isinstance(value, list):
            found += [item for item in value if isinstance(item, ast.AST)]
    return found


@functools.lru_cache(maxsize=4)  # keyed by the tree itself, held while cached: no reused ids
def _nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    found = [tree]
    index = 0
    while index < len(found):
        found += children(found[index])
        index += 1
    return tuple(found)


def walk(tree: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of ``tree``, in ``ast.walk``'s order (breadth first). The readings of a cell
    (hazards, files, random generators, classes, dynamic reads) each go through all its nodes:
    listed once and shared, that is one walk a cell instead of one per reading."""
    return _nodes(tree)


def depth(tree: ast.AST) -> int:
    """How deep the syntax tree goes, measured without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack += [(child, level + 1) for child in children(node)]
    return deepest
