"""Notebook file -> ``Pipeline`` holding its code cells, parsed tags and notebook settings.

The frontend only reads: it never runs a cell. Everything wrong with the notebook becomes a
diagnostic in the pipeline, never an exception, except a file that is not a notebook at all
(``NotebookError``), which leaves nothing to point at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kalec import cluster_names
from kalec import diagnostics as D
from kalec.frontend.compose import inline
from kalec.frontend.magics import MagicError, to_analyzed, to_python
from kalec.frontend.notebook_file import load, loads
from kalec.frontend.tags import remember_meanings
from kalec.ir import (
    CodeCell,
    Diagnostic,
    Origin,
    Pipeline,
    Role,
    Settings,
    Volume,
)

# Notebook metadata kalec reads: its own section, and Kale's so that Kale notebooks compile as-is.
# "enabled" is the JupyterLab panel's switch (false: the notebook is not a pipeline there)
_KALEC_KEYS = {"name", "description", "image", "experiment", "volumes", "tune", "enabled"}
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


def _volumes(raw: Any, diagnostics: list[Diagnostic]) -> tuple[Volume, ...]:
    volumes = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        mount = item.get("mount_point") or item.get("mount_path")
        if not name or not mount:
            diagnostics.append(D.VOLUME_INCOMPLETE(volume=item))
            continue
        size = item.get("size")
        if size is not None and item.get("size_type") and str(size).isdigit():
            size = f"{size}{item['size_type']}"
        problem = (
            cluster_names.object_name_problem(str(name), "volume claim")
            or cluster_names.mount_path_problem(str(mount))
            or (None if size is None else cluster_names.quantity_problem("memory", str(size)))
        )
        if problem:
            diagnostics.append(D.VOLUME_INVALID(problem=problem))
            continue
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
                diagnostics.append(D.SETTING_NOT_USED(key=key))
    own = metadata.get("kalec")
    if isinstance(own, dict):
        for key, value in own.items():
            if key in _KALEC_KEYS:
                values[key] = value
            else:
                diagnostics.append(D.SETTING_UNKNOWN(key=key, known=", ".join(sorted(_KALEC_KEYS))))

    def text(key: str) -> str | None:
        value = values.get(key)
        return str(value) if value not in (None, "") else None

    image = text("image")
    problem = cluster_names.image_problem(image) if image else None
    if problem:
        diagnostics.append(D.IMAGE_INVALID(problem=problem))
    return Settings(
        name=text("name") or cluster_names.pipeline_name(path.stem),
        description=text("description") or "",
        image=text("image"),
        experiment=text("experiment"),
        volumes=_volumes(values.get("volumes"), diagnostics),
        search=_search(own, kale),
    )


def _search(own: Any, kale: Any) -> str:
    """The search space of ``kalec tune`` and ``--target katib`` as JSON text: Katib's
    Experiment fields from ``kalec.tune``, else Kale's ``katib_metadata`` (read when used)."""
    for section, key in ((own, "tune"), (kale, "katib_metadata")):
        found = section.get(key) if isinstance(section, dict) else None
        if isinstance(found, dict) and found:
            try:
                return json.dumps(found, sort_keys=True, allow_nan=False)
            except (TypeError, ValueError):
                return ""
    return ""


def read_notebook(
    path: str | Path, text: str | None = None, confine: Path | None = None
) -> Pipeline:
    """The notebook's kept code cells, each with its tags and its runnable and analysed text;
    a composition's (``notebook:`` cells) those of the program it stands for.

    ``text``: the notebook's JSON when it did not come from the file ``path`` (a server's
    request); ``path`` still names it and places it (local modules, and the notebooks it
    references, are looked for beside it). ``confine``: the folder references must stay in
    (``ReferenceOutside`` otherwise), for a server.
    """
    path = Path(path)
    notebook = load(path) if text is None else loads(text)
    diagnostics: list[Diagnostic] = []
    metadata = notebook.get("metadata", {})
    settings = read_settings(metadata if isinstance(metadata, dict) else {}, path, diagnostics)
    composition = inline(notebook, path, load, confine)
    diagnostics += composition.diagnostics
    cells: list[CodeCell] = []
    for item in composition.cells:
        cell = item.raw
        if cell.get("cell_type") != "code" or item.tags.reference is not None:
            continue
        if item.tags.role is Role.SKIP:
            continue
        source = cell.get("source", "")
        try:
            python = to_python(source)
        except MagicError as error:
            diagnostics.append(D.MAGIC_UNREADABLE(Origin(item.number), error=error))
            python = ""
        cells.append(
            CodeCell(item.number, source, python, to_analyzed(python), item.tags, scope=item.scope)
        )
    remember_meanings()
    return Pipeline(
        source=str(path),
        settings=settings,
        cells=tuple(cells),
        diagnostics=tuple(diagnostics),
        notebooks=tuple(composition.notebooks),
        places=tuple(composition.places) if composition.composed else (),
    )
