"""Every endpoint of kalec's HTTP API, once: its method, route, the fields it takes, what it does
and the status it answers with. ``kalec serve`` (under ``/api/v1/``) and the Jupyter Server
extension (under ``/kalec/api/v1/``) both serve this table; each adds only its transport (how
requests are authenticated, how a notebook is found from a ``path``).

| method | route                  | does                                         | answers |
|--------|------------------------|----------------------------------------------|---------|
| GET    | version                | kalec's version, the API's                   | 200 |
| POST   | check                  | steps, inputs, parameters, diagnostics       | 200 |
| POST   | build                  | the pipeline for a target, as text           | 200 |
| POST   | graph                  | the step graph drawn, and as data            | 200 |
| POST   | runs                   | start a local run in the background          | 202 |
| GET    | runs/ID                | the run's state, each step's, output, metrics| 200 |
| POST   | runs/ID/cancel         | stop it, as Ctrl-C would                     | 200 |
| POST   | deploy                 | upload to Kubeflow Pipelines, optionally run | 200 |
| POST   | experiments            | the experiments on a Kubeflow Pipelines server | 200 |
| POST   | kfp-runs               | a run on Kubeflow Pipelines: its steps' states | 200 |
| POST   | tunes                  | start a search of the notebook's parameters  | 202 |
| GET    | tunes/ID               | the search's trials, the best so far         | 200 |
| POST   | tunes/ID/cancel        | stop it                                      | 200 |
| POST   | /kale (kalec serve)    | Kale's API: the kfp-py script (and YAML),    | 200 |
|        |                        | deploy on request                            |     |
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kalec import __version__
from kalec.serve import answers, service
from kalec.serve.context import ServiceContext
from kalec.serve.requests import (
    BuildRequest,
    CheckRequest,
    DeployRequest,
    Empty,
    ExperimentsRequest,
    GraphRequest,
    KaleRequest,
    KfpRunRequest,
    RunRequest,
    ServiceError,
    TuneRequest,
)


@dataclass(frozen=True)
class Call:
    """One request, once its adapter has read it: the server's context, the request's record
    (its endpoint's ``request`` type) and the id the route names."""

    context: ServiceContext
    request: Any
    run_id: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint: method, route, handler, the record its body is read into and the
    record it answers with."""

    name: str
    method: str  # GET or POST
    route: str  # below the API's prefix; ``ID`` stands for a run id
    handle: Callable[[Call], Any]
    answer: type
    request: type = Empty
    status: int = 200
    root: bool = False  # served at the server's root (``/kale``), not under the API's prefix

    @property
    def body(self) -> bool:
        return self.method == "POST" and self.request is not Empty


def _version(call: Call) -> answers.VersionAnswer:
    return {"kalec": __version__, "api": 1, "python": sys.version.split()[0]}


def _start_run(call: Call) -> answers.RunStarted:
    pipeline = service.compiled(call.context, call.request)
    service.typed_params(pipeline, call.request.params)  # refused here, not by the run
    return call.context.runs.start(pipeline, call.request)


def _start_tune(call: Call) -> answers.TuneStarted:
    call.context.tunes.available()
    pipeline = service.compiled(call.context, call.request)
    return call.context.tunes.start(pipeline, call.request)


def _kale(call: Call) -> answers.KaleAnswer:
    """Kale's endpoint: the kfp-py script (and YAML where kfp is installed), and a deployment
    to ``http://localhost:<kfp_port>`` when asked."""
    asked: KaleRequest = call.request
    nb = service.with_settings(
        asked.nb, name=asked.pipeline_name, description=asked.pipeline_descr,
        image=asked.docker_image,
    )  # fmt: skip
    context = call.context
    script = service.build(context, BuildRequest(nb=nb, target="kfp-py"))
    answer: answers.KaleAnswer = {
        "pipeline_name": script["pipeline_name"],
        "script": script["text"],
        "file_name": script["file_name"],
        "diagnostics": script["diagnostics"],
        "yaml": None,
        "deployment": None,
    }
    try:
        answer["yaml"] = service.build(context, BuildRequest(nb=nb, target="yaml"))["text"]
    except ServiceError as error:
        if error.status != 501:  # 501: kfp not installed here; the script is the answer
            raise
    if asked.deploy:
        host = f"http://localhost:{asked.kfp_port}"
        answer["deployment"] = service.deploy(context, DeployRequest(nb=nb, host=host))
    return answer


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("version", "GET", "version", _version, answers.VersionAnswer),
    Endpoint(
        "check", "POST", "check", lambda c: service.check(c.context, c.request),
        answers.CheckAnswer, CheckRequest,
    ),
    Endpoint(
        "build", "POST", "build", lambda c: service.build(c.context, c.request),
        answers.BuildAnswer, BuildRequest,
    ),
    Endpoint(
        "graph", "POST", "graph", lambda c: service.graph(c.context, c.request),
        answers.GraphAnswer, GraphRequest,
    ),
    Endpoint("runs", "POST", "runs", _start_run, answers.RunStarted, RunRequest, status=202),
    Endpoint(
        "run", "GET", "runs/ID", lambda c: c.context.runs.status(c.run_id), answers.RunStatus
    ),
    Endpoint(
        "cancel", "POST", "runs/ID/cancel", lambda c: c.context.runs.cancel(c.run_id),
        answers.Cancelling,
    ),
    Endpoint(
        "deploy", "POST", "deploy", lambda c: service.deploy(c.context, c.request),
        answers.DeployAnswer, DeployRequest,
    ),
    Endpoint(
        "experiments", "POST", "experiments", lambda c: service.experiments(c.context, c.request),
        answers.ExperimentsAnswer, ExperimentsRequest,
    ),
    Endpoint(
        "kfp_run", "POST", "kfp-runs", lambda c: service.kfp_run(c.context, c.request),
        answers.KfpRunStatus, KfpRunRequest,
    ),
    Endpoint("tunes", "POST", "tunes", _start_tune, answers.TuneStarted, TuneRequest, status=202),
    Endpoint(
        "tune", "GET", "tunes/ID", lambda c: c.context.tunes.status(c.run_id), answers.TuneStatus
    ),
    Endpoint(
        "tune_cancel", "POST", "tunes/ID/cancel", lambda c: c.context.tunes.cancel(c.run_id),
        answers.Cancelling,
    ),
    Endpoint("kale", "POST", "kale", _kale, answers.KaleAnswer, KaleRequest, root=True),
)  # fmt: skip
