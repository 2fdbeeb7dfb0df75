"""Local runs a server starts in the background: start, status while it goes, cancel.

Each run is ``kalec run --local`` in a process of its own (so a step that crashes takes no
server down, and cancelling it is the signal a user's Ctrl-C would be), in a folder under the
server's own folder (``ROOT/RUN-ID``: the notebook as posted, the run folder, the output), never
in a folder a client names. At most ``limit`` runs go at once; one more is refused (429).
Status comes from the run's record (``kalec-status.json``, which the runner rewrites as each
step changes: ``kalec.local.records``) and each step's own log; the summary is the runner's
table, made from the same record.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from kalec.ir import Pipeline
from kalec.local.console import summary_table
from kalec.local.folder import LOG_FILE, file_name, new_run_id
from kalec.local.process_tree import end_trees
from kalec.local.records import STATUS_FILE
from kalec.serve.answers import Cancelling, JobState, JobStatus, RunStarted, RunStatus
from kalec.serve.requests import RunRequest, ServiceError, notebook_text, placed

_RUN_ID = re.compile(r"\A[0-9]{8}-[0-9]{6}-[0-9a-f]{4}\Z")
TAIL_LINES = 20
CANCEL_GRACE_SECONDS = 10.0  # for a run to end its steps and record itself, before kills


def state_of(code: int | None) -> JobState:
    """A background kalec's state from its exit code (``kalec.cli``'s codes)."""
    if code is None:
        return "running"
    if code in (0, 1, 2):
        return ("ok", "failed", "refused")[code]
    return "cancelled" if code in (130, 143, -signal.SIGTERM, -signal.SIGKILL) else "failed"


class Background:
    """kalec commands a server runs in processes of their own, each in a folder ``ROOT/ID``."""

    noun = "run"  # what they are called in messages

    def __init__(self, root: Path, limit: int) -> None:
        self.root = root
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.limit = limit
        self._processes: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def _admit(self) -> str:
        """A new id and its folder (the caller holds the lock); 429 past the limit."""
        active = sum(p.poll() is None for p in self._processes.values())
        if active >= self.limit:
            raise ServiceError(
                429, "busy", f"{active} {self.noun}s are going on, the most this server allows"
            )
        job_id = new_run_id()
        while (self.root / job_id).exists():
            job_id = new_run_id()
        (self.root / job_id).mkdir(mode=0o700)
        return job_id

    def _launch(self, job_id: str, command: list[str]) -> None:
        """Start ``command`` in the job's folder, in a session of its own (so that cancelling
        ends everything it started), its output in the folder."""
        home = self.root / job_id
        with open(home / "output.log", "wb") as out, open(home / "errors.log", "wb") as err:
            self._processes[job_id] = subprocess.Popen(
                command,
                cwd=home,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )

    def _process(self, job_id: Any) -> subprocess.Popen:
        if not isinstance(job_id, str) or not _RUN_ID.match(job_id):
            raise ServiceError(400, "bad_field", f"id: a {self.noun} id, as start returned it")
        with self._lock:
            process = self._processes.get(job_id)
        if process is None:
            raise ServiceError(
                404, f"no_such_{self.noun}", f"no {self.noun} {job_id} on this server"
            )
        return process

    def _state(self, job_id: str, code: int | None) -> JobStatus:
        """What every status answer holds: its state, exit code and the end of its output."""
        home = self.root / job_id
        return {
            "id": job_id,
            "state": state_of(code),
            "exit_code": code,
            "output": _read(home / "output.log")[-65536:],
            "errors": _read(home / "errors.log")[-16384:],
        }

    def close(self) -> None:
        """End those still going (the server is stopping): each ends its steps as on Ctrl-C,
        then the whole group goes."""
        with self._lock:
            going = [p for p in self._processes.values() if p.poll() is None]
        end_trees(going, grace=CANCEL_GRACE_SECONDS)


class Runs(Background):
    def __init__(self, root: Path, limit: int = 2, jobs: int = 2, keep: int = 20) -> None:
        super().__init__(root, limit)
        self.jobs, self.keep = jobs, keep

    def start(self, pipeline: Pipeline, request: RunRequest) -> RunStarted:
        """Start a run of the request's notebook, compiled (``pipeline``: the caller compiled
        it, so that a refused one is answered at once, 422, and a run never starts for it; its
        parameters were read too); its id."""
        name, folder, params = request.name, request.folder, request.params
        with self._lock:
            self._forget_old_runs()
            run_id = self._admit()
            home = self.root / run_id
            # the notebook as the request gave it, which the run executes even when a file of
            # that name (Jupyter's) sits in its folder: an editor posts what it shows, unsaved
            contents = home / placed(name, None).name
            contents.write_text(notebook_text(request.nb), encoding="utf-8")
            notebook = contents if folder is None else placed(name, folder)
            command = [
                sys.executable, "-m", "kalec", "run", "--local", str(notebook),
                "--contents", str(contents),
                "--run-dir", str(home / "run"), "--jobs", str(self.jobs),
                "--cache-dir", str(self.root / "cache"),  # the server's, not the user's folder
                "-y", json.dumps(params or {}),
            ]  # fmt: skip
            self._launch(run_id, command)
        return {"id": run_id, "state": "running", "steps": [s.name for s in pipeline.steps]}

    def _forget_old_runs(self) -> None:
        """Keep the folders of the ``keep`` most recent finished runs (the caller holds the
        lock); older ones are removed, and their ids are no longer known."""
        finished = sorted(
            (run_id for run_id, p in self._processes.items() if p.poll() is not None),
            key=lambda run_id: (
                (self.root / run_id).stat().st_mtime if (self.root / run_id).exists() else 0.0
            ),
        )
        for run_id in finished[: max(0, len(finished) - self.keep)]:
            shutil.rmtree(self.root / run_id, ignore_errors=True)
            del self._processes[run_id]

    def status(self, run_id: Any) -> RunStatus:
        """The run's state, each step's state, seconds and bytes, the last lines of each step's
        output; once ended, its exit code, summary table and metrics."""
        process = self._process(run_id)
        home = self.root / run_id
        code = process.poll()
        status: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):  # not written yet, or being replaced
            status = json.loads((home / "run" / STATUS_FILE).read_text(encoding="utf-8"))
        steps = [s for s in status.get("steps", []) if isinstance(s, dict)]
        for step in steps:
            log = home / "run" / file_name(str(step.get("name"))) / LOG_FILE
            step["output"] = _read(log).splitlines()[-TAIL_LINES:]
        return self._state(run_id, code) | {
            "steps": steps,
            "metrics": status.get("metrics", {}),
            "summary": summary_table(steps).splitlines() if code is not None and steps else None,
        }

    def cancel(self, run_id: Any) -> Cancelling:
        """Stop the run as Ctrl-C would (kalec ends every step's processes, records the run,
        then exits), and answer once nothing it started is left: what is still alive after
        the grace period (a step, the fork server, their children) is killed."""
        process = self._process(run_id)
        if process.poll() is not None:
            raise ServiceError(409, "ended", f"run {run_id} has already ended")
        end_trees([process], grace=CANCEL_GRACE_SECONDS)
        return {"id": run_id, "state": "cancelled"}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
