"""Target ``local``: run the pipeline on this machine, each step in a fresh Python process.

A fresh process per step is what a pod gives each step on a cluster: nothing leaks from one step
to the next except the values the data flow passes, so a notebook that runs here runs there.
Steps start as soon as the steps they depend on have finished, up to ``jobs`` at a time; their
working directory is the notebook's folder, as in Jupyter; values go through the run folder
(``folder``). A step whose values the memory can vouch for (``memory``: the step cache, or an
earlier run under ``--resume``) is settled without running, and its recorded output is shown
again, dimmed.

When a step fails, the steps already running finish, no new one starts, and the report names the
notebook cell and line where the step's code failed. Exit code 1; 128+N when stopped by signal N.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from kalec.ir import Pipeline, Step
from kalec.local.console import Console, duration
from kalec.local.folder import LOG_FILE, RunFolder, file_name, new_run_id
from kalec.local.fork_server import Starter
from kalec.local.memory import Memory
from kalec.local.options import RunOptions
from kalec.local.plan import Plan, plan
from kalec.local.processes import GRACE_SECONDS, StopSignals, describe_exit, end_groups
from kalec.local.recorder import RunRecorder
from kalec.local.status import RunState, StepStatus
from kalec.local.step_run import StepRun
from kalec.packaging.step_spec import step_params, step_spec
from kalec.runtime.protocol import (
    DISPLAY_FILE,
    OBSERVED_FILE,
    OUTCOME_FILE,
    PROGRESS_FILE,
    REQUEST_FILE,
    StepOutcome,
    StepRequest,
)

HEARTBEAT_SECONDS = 60.0  # a step running this long is said to be running, again and again


def _read_progress(path: Path) -> int | None:
    """The notebook cell a step was running, from the file it updates before each cell."""
    try:
        return int(path.read_text(encoding="utf-8").strip() or 0) or None
    except (OSError, ValueError):
        return None


def _bytes_of(files: dict[str, str]) -> int:
    return sum(os.path.getsize(p) for p in files.values() if os.path.isfile(p))


class LocalRun:
    def __init__(
        self,
        pipeline: Pipeline,
        options: RunOptions,
        out: TextIO | None = None,
        err: TextIO | None = None,
        starter: Starter | None = None,
    ) -> None:
        """``starter``: a step starter shared by several runs of one pipeline (a search's
        trials), whose fork server imports the steps' modules once for all of them; the run
        leaves it open. By default each run has its own."""
        self.pipeline = pipeline
        self.shared_starter = starter
        self.options = options
        self.workdir = Path(pipeline.source).resolve().parent
        default = self.workdir / ".kalec" / "runs" / new_run_id()
        self.folder = RunFolder(options.run_dir or default, chosen=options.run_dir is not None)
        self.runs = {s.name: StepRun(s) for s in pipeline.steps}
        self.console = Console(list(self.runs), out or sys.stdout, err or sys.stderr)
        self.finished: queue.Queue[str] = queue.Queue()
        self.params = {p.name: p.default for p in pipeline.params} | options.params
        self.plan: Plan = Plan(set(self.runs))
        self.memory: Memory | None = None
        self.starter: Starter | None = None
        self.recorder = RunRecorder(
            pipeline, self.runs, self.folder, self.console, options.source_text
        )
        self.stop_requested: int | None = None

    def stop(self, signum: int = signal.SIGINT) -> None:
        """Stop the run from another thread, as ``signum`` to kalec would: its steps are ended
        and it returns 128 + ``signum`` (a search's trials run in threads of their own)."""
        self.stop_requested = signum

    @property
    def run_dir(self) -> Path:
        return self.folder.path

    def step_folder(self, step: str) -> Path:
        return self.folder.step(step)

    # --- the run ---------------------------------------------------------------------------

    def execute(self) -> int:
        """Run every step; the exit code: 0, 1 when a step failed, 128+N when stopped by signal N.

        Raises ``RunFolderError`` before any step starts when the run folder cannot be used, and
        ``SelectionError`` when ``--resume``, ``--from`` or ``--only`` cannot be done.
        """
        self.plan = plan(self.pipeline, self.options, self.folder.path)  # a refused run: no folder
        self.folder.open(list(self.runs))
        cache = None
        if self.options.cache:
            default = (
                self.run_dir.parent.parent if not self.folder.chosen else self.workdir / ".kalec"
            ) / "cache"
            cache = Path(os.path.abspath(self.options.cache_dir or default))
        self.memory = Memory(self.pipeline, self.workdir, cache)
        self.starter = self.shared_starter or Starter(
            self.pipeline,
            self.run_dir,
            self.workdir,
            self.options.fork,
            self.console.progress,
            self.options.observe,
            steps=self.plan.to_run | self.plan.optional,
        )
        stop = StopSignals()
        try:
            with stop:
                return self._execute(stop)
        finally:
            self.memory.save()
            if self.shared_starter is None:
                self.starter.close()
            self.folder.close()

    def _execute(self, stop: StopSignals) -> int:
        order = list(self.runs)
        upstream = {n: set(self.runs[n].step.upstream) for n in order}
        done: set[str] = set()
        running: set[str] = set()
        failed: list[str] = []
        count = len(self.plan.to_run)
        self.console.say(
            f"running {count} step{'s' * (count != 1)} of {self.pipeline.source}, "
            f"{self.options.jobs} at a time; values in {self.run_dir}"
        )
        if self.options.resume and not count and self.plan.last is not None:
            self.console.say(f"run {self.plan.last.run_id} completed every step: nothing to resume")
        try:
            while True:
                progressed = True
                while progressed and not failed:  # a step settled from memory frees the next
                    progressed = False
                    for name in order:
                        state = self.runs[name]
                        if state.status is not StepStatus.WAITING or not upstream[name] <= done:
                            continue
                        if not state.considered:
                            state.considered = True
                            if self._reused(name):
                                done.add(name)
                                progressed = True
                                self.recorder.write_status(RunState.RUNNING)
                                continue
                            if state.status is not StepStatus.WAITING:  # skipped
                                continue
                        if len(running) < self.options.jobs:
                            running.add(name)
                            self._start(name)
                            self.recorder.write_status(RunState.RUNNING)
                if not running:
                    break
                try:
                    name = self.finished.get(timeout=0.2)
                except queue.Empty:
                    if self.stop_requested is not None:  # stop(), from another thread
                        stop.signum = self.stop_requested
                        raise KeyboardInterrupt from None
                    self._heartbeat(running)
                    self._refresh_board()
                    continue
                running.discard(name)
                state = self.runs[name]
                if self._collect(name):
                    done.add(name)
                elif state.attempts <= (state.step.options.retries or 0):
                    self.console.progress(
                        f"{name}: retry {state.attempts} of {state.step.options.retries}"
                    )
                    state.outcome = None
                    state.status = StepStatus.WAITING
                else:
                    state.status = StepStatus.FAILED
                    failed.append(name)
                self.recorder.write_status(RunState.RUNNING)
        except KeyboardInterrupt:
            end_groups(s.process for s in self.runs.values() if s.process)
            for state in self.runs.values():
                if state.status is StepStatus.WAITING:
                    state.status = StepStatus.SKIPPED
                elif state.status is StepStatus.RUNNING:
                    state.status = StepStatus.STOPPED
            self.recorder.write_status(RunState.STOPPED, 128 + stop.signum)
            self._refresh_board(final=True)
            self.recorder.write_notebook()
            self.console.say(f"stopped by {stop.name}; the steps that were running were ended")
            return 128 + stop.signum
        for state in self.runs.values():
            if state.status is StepStatus.WAITING:
                state.status = StepStatus.SKIPPED
        self._refresh_board(final=True)
        self.recorder.summary()
        for name in failed:
            self.recorder.report_failure(self.runs[name])
        if not failed:
            self.recorder.show_metrics()
        self.recorder.write_status(RunState.FAILED if failed else RunState.OK, 1 if failed else 0)
        self.recorder.write_notebook()
        self.console.say(f"run folder: {self.run_dir}")
        return 1 if failed else 0

    # --- memory: the step cache and earlier runs ---------------------------------------------

    def _reused(self, name: str) -> bool:
        """Settle the step from memory when it can vouch for its values; True when it did
        (``status`` SKIPPED: neither reused nor to run)."""
        assert self.memory is not None
        state = self.runs[name]
        inputs = {}
        for variable, producer in state.step.artifact_inputs():
            outcome = self.runs[producer].outcome
            inputs[variable] = (outcome.digests.get(variable) if outcome else None) or "unknown"
        params = {n: self.params[n] for n in step_params(self.pipeline, state.step)}
        reuse = self.memory.reuse(
            state.step,
            params,
            inputs,
            self.plan.wanted(name, self.options.refresh),
            self.step_folder(name),
            file_name,
        )
        state.key, state.named, state.note = reuse.key, reuse.named, reuse.note
        for line in reuse.said + (reuse.told if self.options.verbose else []):
            self.console.progress(line)
        if reuse.skipped:
            state.status = StepStatus.SKIPPED
        if reuse.outcome is None or reuse.source is None:
            return False
        self._settled(state, reuse.outcome, reuse.source)
        return True

    def _keep(self, state: StepRun) -> None:
        """After a step succeeded: its receipt and its values kept, or why not in its note."""
        assert self.memory is not None and state.outcome is not None
        folder = self.step_folder(state.step.name)
        kept = self.memory.keep(state.step, state.key, state.named or {}, folder, state.outcome)
        state.note = kept.note or state.note
        for line in kept.said:
            self.console.progress(line)

    def _settled(self, state: StepRun, outcome: StepOutcome, source: str) -> None:
        """A step done without running: its outcome recorded, its output shown again, dimmed."""
        state.status, state.source, state.outcome = StepStatus.CACHED, source, outcome
        state.bytes_out = _bytes_of(outcome.outputs)
        folder = self.step_folder(state.step.name)
        with contextlib.suppress(OSError):
            outcome.write(str(folder / OUTCOME_FILE))
        took = f"; it took {outcome.seconds:.2f} s" if outcome.seconds else ""
        self._routine(f"{state.step.name}: cached, values from {source}{took}")
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for text in (folder / LOG_FILE).read_text(encoding="utf-8").splitlines():
                self.console.line(state.step.name, text, dim=True)

    # --- processes ---------------------------------------------------------------------------

    def _request(self, step: Step) -> Path:
        folder = self.step_folder(step.name)
        request = StepRequest(
            spec=step_spec(self.pipeline, step),
            params={n: self.params[n] for n in step_params(self.pipeline, step)},
            inputs={
                name: str(self.step_folder(producer) / file_name(name))
                for name, producer in step.artifact_inputs()
            },
            outputs={name: str(folder / file_name(name)) for name in step.outputs},
            result=str(folder / OUTCOME_FILE),
            progress=str(folder / PROGRESS_FILE),
            display=str(folder / DISPLAY_FILE),
            observed=str(folder / OBSERVED_FILE) if self.options.observe else None,
            private=[str(self.run_dir)]
            + ([str(self.memory.cache.root)] if self.memory and self.memory.cache else []),
            seed=self.options.seed,
            environment=self.memory.places.environment() if self.memory else None,
        )
        path = folder / REQUEST_FILE
        request.write(str(path))
        return path

    def _start(self, name: str) -> None:
        assert self.starter is not None
        state = self.runs[name]
        state.status = StepStatus.RUNNING
        state.attempts += 1
        state.timed_out = False
        state.started = state.heartbeat = time.perf_counter()
        self._routine(f"{name}: started")
        try:
            request = self._request(state.step)
            for stale in (OUTCOME_FILE, PROGRESS_FILE, DISPLAY_FILE, LOG_FILE, OBSERVED_FILE):
                (request.parent / stale).unlink(missing_ok=True)
            log = open(  # noqa: SIM115 - closed when the step's output ends
                request.parent / LOG_FILE, "w", encoding="utf-8", errors="replace"
            )
        except OSError as error:  # a full disk, a run folder gone: the step cannot start
            state.outcome = StepOutcome(ok=False, error=self._cannot_write(error), phase="process")
            self.finished.put(name)
            return
        process = state.process = self.starter.start(name, request)
        pumps = [
            threading.Thread(
                target=self.console.pump,
                args=(name, pipe, pipe is process.stderr, log),
                daemon=True,
            )
            for pipe in (process.stdout, process.stderr)
        ]
        for pump in pumps:
            pump.start()

        def wait() -> None:
            try:
                process.wait(timeout=state.step.options.timeout_seconds)
            except subprocess.TimeoutExpired:
                state.timed_out = True
            # the step is over (or out of time): whatever it started goes with it, as in a pod
            end_groups([process], grace=GRACE_SECONDS if state.timed_out else 0.0)
            for pump in pumps:  # a process that left the group may hold the pipes: don't wait
                pump.join(timeout=GRACE_SECONDS)
            with self.console.lock:
                log.close()
            self.finished.put(name)

        threading.Thread(target=wait, daemon=True).start()

    def _cannot_write(self, error: OSError) -> str:
        """Why kalec could not write in the run folder, with the room left there."""
        where = error.filename or self.run_dir
        if not self.folder.intact():
            return (
                f"the run folder {self.run_dir} was removed (by a step, or another program), "
                "and the values of the steps before with it"
            )
        import shutil

        try:
            free = f"; {shutil.disk_usage(self.run_dir).free / 2**20:,.0f} MB free there"
        except OSError:
            free = ""
        reason = os.strerror(error.errno) if error.errno else str(error)
        return f"kalec cannot write {where}: {reason.lower()}{free}"

    def _collect(self, name: str) -> bool:
        """Record how the step ended; True when it succeeded."""
        state = self.runs[name]
        state.seconds += time.perf_counter() - state.started
        folder = self.step_folder(name)
        if state.timed_out:
            state.outcome = StepOutcome(
                ok=False,
                error=f"timed out after {state.step.options.timeout_seconds} s "
                "(timeout: tag); the step's processes were stopped",
                phase="timeout",
                cell=_read_progress(folder / PROGRESS_FILE),
            )
        if state.outcome is None:
            with contextlib.suppress(OSError, ValueError, TypeError):
                state.outcome = StepOutcome.read(str(folder / OUTCOME_FILE))
        if not self.folder.intact():
            state.outcome = StepOutcome(
                ok=False,
                error=f"the run folder {self.run_dir} was removed while step '{name}' ran (by "
                "the step, a step beside it, or another program), and the values of the steps "
                "before with it",
                phase="process",
            )
        if state.outcome is None:
            code = state.process.returncode if state.process else None
            state.outcome = StepOutcome(
                ok=False,
                error=f"the step's process {describe_exit(code)} (out of memory, or killed "
                "from outside?)",
                phase="process",
                cell=_read_progress(folder / PROGRESS_FILE),
            )
        ok = state.outcome.ok
        if ok:
            state.status = StepStatus.RAN
            state.bytes_out = _bytes_of(state.outcome.outputs)
            self._keep(state)
        settled = sum(s.status.settled for s in self.runs.values())
        text = (
            f"{name}: {'done' if ok else 'failed'} in {state.seconds:.2f} s "
            f"({settled} of {len(self.runs)} steps done)"
        )
        self._routine(text) if ok else self.console.progress(text)
        return ok

    def _heartbeat(self, running: set[str]) -> None:
        """Say, now and then, which long steps are still running (quiet ones look stuck)."""
        now = time.perf_counter()
        for name in sorted(running):
            state = self.runs[name]
            if now - state.heartbeat >= HEARTBEAT_SECONDS:
                state.heartbeat = now
                self._routine(f"{name}: still running ({duration(now - state.started)})")

    # --- what the run shows and leaves ---------------------------------------------------------

    def _routine(self, text: str) -> None:
        """Routine news (started, done, still running): left to the live board where there is
        one, a line on standard error elsewhere."""
        if self.console.board:
            self._refresh_board()
        else:
            self.console.progress(text)

    def _refresh_board(self, final: bool = False) -> None:
        now = time.perf_counter()
        steps = [
            (n, r.status, now - r.started if r.status is StepStatus.RUNNING else None)
            for n, r in self.runs.items()
        ]
        self.console.board_update(steps, final)
