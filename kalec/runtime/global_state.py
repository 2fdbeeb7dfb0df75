"""Hidden state that a notebook's cells share without naming it: the global random generators.

In a kernel, ``np.random.seed(42)`` in one cell decides what ``np.random.rand()`` gives in every
later cell. Steps run in fresh processes, so the compiler treats each generator's state as a
variable with a reserved name: a step that draws from it reads it and changes it, a step that
seeds it sets it, and the data flow passes it like any value. Here is how a step captures and
restores each one.
"""

from __future__ import annotations

import importlib
from typing import Any

PYTHON_STATE = "_kalec_rng_random"
NUMPY_STATE = "_kalec_rng_numpy"
# reserved name -> (module, function that returns the state, function that sets it, description)
STATES: dict[str, tuple[str, str, str, str]] = {
    PYTHON_STATE: ("random", "getstate", "setstate", "the state of the random module"),
    NUMPY_STATE: ("numpy.random", "get_state", "set_state", "the state of numpy.random"),
}


def describe(name: str) -> str:
    """A variable's name, or what a reserved state name stands for, for messages."""
    return STATES[name][3] if name in STATES else name


def capture(name: str) -> Any:
    module, getter, _, _ = STATES[name]
    return getattr(importlib.import_module(module), getter)()


def restore(name: str, state: Any) -> None:
    module, _, setter, _ = STATES[name]
    getattr(importlib.import_module(module), setter)(state)


def seed_all(seed: int) -> None:
    """Start every global generator from ``seed`` (numpy's only where numpy is installed): two
    runs seeded alike draw the same numbers until one of them seeds again."""
    import importlib.util
    import random

    random.seed(seed)
    if importlib.util.find_spec("numpy") is not None:
        importlib.import_module("numpy.random").seed(seed)
