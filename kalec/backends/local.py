"""Target ``local``: run the pipeline on this machine, each step in a fresh Python process.

A fresh process per step is what a pod gives each step on a cluster: nothing leaks from one step
to the next except the values the data flow passes, so a notebook that runs here runs there.
Steps start as soon as the steps they depend on have finished, up to ``jobs`` at a time; their
working directory is the notebook's folder, as in Jupyter; values go through a run folder
(``.kalec/runs/<run-id>/<step>/<variable>.<format>``) that stays for inspection.

When a step fails, the steps already running finish, no new one starts, and the report names the
notebook cell and line where the step's code failed. Exit code 1.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import site
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kalec.backends.step_spec import artifact_inputs, step_params, step_spec
from kalec.ir import Origin, Pipeline, Step

KALEC_ROOT = str(Path(__file__).resolve().parent.parent.parent)


@dataclass
class RunOptions:
    jobs: int = os.cpu_count() or 1
    run_dir: Path | None = None  # default .kalec/runs/<run-id> in the current folder
    params: dict[str, Any] = field(default_factory=dict)  # overrides, already typed
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr


@dataclass
class _StepRun:
    step: Step
    status: str = "waiting"  # waiting, running, ok, failed, not run
    seconds: float = 0.0
    bytes_out: int = 0
    attempts: int = 0
    outcome: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    started: float = 0.0


def _needs_path() -> bool:
    """False when kalec is installed in site-packages, which every step process sees anyway:
    putting site-packages on PYTHONPATH would place it before the standard library."""
    sites = [*site.getsitepackages(), site.getusersitepackages()]
    return not any(os.path.isdir(p) and os.path.samefile(p, KALEC_ROOT) for p in sites)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class _Printer:
    """Step output, line by line, each line prefixed with its step's name."""

    def __init__(self, names: list[str], out: TextIO, err: TextIO) -> None:
        self.width = max((len(n) for n in names), default=0)
        self.out, self.err = out, err
        self.lock = threading.Lock()

    def line(self, name: str, text: str, error: bool = False) -> None:
        stream = self.err if error else self.out
        with self.lock:
            stream.write(f"[{name:<{self.width}}] {text}\n")
            stream.flush()

    def pump(self, name: str, pipe: Any, error: bool) -> None:
        for raw in iter(pipe.readline, b""):
            self.line(name, raw.decode("utf-8", "replace").rstrip("\n"), error)
        pipe.close()


class LocalRun:
    def __init__(self, pipeline: Pipeline, options: RunOptions) -> None:
        self.pipeline = pipeline
        self.options = options
        self.run_dir = (options.run_dir or Path(".kalec") / "runs" / new_run_id()).resolve()
        self.workdir = Path(pipeline.source).resolve().parent
        self.runs = {s.name: _StepRun(s) for s in pipeline.steps}
        self.printer = _Printer(list(self.runs), options.out, options.err)
        self.finished: queue.Queue[str] = queue.Queue()
        self.params = {p.name: p.default for p in pipeline.params} | options.params
        self.needs_path = _needs_path()

    def _prepare(self, step: Step) -> Path:
        folder = self.run_dir / step.name
        folder.mkdir(parents=True, exist_ok=True)
        run = {
            "spec": step_spec(self.pipeline, step),
            "params": {n: self.params[n] for n in step_params(self.pipeline, step)},
            "inputs": {
                name: str(self.run_dir / producer / name)
                for name, producer in artifact_inputs(step)
            },
            "outputs": {name: str(folder / name) for name in step.outputs},
            "result": str(folder / "result.json"),
        }
        path = folder / "run.json"
        path.write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
        return path

    def _start(self, name: str) -> None:
        state = self.runs[name]
        state.status = "running"
        self._progress(f"{name}: started")
        state.attempts += 1
        state.started = time.perf_counter()
        run_file = self._prepare(state.step)
        (run_file.parent / "result.json").unlink(missing_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1", KALEC_STEP=name)
        if self.needs_path:  # kalec runs from a source checkout: its steps must find it too
            env["PYTHONPATH"] = os.pathsep.join(p for p in (KALEC_ROOT, env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-m", "kalec.runtime.step", str(run_file)],
            cwd=self.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        state.process = process
        pumps = [
            threading.Thread(
                target=self.printer.pump, args=(name, pipe, pipe is process.stderr), daemon=True
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
                process.kill()
                process.wait()
                state.outcome = {
                    "ok": False,
                    "error": f"timed out after {timeout} s",
                    "phase": "timeout",
                }
            for pump in pumps:
                pump.join()
            self.finished.put(name)

        threading.Thread(target=wait, daemon=True).start()

    def _collect(self, name: str) -> bool:
        """Record how the step ended; True when it succeeded."""
        state = self.runs[name]
        state.seconds += time.perf_counter() - state.started
        result_file = self.run_dir / name / "result.json"
        if not state.outcome and result_file.exists():
            state.outcome = json.loads(result_file.read_text(encoding="utf-8"))
        if not state.outcome:
            code = state.process.returncode if state.process else None
            state.outcome = {
                "ok": False,
                "error": f"the step's process ended with code {code} "
                "before reporting (killed, or the code called exit?)",
                "phase": "process",
            }
        ok = bool(state.outcome.get("ok"))
        if ok:
            state.status = "ok"
            state.bytes_out = sum(
                os.path.getsize(p)
                for p in state.outcome.get("outputs", {}).values()
                if os.path.isfile(p)
            )
        done = sum(s.status == "ok" for s in self.runs.values())
        self._progress(
            f"{name}: {'ok' if ok else 'failed'} in {state.seconds:.2f} s "
            f"({done} of {len(self.runs)} steps done)"
        )
        return ok

    def execute(self) -> int:
        order = list(self.runs)
        upstream = {n: set(self.runs[n].step.upstream) for n in order}
        done: set[str] = set()
        running: set[str] = set()
        failed: list[str] = []
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._say(
            f"running {len(order)} step{'s' * (len(order) != 1)} of "
            f"{self.pipeline.source}, {self.options.jobs} at a time; values in {self.run_dir}"
        )
        try:
            while True:
                if not failed:
                    for name in order:
                        if (
                            self.runs[name].status == "waiting"
                            and upstream[name] <= done
                            and len(running) < self.options.jobs
                        ):
                            running.add(name)
                            self._start(name)
                if not running:
                    break
                name = self.finished.get()
                running.discard(name)
                state = self.runs[name]
                if self._collect(name):
                    done.add(name)
                elif state.attempts <= (state.step.options.retries or 0):
                    self._progress(
                        f"{name}: retry {state.attempts} of {state.step.options.retries}"
                    )
                    state.outcome = {}
                    state.status = "waiting"
                else:
                    state.status = "failed"
                    failed.append(name)
        except KeyboardInterrupt:
            for state in self.runs.values():
                if state.process and state.process.poll() is None:
                    state.process.terminate()
            self._say("interrupted")
            return 130
        for state in self.runs.values():
            if state.status == "waiting":
                state.status = "not run"
        self._summary()
        for name in failed:
            self._report_failure(self.runs[name])
        if failed:
            return 1
        self._metrics()
        return 0

    def _progress(self, text: str) -> None:
        """Progress, on standard error: standard output is the steps' own output."""
        with self.printer.lock:
            self.options.err.write(f"kalec: {text}\n")
            self.options.err.flush()

    def _say(self, text: str) -> None:
        self.options.out.write(f"kalec: {text}\n")
        self.options.out.flush()

    def _report_failure(self, state: _StepRun) -> None:
        outcome = state.outcome
        where = os.path.basename(self.pipeline.source)
        if outcome.get("cell"):
            where += f": {Origin(outcome['cell'], outcome.get('line') or 0)}"
        self.options.err.write(
            f"{where}: error: step '{state.step.name}' failed: {outcome.get('error')}\n"
        )
        self.options.err.flush()

    def _summary(self) -> None:
        rows = [("step", "status", "seconds", "bytes passed")]
        for state in self.runs.values():
            seconds = f"{state.seconds:.2f}" if state.status in ("ok", "failed") else "-"
            rows.append(
                (
                    state.step.name,
                    state.status,
                    seconds,
                    f"{state.bytes_out:,}" if state.status == "ok" else "-",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        out = self.options.out
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
            metrics.update(state.outcome.get("metrics", {}))
        if not metrics:
            return
        (self.run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        self.options.out.write("\nmetrics:\n")
        for name, value in metrics.items():
            self.options.out.write(f"  {name} = {value}\n")
        self.options.out.flush()


def run(pipeline: Pipeline, options: RunOptions) -> int:
    return LocalRun(pipeline, options).execute()
