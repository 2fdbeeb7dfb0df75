"""The local runs a notebook has had, as recorded in their run folders.

Each run folder (``.kalec/runs/<run-id>`` beside the notebook) holds ``kalec-status.json``,
which the runner rewrites (whole, then renamed) as the run goes: the notebook's path, when the
run started, its state and each step's. That file is what ``kalec runs`` lists, what
``--resume`` starts from and what a server shows. A run folder is locked while a run uses it, so
a record that still says "running" with nobody holding the lock is a run that died without a
word (SIGKILL, a power cut): it reads back as ``killed``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from kalec.local.status import RunState, StepStatus, step_status

STATUS_FILE = "kalec-status.json"
LOCK_FILE = "kalec.lock"


class StepRecord(TypedDict):
    """One step as the status file records it (and a server's run status shows it)."""

    name: str
    status: Literal["waiting", "running", "ran", "cached", "failed", "skipped", "stopped"]
    seconds: float
    bytes: int
    source: str | None  # where a cached step's values came from: "cache", "run <id>"
    note: str | None  # why it ran though remembered, was not kept, or was skipped
    key: str | None  # its cache key's digest
    error: str | None  # a failed step's error
    cell: int | None  # and where it was raised
    line: int | None


@dataclass
class RunRecord:
    """One local run as its folder records it (``run.json``)."""

    run_id: str
    folder: Path
    notebook: str
    started: float
    state: RunState
    seconds: float
    steps: list[dict[str, Any]] = field(default_factory=list)

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("name") == name), None)

    def status_of(self, name: str) -> StepStatus | None:
        return step_status((self.step(name) or {}).get("status"))

    def settled(self, name: str) -> bool:
        """True when this run ended ``name`` with its values saved."""
        status = self.status_of(name)
        return status is not None and status.settled


def read_record(folder: Path) -> RunRecord | None:
    try:
        data = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
        state = RunState(data.get("state"))
        record = RunRecord(
            run_id=folder.name,
            folder=folder,
            notebook=str(data.get("notebook", "")),
            started=float(data.get("started") or 0.0),
            state=state,
            seconds=float(data.get("seconds") or 0.0),
            steps=[s for s in data.get("steps", []) if isinstance(s, dict)],
        )
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if record.state is RunState.RUNNING and not in_use(folder):
        record.state = RunState.KILLED
        for step in record.steps:
            if step.get("status") == StepStatus.RUNNING.value:
                step["status"] = StepStatus.STOPPED.value
    return record


def write_record(folder: Path, data: dict[str, Any]) -> None:
    """Replace the run's status file (never half written: a reader sees the old or the new)."""
    temporary = folder / (STATUS_FILE + ".tmp")
    with contextlib.suppress(OSError, TypeError, ValueError):
        temporary.write_text(json.dumps(data, default=repr), encoding="utf-8")
        os.replace(temporary, folder / STATUS_FILE)


def runs_roots(notebook: str | Path) -> list[Path]:
    """Where runs of ``notebook`` may be: beside it, or (read-only folder) in the current one."""
    beside = Path(notebook).resolve().parent / ".kalec" / "runs"
    here = Path(".kalec", "runs").resolve()
    return [beside] if here == beside else [beside, here]


def runs_of(notebook: str | Path) -> list[RunRecord]:
    """Every recorded run of ``notebook``, newest first."""
    target = str(Path(notebook).resolve())
    found = []
    for root in runs_roots(notebook):
        with contextlib.suppress(OSError):
            for folder in root.iterdir():
                record = read_record(folder) if folder.is_dir() else None
                if record is not None and record.notebook == target:
                    found.append(record)
    return sorted(found, key=lambda r: (r.started, r.run_id), reverse=True)


def in_use(folder: Path) -> bool:
    """True while a run holds the folder's lock."""
    try:
        with open(folder / LOCK_FILE, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False
