"""Cell numbers as people know them: in a composition, the notebook a cell is in and its number
there. A notebook that references no other one numbers its cells as they are; so its messages
read exactly as before.
"""

from __future__ import annotations

import bisect
import posixpath

from kalec.ir.model import Diagnostic, DiagnosticData, Origin, Pipeline, Place


def place(pipeline: Pipeline, number: int) -> tuple[str, int]:
    """(scope, the cell's own number in that notebook) for a cell number of ``pipeline``."""
    places = pipeline.places
    if not places:
        return "", number
    index = bisect.bisect_right(places, Place(number, "\uffff", 0)) - 1
    if index < 0:
        return "", number
    found = places[index]
    return found.scope, found.own + number - found.first


def enclosing(scope: str) -> list[str]:
    """``scope`` and the notebooks that reference it, nearest first, the root ("") not
    included: ``prep/inner`` -> ``["prep/inner", "prep"]``."""
    found = []
    while scope:
        found.append(scope)
        scope = scope.rpartition("/")[0]
    return found


def notebook_of(pipeline: Pipeline, number: int) -> str | None:
    """The path (from the root's folder) of the referenced notebook cell ``number`` is in;
    None for the root's own cells."""
    scope = place(pipeline, number)[0]
    return next((n.path for n in pipeline.notebooks if n.scope == scope and scope), None)


def notebook_path(pipeline: Pipeline, scope: str) -> str:
    """The file of notebook ``scope``, as found from where the user named the root."""
    if not scope:
        return pipeline.source
    for notebook in pipeline.notebooks:
        if notebook.scope == scope:
            return posixpath.normpath(
                posixpath.join(posixpath.dirname(pipeline.source), notebook.path)
            )
    return pipeline.source


def cell_name(pipeline: Pipeline, number: int, line: int = 0) -> str:
    """ "cell 7", or in a composition "cell 3 of train.ipynb" for a referenced notebook's."""
    scope, own = place(pipeline, number)
    text = f"cell {own}" + (f", line {line}" if line else "")
    if scope:
        text += f" of {posixpath.basename(notebook_path(pipeline, scope))}"
    return text


def where(pipeline: Pipeline, origin: Origin | None) -> str:
    """The file and cell an origin points at: ``nb.ipynb: cell 7, line 2``."""
    if origin is None:
        return pipeline.source
    scope, own = place(pipeline, origin.cell)
    return f"{notebook_path(pipeline, scope)}: {Origin(own, origin.line)}"


def render(pipeline: Pipeline, diagnostic: Diagnostic) -> str:
    """One line as a compiler prints it, pointing into whichever notebook the cell is in."""
    text = diagnostic.render(pipeline.source)
    if diagnostic.origin is None or not pipeline.places:
        return text
    head = f"{pipeline.source}: {diagnostic.origin}"
    return where(pipeline, diagnostic.origin) + text[len(head) :]


def diagnostic_data(pipeline: Pipeline, diagnostic: Diagnostic) -> DiagnosticData:
    """``Diagnostic.as_dict`` with the cell as its notebook numbers it, and that notebook
    (``notebook``: None for the root, else its path from the root's folder)."""
    data = diagnostic.as_dict()
    if diagnostic.origin is not None and pipeline.places:
        data["cell"] = place(pipeline, diagnostic.origin.cell)[1]
        data["notebook"] = notebook_of(pipeline, diagnostic.origin.cell)
    else:
        data["notebook"] = None
    return data
