"""The local run's live status on a terminal: one line per step, redrawn in place.

Used only when both standard output and standard error are a terminal (a person watching);
otherwise the runner prints plain progress lines, which logs and CI read better. The board sits
below the steps' output: every output line erases it, prints, and draws it again, so output
never mixes with it. With more steps than the terminal has room for, it shows the steps that
run and a count of the others.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from kalec.local.status import StepStatus

_MARKS = {
    StepStatus.WAITING: ("·", "2"),
    StepStatus.RUNNING: ("▶", "1;34"),
    StepStatus.RAN: ("✓", "32"),
    StepStatus.CACHED: ("✓", "2;32"),
    StepStatus.FAILED: ("✗", "1;31"),
    StepStatus.SKIPPED: ("-", "2"),
    StepStatus.STOPPED: ("■", "33"),
}


class LiveBoard:
    """Lines at the bottom of a terminal that a run rewrites as its steps change."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = 0  # lines of the board on the screen now
        self.lines: list[str] = []

    def erase(self) -> None:
        if self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def draw(self) -> None:
        for line in self.lines:
            self.stream.write(line + "\n")
        self.drawn = len(self.lines)
        self.stream.flush()

    def update(self, steps: list[tuple[str, StepStatus, float | None]]) -> None:
        """``steps``: (name, status, seconds running or None); erase, then draw the new board."""
        rows = shutil.get_terminal_size((100, 24)).lines
        width = max((len(name) for name, _, _ in steps), default=0)
        shown = steps
        if len(steps) > max(rows - 6, 3):
            shown = [s for s in steps if s[1] in (StepStatus.RUNNING, StepStatus.FAILED)]
        lines = []
        for name, status, seconds in shown:
            mark, colour = _MARKS[status]
            word = status.word
            if seconds is not None and status is StepStatus.RUNNING:
                word += f" {_clock(seconds)}"
            lines.append(f"\x1b[{colour}m {mark} {name:<{width}}  {word}\x1b[0m")
        if shown is not steps:
            counts: dict[str, int] = {}
            for _, status, _ in steps:
                counts[status.word] = counts.get(status.word, 0) + 1
            lines.append("   " + ", ".join(f"{n} {word}" for word, n in counts.items()))
        self.erase()
        self.lines = lines
        self.draw()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"
