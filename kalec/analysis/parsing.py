"""Each cell's text is parsed once per compile, whichever pass asks for its syntax tree.

Several passes read the same cells (syntax, parameters, metrics, cell facts, grouping, packages):
``parse`` keeps the trees of recent texts, so a cell costs one parse. The trees are shared:
readers must not change them. The cache is bounded by what the trees weigh (about a hundred bytes
a character of source, measured here), so that a server compiling many large notebooks does not
keep them all.
"""

from __future__ import annotations

import ast
import warnings

from kalec.sized_cache import sized

TREE_BYTES_PER_CHARACTER = 100
MAX_TREE_BYTES = 512 * 2**20


@sized(MAX_TREE_BYTES, lambda text, tree: TREE_BYTES_PER_CHARACTER * len(text) + 500)
def parse(text: str) -> ast.Module:
    """The syntax tree of ``text``; ``SyntaxError`` (and ``RecursionError``) as ``ast.parse``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "\d" in a plain string
        return ast.parse(text)
