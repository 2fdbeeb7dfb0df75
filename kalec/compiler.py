"""Notebook path -> annotated ``Pipeline``: the frontend, then every pass. Runs no user code."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

from kalec.frontend.notebook import read_notebook
from kalec.ir import Pipeline
from kalec.passes import run_passes

# Full collections at most once per this many collections of the middle generation (Python's
# default is 10): compiling allocates millions of syntax-tree nodes, and each full collection
# goes through every object alive, which on a notebook of 50,000 cells made a tenth of the time
# and grew faster than the notebook.
FULL_COLLECTION_EVERY = 100


@contextlib.contextmanager
def _fewer_full_collections() -> Iterator[Callable[[], None]]:
    """Collect garbage less often while compiling; yields ``settle``, to call between passes:
    what exists then (the IR so far) is left out of later collections, until the end. Objects
    freed by their reference counts (nearly all) are freed as usual meanwhile. Left alone when
    the process froze objects of its own (``gc.freeze``), which the end would release."""
    young, middle, old = gc.get_threshold()
    own_freezing = gc.get_freeze_count() == 0
    gc.set_threshold(young, middle, max(old, FULL_COLLECTION_EVERY))
    try:
        yield gc.freeze if own_freezing else (lambda: None)
    finally:
        gc.set_threshold(young, middle, old)
        if own_freezing:
            gc.unfreeze()


def compile_notebook(path: str | Path, text: str | None = None) -> Pipeline:
    """The compiled pipeline; check ``has_errors`` and ``diagnostics`` before using its steps.

    ``text``: the notebook's JSON, when it is not read from ``path`` (see ``read_notebook``).
    Raises ``kalec.frontend.notebook.NotebookError`` when the file is not a notebook at all.
    """
    with _fewer_full_collections() as settle:
        return run_passes(read_notebook(path, text), between=settle)
