"""A local run as an executed notebook: the notebook's cells with the outputs the pipeline's
steps produced, as papermill leaves an output notebook, plus an HTML page of it.

Each step records what its cells showed (``kalec-display.json``); the prelude runs in every
step, and its outputs are taken from the first step that ran it, as Jupyter would show them
once. Each code cell's metadata names its step (``metadata.kalec.step``); cells tagged ``skip``
keep no output.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from pathlib import Path
from typing import Any

from kalec.frontend.notebook_file import NotebookError, load, loads
from kalec.ir import Pipeline
from kalec.ir.places import cell_name
from kalec.local.program import program_cells
from kalec.runtime.notebook_html import page
from kalec.runtime.protocol import DISPLAY_FILE


def _recorded(folders: dict[str, Path]) -> dict[str, dict[int, list[dict[str, Any]]]]:
    found = {}
    for step, folder in folders.items():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data = json.loads((folder / DISPLAY_FILE).read_text(encoding="utf-8"))
            found[step] = {int(k): v for k, v in data.items() if isinstance(v, list)}
    return found


def write_run_notebook(
    pipeline: Pipeline, folders: dict[str, Path], run_dir: Path, text: str | None = None
) -> Path | None:
    """Write ``<run>/<notebook>.ipynb`` and ``.html``; the notebook's path (None: nothing ran).
    ``text``: the notebook's JSON when the run was of another version than the file's."""
    recorded = _recorded(folders)
    if not recorded:
        return None
    try:
        notebook = load(Path(pipeline.source)) if text is None else loads(text)
    except NotebookError:
        return None
    steps_of: dict[int, list[str]] = {}
    for step in pipeline.steps:
        for number in step.cells:
            steps_of.setdefault(number, []).append(step.name)
    prelude = set(pipeline.prelude).union(*(s.prelude for s in pipeline.steps))
    roles = {c.number: c.tags.role.value for c in pipeline.cells if c.tags.role is not None}
    result = copy.deepcopy(notebook)
    if pipeline.notebooks:  # a composition: the program it stands for, one notebook
        result["cells"] = program_cells(pipeline, result)
    count = 0
    shown = []
    for number, cell in enumerate(result.get("cells", []), start=1):
        kind = cell.get("cell_type")
        label = cell_name(pipeline, number)
        entry: dict[str, Any] = {"source": str(cell.get("source", "")), "kind": kind}
        if kind == "code":
            names = steps_of.get(number, [])
            outputs = _outputs_of(number, names, prelude, recorded, pipeline)
            ran = outputs is not None
            count += ran
            outputs = outputs or []
            for output in outputs:
                if output.get("output_type") == "execute_result":
                    output["execution_count"] = count
            cell["outputs"] = outputs
            cell["execution_count"] = count if ran else None
            meta: dict[str, Any] = {}
            if names:
                meta["step"] = names[0] if len(names) == 1 else names
                label += ", step " + ", ".join(names)
            elif number in prelude:
                meta["role"] = "prelude"
                label += ", prelude (runs in every step)"
            elif number in roles:
                meta["role"] = roles[number]
                label += f", {roles[number]}"
            else:
                meta["skipped"] = True
                label += ", skipped"
                entry["skipped"] = True
            cell.setdefault("metadata", {})["kalec"] = meta
            entry["outputs"] = outputs
        entry["label"] = label
        shown.append(entry)
    stem = Path(pipeline.source).name.removesuffix(".ipynb") or "notebook"
    target = run_dir / f"{stem}.ipynb"
    _write(target, json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    _write(run_dir / f"{stem}.html", page(Path(pipeline.source).name, shown))
    return target


def _outputs_of(
    number: int,
    steps: list[str],
    prelude: set[int],
    recorded: dict[str, dict[int, list[dict[str, Any]]]],
    pipeline: Pipeline,
) -> list[dict[str, Any]] | None:
    """The outputs a cell had in the run; None when no step ran it."""
    candidates = steps if number not in prelude else [s.name for s in pipeline.steps]
    for step in candidates:
        if number in recorded.get(step, {}):
            return copy.deepcopy(recorded[step][number])
    return None


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".kalec-tmp-{path.name}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
