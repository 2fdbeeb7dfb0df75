"""What a local run shows a person: each step's output prefixed with its name, progress on
standard error (or a live board on a terminal), and the tables at the end.

Standard output carries the steps' own output and the summary; kalec's progress goes to
standard error, so ``kalec run ... > out.txt`` keeps the notebook's output alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from kalec.local.live_board import LiveBoard


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def text_table(rows: Sequence[Sequence[str]], right: Iterable[int] = ()) -> str:
    """Rows as aligned columns (the first row is the header); columns in ``right`` are
    aligned right (numbers)."""
    right = set(right)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def summary_table(steps: list[dict[str, Any]], note_width: int = 72) -> str:
    """The table a run ends with, from its status record's steps (``kalec-status.json``): the
    runner prints it, a server sends it."""
    from kalec.local.status import StepStatus, step_status

    rows = [("step", "status", "seconds", "bytes passed", "note")]
    for step in steps:
        status = step_status(step.get("status")) or StepStatus.WAITING
        shown = status.value
        source = step.get("source")
        if source and source != "cache":
            shown += f" ({source})"
        note = str(step.get("note") or "")
        if len(note) > note_width:
            note = note[: note_width - 3] + "..."
        ran = status in (StepStatus.RAN, StepStatus.FAILED)
        rows.append(
            (
                str(step.get("name")),
                shown,
                f"{float(step.get('seconds') or 0):.2f}" if ran else "-",
                f"{int(step.get('bytes') or 0):,}" if status.settled else "-",
                note,
            )
        )
    if not any(row[4] for row in rows[1:]):
        rows = [row[:4] for row in rows]
    return text_table(rows, right=(2, 3))


def duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


class Console:
    """Step output, line by line, each line prefixed with its step's name; kalec's news."""

    def __init__(self, names: list[str], out: TextIO, err: TextIO) -> None:
        self.width = max((len(n) for n in names), default=0)
        self.out, self.err = out, err
        self.lock = threading.Lock()
        live = is_terminal(out) and is_terminal(err) and not os.environ.get("KALEC_PLAIN")
        self.board = LiveBoard(err) if live else None

    def write(self, stream: TextIO, text: str) -> None:
        """Text above the live board (when there is one); the caller holds ``lock``."""
        if self.board:
            self.board.erase()
        stream.write(text)
        stream.flush()
        if self.board:
            self.board.draw()

    def line(
        self, name: str, text: str, error: bool = False, log: Any = None, dim: bool = False
    ) -> None:
        stream = self.err if error else self.out
        with self.lock:
            shown = f"[{name:<{self.width}}] {text}"
            if dim and is_terminal(stream):
                shown = f"\x1b[2m{shown}\x1b[0m"
            self.write(stream, shown + "\n")
            if log is not None:
                log.write(text + "\n")

    def pump(self, name: str, pipe: Any, error: bool, log: Any = None) -> None:
        for raw in iter(pipe.readline, b""):
            self.line(name, raw.decode("utf-8", "replace").rstrip("\n"), error, log)
        pipe.close()

    def progress(self, text: str) -> None:
        """News on standard error, as ``kalec: ...``."""
        with self.lock:
            self.write(self.err, f"kalec: {text}\n")

    def say(self, text: str) -> None:
        """News on standard output (where the run's results go)."""
        with self.lock:
            self.write(self.out, f"kalec: {text}\n")

    def board_update(self, steps: list[Any], final: bool = False) -> None:
        if self.board is None:
            return
        with self.lock:
            if final:
                self.board.erase()
                self.board.lines = []
            else:
                self.board.update(steps)
