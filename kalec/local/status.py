"""The states of a local run and of its steps: one vocabulary for the runner, ``kalec runs``, the
run's status file, the service and the JupyterLab panel.

The values are the words written to ``kalec-status.json`` and sent over HTTP; the panel's
``runState.ts`` lists the same words. A step is *settled* when its values are in the run folder,
whether it ran or they came from memory (the step cache, or an earlier run).
"""

from __future__ import annotations

from enum import Enum


class StepStatus(str, Enum):
    WAITING = "waiting"  # not started: its upstream steps are not done, or no job is free
    RUNNING = "running"
    RAN = "ran"  # ran this time and succeeded
    CACHED = "cached"  # values from the step cache, or from an earlier run (``source`` says)
    FAILED = "failed"
    SKIPPED = "skipped"  # never started: an upstream step failed, or not asked for
    STOPPED = "stopped"  # was running when the run was stopped

    @property
    def settled(self) -> bool:
        """Its values are in the run folder."""
        return self in (StepStatus.RAN, StepStatus.CACHED)

    @property
    def word(self) -> str:
        """As a person reads it in a table or on the live board."""
        return _WORDS.get(self, self.value)


_WORDS = {StepStatus.RAN: "done"}


def step_status(text: object) -> StepStatus | None:
    """A status as read back from a file: None for a word this version does not know. Runs
    recorded before ``ran`` had its name said ``ok``."""
    if text == "ok":
        return StepStatus.RAN
    try:
        return StepStatus(text)
    except ValueError:
        return None


class RunState(str, Enum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    STOPPED = "stopped"  # by a signal (Ctrl-C, SIGTERM): its steps were ended
    KILLED = "killed"  # the runner itself died (SIGKILL, power): read back, never written

    @property
    def ended(self) -> bool:
        return self is not RunState.RUNNING
