"""One trial: a local run of the pipeline with one set of parameter values. Steps the values do
not reach are taken from the step cache (their key holds only the parameters they read), so
the data loading that no parameter touches runs once for the whole search."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec.ir import Pipeline
from kalec.local.folder import METRICS_FILE
from kalec.local.options import RunOptions
from kalec.local.status import StepStatus


@dataclass
class TrialResult:
    number: int
    params: dict[str, Any]
    value: float | None = None  # the objective; None when the run failed or did not report it
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    ran: int = 0  # steps that ran
    reused: int = 0  # steps from the step cache
    error: str | None = None
    run_dir: str = ""
    stopped: bool = False  # the run was stopped by a signal (Ctrl-C): the search stops too


def run_trial(
    pipeline: Pipeline,
    number: int,
    params: dict[str, Any],
    folder: Path,
    metric: str,
    jobs: int,
    starter: Any = None,
    started_run: Any = None,
) -> TrialResult:
    """Run the pipeline with ``params`` in ``folder``; what it measured and what it reused.
    ``started_run``: called with the ``LocalRun`` before it runs (the search stops it on
    Ctrl-C when trials run in threads)."""
    from kalec.local.runner import LocalRun

    result = TrialResult(number, dict(params), run_dir=str(folder))
    log = io.StringIO()
    started = time.perf_counter()
    try:
        options = RunOptions(jobs=jobs, run_dir=folder, params=params)
        run = LocalRun(pipeline, options, log, log, starter=starter)
        if started_run is not None:
            started_run(run)
        code = run.execute()
    except Exception as error:  # a run folder that cannot be used, say: the trial failed
        result.error = f"{type(error).__name__}: {error}"
        result.seconds = time.perf_counter() - started
        return result
    result.seconds = time.perf_counter() - started
    statuses = [r.status for r in run.runs.values()]
    result.ran = sum(s is StepStatus.RAN for s in statuses)
    result.reused = sum(s is StepStatus.CACHED for s in statuses)
    (folder / "trial.log").write_text(log.getvalue(), encoding="utf-8")
    if code >= 128:
        result.stopped, result.error = True, "stopped"
        return result
    if code != 0:
        failed = [
            f"{name}: {r.outcome.error}"
            for name, r in run.runs.items()
            if r.status is StepStatus.FAILED and r.outcome
        ]
        result.error = failed[0] if failed else f"the run ended with code {code}"
        return result
    try:
        result.metrics = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result.metrics = {}
    value = result.metrics.get(metric)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        result.value = float(value)
    else:
        result.error = f"the run reported no number for {metric} ({value!r})"
    return result
