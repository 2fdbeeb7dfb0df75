"""The service functions a server calls: a notebook as JSON in, JSON-ready data out, and a
``ServiceError`` with an HTTP status and a JSON body for what cannot be served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import make_notebook, run_kalec

from kalec.serve import service
from kalec.serve.service import ServiceError

QUICKSTART = ROOT / "examples" / "quickstart.ipynb"


def _nb() -> dict:
    return json.loads(QUICKSTART.read_text())


def test_check_gives_steps_inputs_parameters_metrics_as_kalec_check_does(tmp_path: Path) -> None:
    data = service.check(_nb(), name="quickstart.ipynb")
    cli = json.loads(run_kalec("check", str(QUICKSTART), "--format", "json").stdout)
    assert data["notebook"] == "quickstart.ipynb"
    for key in ("ok", "steps", "parameters", "metrics", "prelude", "diagnostics"):
        assert data[key] == cli[key], key
    assert service.check(json.dumps(_nb()))["steps"] == data["steps"]  # a string holding it


def test_a_notebook_with_errors_is_an_answer_to_check_and_a_refusal_to_build(notebook) -> None:
    path = notebook([(["block:a", "prev:nowhere"], "x = 1")])
    nb = json.loads(path.read_text())
    data = service.check(nb)
    assert data["ok"] is False
    assert data["diagnostics"][0]["cell"] == 1
    with pytest.raises(ServiceError) as refused:
        service.build(nb)
    assert refused.value.status == 422
    body = refused.value.body()["error"]
    assert body["code"] == "refused" and body["cell"] == 1
    assert "nowhere" in body["message"]
    assert body["diagnostics"][0]["code"] == data["diagnostics"][0]["code"]


def test_build_returns_what_kalec_build_writes(tmp_path: Path) -> None:
    for target, suffix in (("kfp-py", ".kfp.py"), ("argo", ".argo.yaml"), ("ir", ".ir.json")):
        out = tmp_path / f"quickstart{suffix}"
        done = run_kalec("build", str(QUICKSTART), "--target", target, "-o", str(out))
        assert done.returncode == 0, done.stderr
        built = service.build(_nb(), target=target, name="quickstart.ipynb")
        assert built["file_name"] == out.name
        if target == "ir":  # the IR names its source: the server's place differs from the file's
            assert json.loads(built["text"])["steps"] == json.loads(out.read_text())["steps"]
        else:
            assert built["text"] == out.read_text(), target


def test_graph_gives_the_drawing_and_the_data() -> None:
    data = service.graph(_nb(), format="mermaid")
    assert data["text"].startswith("%% kalec graph")
    assert [s["name"] for s in data["steps"]] == ["make-data", "fit", "baseline", "evaluate"]
    assert {"from": "make-data", "to": "fit", "variables": ["xs", "ys"]} in data["edges"]


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda: service.check(42), 400, "bad_field"),
        (lambda: service.check(["cells"]), 400, "bad_field"),
        (lambda: service.check("this is not JSON {"), 400, "not_a_notebook"),
        (lambda: service.check({"cells": "no"}), 400, "not_a_notebook"),
        (lambda: service.check(_nb(), name="../etc/passwd"), 400, "bad_field"),
        (lambda: service.check(_nb(), name="a\0b"), 400, "bad_field"),
        (lambda: service.check(_nb(), name="\ud800.ipynb"), 400, "bad_field"),
        (lambda: service.build(_nb(), target="docker"), 400, "bad_field"),
        (lambda: service.build(_nb(), image="bad image;rm"), 400, "bad_field"),
        (lambda: service.build(_nb(), packages=["numpy; rm -rf /"]), 400, "bad_field"),
        (lambda: service.build(_nb(), packages="numpy"), 400, "bad_field"),
        (lambda: service.graph(_nb(), format="png"), 400, "bad_field"),
    ],
)
def test_bad_requests_are_400_naming_the_field(call, status: int, code: str) -> None:
    with pytest.raises(ServiceError) as error:
        call()
    assert (error.value.status, error.value.code) == (status, code)
    body = error.value.body()
    json.dumps(body)  # JSON-ready
    assert body["error"]["message"]


def test_hostile_cell_text_is_carried_exactly_and_runs_nothing(tmp_path: Path) -> None:
    hostile = "s = '''{{ x }}\\\" \\x00 \"\"\" ${HOME}'''\nimport os; os.system('touch PWNED')"
    path = make_notebook(tmp_path / "h.ipynb", [(["block:a"], hostile), (["block:b"], "t = s")])
    nb = json.loads(path.read_text())
    for target in service.BUILD_TARGETS[:1] + ("argo",):
        built = service.build(nb, target=target)
        assert "touch PWNED" in built["text"]
    assert service.check(nb)["ok"] is True
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_a_notebook_without_a_folder_never_ships_files_from_the_server(notebook) -> None:
    path = notebook([(["imports"], "import helpers"), (["block:a"], "x = helpers.VALUE")])
    (path.parent / "helpers.py").write_text("VALUE = 'server secret'\n")
    nb = json.loads(path.read_text())
    empty = path.parent / "empty"
    empty.mkdir()
    unplaced = service.build(nb, target="kfp-py")["text"]
    in_empty = service.build(nb, target="kfp-py", folder=empty)["text"]
    placed = service.build(nb, target="kfp-py", folder=path.parent)["text"]
    assert unplaced == in_empty != placed  # only a folder the adapter gives ships helpers.py
