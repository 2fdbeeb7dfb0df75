"""Notebook file -> ``Pipeline`` holding its code cells, parsed tags and notebook settings.

The frontend only reads: it never runs a cell. Everything wrong with the notebook becomes a
diagnostic in the pipeline, never an exception, except a file that is not a notebook at all
(``NotebookError``), which leaves nothing to point at.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from kalec import cluster_names
from kalec import diagnostics as D
from kalec.errors import KalecError
from kalec.frontend.compose import inline
from kalec.frontend.magics import MagicError, to_analyzed, to_python
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


class NotebookError(KalecError):
    """The file cannot be read as a Jupyter notebook (diagnostic K100)."""

    code = D.NOT_A_NOTEBOOK.code


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
            diagnostics.append(
                D.VOLUME_INCOMPLETE(f"volume {item!r} needs a name and a mount point; ignored")
            )
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
            diagnostics.append(
                D.VOLUME_INVALID(
                    f"notebook setting volumes: {problem}",
                    hint="fix the volume in the notebook's metadata (kalec.volumes or "
                    "kubeflow_notebook.volumes)",
                )
            )
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
                diagnostics.append(
                    D.SETTING_NOT_USED(
                        f"notebook setting kubeflow_notebook.{key} is not used by kalec"
                    )
                )
    own = metadata.get("kalec")
    if isinstance(own, dict):
        for key, value in own.items():
            if key in _KALEC_KEYS:
                values[key] = value
            else:
                diagnostics.append(
                    D.SETTING_UNKNOWN(
                        f"notebook setting kalec.{key} is not known to kalec; it is ignored",
                        hint=f"known settings: {', '.join(sorted(_KALEC_KEYS))}",
                    )
                )

    def text(key: str) -> str | None:
        value = values.get(key)
        return str(value) if value not in (None, "") else None

    image = text("image")
    problem = cluster_names.image_problem(image) if image else None
    if problem:
        diagnostics.append(
            D.IMAGE_INVALID(
                f"notebook setting image: {problem}",
                hint="fix the image in the notebook's metadata (kalec.image or "
                "kubeflow_notebook.docker_image)",
            )
        )
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


def load(path: Path) -> dict[str, Any]:
    """Read a notebook file of format 4, upgrading older formats the way Jupyter does."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError("no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(f"cannot read the file: {error}") from None
    return loads(text)


def loads(text: str) -> dict[str, Any]:
    """A notebook from its JSON text (a file's, or one a server received), checked for the
    shapes kalec relies on. Format 4 is read directly (nbformat is a third of a small compile's
    time, mostly its schema validator); only an older format imports nbformat to upgrade it.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"not a Jupyter notebook: invalid JSON ({error})") from None
    except RecursionError:
        raise NotebookError("not a Jupyter notebook: its JSON is nested too deeply") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError("not a Jupyter notebook: no cells")
    if "cells" in data and not isinstance(data["cells"], list):
        raise NotebookError("not a Jupyter notebook: 'cells' is not a list")
    for number, cell in enumerate(data.get("cells") or [], start=1):
        problem = _cell_problem(cell)
        if problem:
            raise NotebookError(
                f"cell {number} {problem}; open and save the notebook in Jupyter, or fix the "
                "cell's JSON"
            )
    invalid = _invalid_text(data)
    if invalid:
        raise NotebookError(
            f"{invalid} holds text that is not valid Unicode (a lone surrogate, which no "
            "file or kernel can carry); retype or remove that text"
        )
    major = data.get("nbformat")
    if not isinstance(major, int) or isinstance(major, bool):
        raise NotebookError(f"not a Jupyter notebook: its format number is {major!r}")
    if major < 3:
        raise NotebookError(
            f"notebook format {major!r} is too old to read; open and save it in Jupyter to upgrade it"
        )
    if major > 4:
        raise NotebookError(f"notebook format {major} is newer than this kalec understands (4)")
    if major == 4:
        return _joined_sources(data)
    try:  # format 3: upgraded by nbformat, as Jupyter upgrades it on opening
        import nbformat

        with warnings.catch_warnings():  # e.g. cells without ids, from older Jupyter versions
            warnings.simplefilter("ignore")
            minor = data.get("nbformat_minor", 0)
            notebook = nbformat.convert(
                nbformat.versions[major].to_notebook_json(data, minor=minor), 4
            )
    except Exception as error:  # nbformat reports malformed notebooks with several exception types
        raise NotebookError(f"not a valid Jupyter notebook: {error}") from None
    return notebook


def _joined_sources(data: dict[str, Any]) -> dict[str, Any]:
    """The notebook with each cell's source as one string: the file may store it as a list of
    lines, which joined without separators give the text (the format's own rule)."""
    for cell in data.get("cells") or []:
        source = cell.get("source", "")
        if isinstance(source, list):
            cell["source"] = "".join(source)
    data.setdefault("cells", [])
    return data


def _is_surrogate_free(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid_text(data: dict) -> str | None:
    """Where the notebook holds a string UTF-8 cannot encode: "cell 3", "metadata.kalec.name".

    Walked without recursion: a hostile notebook may nest deeper than Python's stack.
    """
    stack: list[tuple[Any, str]] = [
        (cell, f"cell {number}") for number, cell in enumerate(data.get("cells") or [], start=1)
    ]
    stack += [(value, key) for key, value in data.items() if key != "cells"]
    while stack:
        node, place = stack.pop()
        if isinstance(node, str):
            if not _is_surrogate_free(node):
                return place
        elif isinstance(node, dict):
            for key, value in node.items():
                inner = place if place.startswith("cell ") else f"{place}.{key}"
                if not _is_surrogate_free(str(key)):
                    return inner
                stack.append((value, inner))
        elif isinstance(node, list):
            stack.extend((item, place) for item in node)
    return None


def _cell_problem(cell: Any) -> str | None:
    """What makes a cell unreadable, in words; None when it is well formed."""
    if not isinstance(cell, dict):
        return f"is a {type(cell).__name__}, not a cell object"
    if not isinstance(cell.get("metadata", {}), dict):
        return "has metadata that is not an object"
    tags = cell.get("metadata", {}).get("tags") or []
    if not isinstance(tags, list):
        return (
            f"has metadata.tags stored as a {type(tags).__name__} ({tags!r:.40}); tags are a "
            'list of strings, e.g. ["block:train"]'
        )
    if not all(isinstance(t, str) for t in tags):
        return "has a tag in metadata.tags that is not a string"
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return None  # the file format's own way of storing text: a list of lines
    if not isinstance(source, str):
        return f"has a source that is a {type(source).__name__}, not text"
    return None


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
            diagnostics.append(D.MAGIC_UNREADABLE(str(error), Origin(item.number)))
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
