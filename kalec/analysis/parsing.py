"""Each cell's text is parsed once per compile, whichever pass asks for its syntax tree.

Several passes read the same cells (syntax, parameters, metrics, cell facts, grouping, packages):
``parse`` keeps the trees of recent texts, so a cell costs one parse. The trees are shared:
readers must not change them. The cache holds more trees than a notebook of 10,000 steps has
cells: passes read the cells in order, one after another, and a least-recently-used cache
smaller than the notebook would lose every tree before it is asked for again.
"""

from __future__ import annotations

import ast
import functools
import warnings


@functools.lru_cache(maxsize=32768)
def parse(text: str) -> ast.Module:
    """The syntax tree of ``text``; ``SyntaxError`` (and ``RecursionError``) as ``ast.parse``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "\d" in a plain string
        return ast.parse(text)
