"""A composition: the root notebook with each ``notebook:NAME`` cell replaced by the cells of the
notebook it names (``notebook_path`` in the cell's metadata, from the folder of the notebook
holding the cell: Kale 2.3's format), recursively.

That inlined program is what a composition computes, and the frontend reads it as one
notebook: every cell gets a number in reading order (markdown and reference cells included,
so that a notebook without references numbers its cells as it always did), a scope (the
reference names from the root down, ``prep/clean``), and its number in its own notebook for
messages (``Place``). Nothing is run; a reference that cannot be followed is a diagnostic on
its cell. A hostile tree of references (each notebook naming the next one twice, thirty deep)
is refused before it is expanded past ``MAX_CELLS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kalec import diagnostics as D
from kalec.errors import KalecError
from kalec.frontend.notebook_file import NotebookError
from kalec.frontend.tags import parse_cell_tags
from kalec.ir import CellTags, Diagnostic, Notebook, Origin, Place, StepOptions

MAX_DEPTH = 32  # references within references
MAX_CELLS = 200_000  # cells of the inlined program
MAX_NOTEBOOK_BYTES = 512 * 2**20  # a referenced "notebook" larger than this is not read


class ReferenceOutside(KalecError):
    """A reference leads out of the folder a server confines notebooks to (a 400 there)."""


class InlinedCell:
    """One cell of the inlined program (a plain class: every notebook compiled makes these,
    and a dataclass's generated methods cost start-up time for nothing used here)."""

    __slots__ = ("number", "raw", "scope", "own", "tags")

    def __init__(self, number: int, raw: dict[str, Any], scope: str, own: int) -> None:
        self.number = number  # in reading order of the whole program
        self.raw = raw  # as its notebook holds it
        self.scope = scope  # the notebook it belongs to ("" the root)
        self.own = own  # its number in its own notebook
        self.tags = CellTags()


class Composition:
    """The inlined program: its cells, the notebooks inlined, where their cells are, and what
    could not be followed."""

    def __init__(self) -> None:
        self.cells: list[InlinedCell] = []
        self.notebooks: list[Notebook] = []
        self.places: list[Place] = []
        self.diagnostics: list[Diagnostic] = []

    @property
    def composed(self) -> bool:
        return bool(self.notebooks)


def is_empty_code(source: str) -> bool:
    """Only blank lines and comments: what a reference cell may hold (Kale's panel writes a
    comment there)."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in source.splitlines())


def inline(
    root: dict[str, Any],
    root_path: Path,
    load: Callable[[Path], dict[str, Any]],
    confine: Path | None = None,
) -> Composition:
    """The inlined program of ``root`` (the notebook read from ``root_path``). ``load`` reads
    a referenced notebook (``NotebookError`` when it is not one); with ``confine``, a reference
    leading out of that folder raises ``ReferenceOutside``."""
    state = _Inliner(load, confine.resolve() if confine else None, root_path.resolve().parent)
    state.walk(root, "", root_path.resolve().parent, [root_path.resolve()])
    return state.result


class _Inliner:
    def __init__(self, load: Callable[[Path], dict[str, Any]], confine: Path | None, base: Path):
        self.load, self.confine, self.base = load, confine, base
        self.result = Composition()
        self.number = 0
        self.too_large = False

    def walk(self, notebook: dict[str, Any], scope: str, folder: Path, chain: list[Path]) -> None:
        names: set[str] = set()
        self.result.places.append(Place(self.number + 1, scope, 1))
        for own, raw in enumerate(notebook.get("cells") or [], start=1):
            self.number += 1
            if self.number > MAX_CELLS and not self.too_large:
                self.too_large = True
                self.result.diagnostics.append(
                    D.REFERENCE_TOO_MANY_CELLS(Origin(self.number), cells=MAX_CELLS)
                )
            if self.too_large:
                return
            item = InlinedCell(self.number, raw, scope, own)
            self.result.cells.append(item)
            if raw.get("cell_type") != "code":
                continue
            origin = Origin(self.number)
            tags, problems = parse_cell_tags(raw.get("metadata", {}).get("tags") or [], origin)
            item.tags = tags
            self.result.diagnostics.extend(problems)
            if tags.reference is None:
                continue
            child = self.reference(item, tags, names, folder, chain)
            if child is not None:
                self.result.places.append(Place(self.number + 1, scope, own + 1))

    def reference(
        self,
        item: InlinedCell,
        tags: CellTags,
        names: set[str],
        folder: Path,
        chain: list[Path],
    ) -> str | None:
        """Inline the notebook a reference cell names; its scope, or None when it cannot be."""
        name, origin, raw = tags.reference or "", Origin(item.number), item.raw
        report = self.result.diagnostics.append
        if tags.prev or tags.options != StepOptions():
            report(D.REFERENCE_TAGS(origin))
        if not is_empty_code(str(raw.get("source", ""))):
            report(D.REFERENCE_HAS_CODE(origin, name=name))
        if name in names:
            report(D.REFERENCE_NAME_TAKEN(origin, name=name))
            return None
        names.add(name)
        relative = raw.get("metadata", {}).get("notebook_path")
        if not isinstance(relative, str) or not relative.strip():
            report(D.REFERENCE_NO_PATH(origin, name=name))
            return None
        try:
            target = (folder / relative).resolve()
        except (OSError, ValueError, RuntimeError) as error:  # a NUL byte, a name too long
            report(D.REFERENCE_UNREADABLE(origin, name=name, path=repr(relative), error=error))
            return None
        if self.confine is not None and not target.is_relative_to(self.confine):
            raise ReferenceOutside(
                f"notebook_path {relative!r} of the cell tagged notebook:{name} leads out of "
                "the folder notebooks are served from"
            )
        shown = " -> ".join(_shown(p, self.base) for p in [*chain, target])
        if target in chain:
            report(D.REFERENCE_CYCLE(origin, name=name, chain=shown))
            return None
        if len(chain) > MAX_DEPTH:
            report(D.COMPOSITION_TOO_LARGE(origin, depth=MAX_DEPTH, chain=shown))
            return None
        try:
            try:
                if target.exists() and not target.is_file():  # a folder, a device, a pipe
                    raise NotebookError("it is not a file")
                if target.is_file() and target.stat().st_size > MAX_NOTEBOOK_BYTES:
                    raise NotebookError(f"it is over {MAX_NOTEBOOK_BYTES // 2**20} MB")
            except OSError as error:
                raise NotebookError(str(error)) from None
            notebook = self.load(target)
        except NotebookError as error:
            report(D.REFERENCE_UNREADABLE(origin, name=name, path=relative, error=error))
            return None
        scope = f"{item.scope}/{name}" if item.scope else name
        self.result.notebooks.append(Notebook(scope, _shown(target, self.base), origin))
        self.walk(notebook, scope, target.parent, [*chain, target])
        return scope


def _shown(path: Path, base: Path) -> str:
    """A notebook's path as a person reads it: from the root's folder where possible."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive
        return str(path)
