"""Following a run on Kubeflow Pipelines to its end, as ``kalec deploy --run --watch`` shows it.

The run is asked for every few seconds; each change of a step's state is one line (the step's
name as in the notebook, its state, its seconds so far). When the run ends: its state, the
metrics of the ``pipeline-metrics`` cell (read from the log of the step that reports them, as
the pipeline UI serves it: ``kalec-metric NAME=VALUE`` lines), and for a failed run the step
and the notebook cell its log names. Ctrl-C stops the following, never the run.

A question the server cannot answer now (unreachable, a 5xx, a 429, silence) is asked again,
after a wait that doubles each time (at most a minute), and said each time; past
``FAILED_POLLS_IN_A_ROW`` of them the following gives up, in the words of the last. A refusal
(a 4xx: signed out, no such run) ends it at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from kalec.deploy.auth import Credentials
from kalec.deploy.calls import CallLimits

ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"})
KFP_TASKS = frozenset({"root", "root-driver"})  # tasks kfp adds to a run, not a step's
FAILURE_LINE = re.compile(
    r"RuntimeError: (?P<where>.+?): step '(?P<step>[^']*)' failed: (?P<why>.*)"
)
METRIC_LINE = re.compile(r"^kalec-metric (?P<name>[^=\s]+)=(?P<value>\S+)\s*$", re.M)
FAILED_POLLS_IN_A_ROW = 6  # at the default 5 s between polls: four minutes of trouble
LONGEST_WAIT = 60.0  # seconds between two questions, however long the trouble lasts


@dataclass(frozen=True)
class RunToFollow:
    """Which run, where, and what the notebook says of its steps."""

    host: str
    run_id: str
    link: str
    namespace: str
    steps: tuple[str, ...]  # the steps' names as the tasks show them
    metric_steps: tuple[str, ...] = ()  # the steps whose log reports the metrics
    poll_seconds: float = 5.0


@dataclass
class RunEnd:
    """How the run ended: its state, its metrics, and where it failed when it did."""

    state: str
    metrics: dict[str, str] = field(default_factory=dict)
    failed_step: str | None = None
    failed_where: str | None = None  # "nb.ipynb: cell 7, line 2", as the step's log says
    failed_why: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"


def _seconds(task: Any, now: datetime) -> float:
    start = getattr(task, "start_time", None) or getattr(task, "create_time", None)
    end = getattr(task, "end_time", None)
    if not isinstance(start, datetime):
        return 0.0
    if not isinstance(end, datetime) or end.year < 2000:  # an unset time reads as 1970
        end = now
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    if end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    return max((end - start).total_seconds(), 0.0)


@dataclass(frozen=True)
class TaskState:
    """One step's task in a run: its name (as in the notebook), its state, its seconds."""

    name: str
    state: str
    seconds: float


def run_state(
    client: Any, run_id: str, steps: tuple[str, ...] | None = None
) -> tuple[str, list[Any]]:
    """The run's state and its steps' tasks (those named in ``steps``; all tasks but kfp's own
    when None), as the server reports them now."""
    got = client.get_run(run_id)
    tasks = [
        t
        for t in (getattr(got.run_details, "task_details", None) or [])
        if (t.display_name in steps if steps is not None else t.display_name not in KFP_TASKS)
    ]
    return str(got.state or ""), tasks


def task_states(tasks: list[Any]) -> list[TaskState]:
    now = datetime.now(timezone.utc)
    return [
        TaskState(str(t.display_name), str(t.state or "PENDING"), _seconds(t, now)) for t in tasks
    ]


def status_of_run(request: Any, run_id: str) -> tuple[str, list[TaskState]]:
    """A run's state and its tasks', asked of the server the request names (its host,
    namespace, way of signing in), each call within the request's limits."""
    from kalec.deploy.calls import said_in_words, time_limited
    from kalec.deploy.upload import connect

    with time_limited(request.limits), said_in_words(request.host, request.limits):
        client, _, _ = connect(request)
        state, tasks = run_state(client, run_id)
        return state, task_states(tasks)


def follow(
    client: Any,
    run: RunToFollow,
    credentials: Credentials,
    limits: CallLimits,
    out: TextIO | None,
    sleep: Callable[[float], None] = time.sleep,
    warn: Callable[[str], None] = lambda line: None,
) -> RunEnd:
    """Ask for the run until it ends; with ``out``, one line per step's change of state;
    ``warn``: a line each time the server could not answer and is asked again."""
    from kalec.deploy.calls import said_in_words
    from kalec.deploy.errors import DeployUnavailable

    seen: dict[str, str] = {}
    failed = 0
    while True:
        try:
            with said_in_words(run.host, limits):
                state, tasks = run_state(client, run.run_id, run.steps)
        except DeployUnavailable as error:
            failed += 1
            if failed >= FAILED_POLLS_IN_A_ROW:
                raise
            wait = min(run.poll_seconds * 2**failed, LONGEST_WAIT)
            warn(f"{error}; asking again in {wait:.3g} s ({failed} of {FAILED_POLLS_IN_A_ROW})")
            sleep(wait)
            continue
        failed = 0
        for task in task_states(tasks):
            if seen.get(task.name) != task.state:
                seen[task.name] = task.state
                if out is not None:
                    out.write(f"{task.name:<24} {task.state.lower():<10} {task.seconds:7.1f} s\n")
                    out.flush()
        if state in ENDED:
            return _ended(run, state, tasks, credentials, limits)
        sleep(run.poll_seconds)


def _ended(
    run: RunToFollow, state: str, tasks: list[Any], credentials: Credentials, limits: CallLimits
) -> RunEnd:
    end = RunEnd(state)
    for task in tasks:
        pod = getattr(task, "pod_name", None)
        if task.state == "FAILED" and end.failed_step is None:
            end.failed_step = task.display_name
            log = _log(run, pod, credentials, limits) if pod else None
            found = FAILURE_LINE.search(log or "")
            if found:
                end.failed_where, end.failed_why = found["where"], found["why"].strip()
        elif task.display_name in run.metric_steps and task.state == "SUCCEEDED" and pod:
            for found in METRIC_LINE.finditer(_log(run, pod, credentials, limits) or ""):
                end.metrics[found["name"]] = found["value"]
    return end


def _log(run: RunToFollow, pod: str, credentials: Credentials, limits: CallLimits) -> str | None:
    """A step's log, as the pipeline UI serves it beside the API; None when it cannot be read
    (an API server reached directly has no such endpoint)."""
    import urllib3

    from kalec.deploy.calls import get_once

    try:
        answer = get_once(
            run.host.rstrip("/") + "/k8s/pod/logs",
            credentials,
            limits,
            fields={"podname": pod, "podnamespace": run.namespace},
        )
    except urllib3.exceptions.HTTPError:
        return None
    if answer.status != 200:
        return None
    return answer.data.decode("utf-8", "replace")
