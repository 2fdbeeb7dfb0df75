"""Notebook file -> ``Pipeline`` holding its code cells, parsed tags and notebook settings.

The frontend only reads: it never runs a cell. Everything wrong with the notebook becomes a
diagnostic in the pipeline, never an exception, except a file that is not a notebook at all
(``NotebookError``), which leaves nothing to point at.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import nbformat

from kalec.frontend.magics import MagicError, to_analyzed, to_python
from kalec.frontend.tags import parse_cell_tags
from kalec.ir import (
    CodeCell,
    Diagnostic,
    Origin,
    Pipeline,
    Role,
    Settings,
    Severity,
    Volume,
)


class NotebookError(Exception):
    """The file cannot be read as a Jupyter notebook."""


# Notebook metadata kalec reads: its own section, and Kale's so that Kale notebooks compile as-is.
_KALEC_KEYS = {"name", "description", "image", "experiment", "volumes"}
_KALE_KEYS = {
    "pipeline_name": "name",
    "pipeline_description": "description",
    "docker_image": "image",
    "experiment_name": "experiment",
    "volumes": "volumes",
}
# Kale writes these too; they mean nothing to kalec but are not worth a note each time.
_KALE_QUIET = {
    "experiment",
    "katib_run",
    "katib_metadata",
    "autosnapshot",
    "snapshot_volumes",
    "steps_defaults",
    "storage_class_name",
    "volume_access_mode",
    "base_image",
}


def pipeline_name_from(path: Path) -> str:
    """A default pipeline name from the file name: lower case, words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "pipeline"


def _volumes(raw: Any, diagnostics: list[Diagnostic]) -> tuple[Volume, ...]:
    volumes = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        mount = item.get("mount_point") or item.get("mount_path")
        if not name or not mount:
            diagnostics.append(
                Diagnostic(
                    Severity.WARNING, f"volume {item!r} needs a name and a mount point; ignored"
                )
            )
            continue
        size = item.get("size")
        if size is not None and item.get("size_type") and str(size).isdigit():
            size = f"{size}{item['size_type']}"
        volumes.append(
            Volume(
                str(name),
                str(mount),
                None if size is None else str(size),
                str(item.get("type") or "pvc"),
            )
        )
    return tuple(volumes)


def read_settings(metadata: dict, path: Path, diagnostics: list[Diagnostic]) -> Settings:
    """Notebook-level settings: Kale's section first, kalec's own section overriding it."""
    values: dict[str, Any] = {}
    kale = metadata.get("kubeflow_notebook")
    if isinstance(kale, dict):
        for key, value in kale.items():
            if key in _KALE_KEYS:
                values[_KALE_KEYS[key]] = value
            elif key == "experiment" and isinstance(value, dict) and value.get("name"):
                values.setdefault("experiment", value["name"])
            elif key not in _KALE_QUIET:
                diagnostics.append(
                    Diagnostic(
                        Severity.NOTE,
                        f"notebook setting kubeflow_notebook.{key} is not used by kalec",
                    )
                )
    own = metadata.get("kalec")
    if isinstance(own, dict):
        for key, value in own.items():
            if key in _KALEC_KEYS:
                values[key] = value
            else:
                diagnostics.append(
                    Diagnostic(
                        Severity.NOTE,
                        f"notebook setting kalec.{key} is not known to kalec; it is ignored",
                        hint=f"known settings: {', '.join(sorted(_KALEC_KEYS))}",
                    )
                )

    def text(key: str) -> str | None:
        value = values.get(key)
        return str(value) if value not in (None, "") else None

    return Settings(
        name=text("name") or pipeline_name_from(path),
        description=text("description") or "",
        image=text("image"),
        experiment=text("experiment"),
        volumes=_volumes(values.get("volumes"), diagnostics),
    )


def load(path: Path) -> nbformat.NotebookNode:
    """Read a notebook of format 4, upgrading older formats the way Jupyter does."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError("no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(f"cannot read the file: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"not a Jupyter notebook: invalid JSON ({error})") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError("not a Jupyter notebook: no cells")
    major = data.get("nbformat")
    if not isinstance(major, int) or major < 3:
        raise NotebookError(
            f"notebook format {major!r} is too old to read; open and save it in Jupyter to upgrade it"
        )
    if major > 4:
        raise NotebookError(f"notebook format {major} is newer than this kalec understands (4)")
    try:
        with warnings.catch_warnings():  # e.g. cells without ids, from older Jupyter versions
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat reports malformed notebooks with several exception types
        raise NotebookError(f"not a valid Jupyter notebook: {error}") from None
    return notebook


def read_notebook(path: str | Path) -> Pipeline:
    """The notebook's kept code cells, each with its tags and its runnable and analysed text."""
    path = Path(path)
    notebook = load(path)
    diagnostics: list[Diagnostic] = []
    metadata = notebook.get("metadata", {})
    settings = read_settings(metadata if isinstance(metadata, dict) else {}, path, diagnostics)
    cells: list[CodeCell] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        origin = Origin(number)
        raw_tags = cell.get("metadata", {}).get("tags", [])
        if not isinstance(raw_tags, list):
            raw_tags = []
        tags, tag_diagnostics = parse_cell_tags(raw_tags, origin)
        diagnostics.extend(tag_diagnostics)
        if tags.role is Role.SKIP:
            continue
        source = cell.get("source", "")
        try:
            python = to_python(source)
        except MagicError as error:
            diagnostics.append(Diagnostic(Severity.ERROR, str(error), origin))
            python = ""
        cells.append(CodeCell(number, source, python, to_analyzed(python), tags))
    return Pipeline(
        source=str(path),
        settings=settings,
        cells=tuple(cells),
        diagnostics=tuple(diagnostics),
    )
