"""Ending a process and everything it started, wherever those went.

A local run's steps leave its process group on purpose (each step leads a session of its own,
as a pod does, and the fork server too), so ending the run's group does not reach them: when
the run is cancelled from outside (the server's cancel, a search stopped), the run is asked to
stop as Ctrl-C would, and whatever of its tree is still alive after a grace period is killed,
found by walking parent links in ``/proc``. Each process is remembered with its start time, so a
number the system gave to a new process in between is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

Identity = tuple[int, str]  # pid, start time (field 22 of /proc/PID/stat)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process; None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (name) "
    if fields[0] == "Z":
        return None  # ended, waiting to be reaped: nothing left to stop
    return int(fields[1]), fields[19]


def descendants(root: int) -> set[Identity]:
    """Every live process below ``root`` now."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        found = _stat(int(entry.name))
        if found is not None:
            children.setdefault(found[0], []).append(int(entry.name))
            started[int(entry.name)] = found[1]
    below: set[Identity] = set()
    pending = list(children.get(root, ()))
    while pending:
        pid = pending.pop()
        if pid in started and (pid, started[pid]) not in below:
            below.add((pid, started[pid]))
            pending += children.get(pid, ())
    return below


def _alive(identity: Identity) -> bool:
    found = _stat(identity[0])
    return found is not None and found[1] == identity[1]


def end_trees(processes: list[subprocess.Popen[Any]], grace: float = 10.0) -> bool:
    """Ask each of ``processes`` (session leaders) to stop with SIGTERM, give them ``grace``
    seconds to end what they started, then kill whatever of their trees is left. True when
    nothing of them is left."""
    seen: set[Identity] = set()
    for process in processes:
        seen |= descendants(process.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        going = [p for p in processes if p.poll() is None]
        if not going:
            break
        for process in going:
            seen |= descendants(process.pid)  # what it starts while stopping
        time.sleep(0.05)
    for process in processes:
        if process.poll() is None:
            seen |= descendants(process.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # what outlived them: steps, fork servers and their children, wherever they went
    for _ in range(5):
        left = {identity for identity in seen if _alive(identity)}
        if not left:
            return True
        for pid, _started in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        seen = left | {below for pid, _s in left for below in descendants(pid)}
    return not any(_alive(identity) for identity in seen)
