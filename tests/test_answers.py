"""Every answer of kalec's API has the shape it declares, and the panel reads that shape.

Each endpoint names its answer's record (``endpoints.ENDPOINTS``, ``kalec/serve/answers.py``);
here each endpoint is called through ``kalec serve``'s own application and what it answers
(after JSON) is held to its record: every key declared, none missing, each value of its type.
The panel's TypeScript interfaces are made from the same records, and must be what
``labextension/answers_ts.py`` writes.
"""

from __future__ import annotations

import importlib.util
import json
import time
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pytest
from conftest import ROOT
from helpers import make_notebook
from kfp_api_stub import KfpApiStub

from kalec.serve.answers import ErrorAnswer
from kalec.serve.endpoints import ENDPOINTS

QUICKSTART = json.loads((ROOT / "examples" / "quickstart.ipynb").read_text())
BY_NAME = {e.name: e for e in ENDPOINTS}


def problems(value: Any, hint: Any, where: str = "answer") -> list[str]:
    """What in ``value`` does not fit the type ``hint`` (a TypedDict, a union, a literal, a
    list, a dict or a scalar), each said with where it is."""
    if hint is Any:
        return []
    if isinstance(hint, type) and typing.is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object ({hint.__name__})"]
        hints = typing.get_type_hints(hint)
        found = [f"{where}.{k}: not declared by {hint.__name__}" for k in value if k not in hints]
        found += [f"{where}.{k}: missing" for k in hint.__required_keys__ if k not in value]
        for key, inner in hints.items():
            if key in value:
                found += problems(value[key], inner, f"{where}.{key}")
        return found
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        each = [problems(value, a, where) for a in args]
        return [] if any(not p for p in each) else [f"{where}: {value!r} is not {hint}"]
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, v in enumerate(value) for p in problems(v, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        return [p for k, v in value.items() for p in problems(v, args[1], f"{where}.{k}")]
    if hint is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if hint is float:
        fits = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, hint)
    return [] if fits else [f"{where}: {value!r} is not {hint.__name__}"]


class Api:
    """``kalec serve``'s application, called in this process; every answer checked."""

    def __init__(self, folder: Path) -> None:
        from kalec.serve.app import ServerConfig, create_app

        self.app = create_app(ServerConfig(token="t", folder=folder, kfp_workers=0))
        self.client = self.app.test_client()
        self.seen: set[str] = set()

    def call(self, name: str, body: dict | None = None, run_id: str = "", status: int = 0) -> Any:
        endpoint = BY_NAME[name]
        route = endpoint.route.replace("ID", run_id)
        path = f"/{route}" if endpoint.root else f"/api/v1/{route}"
        response = self.client.open(
            path, method=endpoint.method, json=body, headers={"Authorization": "token t"}
        )
        answer = json.loads(response.data)
        wanted = status or endpoint.status
        assert response.status_code == wanted, answer
        shape = endpoint.answer if response.status_code < 400 else ErrorAnswer
        assert problems(answer, shape) == [], (name, answer)
        if response.status_code < 400:
            self.seen.add(name)
        return answer

    def close(self) -> None:
        self.app.extensions["kalec"].close()


@pytest.fixture
def api(tmp_path: Path):
    made = Api(tmp_path / "server")
    yield made
    made.close()


def test_the_checker_finds_what_does_not_fit() -> None:
    from kalec.serve.answers import BuildAnswer, GraphAnswer

    good = {"format": "svg", "text": "", "steps": [], "edges": [{"from": "a", "to": "b"}]}
    assert problems(good, GraphAnswer) == ["answer.edges[0].variables: missing"]
    built = {"target": "ir", "pipeline_name": "p", "file_name": "f", "text": "", "steps": True}
    assert problems(built | {"diagnostics": [], "extra": 1}, BuildAnswer) == [
        "answer.extra: not declared by BuildAnswer",
        "answer.steps: True is not int",
    ]


def test_the_compiling_endpoints_answer_what_they_declare(api: Api, tmp_path: Path) -> None:
    api.call("version")
    assert api.call("check", {"nb": QUICKSTART})["ok"] is True
    broken = make_notebook(tmp_path / "b.ipynb", [(["block:a", "prev:nowhere"], "x = 1")])
    nb = json.loads(broken.read_text())
    assert api.call("check", {"nb": nb})["ok"] is False  # errors are an answer to check
    api.call("build", {"nb": nb}, status=422)  # and a refusal, with diagnostics, to build
    api.call("check", {"nb": {"cells": 3}}, status=400)
    api.call("check", {"nb": QUICKSTART, "folder": "/"}, status=400)
    for target in ("kfp-py", "yaml", "argo", "ir"):
        assert api.call("build", {"nb": QUICKSTART, "target": target})["target"] == target
    drawn = api.call("graph", {"nb": QUICKSTART, "format": "mermaid"})
    assert drawn["edges"]
    kale = api.call("kale", {"nb": QUICKSTART, "pipeline_name": "from-kale"})
    assert kale["pipeline_name"] == "from-kale" and kale["yaml"]
    with KfpApiStub() as kfp:
        deployed = api.call("deploy", {"nb": QUICKSTART, "host": kfp.url, "run": True})
        assert deployed["run_id"]
        assert api.call("experiments", {"host": kfp.url})["experiments"]
        followed = api.call("kfp_run", {"host": kfp.url, "run_id": deployed["run_id"]})
        assert followed["ended"] and followed["state"] == "SUCCEEDED"
        kale = api.call(
            "kale",
            {
                "nb": QUICKSTART,
                "deploy": True,
                "kfp_port": int(kfp.url.rsplit(":", 1)[1].strip("/")),
            },
        )
        assert kale["deployment"]["pipeline_id"] == deployed["pipeline_id"]
    api.call("run", run_id="20261129-101500-ab12", status=404)


@pytest.mark.slow
def test_runs_and_searches_answer_what_they_declare(api: Api, tmp_path: Path) -> None:
    def followed(name: str, job_id: str) -> dict:
        deadline = time.monotonic() + 180
        while True:
            status = api.call(name, run_id=job_id)
            if status["state"] != "running":
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.3)

    started = api.call("runs", {"nb": QUICKSTART})
    assert followed("run", started["id"])["state"] == "ok"
    slow = make_notebook(tmp_path / "slow.ipynb", [(["block:wait"], "import time\ntime.sleep(60)")])
    started = api.call("runs", {"nb": json.loads(slow.read_text())})
    api.call("run", run_id=started["id"])
    api.call("cancel", run_id=started["id"])
    assert followed("run", started["id"])["state"] == "cancelled"

    tuned = json.loads((ROOT / "examples" / "tune_digits.ipynb").read_text())
    started = api.call("tunes", {"nb": tuned, "trials": 2})
    status = followed("tune", started["id"])
    assert status["state"] == "ok" and status["best"] is not None, status
    started = api.call("tunes", {"nb": tuned, "trials": 50})
    api.call("tune_cancel", run_id=started["id"])
    assert followed("tune", started["id"])["state"] in ("cancelled", "failed")
    assert api.seen >= {"runs", "run", "cancel", "tunes", "tune", "tune_cancel"}


def test_every_endpoint_is_called_by_one_of_these_tests() -> None:
    source = Path(__file__).read_text()
    for endpoint in ENDPOINTS:
        assert f'"{endpoint.name}"' in source, endpoint.name


def test_the_panel_reads_the_answers_as_they_are_declared() -> None:
    spec = importlib.util.spec_from_file_location(
        "answers_ts", ROOT / "labextension" / "answers_ts.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = (ROOT / "labextension" / "src" / "answers.ts").read_text(encoding="utf-8")
    assert written == module.answers_text(), "run: python labextension/answers_ts.py"
    assert "export interface CheckAnswer {" in written and "export interface RunStatus {" in written


def test_the_declared_words_are_the_ones_the_code_uses() -> None:
    from kalec.graph import FORMATS
    from kalec.local.records import StepRecord
    from kalec.local.status import StepStatus
    from kalec.serve.requests import BUILD_TARGETS, GraphFormat
    from kalec.targets import TARGETS

    status = typing.get_type_hints(StepRecord)["status"]
    assert set(typing.get_args(status)) == {s.value for s in StepStatus}
    assert typing.get_args(GraphFormat) == FORMATS
    assert set(BUILD_TARGETS) <= set(TARGETS)


def test_the_ways_to_sign_in_are_the_same_everywhere() -> None:
    """The command line's --auth, the requests' ``auth`` and the panel's list name the ways
    ``kalec.deploy.auth`` knows, in its order."""
    import re

    from kalec.cli import parser
    from kalec.deploy import AUTH_MODES
    from kalec.serve.requests import DeployRequest

    deploy = parser("deploy")._subparsers._group_actions[0].choices["deploy"]
    (auth,) = [a for a in deploy._actions if "--auth" in a.option_strings]
    assert tuple(auth.choices) == AUTH_MODES
    hint = typing.get_type_hints(DeployRequest)["auth"]
    assert set(typing.get_args(typing.get_args(hint)[0])) == set(AUTH_MODES)
    panel = (ROOT / "labextension" / "src" / "deploySection.ts").read_text()
    listed = re.search(r"AUTH_CHOICES[^=]*= \[(.*?)\n\];", panel, re.S)
    assert listed is not None
    assert tuple(re.findall(r"\['(\w+)',", listed.group(1))) == AUTH_MODES
