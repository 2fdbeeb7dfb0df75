"""What each endpoint of kalec's API answers, declared once.

The service and the background runs return these records; ``endpoints.ENDPOINTS`` names each
endpoint's; the panel's TypeScript interfaces (``labextension/src/answers.ts``) are made from
them (``labextension/answers_ts.py``) and a test holds the two equal, and holds every
endpoint's real answers to its record. The shapes the compiler and the runner own (a check's
report, a diagnostic, a step's record) are theirs; this module adds what only the service says.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from kalec.ir import DiagnosticData
from kalec.local.records import StepRecord
from kalec.report import CheckReport


class VersionAnswer(TypedDict):
    kalec: str
    api: int
    python: str


class CheckAnswer(CheckReport):
    pass


class BuildAnswer(TypedDict):
    target: str
    pipeline_name: str
    file_name: str
    text: str
    steps: int
    diagnostics: list[DiagnosticData]


class GraphBox(TypedDict):
    name: str
    cells: list[int]
    row: int


GraphArrow = TypedDict("GraphArrow", {"from": str, "to": str, "variables": list[str]})


class GraphAnswer(TypedDict):
    format: str
    text: str
    steps: list[GraphBox]
    edges: list[GraphArrow]


JobState = Literal["running", "ok", "failed", "refused", "cancelled"]


class Started(TypedDict):
    id: str
    state: Literal["running"]


class RunStarted(Started):
    steps: list[str]  # the steps' names, in the order they were planned


class Cancelling(TypedDict):
    id: str
    state: Literal["cancelling", "cancelled"]


class JobStatus(TypedDict):
    """What every status of a background job holds."""

    id: str
    state: JobState
    exit_code: int | None
    output: str  # the end of what it printed
    errors: str  # the end of what it printed on stderr


class RunStepStatus(StepRecord):
    output: list[str]  # the last lines the step printed


class RunStatus(JobStatus):
    steps: list[RunStepStatus]
    metrics: dict[str, Any]
    summary: list[str] | None  # the runner's table, once the run has ended


class TuneStarted(Started):
    space: dict[str, Any]  # the search space, in Katib's Experiment fields


class Trial(TypedDict):
    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    seconds: float | None
    ran: int | None  # steps run
    reused: int | None  # steps reused from earlier trials
    error: str | None


class TuneStatus(JobStatus):
    objective: dict[str, Any] | None
    trials: list[Trial]
    best: Trial | None


class DeployAnswer(TypedDict):
    pipeline_id: str
    version_id: str | None
    new_pipeline: bool
    experiment_id: str | None
    run_id: str | None
    run_link: str | None  # the run's page in the pipeline UI
    namespace: str | None  # where the run's steps run
    pipeline_name: str
    log: str  # what was said along the way


class KfpStep(TypedDict):
    name: str  # the step's name, as in the notebook
    state: str  # as Kubeflow Pipelines says it: PENDING, RUNNING, SUCCEEDED, FAILED, ...
    seconds: float


class KfpRunStatus(TypedDict):
    """A run on Kubeflow Pipelines as the server found it: its state and its steps'."""

    host: str
    run_id: str
    state: str
    ended: bool
    link: str
    steps: list[KfpStep]


class ExperimentsAnswer(TypedDict):
    host: str
    experiments: list[str]


class KaleAnswer(TypedDict):
    pipeline_name: str
    script: str
    file_name: str
    diagnostics: list[DiagnosticData]
    yaml: str | None  # where kfp is installed
    deployment: DeployAnswer | None  # when asked to deploy


class _ErrorFields(TypedDict):
    code: str
    message: str
    cell: int | None
    line: int | None


class ErrorData(_ErrorFields, total=False):
    notebook: str  # the cell is one of this referenced notebook's
    diagnostics: list[DiagnosticData]  # when the compiler refused the notebook


class ErrorAnswer(TypedDict):
    """Every refusal, of every endpoint (``ServiceError.body``)."""

    error: ErrorData
