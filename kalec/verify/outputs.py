"""Comparing what each cell printed in the notebook's kernel with what it printed in the
pipeline: its standard output and the text of its results (``Out[n]`` and ``display()``).

Values passed between steps can all be equal while a cell prints something else: a step that
set ``np.set_printoptions`` or ``os.environ[...]`` for the steps after it, a module attribute
changed in another process. Printed text shows it. Only what differs between any two runs of the
same code is normalised away: memory addresses (``0x7f...``), durations and times of day, dates
and times, temporary file names, progress bars. Standard error (warnings, logs, progress) and
pictures are not compared: a warning is shown once per process, and there are more processes.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
_DURATION = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?\s?"
    r"(?:ns|µs|us|ms|s|sec|secs|seconds?|min|mins|minutes?|h|hours?)\b"
)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b")
_TEMPORARY = re.compile(r"/tmp/[\w.-]*tmp[\w.-]*|/tmp/pytest-of-[\w./-]*")
_PROGRESS = re.compile(r"(it/s|s/it)\]|\d+%\|")


def normalised(text: str) -> str:
    """``text`` as a terminal would leave it (``\\r`` overwrites), with what differs between
    any two runs replaced by a placeholder."""
    lines = []
    for line in text.split("\n"):
        line = line.rsplit("\r", 1)[-1]
        if _PROGRESS.search(line):
            continue
        line = _ADDRESS.sub("0x…", line)
        line = _TIMESTAMP.sub("<time>", line)
        line = _CLOCK.sub("<time>", line)
        line = _DURATION.sub("<duration>", line)
        line = _TEMPORARY.sub("<temporary>", line)
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def printed(outputs: list[dict[str, Any]]) -> str:
    """What a cell printed and showed as text, from its nbformat output records."""
    parts = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else str(text))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            if any(str(mime).startswith("image/") for mime in data):
                continue  # a figure: pixels differ with fonts and versions, not with meaning
            text = data.get("text/plain")
            if text is None:
                continue
            text = "".join(text) if isinstance(text, list) else str(text)
            if text.startswith("<Figure size"):
                continue
            parts.append(text + "\n")
    return "".join(parts)


@dataclass
class CellOutput:
    """One cell's printed outputs, pipeline against notebook."""

    cell: int
    step: str | None  # where the pipeline ran it (None: the notebook only)
    equal: bool
    diff: list[str]  # the lines of a unified diff, pipeline against notebook


def compare_cell(cell: int, step: str | None, pipeline: str, notebook: str) -> CellOutput:
    mine, theirs = normalised(pipeline), normalised(notebook)
    if mine == theirs:
        return CellOutput(cell, step, True, [])
    diff = list(
        difflib.unified_diff(
            theirs.splitlines(),
            mine.splitlines(),
            fromfile=f"cell {cell} in the notebook",
            tofile=f"cell {cell} in the pipeline" + (f" (step {step})" if step else ""),
            lineterm="",
            n=1,
        )
    )
    return CellOutput(cell, step, False, diff)
