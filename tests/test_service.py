"""The service a server calls: a request's body read into its record, JSON-ready data out, and
a ``ServiceError`` with an HTTP status and a JSON body for what cannot be served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import make_notebook, run_kalec

from kalec.serve.requests import BUILD_TARGETS, ServiceError

QUICKSTART = ROOT / "examples" / "quickstart.ipynb"


def _nb() -> dict:
    return json.loads(QUICKSTART.read_text())


def test_check_gives_steps_inputs_parameters_metrics_as_kalec_check_does(ask) -> None:
    data = ask("check", {"nb": _nb(), "name": "quickstart.ipynb"})
    cli = json.loads(run_kalec("check", str(QUICKSTART), "--format", "json").stdout)
    assert data["notebook"] == "quickstart.ipynb"
    for key in ("ok", "steps", "parameters", "metrics", "prelude", "diagnostics"):
        assert data[key] == cli[key], key
    assert ask("check", {"nb": json.dumps(_nb())})["steps"] == data["steps"]  # a string holding it


def test_a_notebook_with_errors_is_an_answer_to_check_and_a_refusal_to_build(notebook, ask) -> None:
    path = notebook([(["block:a", "prev:nowhere"], "x = 1")])
    nb = json.loads(path.read_text())
    data = ask("check", {"nb": nb})
    assert data["ok"] is False
    assert data["diagnostics"][0]["cell"] == 1
    with pytest.raises(ServiceError) as refused:
        ask("build", {"nb": nb})
    assert refused.value.status == 422
    body = refused.value.body()["error"]
    assert body["code"] == "refused" and body["cell"] == 1
    assert "nowhere" in body["message"]
    assert body["diagnostics"][0]["code"] == data["diagnostics"][0]["code"]


def test_build_returns_what_kalec_build_writes(tmp_path: Path, ask) -> None:
    for target, suffix in (("kfp-py", ".kfp.py"), ("argo", ".argo.yaml"), ("ir", ".ir.json")):
        out = tmp_path / f"quickstart{suffix}"
        done = run_kalec("build", str(QUICKSTART), "--target", target, "-o", str(out))
        assert done.returncode == 0, done.stderr
        built = ask("build", {"nb": _nb(), "target": target, "name": "quickstart.ipynb"})
        assert built["file_name"] == out.name
        if target == "ir":  # the IR names its source: the server's place differs from the file's
            assert json.loads(built["text"])["steps"] == json.loads(out.read_text())["steps"]
        else:
            assert built["text"] == out.read_text(), target


def test_graph_gives_the_drawing_and_the_data(ask) -> None:
    data = ask("graph", {"nb": _nb(), "format": "mermaid"})
    assert data["text"].startswith("%% kalec graph")
    assert [s["name"] for s in data["steps"]] == ["make-data", "fit", "baseline", "evaluate"]
    assert {"from": "make-data", "to": "fit", "variables": ["xs", "ys"]} in data["edges"]


@pytest.mark.parametrize(
    ("endpoint", "body", "code", "named"),
    [
        ("check", {"nb": 42}, "bad_field", "nb"),
        ("check", {"nb": ["cells"]}, "bad_field", "nb"),
        ("check", {}, "bad_field", "nb"),
        ("check", {"nb": "this is not JSON {"}, "not_a_notebook", "nb"),
        ("check", {"nb": {"cells": "no"}}, "not_a_notebook", "nb"),
        ("check", {"nb": {}, "name": "../etc/passwd"}, "bad_field", "name"),
        ("check", {"nb": {}, "name": "a\0b"}, "bad_field", "name"),
        ("check", {"nb": {}, "name": "\ud800.ipynb"}, "bad_field", "name"),
        ("check", {"nb": {}, "name": 3}, "bad_field", "name"),
        ("check", {"nb": {}, "folder": "/etc"}, "bad_field", "folder"),
        ("build", {"nb": {}, "target": "docker"}, "bad_field", "target"),
        ("build", {"nb": {}, "image": "bad image;rm"}, "bad_field", "image"),
        ("build", {"nb": {}, "packages": ["numpy; rm -rf /"]}, "bad_field", "packages"),
        ("build", {"nb": {}, "packages": "numpy"}, "bad_field", "packages"),
        ("build", {"nb": {}, "packages": [3]}, "bad_field", "packages"),
        ("graph", {"nb": {}, "format": "png"}, "bad_field", "format"),
        ("runs", {"nb": {}, "params": [1]}, "bad_field", "params"),
        ("deploy", {"nb": {}}, "bad_field", "host"),
        ("deploy", {"nb": {}, "host": "ftp://x"}, "bad_field", "host"),
        ("deploy", {"nb": {}, "host": "http://x", "run": "yes"}, "bad_field", "run"),
        ("deploy", {"nb": {}, "host": "http://x", "auth": "kerberos"}, "bad_field", "auth"),
        ("deploy", {"nb": {}, "host": "http://x", "token": "s3cr3t"}, "bad_field", "token"),
        ("experiments", {"host": "http://x", "Cookies": "s=s3cr3t"}, "bad_field", "Cookies"),
        ("experiments", {"host": 3}, "bad_field", "host"),
        ("tunes", {"nb": {}, "trials": 0}, "bad_field", "trials"),
        ("tunes", {"nb": {}, "seed": True}, "bad_field", "seed"),
        ("kale", {"nb": {}, "kfp_port": 70000}, "bad_field", "kfp_port"),
    ],
)
def test_bad_requests_are_400_naming_the_field(ask, endpoint, body, code, named) -> None:
    with pytest.raises(ServiceError) as error:
        ask(endpoint, body)
    assert (error.value.status, error.value.code) == (400, code)
    body = error.value.body()
    json.dumps(body)  # JSON-ready
    assert body["error"]["message"].startswith(f"{named}: ")
    assert "s3cr3t" not in json.dumps(body)  # a credential sent is never echoed


def test_a_credential_in_a_request_is_refused_saying_where_the_server_finds_them(ask) -> None:
    with pytest.raises(ServiceError) as error:
        ask("deploy", {"nb": {}, "host": "http://x", "token": "s3cr3t"})
    assert "credentials are never taken in a request" in error.value.message
    assert "'auth' (sa, cookies, token, none)" in error.value.message


def test_hostile_cell_text_is_carried_exactly_and_runs_nothing(tmp_path: Path, ask) -> None:
    hostile = "s = '''{{ x }}\\\" \\x00 \"\"\" ${HOME}'''\nimport os; os.system('touch PWNED')"
    path = make_notebook(tmp_path / "h.ipynb", [(["block:a"], hostile), (["block:b"], "t = s")])
    nb = json.loads(path.read_text())
    for target in BUILD_TARGETS[:1] + ("argo",):
        built = ask("build", {"nb": nb, "target": target})
        assert "touch PWNED" in built["text"]
    assert ask("check", {"nb": nb})["ok"] is True
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_a_notebook_without_a_folder_never_ships_files_from_the_server(
    notebook, service_context
) -> None:
    from kalec.serve.requests import BuildRequest
    from kalec.serve.service import build

    path = notebook([(["imports"], "import helpers"), (["block:a"], "x = helpers.VALUE")])
    (path.parent / "helpers.py").write_text("VALUE = 'server secret'\n")
    nb = json.loads(path.read_text())
    empty = path.parent / "empty"
    empty.mkdir()
    unplaced = build(service_context, BuildRequest(nb=nb))["text"]
    in_empty = build(service_context, BuildRequest(nb=nb, folder=empty))["text"]
    placed = build(service_context, BuildRequest(nb=nb, folder=path.parent))["text"]
    assert unplaced == in_empty != placed  # only a folder the adapter gives ships helpers.py
