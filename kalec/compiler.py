"""Notebook path -> annotated ``Pipeline``: the frontend, then every pass. Runs no user code."""

from __future__ import annotations

from pathlib import Path

from kalec.frontend.notebook import read_notebook
from kalec.ir import Pipeline
from kalec.passes import run_passes


def compile_notebook(path: str | Path, text: str | None = None) -> Pipeline:
    """The compiled pipeline; check ``has_errors`` and ``diagnostics`` before using its steps.

    ``text``: the notebook's JSON, when it is not read from ``path`` (see ``read_notebook``).
    Raises ``kalec.frontend.notebook.NotebookError`` when the file is not a notebook at all.
    """
    return run_passes(read_notebook(path, text))
