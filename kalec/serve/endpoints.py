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
| POST   | tunes                  | start a search of the notebook's parameters  | 202 |
| GET    | tunes/ID               | the search's trials, the best so far         | 200 |
| POST   | tunes/ID/cancel        | stop it                                      | 200 |
| POST   | /kale (kalec serve)    | Kale's API: the kfp-py script (and YAML), deploy on request | 200 |
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec import __version__
from kalec.serve import service
from kalec.serve.background import Runs
from kalec.serve.service import ServiceError

NOTEBOOK = {"nb": (dict, str), "name": (str,)}


@dataclass
class Call:
    """One request, once its adapter has checked it: the fields, the run id of the route, and
    the server's background runs."""

    fields: dict[str, Any]
    runs: Runs
    run_id: str | None = None

    @property
    def folder(self) -> Path | None:
        """Where the adapter placed the notebook (a file of Jupyter's), if anywhere."""
        return self.fields.get("folder")


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint: method, route, handler and the fields its body may hold."""

    name: str
    method: str  # GET or POST
    route: str  # below the API's prefix; ``ID`` stands for a run id
    handle: Callable[[Call], Any]
    fields: dict[str, tuple[type, ...]] = field(default_factory=dict)
    status: int = 200
    root: bool = False  # served at the server's root (``/kale``), not under the API's prefix

    @property
    def body(self) -> bool:
        return self.method == "POST" and bool(self.fields)


def _version(call: Call) -> dict[str, Any]:
    return {"kalec": __version__, "api": 1, "python": sys.version.split()[0]}


def _check(call: Call) -> dict[str, Any]:
    f = call.fields
    return service.check(f["nb"], f.get("name"), call.folder)


def _build(call: Call) -> dict[str, Any]:
    f = call.fields
    return service.build(
        f["nb"],
        target=f.get("target", "kfp-py"),
        name=f.get("name"),
        folder=call.folder,
        image=f.get("image"),
        packages=f.get("packages", ()),
    )


def _graph(call: Call) -> dict[str, Any]:
    f = call.fields
    return service.graph(f["nb"], f.get("format", "svg"), f.get("name"), call.folder)


def _start_run(call: Call) -> dict[str, Any]:
    f = call.fields
    return call.runs.start(f["nb"], f.get("name"), call.folder, f.get("params"))


def _run_status(call: Call) -> dict[str, Any]:
    return call.runs.status(call.run_id)


def _cancel_run(call: Call) -> dict[str, Any]:
    return call.runs.cancel(call.run_id)


def _deploy(call: Call) -> dict[str, Any]:
    fields = dict(call.fields)
    if "host" not in fields:
        raise ServiceError(400, "bad_field", "host: the Kubeflow Pipelines URL is required")
    nb = fields.pop("nb")
    return service.deploy(nb, **fields)


def _experiments(call: Call) -> dict[str, Any]:
    if "host" not in call.fields:
        raise ServiceError(400, "bad_field", "host: the Kubeflow Pipelines URL is required")
    return service.experiments(call.fields["host"])


_TUNES_LOCK = threading.Lock()


def _tunes(call: Call) -> Any:
    """The server's searches, kept beside its runs (made on first use)."""
    from kalec.serve.tunes import Tunes

    with _TUNES_LOCK:
        tunes = getattr(call.runs, "tunes", None)
        if tunes is None:
            tunes = Tunes(call.runs.root.with_name(call.runs.root.name + "-tunes"))
            call.runs.tunes = tunes
            call.runs.closers.append(tunes.close)
    return tunes


def _start_tune(call: Call) -> dict[str, Any]:
    f = call.fields
    return _tunes(call).start(
        f["nb"], f.get("name"), call.folder, f.get("space"), f.get("trials"), f.get("algorithm"),
        f.get("seed"),
    )  # fmt: skip


def _kale(call: Call) -> dict[str, Any]:
    """Kale's endpoint: the kfp-py script (and YAML where kfp is installed), and a deployment
    to ``http://localhost:<kfp_port>`` when asked."""
    f = call.fields
    nb = service.with_settings(
        f["nb"],
        name=f.get("pipeline_name"),
        description=f.get("pipeline_descr"),
        image=f.get("docker_image"),
    )
    script = service.build(nb, target="kfp-py")
    answer: dict[str, Any] = {
        "pipeline_name": script["pipeline_name"],
        "script": script["text"],
        "file_name": script["file_name"],
        "diagnostics": script["diagnostics"],
        "yaml": None,
        "deployment": None,
    }
    try:
        answer["yaml"] = service.build(nb, target="yaml")["text"]
    except ServiceError as error:
        if error.status != 501:  # 501: kfp not installed here; the script is the answer
            raise
    if f.get("deploy"):
        port = f.get("kfp_port", 8080)
        if not 0 < port < 65536:
            raise ServiceError(400, "bad_field", "kfp_port: a port number")
        answer["deployment"] = service.deploy(nb, host=f"http://localhost:{port}")
    return answer


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("version", "GET", "version", _version),
    Endpoint("check", "POST", "check", _check, NOTEBOOK),
    Endpoint(
        "build",
        "POST",
        "build",
        _build,
        NOTEBOOK | {"target": (str,), "image": (str,), "packages": (list,)},
    ),
    Endpoint("graph", "POST", "graph", _graph, NOTEBOOK | {"format": (str,)}),
    Endpoint("runs", "POST", "runs", _start_run, NOTEBOOK | {"params": (dict,)}, status=202),
    Endpoint("run", "GET", "runs/ID", _run_status),
    Endpoint("cancel", "POST", "runs/ID/cancel", _cancel_run),
    Endpoint(
        "deploy",
        "POST",
        "deploy",
        _deploy,
        NOTEBOOK
        | {
            "host": (str,),
            "pipeline_name": (str,),
            "description": (str,),
            "image": (str,),
            "experiment": (str,),
            "run": (bool,),
            "params": (dict,),
        },
    ),
    Endpoint("experiments", "POST", "experiments", _experiments, {"host": (str,)}),
    Endpoint(
        "tunes",
        "POST",
        "tunes",
        _start_tune,
        NOTEBOOK | {"space": (dict,), "trials": (int,), "algorithm": (str,), "seed": (int,)},
        status=202,
    ),
    Endpoint("tune", "GET", "tunes/ID", lambda call: _tunes(call).status(call.run_id)),
    Endpoint(
        "tune_cancel", "POST", "tunes/ID/cancel", lambda call: _tunes(call).cancel(call.run_id)
    ),
    Endpoint(
        "kale",
        "POST",
        "kale",
        _kale,
        {
            "nb": (dict, str),
            "deploy": (bool,),
            "kfp_port": (int,),
            "pipeline_name": (str,),
            "pipeline_descr": (str,),
            "docker_image": (str,),
        },
        root=True,
    ),
)
