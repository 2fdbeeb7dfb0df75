"""Calls that seed or draw from the global random generators (``random``, ``numpy.random``).

Such a call touches state no variable names: ``np.random.seed(0)`` sets it, ``np.random.rand()``
reads and advances it. Each call is reported against the reserved name of that state (see
``kalec.runtime.global_state``), so that the data flow passes the state between steps like any
value and a step draws what the notebook would have drawn at that point.

Which names stand for the modules is read from the notebook's own imports (``import numpy as
np``, ``from numpy.random import rand``); nothing is imported.

Libraries draw from numpy's generator too, where no seed was given to them: an estimator's
``fit`` without ``random_state``, ``train_test_split``, ``df.sample()``, scipy's ``rvs``,
seaborn's bootstrapped error bars. In a notebook each such call moves on the state every
later draw starts from; so in a notebook that imports one of those libraries, these calls
count as draws (``draws_implicitly``), and the state travels through the steps that make
them in the notebook's order. A call that gives ``random_state`` (or ``seed``) a value draws
from its own generator and does not count.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from kalec.analysis.parsing import walk
from kalec.analysis.symbols import dotted_name
from kalec.runtime.global_state import NUMPY_STATE, PYTHON_STATE

_SEEDING = {"seed", "setstate", "set_state"}
# Constructors of generators with a state of their own: they leave the global state alone.
_INDEPENDENT = {
    "Random", "SystemRandom", "default_rng", "Generator", "RandomState", "SeedSequence",
    "BitGenerator", "PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64",
}  # fmt: skip


# Libraries whose calls may draw from numpy's global generator.
_NUMPY_USERS = {
    "numpy", "sklearn", "pandas", "scipy", "statsmodels", "seaborn", "imblearn", "xgboost",
    "lightgbm", "catboost", "umap", "hdbscan",
}  # fmt: skip
# Methods and functions that draw from it when given no seed of their own.
_IMPLICIT_METHODS = {
    "fit", "fit_transform", "fit_predict", "partial_fit", "fit_resample", "sample", "rvs",
}  # fmt: skip
_IMPLICIT_FUNCTIONS = {
    "train_test_split", "cross_val_score", "cross_validate", "cross_val_predict",
    "permutation_importance", "learning_curve", "validation_curve", "shuffle", "resample",
    "sample_without_replacement", "barplot", "pointplot", "regplot", "lmplot", "bootstrap",
    "permutation_test", "check_random_state",
}  # fmt: skip


@dataclass
class RandomAliases:
    """The names under which a notebook reaches the global generators."""

    python_modules: set[str] = field(default_factory=set)  # import random [as r]
    python_functions: dict[str, str] = field(default_factory=dict)  # from random import x [as y]
    numpy_modules: set[str] = field(default_factory=set)  # import numpy [as np]
    numpy_random_modules: set[str] = field(default_factory=set)  # from numpy import random as npr
    numpy_functions: dict[str, str] = field(default_factory=dict)  # from numpy.random import rand
    numpy_users: bool = False  # the notebook imports a library that draws from numpy's state

    def read(self, tree: ast.Module) -> None:
        """Add the aliases one cell's imports make."""
        for node in walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.partition(".")[0] in _NUMPY_USERS:
                        self.numpy_users = True
                    if alias.name == "random":
                        self.python_modules.add(alias.asname or "random")
                    elif alias.name == "numpy":
                        self.numpy_modules.add(alias.asname or "numpy")
                    elif alias.name == "numpy.random":
                        if alias.asname:
                            self.numpy_random_modules.add(alias.asname)
                        else:
                            self.numpy_modules.add("numpy")
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                if (node.module or "").partition(".")[0] in _NUMPY_USERS:
                    self.numpy_users = True
                for alias in node.names:
                    local = alias.asname or alias.name
                    if node.module == "random":
                        self.python_functions[local] = alias.name
                    elif node.module == "numpy" and alias.name == "random":
                        self.numpy_random_modules.add(local)
                    elif node.module == "numpy.random":
                        self.numpy_functions[local] = alias.name

    def effect(self, call: ast.Call) -> tuple[str, bool] | None:
        """(state name, True when the call seeds it) for a call on a global generator."""
        name = dotted_name(call.func)
        if not name:
            return None
        parts = name.split(".")
        if len(parts) == 2 and parts[0] in self.python_modules:
            state, function = PYTHON_STATE, parts[1]
        elif len(parts) == 1 and parts[0] in self.python_functions:
            state, function = PYTHON_STATE, self.python_functions[parts[0]]
        elif len(parts) == 3 and parts[0] in self.numpy_modules and parts[1] == "random":
            state, function = NUMPY_STATE, parts[2]
        elif len(parts) == 2 and parts[0] in self.numpy_random_modules:
            state, function = NUMPY_STATE, parts[1]
        elif len(parts) == 1 and parts[0] in self.numpy_functions:
            state, function = NUMPY_STATE, self.numpy_functions[parts[0]]
        else:
            return None
        if function in _INDEPENDENT:
            return None
        return state, function in _SEEDING

    def draws_implicitly(self, call: ast.Call) -> bool:
        """True when a library call may draw from numpy's global generator: one of the calls
        known to, in a notebook that imports such a library, given no seed of its own."""
        if not self.numpy_users:
            return False
        func = call.func
        if isinstance(func, ast.Attribute):
            name = func.attr
            known = name in _IMPLICIT_METHODS or name in _IMPLICIT_FUNCTIONS
        elif isinstance(func, ast.Name):
            name = func.id
            known = name in _IMPLICIT_FUNCTIONS or name.startswith("make_")
        else:
            return False
        if isinstance(func, ast.Attribute) and name.startswith("make_"):
            known = dotted_name(func.value) in ("datasets", "sklearn.datasets")
        if not known:
            return False
        for keyword in call.keywords:
            if keyword.arg in ("random_state", "seed", "rng"):
                value = keyword.value
                return isinstance(value, ast.Constant) and value.value is None
        return True
