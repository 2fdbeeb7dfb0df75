"""The records that cross between the compiler, the local runner and a step process.

- ``StepSpec``: what a step runs (its cells, prelude, repeated imports, metrics), written by the
  compiler (``kalec.packaging.step_spec``) and read by the step (``kalec.runtime.step``), also
  inside a cluster's container, where it arrives as JSON in the generated script;
- ``StepRequest``: what the local runner asks a step process to do (the spec, parameter values,
  the files of its inputs and outputs, where to report);
- ``StepOutcome``: how the step ended: its values' files and digests, metrics, or where and why it
  failed;
- ``Observation`` (of ``PathSeen`` and ``UnseenChannel``): what the step was seen to read and
  write (``kalec.runtime.observe`` records it; ``kalec.local.memory`` keys the cache on it).

Both sides import these classes, so they never disagree on a field; JSON is only how a record
travels. The file names are kalec's own (``kalec-*``), which no variable's file can take. This
module imports nothing of the compiler: it ships into step containers with the runtime.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

REQUEST_FILE, OUTCOME_FILE, PROGRESS_FILE = "kalec-run.json", "kalec-result.json", "kalec-progress"
DISPLAY_FILE = "kalec-display.json"  # what each cell showed: text, results, figures
OBSERVED_FILE = "kalec-observed.json"  # what the step touched (``kalec.runtime.observe``)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


# --- what a step runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecCell:
    """A cell as a step runs it: its number in the (inlined) notebook, its runnable code, and in
    a composition the name tracebacks give it (``train.ipynb, cell 3``)."""

    cell: int
    code: str
    name: str | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"cell": self.cell, "code": self.code}
        if self.name is not None:
            found["name"] = self.name
        return found


@dataclass(frozen=True)
class NativeCall:
    """A call of the step's code that opens files in native code (``sqlite3.connect()``): the
    step is observed at the system-call level from its first cell."""

    cell: int
    call: str


@dataclass(frozen=True)
class StepSpec:
    """What a step runs, in order: parameters, ``prelude`` (imports and functions cells),
    ``imports`` (statements repeated instead of passing a module), inputs, ``cells``; then it
    saves its outputs and reports ``metrics`` (``train/accuracy`` in a composition)."""

    step: str
    source: str = "notebook.ipynb"  # the notebook's file name, for tracebacks
    prelude: tuple[SpecCell, ...] = ()
    imports: tuple[str, ...] = ()
    cells: tuple[SpecCell, ...] = ()
    metrics: tuple[str, ...] = ()
    # list and dict parameters whose default held only whole numbers: pipelines carry every
    # number of them as a double, the step turns them back into ints
    whole_number_params: tuple[str, ...] = ()
    # parameters whose default is None: carried as "", the step turns that back into None
    none_if_empty_params: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # a referenced notebook's folders, put on sys.path
    native_io: tuple[NativeCall, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The spec as JSON data: the fields a spec without them would not have are left out,
        so that the text of a script (and a cache key) changes only where the step does."""
        found: dict[str, Any] = {
            "step": self.step,
            "source": self.source,
            "prelude": [c.as_json() for c in self.prelude],
            "imports": list(self.imports),
            "cells": [c.as_json() for c in self.cells],
            "metrics": list(self.metrics),
            "whole_number_params": list(self.whole_number_params),
            "none_if_empty_params": list(self.none_if_empty_params),
        }
        if self.paths:
            found["paths"] = list(self.paths)
        if self.native_io:
            found["native_io"] = [{"cell": n.cell, "call": n.call} for n in self.native_io]
        return found

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepSpec:
        def cells(key: str) -> tuple[SpecCell, ...]:
            return tuple(SpecCell(c["cell"], c["code"], c.get("name")) for c in data.get(key, ()))

        return cls(
            step=data["step"],
            source=data.get("source", "notebook.ipynb"),
            prelude=cells("prelude"),
            imports=tuple(data.get("imports", ())),
            cells=cells("cells"),
            metrics=tuple(data.get("metrics", ())),
            whole_number_params=tuple(data.get("whole_number_params", ())),
            none_if_empty_params=tuple(data.get("none_if_empty_params", ())),
            paths=tuple(data.get("paths", ())),
            native_io=tuple(NativeCall(n["cell"], n["call"]) for n in data.get("native_io", ())),
        )


# --- the local runner and a step process ---------------------------------------------------------


@dataclass
class StepRequest:
    """A step to run: its spec, parameter values, and the files of its input values, of its
    output values, of its outcome and of its progress."""

    spec: StepSpec
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # variable -> saved value's path
    outputs: dict[str, str] = field(default_factory=dict)  # variable -> path to save it to
    result: str = ""  # where the StepOutcome goes
    progress: str | None = None  # where the number of the running cell goes
    display: str | None = None  # where what the cells showed goes (``cell_outputs.Recorder``)
    observed: str | None = None  # where what the step touched goes (``Observation``)
    private: list[str] = field(default_factory=list)  # kalec's folders: never the step's input
    seed: int | None = None  # seed the global random generators first (``kalec verify``)
    # the environment the runner gives the step: variable -> digest of its value (observed
    # steps keep what they read of the environment as it was given, see ``observe.Observer``)
    environment: dict[str, str] | None = None

    def write(self, path: str) -> None:
        data = asdict(self)
        data["spec"] = self.spec.as_json()
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)

    @classmethod
    def read(cls, path: str) -> StepRequest:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        data["spec"] = StepSpec.from_json(data["spec"])
        return _from_dict(cls, data)


@dataclass
class StepOutcome:
    """How a step ended: ok with its outputs and metrics, or where and why it failed."""

    ok: bool
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)  # variable -> file written
    digests: dict[str, str] = field(default_factory=dict)  # variable -> digest of its file
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cell: int | None = None
    line: int | None = None
    phase: str | None = None  # code, imports, load, save; timeout and process from the runner

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)

    @classmethod
    def read(cls, path: str) -> StepOutcome:
        with open(path, encoding="utf-8") as handle:
            return _from_dict(cls, json.load(handle))


# --- what a step was seen to touch -----------------------------------------------------------


@dataclass
class PathSeen:
    """What a step did with one path, as it happened: its first look (``uses``, the ``stat`` then,
    when, whether the step's own code asked), and whether it made, wrote or appended to it.

    ``stat``: size, modification and change times, inode and kind ("file", "dir", "other",
    "missing" is None); ``prior_seen``: the content was hashed before the step's first write
    changed it (``prior``, None for a path that was not a file); ``listing``: a folder's names
    when the step listed it (``listed``)."""

    uses: list[str] = field(default_factory=list)  # exists, stat, read, list
    stat: list[Any] | None = None
    t: int = 0  # monotonic nanoseconds of the first look: merging two records orders by it
    own: bool = False  # the first look was the notebook's own code asking, not a library's
    created: bool = False  # the step made it (created, or replaced without reading it)
    written: bool = False
    appended: bool = False  # only ever opened to append: neither input nor product
    prior_seen: bool = False
    prior: str | None = None
    before_write: list[Any] | None = None  # the stat just before the first write
    listed: bool = False
    listing: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PathSeen:
        return _from_dict(cls, data)


@dataclass
class UnseenChannel:
    """A way to files the step used that could not be observed: ``kind`` (a child process,
    native code), ``detail`` (the command or call), ``why`` it was not seen, and where."""

    kind: str
    detail: str
    why: str
    cell: int | None = None
    line: int | None = None


@dataclass
class Observation:
    """Everything a step was seen to touch: paths, environment variables (a digest of each value
    as the runner gave it, None for one that was missing), the whole environment when it read
    all of it (``env_all``: its digest), the modules it imported (name, file), the channels it
    used that could not be observed, and the programs its child processes ran."""

    paths: dict[str, PathSeen] = field(default_factory=dict)
    env: dict[str, str | None] = field(default_factory=dict)
    env_all: str | None = None
    modules: list[tuple[str, str]] = field(default_factory=list)
    unseen: list[UnseenChannel] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "paths": {path: seen.as_json() for path, seen in self.paths.items()},
            "env": self.env,
            "env_all": self.env_all,
            "modules": [list(m) for m in self.modules],
            "unseen": [asdict(u) for u in self.unseen],
            "programs": self.programs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        return cls(
            paths={p: PathSeen.from_json(s) for p, s in (data.get("paths") or {}).items()},
            env=dict(data.get("env") or {}),
            env_all=data.get("env_all"),
            modules=[(str(n), str(f)) for n, f in data.get("modules") or []],
            unseen=[_from_dict(UnseenChannel, u) for u in data.get("unseen") or []],
            programs=list(data.get("programs") or []),
        )

    @classmethod
    def read(cls, path: str) -> Observation:
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(json.load(handle))
