"""The program a composition stands for, as one notebook: what ``kalec verify`` runs in a kernel,
and what a local run's executed notebook shows (``run_notebook``)."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

from kalec.analysis.parsing import parse
from kalec.frontend.compose import inline
from kalec.frontend.notebook_file import load
from kalec.ir import Pipeline, Role


def program_cells(pipeline: Pipeline, notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """The cells (nbformat's cell objects) of the program ``pipeline`` stands for
    (``notebook``: its root notebook's JSON): each reference replaced by the referenced
    notebook's cells (the reference itself a heading naming it), each parameters cell assigning
    only the names it is the pipeline's declaration of, every cell with an id of its own (a
    notebook referenced twice brings its cells twice)."""
    lines: dict[int, set[int]] = {}
    for param in pipeline.params:
        lines.setdefault(param.origin.cell, set()).add(param.origin.line)
    cells = []
    for item in inline(notebook, Path(pipeline.source), load).cells:
        cell = copy.deepcopy(dict(item.raw))
        if item.tags.reference is not None:
            shown = cell.get("metadata", {}).get("notebook_path", "")
            cell = {
                "cell_type": "markdown",
                "metadata": {"kalec": {"notebook": item.tags.reference}},
                "source": f"**notebook:{item.tags.reference}** ({shown}): its cells follow",
            }
        elif item.tags.role is Role.PARAMETERS:
            cell["source"] = _assigning_only(str(cell.get("source", "")), lines.get(item.number))
        cell["id"] = f"kalec-cell-{item.number}"
        cells.append(cell)
    return cells


def _assigning_only(source: str, wanted: set[int] | None) -> str:
    """A parameters cell's statements at the lines ``wanted`` (those it declares for the
    pipeline): a name another notebook nearer the root declares is not assigned here."""
    try:
        tree = parse(source)
    except SyntaxError:
        return source
    kept = [
        ast.get_source_segment(source, s) or "" for s in tree.body if s.lineno in (wanted or ())
    ]
    return "\n".join(kept)
