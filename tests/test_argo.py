"""The Argo target: every notebook gives a Workflow that Argo's schema accepts, and whose wiring,
executed task by task on this machine (tests/argo_harness.py), prints what the notebook prints."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from argo_harness import execute, schema_errors
from cases import GOOD
from conftest import ROOT, SHARED_CORPUS
from helpers import kernel_results, make_notebook, result_lines, run_kalec

from kalec.compiler import compile_notebook
from kalec.targets import argo

B = "block:"
corpus = sorted(SHARED_CORPUS.glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []
examples = sorted((ROOT / "examples").glob("*.ipynb"))


def emit(notebook: Path, data: str = "artifacts", claim: str | None = None) -> dict:
    """The workflow, compiled in this process (the command line is tested in test_cli)."""
    pipeline = compile_notebook(notebook)
    assert not pipeline.has_errors, [d.message for d in pipeline.diagnostics]
    text = argo.emit(pipeline, argo.ArgoOptions(data=data, volume_claim=claim))
    return yaml.safe_load(text)


def all_notebooks(tmp_path: Path) -> list[Path]:
    made = [make_notebook(tmp_path / f"{name}.ipynb", cells) for name, cells in GOOD.items()]
    return made + corpus + examples


@pytest.mark.parametrize("data", ["artifacts", "volume"])
def test_every_notebook_gives_a_workflow_the_schema_accepts(data: str, tmp_path: Path) -> None:
    for notebook in all_notebooks(tmp_path):
        workflow = emit(notebook, data)
        assert workflow["apiVersion"] == "argoproj.io/v1alpha1" and workflow["kind"] == "Workflow"
        assert schema_errors(workflow) == [], notebook.name


def test_schema_check_fails_on_a_broken_field() -> None:
    workflow = emit(ROOT / "examples" / "quickstart.ipynb")
    assert schema_errors(workflow) == []
    broken_type = copy.deepcopy(workflow)
    broken_type["spec"]["templates"][1]["script"]["command"] = "python"  # must be a list
    misspelt = copy.deepcopy(workflow)
    misspelt["spec"]["templates"][0]["dag"]["tasks"][1]["dependancies"] = ["make-data"]
    missing = copy.deepcopy(workflow)
    del missing["spec"]["templates"][1]["script"]["image"]
    # each judge catches what its reading of the schema can: both a wrong type and a misspelt
    # field; the SDK's models also a required field left out
    for judge, cases in (
        ("hera", (broken_type, misspelt)),
        ("argo-workflows", (broken_type, misspelt, missing)),
    ):
        for broken in cases:
            assert any(e.startswith(judge + ":") for e in schema_errors(broken)), judge


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GOOD))
def test_workflow_wiring_prints_what_the_notebook_prints(name: str, tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / f"{name}.ipynb", GOOD[name])
    code, output = execute(emit(notebook), tmp_path / "argo")
    assert code == 0, output[-3000:]
    assert result_lines(output) == kernel_results(notebook)


@pytest.mark.slow
@pytest.mark.shared_corpus
@pytest.mark.parametrize("path", corpus, ids=[p.stem for p in corpus])
def test_shared_corpus_workflows_run_as_recorded(path: Path, tmp_path: Path) -> None:
    expected = result_lines(path.with_suffix(".expected").read_text(encoding="utf-8"))
    code, output = execute(emit(path), tmp_path)
    assert code == 0, output[-3000:]
    assert result_lines(output) == expected


@pytest.mark.slow
@pytest.mark.parametrize("path", examples, ids=[p.stem for p in examples])
def test_examples_through_a_shared_volume(path: Path, tmp_path: Path) -> None:
    notebook = Path(shutil.copy(path, tmp_path / path.name))
    workflow = emit(notebook, "volume", "team-data")
    assert workflow["spec"]["volumes"][-1] == {
        "name": "kalec-data",
        "persistentVolumeClaim": {"claimName": "team-data"},
    }
    assert not any("artifacts" in t.get("outputs", {}) for t in workflow["spec"]["templates"])
    code, output = execute(workflow, tmp_path / "argo")
    assert code == 0, output[-3000:]
    assert result_lines(output) == kernel_results(notebook)


@pytest.mark.slow
def test_each_step_keeps_an_html_page_of_its_cells(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [([B + "a"], "print('shown <here>')\nx = 1"), ([B + "b", "prev:a"], "x")],
    )
    code, output = execute(emit(notebook), tmp_path / "argo")
    assert code == 0, output[-3000:]
    pages = sorted((tmp_path / "argo" / "artifact-store").glob("*/kalec-cells-html"))
    assert [p.parent.name for p in pages] == ["a", "b"]
    assert "shown &lt;here&gt;" in pages[0].read_text(encoding="utf-8")
    assert "<pre>1</pre>" in pages[1].read_text(encoding="utf-8")


@pytest.mark.slow
def test_parameters_are_typed_and_metrics_are_output_parameters(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["pipeline-parameters"], "N = 2\nRATE = 0.5\nON = True\nTAGS = ['a']\nNAME = 'x y'"),
            ([B + "a"], "score = N * RATE\nprint('RESULT', N, RATE, ON, TAGS, NAME)"),
            (["pipeline-metrics"], "score"),
        ],
    )
    workflow = emit(notebook)
    arguments = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert arguments == {"N": "2", "RATE": "0.5", "ON": "true", "TAGS": '["a"]', "NAME": "x y"}
    workflow["spec"]["arguments"]["parameters"][0]["value"] = "5"  # as `argo submit -p N=5` would
    code, output = execute(workflow, tmp_path / "argo")
    assert code == 0, output
    assert "RESULT 5 0.5 True ['a'] x y" in output
    assert "output parameter a.score = 2.5" in output


def test_step_settings_and_kubernetes_names(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (
                [
                    B + "Train_Model",
                    "limit:cpu:2",
                    "limit:nvidia.com/gpu:1",
                    "retry:2",
                    "timeout:10m",
                    "annotation:team.io/owner:ml",
                    "label:tier:gold",
                    "secret:db:password:DB_PASSWORD",
                    "image:python:3.11-slim",
                ],
                "x = 1",
            ),
            ([B + "use", "prev:Train_Model"], "print(x)"),
        ],
        metadata={
            "kalec": {"name": "My Pipeline!", "volumes": [{"name": "data", "mount_point": "/data"}]}
        },
    )
    workflow = emit(notebook)
    assert workflow["metadata"]["generateName"] == "my-pipeline-"
    train = next(t for t in workflow["spec"]["templates"] if t["name"] == "train-model")
    assert train["retryStrategy"] == {"limit": "2"} and train["activeDeadlineSeconds"] == "600"
    assert train["metadata"] == {"annotations": {"team.io/owner": "ml"}, "labels": {"tier": "gold"}}
    script = train["script"]
    assert script["image"] == "python:3.11-slim"
    assert script["resources"] == {"limits": {"cpu": "2", "nvidia.com/gpu": "1"}}
    assert {
        "name": "DB_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
    } in script["env"]
    assert {"name": "data", "mountPath": "/data"} in script["volumeMounts"]
    tasks = workflow["spec"]["templates"][0]["dag"]["tasks"]
    assert tasks[1]["dependencies"] == ["train-model"]
    assert schema_errors(workflow) == []


def test_long_names_stay_apart_in_kubernetes(tmp_path: Path) -> None:
    long = "a" * 70
    notebook = make_notebook(
        tmp_path / "nb.ipynb", [([B + long + "x"], "x = 1"), ([B + long + "y"], "y = 2")]
    )
    done = run_kalec("emit", str(notebook), "--target", "argo")
    assert done.returncode == 0, done.stderr
    workflow = yaml.safe_load(done.stdout)
    names = [t["name"] for t in workflow["spec"]["templates"][1:]]
    assert len(set(names)) == 2 and all(len(n) <= 63 for n in names)
    assert schema_errors(workflow) == []
