"""One step in one local run: its status, timing, process, outcome and what memory knew of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kalec.ir import Step
from kalec.local.memory import StaticKey
from kalec.local.status import StepStatus
from kalec.runtime.protocol import StepOutcome


@dataclass
class StepRun:
    """The runner's view of one step during a run: status, time, attempts, outcome."""

    step: Step
    status: StepStatus = StepStatus.WAITING
    seconds: float = 0.0
    bytes_out: int = 0
    attempts: int = 0
    outcome: StepOutcome | None = None
    process: Any = None
    started: float = 0.0
    timed_out: bool = False
    key: StaticKey | None = None
    named: dict[str, str | None] | None = None  # paths its code names, before it ran
    source: str | None = None  # where a cached step's values came from: "cache", "run <id>"
    note: str | None = None  # why it ran though remembered, was not kept, or was skipped
    heartbeat: float = 0.0
    considered: bool = False  # the memory was asked about it, this run
