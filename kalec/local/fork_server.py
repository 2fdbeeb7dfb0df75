"""The local runner's side of the fork server (``kalec.runtime.zygote``).

``ForkServer`` starts the server with the modules the steps import (``preimports``), learns whether
forking is safe there, and starts steps as ``ForkedStep``s: objects with the part of
``subprocess.Popen`` the runner uses (``pid``, ``stdout``, ``stderr``, ``wait``, ``poll``,
``returncode``), so the runner treats a forked step and a fresh process alike. Each forked step
leads its own session, so ending its process group works as for a fresh process. ``Starter`` is
what the runner calls: a forked step where it can, a fresh process where it cannot.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from kalec.errors import KalecError
from kalec.ir import Pipeline
from kalec.local.preimports import preimports
from kalec.local.processes import start_fresh, step_environment

READY_SECONDS = 600.0  # the prelude's imports may be slow (a first import compiles bytecode)
START_SECONDS = 30.0


class ForkServerError(KalecError):
    """The fork server could not start a step: the runner starts a fresh process instead."""


class ForkedStep:
    """A step forked by the server, seen as the runner sees a ``subprocess.Popen``."""

    def __init__(self, pid: int, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self.pid = pid
        self.stdout, self.stderr = stdout, stderr
        self.returncode: int | None = None
        self._ended = threading.Event()

    def ended(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"step process {self.pid}", timeout or 0.0)
        return self.returncode  # type: ignore[return-value]


class ForkServer:
    """One per run: started before the first step, stopped after the last."""

    def __init__(self, imports: str, cwd: str, env: dict[str, str]) -> None:
        """``imports``: a JSON file of ``preimports``."""
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kalec.runtime.zygote", str(theirs.fileno()), imports],
            cwd=cwd,
            env=env,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # an import's warnings: each step prints its own
            start_new_session=True,
        )
        theirs.close()
        self.reason: str | None = None
        self._ready = threading.Event()
        self._usable = False
        self._started: queue.Queue[dict[str, Any]] = queue.Queue()
        self._steps: dict[int, ForkedStep] = {}
        self._exits: dict[int, int] = {}  # exits reported before the step was registered
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        while True:
            try:
                data = self._channel.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            if "ready" in message:
                self._usable = bool(message["fork"])
                self.reason = message.get("reason")
                self._ready.set()
            elif "started" in message:
                self._started.put(message)
            elif "exited" in message:
                with self._lock:
                    step = self._steps.pop(message["exited"], None)
                    if step is None:
                        self._exits[message["exited"]] = message["code"]
                if step is not None:
                    step.ended(message["code"])
        # the server is gone: no exit will be reported for the steps it forked, so end them
        if not self._ready.is_set():
            self.reason = self.reason or "the fork server ended while importing the modules"
            self._ready.set()
        self._usable = False
        self._started.put({})  # a start waiting for its answer gets none, at once
        with self._lock:
            orphans, self._steps = list(self._steps.values()), {}
        for step in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(step.pid, signal.SIGKILL)
            step.ended(-signal.SIGKILL)

    def usable(self) -> bool:
        """Wait for the server's imports; True when steps can be forked from it."""
        if not self._ready.wait(READY_SECONDS):
            self.reason = f"the modules took over {READY_SECONDS:.0f} s to import"
            return False
        return self._usable

    def start(self, request: str, env: dict[str, str]) -> ForkedStep:
        """Fork a step running ``request``; ``ForkServerError`` when the server cannot."""
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            with self._lock:
                socket.send_fds(
                    self._channel,
                    [json.dumps({"id": request, "request": request, "env": env}).encode()],
                    [out_write, err_write],
                )
            reply = self._started.get(timeout=START_SECONDS)
            if "pid" not in reply:
                raise OSError("the fork server has ended")
        except (OSError, queue.Empty) as error:
            for fd in (out_read, err_read):
                os.close(fd)
            raise ForkServerError(f"the fork server did not start the step: {error}") from None
        finally:
            os.close(out_write)
            os.close(err_write)
        step = ForkedStep(reply["pid"], os.fdopen(out_read, "rb"), os.fdopen(err_read, "rb"))
        with self._lock:
            code = self._exits.pop(step.pid, None)
            if code is None:
                self._steps[step.pid] = step
        if code is not None:
            step.ended(code)
        return step

    def close(self) -> None:
        """Stop the server (the steps it forked lead their own sessions: the runner ends them)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._channel.shutdown(socket.SHUT_RDWR)
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._channel.close()


IMPORTS_FILE = "kalec-imports.json"


class Starter:
    """Starts a run's steps: forked from a server that imported the steps' modules once, or
    as fresh processes where forking is not possible (not Linux, ``--no-fork``, an import that
    does not survive fork). ``steps``: those the run may start (None: any), whose modules the
    server imports."""

    def __init__(
        self,
        pipeline: Pipeline,
        run_dir: Path,
        workdir: Path,
        fork: bool,
        progress: Callable[[str], None],
        observe: bool = True,
        steps: Iterable[str] | None = None,
    ) -> None:
        self.pipeline, self.run_dir, self.workdir = pipeline, run_dir, workdir
        self.steps = None if steps is None else set(steps)
        self.observe = observe
        self.fork = fork and bool(pipeline.steps) and sys.platform.startswith("linux")
        self.progress = progress
        self.server: ForkServer | None = None
        self._asked = False

    def _start_server(self) -> None:
        """Started by the first step that runs, not before: a run settled from memory imports
        nothing. Elsewhere (macOS) system libraries are not safe to fork: fresh processes."""
        imports = preimports(self.pipeline, self.steps)
        path = self.run_dir / IMPORTS_FILE
        path.write_text(json.dumps(imports), encoding="utf-8")
        try:
            env = step_environment(self.workdir)
            if self.observe:
                env["KALEC_OBSERVE"] = "1"
            self.server = ForkServer(str(path), str(self.workdir), env)
        except OSError as error:  # no fork here, too many processes: fresh processes will do
            self.progress(f"steps start as fresh processes: {error}")

    def _forked(self, name: str, request: Path) -> Any:
        if not self._asked:
            self._asked = True
            if self.fork:
                self._start_server()
        if self.server is None:
            return None
        if self.server.usable():
            try:
                return self.server.start(str(request), {"KALEC_STEP": name})
            except ForkServerError as error:
                self.server.reason = str(error)
        self.progress(f"steps start as fresh processes: {self.server.reason}")
        self.server.close()
        self.server = None
        return None

    def start(self, name: str, request: Path) -> Any:
        """The step's process (a ``ForkedStep`` or a ``subprocess.Popen``)."""
        return self._forked(name, request) or start_fresh(request, self.workdir, name)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
