"""Notebooks as people write them: Kale's notebooks as they are, papermill's habits, local modules
and magics, preludes that grow, and files kalec writes beside the notebook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import kfp_local_run, make_notebook, result_lines, run_kalec

from kalec.compiler import compile_notebook
from kalec.packaging.packages import Packages
from kalec.packaging.shipping import LocalModules, magic_needs

B = "block:"

# Written the way Kale's own example notebooks are: its metadata, `block:` to continue a step,
# `print(x)` metrics (one of them a parameter), a device limit, a skipped exploration cell.
KALE_METADATA = {
    "kubeflow_notebook": {
        "autosnapshot": False,
        "docker_image": "",
        "experiment": {"id": "new", "name": "titanic"},
        "experiment_name": "titanic",
        "katib_metadata": {"algorithm": {"algorithmName": "grid"}},
        "katib_run": False,
        "pipeline_description": "Predict who survives",
        "pipeline_name": "titanic-ml",
        "snapshot_volumes": False,
        "steps_defaults": ["label:access-ml-pipeline:true"],
        "storage_class_name": "",
        "volume_access_mode": "rwm",
        "volumes": [
            {
                "annotations": [],
                "mount_point": "/home/jovyan",
                "name": "workspace-titanic",
                "size": 5,
                "size_type": "Gi",
                "snapshot": False,
                "type": "clone",
            }
        ],
    }
}
KALE_CELLS = [
    "# Titanic",
    (["imports"], "import statistics"),
    (["pipeline-parameters"], "RATIO = 0.5\nSEED = 7"),
    (["block:loaddata"], "ages = [22, 38, 26, 35, 35, 54, 2, 27]"),
    (["block:"], "fares = [7.25, 71.28, 7.92, 53.1, 8.05, 51.86, 21.07, 11.13]"),
    (["skip"], "ages[:3]"),
    (["block:featureengineering", "prev:loaddata"], "cut = int(len(ages) * RATIO)"),
    (["block:"], "train = list(zip(ages[:cut], fares[:cut]))"),
    (["block:randomforest", "prev:featureengineering", "limit:nvidia.com/gpu:1"], ""),
    (["block:"], "acc = round(statistics.mean(f for _, f in train) / 100, 4)"),
    (["block:results", "prev:randomforest"], "print('RESULT acc', acc)"),
    (["pipeline-metrics"], "print(acc)\nprint(SEED)"),
]


def test_kale_notebooks_compile_as_they_are(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "titanic.ipynb", KALE_CELLS, KALE_METADATA)
    pipeline = compile_notebook(path)
    errors = [d.message for d in pipeline.diagnostics if d.severity.value == "error"]
    assert errors == []
    assert [s.name for s in pipeline.steps] == [
        "loaddata", "featureengineering", "randomforest", "results",
    ]  # fmt: skip
    assert pipeline.step("loaddata").cells == (4, 5)
    assert pipeline.step("randomforest").options.limits == (("nvidia.com/gpu", "1"),)
    assert {m.name: m.producer for m in pipeline.metrics} == {
        "acc": "randomforest",
        "SEED": "results",
    }
    settings = pipeline.settings
    assert (settings.name, settings.description, settings.experiment) == (
        "titanic-ml",
        "Predict who survives",
        "titanic",
    )
    assert [(v.name, v.mount_path, v.size) for v in settings.volumes] == [
        ("workspace-titanic", "/home/jovyan", "5Gi")
    ]
    for target in ("kfp-py", "argo"):
        done = run_kalec("emit", str(path), "--target", target)
        assert done.returncode == 0, done.stderr


def test_kale_notebooks_run_with_the_kernels_results(tmp_path: Path) -> None:
    from helpers import kalec_results, kernel_results

    path = make_notebook(tmp_path / "titanic.ipynb", KALE_CELLS, KALE_METADATA)
    code, got, stderr = kalec_results(path)
    assert code == 0, stderr
    assert got == kernel_results(path)
    metrics = json.loads(next((tmp_path / ".run").glob("kalec-metrics.json")).read_text())
    assert metrics == {"acc": 0.3489, "SEED": 7}


PAPERMILL = [
    (["parameters"], "alpha = 0.5\nepochs = 2 * 5\nname = 'base'\nlayers = [1, 2]\nnote = None"),
    ([B + "show"], "print('RESULT', alpha, epochs, name, layers, note)"),
]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], "RESULT 0.5 10 base [1, 2] None"),
        (["-p", "alpha", "0.25", "-p", "name", "x y"], "RESULT 0.25 10 x y [1, 2] None"),
        (["-p", "epochs=3", "-p", "note", "hello"], "RESULT 0.5 3 base [1, 2] hello"),
        (["-y", "{alpha: 1, layers: [3], epochs: 4}"], "RESULT 1.0 4 base [3] None"),
        (["-f", "params.yaml", "-p", "epochs=8"], "RESULT 0.5 8 file [1, 2] None"),
    ],
)
def test_papermill_parameters(extra: list[str], expected: str, notebook, tmp_path: Path) -> None:
    path = notebook(PAPERMILL)
    (tmp_path / "params.yaml").write_text("name: file\nepochs: 6\n")
    done = run_kalec("run", str(path), *extra, "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert result_lines(done.stdout) == [expected]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["-p", "epochs=many"], "an int parameter"),
        (["-p", "missing=1"], "no such pipeline parameter missing"),
        (["-y", "[1, 2]"], "a mapping"),
        (["-y", "{epochs: [1]}"], "an int parameter"),
        (["-f", "nowhere.yaml"], "cannot read"),
    ],
)
def test_bad_parameters_are_exit_2(extra: list[str], words: str, notebook) -> None:
    done = run_kalec("run", str(notebook(PAPERMILL)), *extra)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr


def test_cells_that_follow_a_prelude_cell_join_it_and_a_busy_one_is_warned(notebook) -> None:
    path = notebook(
        [
            (["imports"], "import os"),
            ([], "import json\ntry:\n    import yaml\nexcept ImportError:\n    yaml = None"),
            (["functions"], "def f():\n    return 1"),
            ([], "%matplotlib inline\nLIMIT = 3\nprint('loading')\ndata = json.loads('[1]')"),
            ([B + "a"], "print(f(), data, LIMIT)"),
        ]
    )
    pipeline = compile_notebook(path)
    assert pipeline.prelude == (1, 2, 3, 4)
    warnings = [d for d in pipeline.diagnostics if d.severity.value == "warning"]
    assert len(warnings) == 1
    assert warnings[0].origin.cell == 4 and warnings[0].origin.line == 3
    assert "cell 4 has no step tag and follows the functions cell 3" in warnings[0].message


def test_build_writes_names_no_other_tool_uses_and_never_replaces_a_users_file(
    notebook, tmp_path: Path
) -> None:
    path = notebook([([B + "a"], "x = 1")], name="analysis.ipynb")
    (tmp_path / "analysis.py").write_text("# the user's jupytext pair\n")
    for target, name in (
        ("kfp-py", "analysis.kfp.py"),
        ("yaml", "analysis.pipeline.yaml"),
        ("argo", "analysis.argo.yaml"),
        ("ir", "analysis.ir.json"),
    ):
        done = run_kalec("build", str(path), "--target", target)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).is_file()
        again = run_kalec("build", str(path), "--target", target)  # kalec's own file: replaced
        assert again.returncode == 0, again.stderr
    assert (tmp_path / "analysis.py").read_text() == "# the user's jupytext pair\n"
    mine = tmp_path / "mine.yaml"
    mine.write_text("user: data\n")
    done = run_kalec("build", str(path), "--target", "argo", "-o", str(mine))
    assert done.returncode == 2 and "--force" in done.stderr
    assert mine.read_text() == "user: data\n"
    done = run_kalec("build", str(path), "--target", "argo", "-o", str(mine), "--force")
    assert done.returncode == 0 and "Workflow" in mine.read_text()


def test_the_run_folder_is_made_beside_the_notebook(notebook, tmp_path: Path) -> None:
    path = notebook([([B + "a"], "x = 1")])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_kalec("run", str(path), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    runs = list((tmp_path / ".kalec" / "runs").iterdir())
    assert len(runs) == 1 and str(runs[0]) in done.stdout
    assert not (elsewhere / ".kalec").exists()


def test_deploy_dry_run_needs_no_host_and_its_help_has_no_argo_options(notebook) -> None:
    path = notebook([([B + "a"], "x = 1")])
    done = run_kalec("deploy", str(path), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would upload pipeline 'nb'" in done.stdout
    assert "--argo" not in run_kalec("deploy", "--help").stdout
    done = run_kalec("deploy", str(path))
    assert done.returncode == 2 and "--host" in done.stderr


def test_small_wording(notebook) -> None:
    path = notebook([(["pipeline-parameters"], "N = 1"), ([B + "a"], "print(N)")])
    done = run_kalec("check", str(path))
    assert "1 step (from" in done.stdout
    done = run_kalec("run", str(path), "-p", "N=x")
    assert "an int parameter" in done.stderr


def _project(folder: Path) -> Path:
    """A notebook that imports a local module, which imports a local package and a library."""
    (folder / "helpers.py").write_text(
        "import json\nfrom tools import double\n\ndef describe(v):\n"
        "    return json.dumps(double(v))\n"
    )
    (folder / "tools").mkdir()
    (folder / "tools" / "__init__.py").write_text("from tools.core import double\n")
    (folder / "tools" / "core.py").write_text("import yaml\n\ndef double(v):\n    return v * 2\n")
    (folder / "data.csv").write_text("a\n1\n")
    return make_notebook(
        folder / "nb.ipynb",
        [
            (["imports"], "import helpers"),
            ([B + "a"], "%load_ext watermark\n%pip install -q tabulate\nvalue = 21"),
            ([B + "b", "prev:a"], "print('RESULT', helpers.describe(value))"),
            ([B + "c"], "print(open('data.csv').read().split()[0])"),
        ],
    )


def test_local_modules_and_magic_packages_are_found(tmp_path: Path) -> None:
    pipeline = compile_notebook(_project(tmp_path))
    files, external = LocalModules(pipeline).for_step(pipeline, pipeline.step("b"))
    assert sorted(files) == ["helpers.py", "tools/__init__.py", "tools/core.py"]
    assert {"json", "yaml"} <= external
    needs = magic_needs(pipeline.cell(2).python)
    assert needs.requirements == ("tabulate",) and needs.modules == ("watermark",)
    packages = Packages(pipeline)
    step_b = " ".join(packages.for_step(pipeline.step("b")))
    assert "PyYAML==" in step_b and "helpers" not in step_b
    step_a = packages.for_step(pipeline.step("a"))
    assert any(r.startswith("tabulate") for r in step_a)


def test_build_warns_of_data_files_a_cluster_step_will_not_have(tmp_path: Path) -> None:
    path = _project(tmp_path)
    done = run_kalec("build", str(path), "--target", "kfp-py")
    assert done.returncode == 0, done.stderr
    assert "cell 4: warning K801: step 'c' reads data.csv" in done.stderr
    assert "helpers.py" not in done.stderr


@pytest.mark.slow
def test_local_modules_travel_with_the_kfp_steps(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    path = _project(project)
    notebook = json.loads(path.read_text())  # no network for pip here, no data file in a pod
    notebook["cells"][1]["source"] = "value = 21"
    notebook["cells"][3]["source"] = "pass"
    path.write_text(json.dumps(notebook))
    neutral = tmp_path / "neutral"
    neutral.mkdir()
    script = neutral / "nb.kfp.py"
    assert run_kalec("build", str(path), "-t", "kfp-py", "-o", str(script)).returncode == 0
    shutil.rmtree(project)  # the steps must not find the modules beside the notebook
    done = kfp_local_run(script)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert result_lines(done.stdout + done.stderr) == ["RESULT 42"]


def test_a_notebook_whose_folder_cannot_hold_the_run_runs_from_the_current_folder(
    notebook, tmp_path: Path
) -> None:
    path = notebook([([B + "a"], "print('RESULT ran')")])
    (tmp_path / ".kalec").write_text("in the way, as a read-only folder would be")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_kalec("run", str(path), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    runs = list((elsewhere / ".kalec" / "runs").iterdir())
    assert len(runs) == 1 and str(runs[0]) in done.stdout
