"""Each cell's text is parsed once per compile, whichever pass asks for its syntax tree.

Several passes read the same cells (syntax, parameters, metrics, cell facts, grouping, packages):
``parse`` keeps the trees of recent texts, so a cell costs one parse. The trees are shared:
readers must not change them.
"""

from __future__ import annotations

import ast
import functools
import warnings


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> ast.Module:
    """The syntax tree of ``text``; ``SyntaxError`` (and ``RecursionError``) as ``ast.parse``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "\d" in a plain string
        return ast.parse(text)
