"""What a local run leaves and says at its end: the status record (rewritten as the run goes),
the executed notebook, the summary table, the metrics, the failures with their cells."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from kalec.ir import Origin, Pipeline
from kalec.ir.places import notebook_path, place
from kalec.local.console import Console, summary_table
from kalec.local.folder import METRICS_FILE, RunFolder
from kalec.local.records import StepRecord, write_record
from kalec.local.run_notebook import write_run_notebook
from kalec.local.status import RunState, StepStatus
from kalec.local.step_run import StepRun


class RunRecorder:
    def __init__(
        self,
        pipeline: Pipeline,
        runs: dict[str, StepRun],
        folder: RunFolder,
        console: Console,
        source_text: str | None = None,
    ) -> None:
        self.pipeline, self.runs, self.folder, self.console = pipeline, runs, folder, console
        self.source_text = source_text
        self.started_at = time.time()
        self.clock = time.perf_counter()

    def metrics(self) -> dict[str, Any]:
        """Every metric of the steps that succeeded, in step order."""
        found: dict[str, Any] = {}
        for run in self.runs.values():
            if run.outcome and run.outcome.ok:
                found.update(run.outcome.metrics)
        return found

    def status_steps(self) -> list[StepRecord]:
        """Each step as the status record holds it: state, seconds, bytes, source, note."""
        now = time.perf_counter()
        steps: list[StepRecord] = []
        for run in self.runs.values():
            outcome = run.outcome
            failed = outcome is not None and not outcome.ok
            running = run.status is StepStatus.RUNNING
            steps.append(
                {
                    "name": run.step.name,
                    "status": run.status.value,
                    "seconds": round(run.seconds + (now - run.started if running else 0.0), 3),
                    "bytes": run.bytes_out,
                    "source": run.source,
                    "note": run.note,
                    "key": run.key.digest if run.key else None,
                    "error": outcome.error if failed else None,
                    "cell": outcome.cell if failed else None,
                    "line": outcome.line if failed else None,
                }
            )
        return steps

    def write_status(self, state: RunState, exit_code: int | None = None) -> None:
        """``kalec-status.json``: the run's and each step's state, for ``kalec runs``,
        ``--resume`` and a server to show while the run goes on."""
        data = {
            "notebook": str(Path(self.pipeline.source).resolve()),
            "started": self.started_at,
            "seconds": round(time.perf_counter() - self.clock, 3),
            "state": state.value,
            "exit_code": exit_code,
            "steps": self.status_steps(),
            "metrics": self.metrics(),
        }
        write_record(self.folder.path, data)

    def write_notebook(self) -> None:
        """The run as an executed notebook and its HTML page, beside the values."""
        shown = (StepStatus.RAN, StepStatus.CACHED, StepStatus.FAILED, StepStatus.STOPPED)
        folders = {n: self.folder.step(n) for n, s in self.runs.items() if s.status in shown}
        try:
            written = write_run_notebook(self.pipeline, folders, self.folder.path, self.source_text)
        except (OSError, ValueError, TypeError) as error:
            self.console.progress(f"the run's notebook was not written: {error}")
            return
        if written:
            self.console.say(f"executed notebook: {written}")

    def report_failure(self, state: StepRun) -> None:
        outcome = state.outcome
        where = os.path.basename(self.pipeline.source)
        if outcome and outcome.cell:
            scope, own = place(self.pipeline, outcome.cell)
            where = os.path.basename(notebook_path(self.pipeline, scope))
            where += f": {Origin(own, outcome.line or 0)}"
        error = outcome.error if outcome else "no outcome"
        self.console.err.write(f"{where}: error: step '{state.step.name}' failed: {error}\n")
        self.console.err.flush()

    def summary(self) -> None:
        self.console.out.write("\n" + summary_table(self.status_steps()))
        self.console.out.flush()

    def show_metrics(self) -> None:
        metrics = self.metrics()
        if not metrics:
            return
        (self.folder.path / METRICS_FILE).write_text(
            json.dumps(metrics, indent=2), encoding="utf-8"
        )
        out = self.console.out
        out.write("\nmetrics:\n")
        for name, value in metrics.items():
            out.write(f"  {name} = {value}\n")
        out.flush()
