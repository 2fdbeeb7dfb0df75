"""The KFP targets, checked by kfp itself: its compiler and its local runner (kfp.local).

``kfp-py`` scripts must compile with kfp's compiler and, run with kfp.local's SubprocessRunner,
print what the notebook prints in a kernel. ``yaml`` must be exactly what the script compiles to.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cases import GOOD
from conftest import ROOT, SHARED_CORPUS
from helpers import kernel_results, kfp_local_run, make_notebook, result_lines, run_kalec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalec.ir import CellTags, CodeCell, Pipeline, Role, Settings, Step
from kalec.targets import kfp_py
from kalec.targets.escaping import code_literal
from kalec.targets.identifiers import identifier

B = "block:"


def build_script(notebook: Path, folder: Path, *extra: str) -> Path:
    script = folder / "pipeline.py"
    done = run_kalec("build", str(notebook), "--target", "kfp-py", "-o", str(script), *extra)
    assert done.returncode == 0, done.stderr
    return script


def assert_kfp_local_matches(notebook: Path, expected: list[str], folder: Path) -> None:
    script = build_script(notebook, folder)
    done = kfp_local_run(script)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert result_lines(output) == expected


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GOOD))
def test_kfp_local_prints_what_the_notebook_prints(name: str, tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / f"{name}.ipynb", GOOD[name])
    work = tmp_path / "work"
    work.mkdir()
    assert_kfp_local_matches(notebook, kernel_results(notebook), work)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GOOD))
def test_through_a_workspace_kfp_local_prints_what_the_notebook_prints(
    name: str, tmp_path: Path
) -> None:
    """``--kfp-data workspace``: the values go through the run's workspace, none through
    artifacts, and the pipeline prints what the notebook prints."""
    notebook = make_notebook(tmp_path / f"{name}.ipynb", GOOD[name])
    work = tmp_path / "work"
    work.mkdir()
    script = build_script(notebook, work, "--kfp-data", "workspace")
    done = kfp_local_run(script)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert result_lines(output) == kernel_results(notebook)
    assert not list((work / "kfp-outputs").rglob("value.*"))  # no value went as an artifact


def test_the_workspace_is_in_the_compiled_yaml_and_the_values_are_not_artifacts(
    tmp_path: Path,
) -> None:
    notebook = ROOT / "examples" / "quickstart.ipynb"
    out = tmp_path / "q.pipeline.yaml"
    done = run_kalec(
        "build", str(notebook), "--target", "yaml", "-o", str(out), "--kfp-data", "workspace",
        "--kfp-workspace-size", "50Gi", "--kfp-workspace-storage-class", "fast-nfs",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    documents = list(yaml.safe_load_all(out.read_text()))
    workspace = documents[1]["platforms"]["kubernetes"]["pipelineConfig"]["workspace"]
    assert workspace == {
        "size": "50Gi",
        "kubernetes": {"pvcSpecPatch": {"storageClassName": "fast-nfs"}},
    }
    for name, component in documents[0]["components"].items():
        artifacts = component.get("outputDefinitions", {}).get("artifacts", {})
        assert set(artifacts) <= {"metrics", "cells_html"}, (name, artifacts)
        assert not component.get("inputDefinitions", {}).get("artifacts"), name
    tasks = documents[0]["root"]["dag"]["tasks"]
    assert tasks["fit"]["dependentTasks"] == ["make-data"]
    assert all(task["cachingOptions"] == {} for task in tasks.values())  # caching off


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (("--kfp-workspace-size", "lots"), "'lots' is not a size of storage"),
        (("--kfp-workspace-storage-class", "Fast NFS"), "'Fast NFS' is not a storage class name"),
    ],
)
def test_a_bad_workspace_setting_is_refused_in_words(
    extra: tuple, said: str, tmp_path: Path
) -> None:
    notebook = ROOT / "examples" / "quickstart.ipynb"
    done = run_kalec("emit", str(notebook), "--target", "kfp-py", "--kfp-data", "workspace", *extra)
    assert done.returncode == 2 and said in done.stderr


corpus = sorted(SHARED_CORPUS.glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []
examples = sorted((ROOT / "examples").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.shared_corpus
@pytest.mark.parametrize("path", corpus, ids=[p.stem for p in corpus])
def test_shared_corpus_under_kfp_local(path: Path, tmp_path: Path) -> None:
    expected = result_lines(path.with_suffix(".expected").read_text(encoding="utf-8"))
    assert_kfp_local_matches(path, expected, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("path", examples, ids=[p.stem for p in examples])
def test_examples_under_kfp_local(path: Path, tmp_path: Path) -> None:
    notebook = Path(shutil.copy(path, tmp_path / path.name))
    work = tmp_path / "work"
    work.mkdir()
    assert_kfp_local_matches(notebook, kernel_results(notebook), work)


@pytest.mark.slow
def test_steps_use_the_runtime_embedded_in_the_script(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (
                [B + "a"],
                "import kalec.runtime.step as s\n"
                "print('RESULT embedded', 'kalec-runtime-' in s.__file__)",
            )
        ],
    )
    work = tmp_path / "work"
    work.mkdir()
    assert_kfp_local_matches(notebook, ["RESULT embedded True"], work)


@pytest.mark.slow
def test_each_step_leaves_an_html_page_of_its_cells(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["imports"], "import matplotlib.pyplot as plt"),
            ([B + "draw"], "print('drawing <b>')\nplt.plot([1, 2], [3, 1])\nplt.show()\nx = 1"),
            ([B + "fail", "prev:draw"], "print('before')\ny = x / 0"),
        ],
    )
    work = tmp_path / "work"
    work.mkdir()
    done = kfp_local_run(build_script(notebook, work))
    assert done.returncode != 0  # the second step fails, after writing its page
    pages = {p.parent.name: p for p in (work / "kfp-outputs").rglob("cells_html")}
    assert set(pages) == {"draw", "fail"}, sorted((work / "kfp-outputs").rglob("*"))
    drawn = pages["draw"].read_text(encoding="utf-8")
    assert "drawing &lt;b&gt;" in drawn and drawn.count("<img") == 1
    assert "plt.plot([1, 2], [3, 1])" in drawn
    failed = pages["fail"].read_text(encoding="utf-8")
    assert "before" in failed and "ZeroDivisionError" in failed


@pytest.mark.slow
def test_failure_names_the_cell_and_line(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb", [([B + "a"], "x = 1"), ([B + "b", "prev:a"], "y = x\nz = y / 0")]
    )
    done = kfp_local_run(build_script(notebook, tmp_path))
    assert done.returncode != 0
    assert (
        "nb.ipynb: cell 2, line 2: step 'b' failed: ZeroDivisionError" in done.stdout + done.stderr
    )


@pytest.mark.slow
def test_a_step_runs_pip_only_for_what_is_missing(tmp_path: Path) -> None:
    """kfp puts two pip runs before every step; kalec's steps check first. A stand-in for pip
    that records each call shows none when all is installed, one for a missing package."""
    fake = tmp_path / "fake" / "pip"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        "import sys\nopen(sys.argv[0] + '.calls', 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.exit(3)\n"
    )
    calls = fake / "__main__.py.calls"
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["imports"], "import dill"),
            ([B + "a"], "x = 1"),
            ([B + "b", "prev:a"], "print('RESULT', x)"),
        ],
    )
    env = {"PYTHONPATH": str(fake.parent)}
    done = kfp_local_run(build_script(notebook, tmp_path), env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert result_lines(done.stdout) == ["RESULT 1"]
    assert not calls.exists(), calls.read_text()

    work = tmp_path / "missing"
    work.mkdir()
    script = build_script(notebook, work, "--package", "kalec-not-installed==1.0")
    done = kfp_local_run(script, env=env)
    assert done.returncode != 0
    assert calls.read_text().splitlines()[-1].endswith("kalec-not-installed==1.0")


def test_yaml_is_what_the_script_compiles_to_and_loads_back(tmp_path: Path) -> None:
    notebook = ROOT / "examples" / "quickstart.ipynb"
    script = build_script(notebook, tmp_path)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    from_script = (tmp_path / "pipeline.yaml").read_text()
    emitted = run_kalec("emit", str(notebook), "--target", "yaml", "-o", "pipeline.py")
    assert emitted.returncode != 0  # emit takes no -o: it prints
    # a fresh process, as the script's own: another test's imports (hera's) change how kfp
    # writes whole-number defaults in this one (200.0 for 200)
    emitted = run_kalec("emit", str(notebook), "--target", "yaml", in_process=False)
    assert emitted.returncode == 0, emitted.stderr
    assert emitted.stdout == from_script

    from kfp import components

    loaded = components.load_component_from_text(emitted.stdout)
    assert loaded.name == "quickstart"
    spec = yaml.safe_load(emitted.stdout)
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["N_POINTS"] == {
        "defaultValue": 200,
        "isOptional": True,
        "parameterType": "NUMBER_INTEGER",
    }
    assert parameters["NOISE"]["parameterType"] == "NUMBER_DOUBLE"
    evaluate = spec["components"]["comp-evaluate"]["outputDefinitions"]["artifacts"]
    assert evaluate["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"


def test_task_settings_reach_the_compiled_spec(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (
                [
                    B + "train",
                    "limit:cpu:2",
                    "limit:memory:4Gi",
                    "limit:nvidia.com/gpu:1",
                    "retry:3",
                    "cache:disabled",
                    "timeout:15m",
                    "annotation:team.io/owner:ml",
                    "label:tier:gold",
                    "secret:db-creds:password:DB_PASSWORD",
                    "image:python:3.11-slim",
                ],
                "x = 1",
            ),
            ([B + "use", "prev:train"], "print(x)"),
            ([B + "after-only", "prev:train"], "y = 2"),
        ],
        metadata={"kalec": {"volumes": [{"name": "data-pvc", "mount_point": "/data"}]}},
    )
    done = run_kalec(
        "emit",
        str(notebook),
        "--target",
        "yaml",
        "--image",
        "python:3.11",
        "--package",
        "numpy==1.26.4",
    )
    assert done.returncode == 0, done.stderr
    documents = list(yaml.safe_load_all(done.stdout))
    spec, platform = documents[0], documents[1]
    executor = spec["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert executor["image"] == "python:3.11-slim"
    assert executor["resources"]["cpuLimit"] == 2.0
    assert executor["resources"]["memoryLimit"] == 4.294967296
    assert executor["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert "numpy==1.26.4" in " ".join(executor["command"])
    assert spec["deploymentSpec"]["executors"]["exec-use"]["container"]["image"] == "python:3.11"
    task = spec["root"]["dag"]["tasks"]["train"]
    assert task["retryPolicy"]["maxRetryCount"] == 3
    assert task["cachingOptions"] == {}  # caching disabled
    assert spec["root"]["dag"]["tasks"]["after-only"]["dependentTasks"] == ["train"]
    kube = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]
    assert kube["activeDeadlineSeconds"] == "900"
    assert kube["podMetadata"] == {
        "annotations": {"team.io/owner": "ml"},
        "labels": {"tier": "gold"},
    }
    assert kube["secretAsEnv"][0]["secretName"] == "db-creds"
    assert kube["secretAsEnv"][0]["keyToEnv"] == [
        {"secretKey": "password", "envVar": "DB_PASSWORD"}
    ]
    assert kube["pvcMount"][0]["mountPath"] == "/data"


def test_names_kfp_cannot_take_are_turned_into_ones_it_can(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            ([B + "class"], "_hidden = 1\nlambda_ = 2"),
            ([B + "2nd-Step", "prev:class"], "print(_hidden, lambda_)"),
            ([B + "pipeline", "prev:2nd-Step"], "z = 0"),
        ],
    )
    done = run_kalec("emit", str(notebook), "--target", "yaml")
    assert done.returncode == 0, done.stderr
    tasks = yaml.safe_load(done.stdout)["root"]["dag"]["tasks"]
    assert set(tasks) == {"class", "step-2nd-step", "pipeline-2"}
    assert identifier("class") == "class_" and identifier("1x") == "step_1x"


cell_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200
) | st.sampled_from(
    [
        '"""',
        "'''",
        "\\",
        'x = "\\\\"',
        "a\r\nb",
        "ends with \\",
        "{x}",
        "{{",
        "}",
        "\x00",
        "\\N{BULLET}",
        "r'''",
        '"',
        "'",
        "\t\v\f",
        "\u2028",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=cell_text)
def test_any_cell_text_gives_a_script_that_parses_and_runs_exactly_that_text(text: str) -> None:
    assert ast.literal_eval(code_literal(text)) == text
    cell = CodeCell(1, text, text, "", CellTags(role=Role.STEP, steps=("s",)))
    pipeline = Pipeline("nb.ipynb", Settings("p"), (cell,), steps=(Step("s", (1,), cell.origin),))
    script = kfp_py.emit(pipeline, kfp_py.KfpOptions(image="python:3.11"))
    tree = ast.parse(script)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "s")
    spec = ast.literal_eval(function.body[1].value.args[0])
    assert spec["cells"] == [{"cell": 1, "code": text}]
