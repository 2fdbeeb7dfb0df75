"""Step processes: how they start, what they inherit, and how they are ended.

Each step runs in a process group of its own, as a pod holds all its processes: a time limit,
the end of the step, or kalec being stopped (SIGINT, SIGTERM) ends the whole group, first
politely and then with SIGKILL, so no step leaves a process behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import site
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

KALEC_ROOT = str(Path(__file__).resolve().parent.parent.parent)
GRACE_SECONDS = 3.0  # between asking a step's processes to stop and killing them


def signal_group(process: Any, signum: int) -> None:
    """Send ``signum`` to every process of the step's group (it leads a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def end_groups(processes: Iterable[Any], grace: float = GRACE_SECONDS) -> None:
    """Stop whole process groups at once: SIGTERM, then SIGKILL for what is left after
    ``grace`` (also what a step that already ended left behind in its group)."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        signal_group(process, signal.SIGKILL)
        process.wait()


@functools.cache
def _needs_path() -> bool:
    """False when kalec is installed in site-packages, which every step process sees anyway:
    putting site-packages on PYTHONPATH would place it before the standard library."""
    sites = [*site.getsitepackages(), site.getusersitepackages()]
    return not any(os.path.isdir(p) and os.path.samefile(p, KALEC_ROOT) for p in sites)


def with_kalec_importable(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process kalec starts (a step, verify's kernel): when kalec runs from a
    source checkout, its folder goes first on PYTHONPATH so that process finds it too."""
    if _needs_path():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (KALEC_ROOT, env.get("PYTHONPATH")) if p)
    return env


def step_environment(workdir: Path) -> dict[str, str]:
    """The environment of step processes (and of the fork server they come from), which work
    in ``workdir``: ``PWD`` says so, as a shell that went there would."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PWD=str(workdir))
    env.setdefault("MPLBACKEND", "module://kalec.runtime.figures")  # figures are recorded
    return with_kalec_importable(env)


def start_fresh(request: Path, workdir: Path, name: str) -> subprocess.Popen:
    """A step as a fresh interpreter, in a session (and so a process group) of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "kalec.runtime.step", str(request)],
        cwd=workdir,
        env=dict(step_environment(workdir), KALEC_STEP=name),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: ended as a whole, like a pod
    )


def describe_exit(code: Any) -> str:
    """How a step process that wrote no outcome ended, in words."""
    if isinstance(code, int) and code < 0 and -code in signal.Signals._value2member_map_:
        return f"was killed by {signal.Signals(-code).name}"
    return f"ended with code {code} before reporting"


class StopSignals:
    """While active, SIGTERM and SIGINT to kalec become ``KeyboardInterrupt`` in the main thread,
    so the run ends its steps' process groups before kalec exits, whichever signal came."""

    def __init__(self) -> None:
        self.signum = signal.SIGINT
        self.stopping = False
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stopping:  # a second signal while the steps are being ended: keep ending them
            return
        self.stopping = True
        self.signum = signum
        raise KeyboardInterrupt

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
