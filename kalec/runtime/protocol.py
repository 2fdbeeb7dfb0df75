"""What the local runner gives a step process, and what the step reports back: two records.

The runner writes a ``StepRequest`` as JSON into the step's folder and starts
``python -m kalec.runtime.step REQUEST.json``; the step writes a ``StepOutcome`` to the path the
request names. Both sides use these classes, so the two never disagree on a field. The file
names are kalec's own (``kalec-*``), which no variable's file can take.
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


@dataclass
class StepRequest:
    """A step to run: its spec (cells, prelude, metrics), parameter values, and the files of
    its input values, of its output values, of its outcome and of its progress."""

    spec: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # variable -> saved value's path
    outputs: dict[str, str] = field(default_factory=dict)  # variable -> path to save it to
    result: str = ""  # where the StepOutcome goes
    progress: str | None = None  # where the number of the running cell goes
    display: str | None = None  # where what the cells showed goes (``cell_outputs.Recorder``)
    observed: str | None = None  # where what the step touched goes (``observe.Observer``)
    private: list[str] = field(default_factory=list)  # kalec's folders: never the step's input
    seed: int | None = None  # seed the global random generators first (``kalec verify``)
    # the environment the runner gives the step: variable -> digest of its value (observed
    # steps keep what they read of the environment as it was given, see ``observe.Observer``)
    environment: dict[str, str] | None = None

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, ensure_ascii=False)

    @classmethod
    def read(cls, path: str) -> StepRequest:
        with open(path, encoding="utf-8") as handle:
            return _from_dict(cls, json.load(handle))


@dataclass
class StepOutcome:
    """How a step ended: ok with its outputs and metrics, or where and why it failed."""

    ok: bool
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)  # variable -> file written
    digests: dict[str, str] = field(default_factory=dict)  # variable -> SHA-256 of its file
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
