"""Readings of a notebook's code kept between commands, in the user's cache folder.

Reading a cell (its ``CellFacts``) and a step's code (the names pyflakes finds free) depends on
the code's text and on nothing of the machine, so a ``kalec build`` after an edit needs to read
again only what the edit changed. In one process the passes remember readings in memory; this
module keeps them from one command to the next, per notebook file, so that a command meeting
only known code imports neither pyflakes nor the readers (a fifth of a small build's start).

A kept reading is used only under the exact key it was read under (the texts it read, and what
else decided it), and only while everything that decides how code is read is as it was: the
code of kalec's readers (``kalec/analysis``, the two passes that read, the IR's records),
pyflakes' code and the Python version (its parser). Those files are compared by size and
modification time, as Python checks its bytecode, so finding the file reads none of them. Each
file holds exactly the readings the notebook's last compile used: it never grows past the
notebook. It is written with ``marshal``, which builds plain values and runs no code, in the
folder ``kalec.startup_cache`` trusts (the user's own, written by nobody else), or not at all.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kalec import __version__, startup_cache
from kalec.ir import CellFacts

try:  # blake2 without hashlib, which loads OpenSSL: a tenth of a small build's start
    from _blake2 import blake2b
except ImportError:  # an interpreter built without it
    from hashlib import blake2b

_WORDS = ("class", "import", "seed")
# besides kalec/analysis: what else of kalec decides a reading (the passes that read, the
# records they fill, the names of hidden state and of cluster objects the readers use)
_DECIDING = (
    "passes/cell_facts.py",
    "passes/free_names.py",
    "ir/model.py",
    "runtime/global_state.py",
    "cluster_names.py",
)
_MAX_BYTES = 64 * 2**20  # a notebook whose readings weigh more is read afresh each time


def tells(text: str) -> bool:
    """Whether a cell's code can tell anything notebook-wide (``WholeNotebook``): only a class,
    an import or a call named ``seed`` can, and none is written without its word (in ASCII
    text: identifiers in other scripts may be spelled in forms that Python reads as these
    words). Most cells of a large notebook need not be parsed for that sweep."""
    return not text.isascii() or any(word in text for word in _WORDS)


def telling_digest(texts: list[str]) -> bytes:
    """What decides the notebook-wide names a cell's reading depends on: the texts of the
    cells that can tell any, in order."""
    digest = blake2b(digest_size=16)
    for text in texts:
        if tells(text):
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.digest()


@dataclass(frozen=True)
class CalledEffects:
    """What calling a function a cell defines does to the notebook's globals, as the cells
    that call it count it: the names it rebinds, those it changes in place, and which of its
    parameters (by position or name) it changes."""

    writes: frozenset[str]
    mutates: frozenset[str]
    changed_params: frozenset[int | str]


@dataclass(frozen=True)
class CellReading:
    """One cell's reading: its facts before calls count, the calls it makes (function name,
    (parameter, argument name) pairs), and the functions it defines."""

    facts: CellFacts
    calls: tuple[tuple[str, tuple[tuple[int | str, str], ...]], ...]
    functions: tuple[tuple[str, CalledEffects], ...]

    def plain(self) -> tuple:
        """The reading as tuples, sets, strings and numbers: what ``marshal`` keeps."""
        facts = tuple(getattr(self.facts, f.name) for f in fields(CellFacts))
        functions = tuple(
            (name, e.writes, e.mutates, e.changed_params) for name, e in self.functions
        )
        return facts, self.calls, functions

    @classmethod
    def from_plain(cls, plain: tuple) -> CellReading:
        facts, calls, functions = plain
        return cls(
            CellFacts(*facts),
            calls,
            tuple((name, CalledEffects(*effects)) for name, *effects in functions),
        )


class KeptReadings:
    """The readings kept for one notebook file: those it had, and those this compile used."""

    def __init__(self, notebook: Path) -> None:
        self.file = _file_for(notebook)
        self._stamp = _stamp()
        self._had: dict[str, dict[Hashable, Any]] = {}
        self._used: dict[str, dict[Hashable, Any]] = {}
        self._changed = False
        if self.file is None or self._stamp is None:
            return
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
            stamp, had = marshal.loads(self.file.read_bytes())
            if stamp == self._stamp and isinstance(had, dict):
                self._had = had

    def get(self, kind: str, key: Hashable) -> Any:
        """The plain reading kept under ``key``, or None."""
        try:
            return self._had.get(kind, {}).get(key)
        except TypeError:  # a key marshal could not have kept
            return None

    def put(self, kind: str, key: Hashable, reading: Any) -> None:
        """This compile used ``reading`` (a ``CellReading`` or plain values), read under
        ``key``. A key decides its reading, so one kept under it already is the same."""
        used = self._used.setdefault(kind, {})
        if key in used:
            return
        had = self.get(kind, key)
        if had is None:
            self._changed = True
            used[key] = reading
        else:
            used[key] = had

    def save(self) -> None:
        """Write what this compile used, when it is not what was kept: new readings, or
        readings of code no longer in the notebook."""
        kept_count = sum(map(len, self._had.values()))
        used_count = sum(map(len, self._used.values()))
        if self.file is None or not (self._changed or kept_count != used_count):
            return
        plain = {
            kind: {
                key: value.plain() if isinstance(value, CellReading) else value
                for key, value in used.items()
            }
            for kind, used in self._used.items()
        }
        try:
            data = marshal.dumps((self._stamp, plain))
        except ValueError:  # a value marshal cannot write: keep nothing rather than part
            return
        if len(data) <= _MAX_BYTES:
            startup_cache.write_atomically(self.file, data)
            startup_cache.READINGS.forget_oldest(self.file.parent)


class _Kept:
    """The readings of the notebook being compiled, when a command keeps them (``kept_for``);
    otherwise asking finds nothing and keeping does nothing."""

    _current: ContextVar[KeptReadings | None] = ContextVar("kept_readings", default=None)

    def get(self, kind: str, key: Hashable) -> Any:
        current = self._current.get()
        return None if current is None else current.get(kind, key)

    def cell_reading(self, key: Hashable) -> CellReading | None:
        """A cell's reading kept under ``key``; None when there is none (or what is kept is
        not a reading this version writes)."""
        plain = self.get("cell", key)
        try:
            return CellReading.from_plain(plain) if plain is not None else None
        except (TypeError, ValueError):
            return None

    def free_names(self, key: Hashable) -> tuple | None:
        """What pyflakes found in a step's code, kept under ``key``; None as above."""
        found = self.get("free", key)
        if isinstance(found, tuple) and all(isinstance(f, tuple) and len(f) == 4 for f in found):
            return found
        return None

    def put(self, kind: str, key: Hashable, reading: Any) -> None:
        current = self._current.get()
        if current is not None:
            current.put(kind, key, reading)

    @contextlib.contextmanager
    def kept_for(self, notebook: Path | None) -> Iterator[None]:
        """While active, readings come from and go to the file kept for ``notebook`` (None:
        none is kept, as for a notebook posted to the server)."""
        readings = KeptReadings(notebook) if notebook is not None else None
        if readings is None or readings.file is None:  # nowhere to keep them: nothing held
            yield
            return
        token = self._current.set(readings)
        try:
            yield
            readings.save()
        finally:
            self._current.reset(token)


kept = _Kept()


def _file_for(notebook: Path) -> Path | None:
    cache = startup_cache.folder()
    if cache is None:
        return None
    try:
        where = os.fsencode(os.path.abspath(notebook))
    except (OSError, ValueError):
        return None
    return cache / f"readings-{blake2b(where, digest_size=16).hexdigest()}.marshal"


def _stamp() -> tuple | None:
    """Everything that decides how code is read, by size and modification time."""
    here = Path(__file__).parent
    sources = [here / name for name in sorted(os.listdir(here)) if name.endswith(".py")]
    sources += [here.parent / relative for relative in _DECIDING]
    pyflakes = _pyflakes_folder()
    if pyflakes is None:
        return None
    sources += [pyflakes / "checker.py", pyflakes / "messages.py"]
    try:
        return (sys.version, __version__, startup_cache.stamps(sources))
    except OSError:
        return None


def _pyflakes_folder() -> Path | None:
    """Where pyflakes is installed, found without importing it."""
    for entry in sys.path:
        folder = Path(entry or ".") / "pyflakes"
        if (folder / "checker.py").is_file():
            return folder
    return None
