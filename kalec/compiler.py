"""Notebook path -> annotated ``Pipeline``: the frontend, then every pass. Runs no user code."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

from kalec.analysis.kept_readings import kept
from kalec.frontend.notebook import read_notebook
from kalec.ir import Pipeline
from kalec.passes import run_passes


@contextlib.contextmanager
def _collector_paused() -> Iterator[Callable[[], None]]:
    """Compile without the cyclic garbage collector's automatic runs; yields ``settle``, to
    call between passes, which collects the youngest objects once: what the pass made.

    Compiling allocates millions of syntax-tree nodes, which reference counting frees (the
    passes make no reference cycles: pyflakes' are broken after each check). The automatic
    collections went through the survivors again and again, ever more of them as the
    notebook grows: a tenth of the time on a notebook of 50,000 cells, growing faster than
    the notebook. Collecting once after each pass still frees any cycle a pass leaves.

    What existed before the compile is set aside (``gc.freeze``) while it runs and given back
    to the collector after: a collection between passes looks at what the passes made, not at
    every object of every module imported (a command that starts with the collector off has
    them all among the youngest)."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield lambda: gc.collect(0)
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def compile_notebook(
    path: str | Path, text: str | None = None, confine: Path | None = None
) -> Pipeline:
    """The compiled pipeline; check ``has_errors`` and ``diagnostics`` before using its steps.

    ``text``: the notebook's JSON, when it is not read from ``path`` (see ``read_notebook``);
    ``confine``: the folder the notebooks it references must be in (a server's).
    A notebook read from ``path`` has its code's readings kept between commands
    (``kalec.analysis.kept_readings``); one given as ``text`` (a server's) does not.
    Raises ``kalec.frontend.notebook_file.NotebookError`` when the file is not a notebook at all,
    ``kalec.frontend.compose.ReferenceOutside`` when a reference leaves ``confine``.
    """
    with _collector_paused() as settle:
        notebook = read_notebook(path, text, confine)
        with kept.kept_for(Path(path) if text is None else None):
            return run_passes(notebook, between=settle)
