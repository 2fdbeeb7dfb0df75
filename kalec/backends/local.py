"""Target ``local``: run the pipeline on this machine, each step in a fresh Python process.

A fresh process per step is what a pod gives each step on a cluster: nothing leaks from one step
to the next except the values the data flow passes, so a notebook that runs here runs there.
Steps start as soon as the steps they depend on have finished, up to ``jobs`` at a time; their
working directory is the notebook's folder, as in Jupyter; values go through a run folder
(``.kalec/runs/<run-id>/<step>/<variable>.<format>`` beside the notebook) that stays for
inspection. kalec's own files there have names no variable can have (``kalec-run.json``, the
step's ``StepRequest``), and a name too long for the file system is shortened with a digest.

When a step fails, the steps already running finish, no new one starts, and the report names the
notebook cell and line where the step's code failed. Exit code 1.

Each step runs in a process group of its own, as a pod holds all its processes: a time limit,
the end of the step, or kalec being stopped (SIGINT, SIGTERM) ends the whole group, first
politely and then with SIGKILL, so no step leaves a process behind. A run folder is locked while
a run uses it: two runs never mix their values.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import queue
import secrets
import shutil
import signal
import site
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from kalec.backends.fork_server import ForkServer, ForkServerError, prelude_imports
from kalec.backends.live_status import LiveBoard
from kalec.backends.local_runs import LOCK_FILE, STATUS_FILE, RunRecord, runs_of
from kalec.backends.options import RunOptions
from kalec.backends.packages import Packages
from kalec.backends.run_notebook import write_run_notebook
from kalec.backends.shipping import LocalModules
from kalec.backends.step_cache import (
    MAX_FILES,
    StepCache,
    TooLarge,
    link_into,
    written_paths,
)
from kalec.backends.step_spec import step_params, step_spec
from kalec.errors import KalecError
from kalec.ir import Origin, Pipeline, Step
from kalec.names import digest
from kalec.runtime.marshal.atomic import TEMPORARY_PREFIX
from kalec.runtime.protocol import (
    DISPLAY_FILE,
    OUTCOME_FILE,
    PROGRESS_FILE,
    REQUEST_FILE,
    StepOutcome,
    StepRequest,
)

KALEC_ROOT = str(Path(__file__).resolve().parent.parent.parent)
METRICS_FILE, IMPORTS_FILE = "kalec-metrics.json", "kalec-imports.json"
LOG_FILE = "kalec-output.log"  # everything the step printed, as the terminal showed it
HEARTBEAT_SECONDS = 60.0  # a step running this long is said to be running, again and again
GRACE_SECONDS = 3.0  # between asking a step's processes to stop and killing them
_MAX_NAME_BYTES = 120  # a file name of a step or a variable; file systems allow 255


class RunFolderError(KalecError):
    """The run folder cannot be used: not a folder, not writable, or in use by another run."""


class SelectionError(KalecError):
    """``--resume``, ``--from``, ``--only`` or ``--refresh`` cannot be done as asked."""


def file_name(name: str) -> str:
    """A step's or variable's name as a file name: itself, or when too long for a file system,
    its start and a digest of the whole (two long names never share a file)."""
    if len(name.encode("utf-8", "surrogatepass")) <= _MAX_NAME_BYTES:
        return name
    return name[:40] + "-" + digest(name, 16)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to every process of the step's group (it leads a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _end_group(process: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """Stop a step's whole process group: SIGTERM, then SIGKILL for what is left after ``grace``."""
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    _signal_group(process, signal.SIGKILL)
    process.wait()


@dataclass
class _StepRun:
    step: Step
    status: str = "waiting"  # waiting, running, ran, cached, failed, skipped, stopped
    seconds: float = 0.0
    bytes_out: int = 0
    attempts: int = 0
    outcome: StepOutcome | None = None
    process: subprocess.Popen | None = None
    started: float = 0.0
    timed_out: bool = False
    key: str | None = None  # in the step cache
    source: str | None = None  # where a cached step's values came from: "cache", a run id
    heartbeat: float = 0.0
    looked_up: bool = False  # in the step cache, this run


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


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class _Printer:
    """Step output, line by line, each line prefixed with its step's name."""

    def __init__(self, names: list[str], out: TextIO, err: TextIO) -> None:
        self.width = max((len(n) for n in names), default=0)
        self.out, self.err = out, err
        self.lock = threading.Lock()
        live = _is_terminal(out) and _is_terminal(err) and not os.environ.get("KALEC_PLAIN")
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
            if dim and _is_terminal(stream):
                shown = f"\x1b[2m{shown}\x1b[0m"
            self.write(stream, shown + "\n")
            if log is not None:
                log.write(text + "\n")

    def pump(self, name: str, pipe: Any, error: bool, log: Any = None) -> None:
        for raw in iter(pipe.readline, b""):
            self.line(name, raw.decode("utf-8", "replace").rstrip("\n"), error, log)
        pipe.close()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _remove_partial_files(folder: Path) -> None:
    """Temporary files a killed step left while saving a value: never a value to read."""
    for stale in folder.rglob(TEMPORARY_PREFIX + "*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def _remove_partial_files_if_idle(folder: Path) -> None:
    """``_remove_partial_files`` for an earlier run's folder, unless a run holds it now."""
    lock = folder / LOCK_FILE
    if not lock.is_file():
        return
    try:
        with open(lock, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _remove_partial_files(folder)
    except OSError:
        pass  # in use by another run, or not ours to clean


def _read_progress(path: Path) -> int | None:
    """The notebook cell a step was running, from the file it updates before each cell."""
    try:
        return int(path.read_text(encoding="utf-8").strip() or 0) or None
    except (OSError, ValueError):
        return None


class _StopSignals:
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

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _bytes_of(files: dict[str, str]) -> int:
    return sum(os.path.getsize(p) for p in files.values() if os.path.isfile(p))


def _ending(path: str, folder: Path, variable: str) -> str:
    """The format's file ending of a saved value (``.npy``, ``.pd.pkl``)."""
    base = os.fspath(folder / file_name(variable))
    return path[len(base) :] if path.startswith(base) else Path(path).suffix


def _kept(record: RunRecord, step: str) -> bool:
    """True when the run ``record`` ended ``step`` with its values saved."""
    entry = record.step(step) or {}
    return entry.get("status") in ("ran", "cached", "ok")


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


class LocalRun:
    def __init__(
        self,
        pipeline: Pipeline,
        options: RunOptions,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.options = options
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.workdir = Path(pipeline.source).resolve().parent
        self.run_dir = Path(
            os.path.abspath(options.run_dir or self.workdir / ".kalec" / "runs" / new_run_id())
        )
        self.runs = {s.name: _StepRun(s) for s in pipeline.steps}
        self.printer = _Printer(list(self.runs), self.out, self.err)
        self.finished: queue.Queue[str] = queue.Queue()
        self.params = {p.name: p.default for p in pipeline.params} | options.params
        self.server: ForkServer | None = None
        self.fork_server_started = False
        self.cache: StepCache | None = None
        self.packages: Packages | None = None
        self.modules: LocalModules | None = None
        self.forced = set(options.refresh)  # steps that run even when the cache has them
        self.reuse: dict[str, RunRecord] = {}  # step -> the earlier run its values come from
        self.started_at = time.time()
        self.clock = time.perf_counter()

    def folder(self, step: str) -> Path:
        return self.run_dir / file_name(step)

    def _open_run_folder(self) -> None:
        """Make and lock the run folder, clear what an earlier run left in the step folders.

        Raises ``RunFolderError`` (exit 2: nothing ran) when the folder cannot serve this run.
        """
        try:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
            except OSError:  # a notebook in a read-only folder: its run goes in the current one
                if self.options.run_dir is not None:
                    raise
                self.run_dir = Path(os.path.abspath(Path(".kalec") / "runs" / self.run_dir.name))
                self.run_dir.mkdir(parents=True, exist_ok=True)
            foreign = not (self.run_dir / LOCK_FILE).exists() and any(self.run_dir.iterdir())
        except OSError as error:
            raise RunFolderError(f"cannot use {self.run_dir} as the run folder: {error}") from None
        if foreign:  # kalec empties step folders in a run folder: never in someone else's folder
            raise RunFolderError(
                f"{self.run_dir} holds files and is not a kalec run folder; give a new or empty "
                "folder, or one an earlier kalec run used"
            )
        try:
            self._lock = open(self.run_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the run
        except OSError as error:
            raise RunFolderError(f"cannot use {self.run_dir} as the run folder: {error}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise RunFolderError(
                f"{self.run_dir} is in use by another kalec run; give this run another --run-dir"
            ) from None
        try:
            _remove_partial_files(self.run_dir)
            if self.options.run_dir is None:  # earlier runs beside this one, unless in use
                for other in self.run_dir.parent.iterdir():
                    if other != self.run_dir and other.is_dir():
                        _remove_partial_files_if_idle(other)
            for name in self.runs:
                folder = self.folder(name)
                if folder.is_dir():  # an earlier run's values: never read them by mistake
                    shutil.rmtree(folder)
                folder.mkdir()
        except OSError as error:
            self._lock.close()
            raise RunFolderError(f"cannot prepare the run folder {self.run_dir}: {error}") from None
        if self.options.cache:
            root = self.options.cache_dir or (
                self.run_dir.parent.parent / "cache"
                if self.options.run_dir is None
                else self.workdir / ".kalec" / "cache"
            )
            self.cache = StepCache(Path(os.path.abspath(root)))
            self.packages = Packages(self.pipeline)
            self.modules = LocalModules(self.pipeline)

    def _prepare(self, step: Step) -> Path:
        folder = self.folder(step.name)
        request = StepRequest(
            spec=step_spec(self.pipeline, step),
            params={n: self.params[n] for n in step_params(self.pipeline, step)},
            inputs={
                name: str(self.folder(producer) / file_name(name))
                for name, producer in step.artifact_inputs()
            },
            outputs={name: str(folder / file_name(name)) for name in step.outputs},
            result=str(folder / OUTCOME_FILE),
            progress=str(folder / PROGRESS_FILE),
            display=str(folder / DISPLAY_FILE),
        )
        path = folder / REQUEST_FILE
        request.write(str(path))
        return path

    def _environment(self) -> dict[str, str]:
        """The environment of step processes (and of the fork server they come from)."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.setdefault("MPLBACKEND", "module://kalec.runtime.figures")  # figures are recorded
        return with_kalec_importable(env)

    def _start_fork_server(self) -> None:
        """Start importing the prelude's modules in the fork server, while the run begins."""
        if not self.options.fork or not self.runs or not sys.platform.startswith("linux"):
            return  # elsewhere (macOS) system libraries are not safe to fork: fresh processes
        imports = prelude_imports(self.pipeline)
        path = self.run_dir / IMPORTS_FILE
        path.write_text(json.dumps(imports), encoding="utf-8")
        try:
            self.server = ForkServer(str(path), str(self.workdir), self._environment())
        except OSError as error:  # no fork here, too many processes: fresh processes will do
            self._progress(f"steps start as fresh processes: {error}")

    def _forked(self, name: str, run_file: Path) -> Any:
        """The step forked from the server; None when it cannot be (then a fresh process runs
        it). The first call waits for the server's imports, which the first step needs anyway."""
        if not self.fork_server_started:  # started by the first step that runs, not before:
            self.fork_server_started = True  # a run settled from the cache imports nothing
            self._start_fork_server()
        if self.server is None:
            return None
        if self.server.usable():
            try:
                return self.server.start(str(run_file), {"KALEC_STEP": name})
            except ForkServerError as error:
                self.server.reason = str(error)
        self._progress(f"steps start as fresh processes: {self.server.reason}")
        self.server.close()
        self.server = None
        return None

    def _start(self, name: str) -> None:
        state = self.runs[name]
        state.status = "running"
        state.attempts += 1
        state.timed_out = False
        state.started = state.heartbeat = time.perf_counter()
        self._progress(f"{name}: started", routine=True)
        run_file = self._prepare(state.step)
        for stale in (OUTCOME_FILE, PROGRESS_FILE, DISPLAY_FILE, LOG_FILE):
            (run_file.parent / stale).unlink(missing_ok=True)
        log = open(  # noqa: SIM115 - closed when the step's output ends
            run_file.parent / LOG_FILE, "w", encoding="utf-8", errors="replace"
        )
        process = self._forked(name, run_file) or subprocess.Popen(
            [sys.executable, "-m", "kalec.runtime.step", str(run_file)],
            cwd=self.workdir,
            env=dict(self._environment(), KALEC_STEP=name),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: ended as a whole, like a pod
        )
        state.process = process
        pumps = [
            threading.Thread(
                target=self.printer.pump,
                args=(name, pipe, pipe is process.stderr, log),
                daemon=True,
            )
            for pipe in (process.stdout, process.stderr)
        ]
        for pump in pumps:
            pump.start()

        def wait() -> None:
            timeout = state.step.options.timeout_seconds
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                state.timed_out = True
            # the step is over (or out of time): whatever it started goes with it, as in a pod
            _end_group(process, grace=GRACE_SECONDS if state.timed_out else 0.0)
            for pump in pumps:  # a process that left the group may hold the pipes: don't wait
                pump.join(timeout=GRACE_SECONDS)
            with self.printer.lock:
                log.close()
            self.finished.put(name)

        threading.Thread(target=wait, daemon=True).start()

    def _collect(self, name: str) -> bool:
        """Record how the step ended; True when it succeeded."""
        state = self.runs[name]
        state.seconds += time.perf_counter() - state.started
        folder = self.folder(name)
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
        if state.outcome is None:
            code = state.process.returncode if state.process else None
            how = (
                f"was killed by {signal.Signals(-code).name}"
                if isinstance(code, int) and code < 0 and -code in signal.Signals._value2member_map_
                else f"ended with code {code} before reporting"
            )
            state.outcome = StepOutcome(
                ok=False,
                error=f"the step's process {how} (out of memory, or killed from outside?)",
                phase="process",
                cell=_read_progress(folder / PROGRESS_FILE),
            )
        ok = state.outcome.ok
        if ok:
            state.status = "ran"
            state.bytes_out = _bytes_of(state.outcome.outputs)
            self._keep_in_cache(state)
        done = sum(s.status in ("ran", "cached") for s in self.runs.values())
        self._progress(
            routine=ok,
            text=f"{name}: {'done' if ok else 'failed'} in {state.seconds:.2f} s "
            f"({done} of {len(self.runs)} steps done)",
        )
        return ok

    def execute(self) -> int:
        """Run every step; the exit code: 0, 1 when a step failed, 128+N when stopped by signal N.

        Raises ``RunFolderError`` before any step starts when the run folder cannot be used, and
        ``SelectionError`` when ``--resume``, ``--from`` or ``--only`` cannot be done.
        """
        self.to_run = self._select()  # before the run folder: a refused run leaves none
        self._open_run_folder()
        stop = _StopSignals()
        try:
            with stop:
                return self._execute(stop)
        finally:
            if self.cache is not None:
                self.cache.save_file_digests()
            if self.server is not None:
                self.server.close()
            self._lock.close()

    def _execute(self, stop: _StopSignals) -> int:
        order = list(self.runs)
        upstream = {n: set(self.runs[n].step.upstream) for n in order}
        done: set[str] = set()
        running: set[str] = set()
        failed: list[str] = []
        to_run = self.to_run
        self._say(
            f"running {len(to_run)} step{'s' * (len(to_run) != 1)} of "
            f"{self.pipeline.source}, {self.options.jobs} at a time; values in {self.run_dir}"
        )
        try:
            while True:
                started = True
                while started and not failed:  # a step settled from the cache frees the next
                    started = False
                    for name in order:
                        if self.runs[name].status != "waiting" or not upstream[name] <= done:
                            continue
                        if name not in to_run:
                            if self._reuse(name):
                                done.add(name)
                                started = True
                            elif self.runs[name].status == "failed":
                                failed.append(name)
                            self._write_status("running")
                            continue
                        if self._from_cache(name):
                            done.add(name)
                            started = True
                            self._write_status("running")
                        elif len(running) < self.options.jobs:
                            running.add(name)
                            self._start(name)
                            self._write_status("running")
                if not running:
                    break
                try:
                    name = self.finished.get(timeout=0.2)
                except queue.Empty:
                    self._heartbeat(running)
                    self._refresh_board()
                    continue
                running.discard(name)
                state = self.runs[name]
                if self._collect(name):
                    done.add(name)
                elif state.attempts <= (state.step.options.retries or 0):
                    self._progress(
                        f"{name}: retry {state.attempts} of {state.step.options.retries}"
                    )
                    state.outcome = None
                    state.status = "waiting"
                else:
                    state.status = "failed"
                    failed.append(name)
                self._write_status("running")
        except KeyboardInterrupt:
            self._stop_all()
            for state in self.runs.values():
                if state.status in ("waiting", "running"):
                    state.status = "skipped" if state.status == "waiting" else "stopped"
            self._write_status("stopped", 128 + stop.signum)
            self._refresh_board(final=True)
            self._write_notebook()
            self._say(f"stopped by {stop.name}; the steps that were running were ended")
            return 128 + stop.signum
        for state in self.runs.values():
            if state.status == "waiting":
                state.status = "skipped"
        self._refresh_board(final=True)
        self._summary()
        for name in failed:
            self._report_failure(self.runs[name])
        if not failed:
            self._metrics()
        self._write_status("failed" if failed else "ok", 1 if failed else 0)
        self._write_notebook()
        self._say(f"run folder: {self.run_dir}")
        return 1 if failed else 0

    # --- which steps run: --resume, --from, --only ------------------------------------------

    def _select(self) -> set[str]:
        """The steps to run; the others take their values from an earlier run (``reuse``).

        Raises ``SelectionError`` when a step named is unknown, or when a step that must run
        needs a value no earlier run kept.
        """
        options = self.options
        names = set(self.runs)
        for asked in [options.start_from, options.only, *options.refresh]:
            if asked is not None and asked not in names:
                raise SelectionError(
                    f"the notebook has no step named {asked!r}; its steps: {', '.join(self.runs)}"
                )
        if not (options.resume or options.start_from or options.only):
            return names
        earlier = [r for r in runs_of(self.pipeline.source) if r.folder != self.run_dir]
        if not earlier:
            raise SelectionError(
                "there is no earlier run of this notebook to take values from; run it whole first"
            )
        last = earlier[0]
        if options.only:
            to_run = {options.only}
        else:
            first = (
                {options.start_from}
                if options.start_from
                else {
                    n
                    for n in names
                    if (last.step(n) or {}).get("status") not in ("ran", "cached", "ok")
                }
            )
            to_run = self._with_descendants(first)
        if not options.resume:  # asked for by name: run, whatever the cache holds
            self.forced |= to_run
        if options.resume and not to_run:
            self._say(f"run {last.run_id} completed every step: nothing to resume")
        needed = self._ancestors(to_run) - to_run
        for name in names - to_run:
            record = next((r for r in earlier if _kept(r, name)), None)
            if record is not None:
                self.reuse[name] = record
            elif name in needed:
                raise SelectionError(
                    f"step '{name}' is needed by the steps to run and no earlier run of this "
                    f"notebook kept its values; run it too (--from {name}) or run the notebook "
                    "whole"
                )
        return to_run

    def _with_descendants(self, names: set[str]) -> set[str]:
        found = set(names)
        for step in self.pipeline.steps:  # topological order
            if found & set(step.upstream):
                found.add(step.name)
        return found

    def _ancestors(self, names: set[str]) -> set[str]:
        found = set(names)
        for step in reversed(self.pipeline.steps):
            if step.name in found:
                found.update(step.upstream)
        return found

    def _reuse(self, name: str) -> bool:
        """Take a step's values from the earlier run that kept them; False: the step is skipped,
        or failed when that run's files are gone."""
        state = self.runs[name]
        record = self.reuse.get(name)
        if record is None:
            state.status = "skipped"
            return False
        earlier = record.folder / file_name(name)
        try:
            outcome = StepOutcome.read(str(earlier / OUTCOME_FILE))
            folder = self.folder(name)
            restored = {}
            for variable, path in outcome.outputs.items():
                target = folder / (file_name(variable) + _ending(path, earlier, variable))
                link_into(Path(path), target)
                restored[variable] = str(target)
            for extra in (DISPLAY_FILE, LOG_FILE):
                if (earlier / extra).is_file():
                    link_into(earlier / extra, folder / extra)
        except (OSError, ValueError, TypeError) as error:
            state.status = "failed"
            state.outcome = StepOutcome(
                ok=False,
                error=f"its values cannot be taken from run {record.run_id} ({error}); run it "
                f"again with --from {name}",
                phase="load",
            )
            return False
        outcome.outputs = restored
        self._settled(state, outcome, f"run {record.run_id}")
        return True

    # --- the step cache --------------------------------------------------------------------

    def _cache_key(self, state: _StepRun) -> str | None:
        if self.cache is None or state.step.options.cache is False:
            return None
        assert self.packages is not None and self.modules is not None
        digests = {}
        for variable, producer in state.step.artifact_inputs():
            outcome = self.runs[producer].outcome
            digest = outcome.digests.get(variable) if outcome else None
            if digest is None:
                return None  # a value without a digest (an old run's): no key, no cache
            digests[variable] = digest
        params = {n: self.params[n] for n in step_params(self.pipeline, state.step)}
        return self.cache.key(
            self.pipeline, state.step, params, digests, self.packages, self.modules
        )

    def _from_cache(self, name: str) -> bool:
        """Settle a step from the cache when its key is there; True when it was."""
        state = self.runs[name]
        if state.looked_up:  # once per run: a step waiting for a free job is not hashed again
            return False
        state.looked_up = True
        try:
            state.key = self._cache_key(state)
        except OSError as error:  # a file it reads vanished while hashing: run it
            self._progress(f"{name}: not looked up in the cache: {error}")
            state.key = None
        except TooLarge as error:
            self._progress(
                f"{name}: not cached: it names {error}, a folder of more than "
                f"{MAX_FILES:,} files, which would be checked on every run"
            )
            state.key = None
        if state.key is None or name in self.forced or self.cache is None:
            return False
        entry = self.cache.lookup(state.key)
        if entry is None:
            return False
        folder = self.folder(name)
        try:
            restored = self.cache.restore(entry, {v: folder / file_name(v) for v in entry.outputs})
        except OSError as error:
            self._progress(f"{name}: its cached values cannot be used ({error}); running it")
            return False
        try:
            self.cache.restore_files(entry, self.workdir)
        except OSError as error:
            self._progress(f"{name}: the files it wrote cannot be put back ({error}); running it")
            return False
        self.cache.restore_text(entry.log, folder / LOG_FILE)
        self.cache.restore_text(entry.display, folder / DISPLAY_FILE)
        outcome = StepOutcome(
            ok=True,
            seconds=entry.seconds,
            outputs=restored,
            digests={v: d for v, (d, _) in entry.outputs.items()},
            metrics=entry.metrics,
        )
        self._settled(state, outcome, "cache")
        return True

    def _settled(self, state: _StepRun, outcome: StepOutcome, source: str) -> None:
        """A step done without running: its outcome recorded, its output shown again, dimmed."""
        state.status, state.source, state.outcome = "cached", source, outcome
        state.bytes_out = _bytes_of(outcome.outputs)
        folder = self.folder(state.step.name)
        with contextlib.suppress(OSError):
            outcome.write(str(folder / OUTCOME_FILE))
        took = f"; it took {outcome.seconds:.2f} s" if outcome.seconds else ""
        self._progress(f"{state.step.name}: cached, values from {source}{took}", routine=True)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for text in (folder / LOG_FILE).read_text(encoding="utf-8").splitlines():
                self.printer.line(state.step.name, text, dim=True)

    def _keep_in_cache(self, state: _StepRun) -> None:
        if self.cache is None or state.key is None or state.outcome is None:
            return
        folder = self.folder(state.step.name)
        files = {}
        for variable, path in state.outcome.outputs.items():
            digest = state.outcome.digests.get(variable)
            if digest is None:
                return
            files[variable] = (path, digest, _ending(path, folder, variable))
        self.cache.store(
            state.key,
            files,
            state.outcome.metrics,
            state.outcome.seconds,
            folder / LOG_FILE,
            folder / DISPLAY_FILE,
            {p: self.workdir / p for p in written_paths(self.pipeline, state.step)},
        )

    def _heartbeat(self, running: set[str]) -> None:
        """Say, now and then, which long steps are still running (quiet ones look stuck)."""
        now = time.perf_counter()
        for name in sorted(running):
            state = self.runs[name]
            if now - state.heartbeat >= HEARTBEAT_SECONDS:
                state.heartbeat = now
                self._progress(
                    f"{name}: still running ({_duration(now - state.started)})", routine=True
                )

    def _write_notebook(self) -> None:
        """The run as an executed notebook and its HTML page, beside the values."""
        folders = {
            name: self.folder(name)
            for name, state in self.runs.items()
            if state.status in ("ran", "cached", "failed", "stopped")
        }
        try:
            written = write_run_notebook(self.pipeline, folders, self.run_dir)
        except (OSError, ValueError, TypeError) as error:
            self._progress(f"the run's notebook was not written: {error}")
            return
        if written:
            self._say(f"executed notebook: {written}")

    def _write_status(self, state: str, exit_code: int | None = None) -> None:
        """``kalec-status.json``: the run's and each step's state, for a server to show while
        the run goes on (written whole and renamed: a reader never sees half of it)."""
        steps = []
        for run in self.runs.values():
            outcome = run.outcome
            steps.append(
                {
                    "name": run.step.name,
                    "status": run.status,
                    "seconds": round(
                        run.seconds + (time.perf_counter() - run.started)
                        if run.status == "running"
                        else run.seconds,
                        3,
                    ),
                    "bytes": run.bytes_out,
                    "source": run.source,
                    "key": run.key,
                    "error": outcome.error if outcome and not outcome.ok else None,
                    "cell": outcome.cell if outcome and not outcome.ok else None,
                    "line": outcome.line if outcome and not outcome.ok else None,
                }
            )
        metrics = {}
        for run in self.runs.values():
            if run.outcome and run.outcome.ok:
                metrics.update(run.outcome.metrics)
        data = {
            "notebook": str(Path(self.pipeline.source).resolve()),
            "started": self.started_at,
            "seconds": round(time.perf_counter() - self.clock, 3),
            "state": state,
            "exit_code": exit_code,
            "steps": steps,
            "metrics": metrics,
        }
        temporary = self.run_dir / (STATUS_FILE + ".tmp")
        with contextlib.suppress(OSError, TypeError, ValueError):
            temporary.write_text(json.dumps(data, default=repr), encoding="utf-8")
            os.replace(temporary, self.run_dir / STATUS_FILE)

    def _stop_all(self) -> None:
        """End every running step's process group, at the same time, SIGKILL after the grace."""
        processes = [
            s.process for s in self.runs.values() if s.process and s.process.poll() is None
        ]
        for process in processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in processes + [s.process for s in self.runs.values() if s.process]:
            _signal_group(process, signal.SIGKILL)  # also what a finished step left behind
            process.wait()

    def _progress(self, text: str, routine: bool = False) -> None:
        """Progress, on standard error: standard output is the steps' own output. Routine
        news (started, done, still running) is left to the live board where there is one."""
        if routine and self.printer.board:
            self._refresh_board()
            return
        with self.printer.lock:
            self.printer.write(self.err, f"kalec: {text}\n")

    def _say(self, text: str) -> None:
        with self.printer.lock:
            self.printer.write(self.out, f"kalec: {text}\n")

    def _refresh_board(self, final: bool = False) -> None:
        board = self.printer.board
        if board is None:
            return
        now = time.perf_counter()
        steps = [
            (n, r.status, now - r.started if r.status == "running" else None)
            for n, r in self.runs.items()
        ]
        with self.printer.lock:
            if final:
                board.erase()
                board.lines = []
            else:
                board.update(steps)

    def _report_failure(self, state: _StepRun) -> None:
        outcome = state.outcome
        where = os.path.basename(self.pipeline.source)
        if outcome and outcome.cell:
            where += f": {Origin(outcome.cell, outcome.line or 0)}"
        error = outcome.error if outcome else "no outcome"
        self.err.write(f"{where}: error: step '{state.step.name}' failed: {error}\n")
        self.err.flush()

    def _summary(self) -> None:
        rows = [("step", "status", "seconds", "bytes passed")]
        for state in self.runs.values():
            seconds = f"{state.seconds:.2f}" if state.status in ("ran", "failed") else "-"
            status = state.status
            if state.source and state.source != "cache":
                status += f" ({state.source})"
            rows.append(
                (
                    state.step.name,
                    status,
                    seconds,
                    f"{state.bytes_out:,}" if state.status in ("ran", "cached") else "-",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        out = self.out
        out.write("\n")
        for row in rows:
            out.write(
                "  ".join(
                    c.ljust(w) if i < 2 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
                + "\n"
            )
        out.flush()

    def _metrics(self) -> None:
        metrics: dict[str, Any] = {}
        for state in self.runs.values():
            if state.outcome:
                metrics.update(state.outcome.metrics)
        if not metrics:
            return
        (self.run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        self.out.write("\nmetrics:\n")
        for name, value in metrics.items():
            self.out.write(f"  {name} = {value}\n")
        self.out.flush()


def run(pipeline: Pipeline, options: RunOptions) -> int:
    return LocalRun(pipeline, options).execute()
