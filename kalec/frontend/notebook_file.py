"""Reading a notebook file: JSON of format 4 (older formats upgraded as Jupyter upgrades them),
checked for the shapes kalec relies on, with every cell's source as one string.

The bottom of the frontend: ``notebook`` (the root notebook) and ``compose`` (the notebooks it
references) both read through here. A file that is not a notebook at all is a
``NotebookError`` (diagnostic K100), which leaves nothing in the notebook to point at.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from kalec import diagnostics as D
from kalec.errors import KalecError


class NotebookError(KalecError):
    """The file cannot be read as a Jupyter notebook (diagnostic K100)."""

    code = D.NOT_A_NOTEBOOK.code


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
            f"notebook format {major!r} is too old to read; "
            "open and save it in Jupyter to upgrade it"
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
