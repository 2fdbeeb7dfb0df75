"""What reading one cell needs to know of all the others, gathered in one sweep over the cells.

A call ``c.hit()`` changes ``c`` when some class of the notebook defines a ``hit`` that changes
``self``; ``np.random.rand()`` draws from a global generator when some cell imports numpy as
``np``; a draw repeats from run to run when some cell seeds that generator; ``cfg.DEBUG = 1``
changes a module when some cell imports ``cfg``. The sweep reads each cell's tree and keeps
only these few names, so that the cells' trees need not all be held at once.
"""

from __future__ import annotations

import ast

from kalec.analysis.effects import MUTATING_METHODS, SelfMutatingMethods
from kalec.analysis.hazards import seeds_in
from kalec.analysis.process_state import imported_names
from kalec.analysis.random_state import RandomAliases


class WholeNotebook:
    """The notebook-wide names, read one cell's tree at a time."""

    def __init__(self) -> None:
        self._methods = SelfMutatingMethods()
        self.random_aliases = RandomAliases()
        self.seeded: set[str] = set()  # generators some cell seeds: "random", "numpy", "torch"
        self.modules: set[str] = set()  # names some cell binds by an import statement

    def read(self, tree: ast.Module) -> None:
        self._methods.read(tree)
        self.random_aliases.read(tree)
        self.seeded |= seeds_in(tree)
        self.modules |= imported_names(tree)

    def mutating_methods(self) -> frozenset[str]:
        """Methods whose call changes the object called on: the known ones and the notebook's."""
        return MUTATING_METHODS | self._methods.names()
