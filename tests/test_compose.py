"""Notebooks that reference notebooks (``notebook:NAME`` cells with ``notebook_path``, Kale 2.3's
format): what the composition computes is the root notebook with each reference replaced by the
referenced notebook's cells, recursively, run in one kernel. Each test writes that inlined
program by hand (``inlined`` below: the rule, applied by the test, not by kalec) and compares."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from helpers import kalec_results, kernel_results, make_notebook, result_lines, run_kalec

S = "step:"


def ref(name: str, path: str) -> tuple[list[str], str, dict[str, str]]:
    return ([f"notebook:{name}"], "", {"notebook_path": path})


def write(folder: Path, files: dict[str, list[Any]]) -> Path:
    """Write the notebooks (``"parts/a.ipynb": cells``); the first is the root."""
    for name, cells in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        make_notebook(folder / name, cells)
    return folder / next(iter(files))


def inlined(folder: Path, files: dict[str, list[Any]], head: list[Any] = ()) -> Path:
    """The program a composition stands for, as a notebook beside the root: references
    replaced by cells, recursively; a parameter declared again below its first declaration
    (the root's own counting first) left out, as it is no parameter of the pipeline."""
    root = next(iter(files))
    declared: set[str] = set()

    def names(cell: Any) -> list[str]:
        return [line.split("=")[0].strip() for line in cell[1].splitlines() if "=" in line]

    for cell in files[root]:
        if not isinstance(cell, str) and "pipeline-parameters" in cell[0]:
            declared |= set(names(cell))
    seen_root = set(declared)
    cells: list[Any] = list(head)

    def expand(name: str, is_root: bool) -> None:
        for cell in files[name]:
            if isinstance(cell, str):
                continue
            if cell[0] and cell[0][0].startswith("notebook:"):
                target = (Path(name).parent / cell[2]["notebook_path"]).as_posix()
                expand(str(Path(target)), False)
                continue
            if "pipeline-parameters" in cell[0] and not is_root:
                kept = [
                    line
                    for line in cell[1].splitlines()
                    if line.split("=")[0].strip() not in declared | seen_root
                ]
                declared.update(line.split("=")[0].strip() for line in kept)
                cell = (cell[0], "\n".join(kept))
            cells.append(cell)

    expand(root, True)
    return make_notebook(folder / "inlined_program.ipynb", cells)


# The shapes at once: a reference inside a referenced notebook, resolved from that notebook's
# folder; one notebook referenced twice (its steps run twice); a notebook without step tags
# (one step); parameters declared by two notebooks (the root's wins); values (X, total) that
# cross notebook borders and are set again in later notebooks.
SHAPES = {
    "root.ipynb": [
        "# root",
        (["pipeline-parameters"], "SEED = 5"),
        ref("prep", "parts/prep.ipynb"),
        ([S + "report"], "print('RESULT prep', total)"),
        ref("sq1", "parts/square.ipynb"),
        ref("sq2", "parts/square.ipynb"),
        ([S + "final"], "print('RESULT final', total, X)"),
    ],
    "parts/prep.ipynb": [
        (["pipeline-parameters"], "SEED = 1\nSCALE = 3"),
        (["imports"], "import random"),
        ([S + "load"], "rng = random.Random(SEED)\nX = [rng.randint(0, 9) for _ in range(5)]"),
        ref("inner", "inner.ipynb"),
        ([S + "total"], "total = sum(X) * SCALE"),
    ],
    "parts/inner.ipynb": [([S + "double"], "X = [x * 2 for x in X]\nprint('RESULT inner', X)")],
    "parts/square.ipynb": [([], "total = total + 1\nprint('RESULT square', total)")],
}


def check_json(path: Path, *extra: str) -> dict[str, Any]:
    done = run_kalec("check", str(path), "--format", "json", *extra, cwd=path.parent)
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def test_every_shape_compiles_to_the_steps_of_its_notebooks(tmp_path: Path) -> None:
    data = check_json(write(tmp_path, SHAPES))
    assert data["ok"], data["diagnostics"]
    steps = {s["name"]: s for s in data["steps"]}
    assert list(steps) == [
        "prep/load",
        "prep/inner/double",
        "prep/total",
        "report",
        "sq1/main",
        "sq2/main",
        "final",
    ]
    assert steps["prep/inner/double"]["notebook"] == "parts/inner.ipynb"
    assert steps["prep/inner/double"]["cells"] == [1]  # as its own notebook numbers it
    assert (
        steps["sq2/main"]["inputs"][0]["producer"] == "sq1/main"
    )  # the second run reads the first
    params = {p["name"]: p["default"] for p in data["parameters"]}
    assert params == {"SEED": 5, "SCALE": 3}  # the root's SEED, prep's SCALE
    assert [n["name"] for n in data["notebooks"]] == ["prep", "prep/inner", "sq1", "sq2"]


def test_every_shape_runs_as_its_inlined_program(tmp_path: Path) -> None:
    root = write(tmp_path, SHAPES)
    expected = kernel_results(inlined(tmp_path, SHAPES))
    assert any("RESULT square" in line for line in expected)
    code, got, stderr = kalec_results(root)
    assert code == 0, stderr
    assert got == expected


def test_the_runs_notebook_is_the_inlined_program(tmp_path: Path) -> None:
    import nbformat

    root = write(tmp_path, SHAPES)
    done = run_kalec("run", str(root), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    notebook = nbformat.read(str(tmp_path / "run" / "root.ipynb"), as_version=4)
    nbformat.validate(notebook)  # square.ipynb's cells come twice, each with an id of its own
    sources = [c.source for c in notebook.cells]
    assert sources.count("total = total + 1\nprint('RESULT square', total)") == 2
    assert "SEED = 5" in sources and "SCALE = 3" in sources  # prep's SEED is no parameter
    assert "**notebook:inner** (inner.ipynb): its cells follow" in sources


def test_a_value_given_with_p_wins_over_every_declaration(tmp_path: Path) -> None:
    root = write(tmp_path, SHAPES)
    files = dict(SHAPES)
    files["root.ipynb"] = [
        (["pipeline-parameters"], "SEED = 9") if c == (["pipeline-parameters"], "SEED = 5") else c
        for c in SHAPES["root.ipynb"]
    ]
    oracle = tmp_path / "oracle"
    oracle.mkdir()
    for name in list(SHAPES)[1:]:
        (oracle / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, oracle / name)
    expected = kernel_results(inlined(oracle, files))
    code, got, stderr = kalec_results(root, "-p", "SEED=9", "-p", "SCALE=3")
    assert code == 0, stderr
    assert got == expected


def test_the_example_composition_verifies_against_its_inlined_program(tmp_path: Path) -> None:
    folder = tmp_path / "compose"
    shutil.copytree(ROOT / "examples" / "compose", folder)
    done = run_kalec("verify", str(folder / "pipeline.ipynb"), cwd=folder, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "equal:" in done.stdout
    assert "fitting" not in done.stderr  # the module beside models/train.ipynb imported


def test_metrics_reported_by_two_notebooks_are_told_apart(tmp_path: Path) -> None:
    files = {
        "root.ipynb": [ref("a", "a.ipynb"), ref("b", "b.ipynb")],
        "a.ipynb": [([S + "fit"], "accuracy = 0.5"), (["pipeline-metrics"], "accuracy")],
        "b.ipynb": [([S + "fit"], "accuracy = 0.75"), (["pipeline-metrics"], "accuracy")],
    }
    root = write(tmp_path, files)
    data = check_json(root)
    assert [m["name"] for m in data["metrics"]] == ["a/accuracy", "b/accuracy"]
    done = run_kalec("run", str(root), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "run" / "kalec-metrics.json").read_text())
    assert metrics == {"a/accuracy": 0.5, "b/accuracy": 0.75}


def test_check_and_graph_group_the_steps_by_notebook(tmp_path: Path) -> None:
    root = write(tmp_path, SHAPES)
    text = run_kalec("check", str(root), cwd=tmp_path).stdout
    assert "parts/inner.ipynb (referenced in cell 4 of prep.ipynb)" in text
    assert "notebook prep/inner: " in text
    assert "step prep/inner/double  (cell 1)" in text
    dot = run_kalec("graph", str(root), "--format", "dot", "-o", str(tmp_path / "g.dot"))
    assert dot.returncode == 0, dot.stderr
    dot_text = (tmp_path / "g.dot").read_text()
    outer = dot_text.index('subgraph "cluster_prep"')
    inner = dot_text.index('subgraph "cluster_prep/inner"')
    assert outer < inner < dot_text.index('"prep/inner/double" [label')
    assert 'label="notebook:sq2 (parts/square.ipynb)"' in dot_text
    run_kalec("graph", str(root), "-o", str(tmp_path / "g.svg"))
    svg = (tmp_path / "g.svg").read_text()
    assert svg.count('<g class="notebook"') == 4


def test_independent_references_are_in_no_order(tmp_path: Path) -> None:
    files = {
        "root.ipynb": [
            ref("left", "left.ipynb"),
            ref("right", "right.ipynb"),
            ([S + "use"], "print('RESULT', b)"),
        ],
        "left.ipynb": [([S + "make"], "a = 1")],
        "right.ipynb": [([S + "make"], "# Kale's panel writes a comment here\nb = 2")],
    }
    data = check_json(write(tmp_path, files))
    after = {s["name"]: [d["step"] for d in s["dependencies"]] for s in data["steps"]}
    assert after == {"left/make": [], "right/make": [], "use": ["right/make"]}


def test_a_reference_cell_holding_only_comments_counts_as_empty(tmp_path: Path) -> None:
    files = {
        "root.ipynb": [(["notebook:a"], "# the notebook a\n\n", {"notebook_path": "a.ipynb"})],
        "a.ipynb": [([S + "x"], "x = 1")],
    }
    assert check_json(write(tmp_path, files))["ok"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"root.ipynb": [ref("me", "root.ipynb"), ([S + "a"], "x = 1")]},
            "root.ipynb: cell 1: error K112: notebook:me closes a circle of references: "
            "root.ipynb -> root.ipynb",
        ),
        (
            {
                "root.ipynb": [ref("a", "sub/a.ipynb")],
                "sub/a.ipynb": [ref("back", "../root.ipynb")],
            },
            "root.ipynb -> sub/a.ipynb -> root.ipynb",
        ),
        (
            {"root.ipynb": [(["notebook:a"], "x = 1", {"notebook_path": "a.ipynb"})]},
            "root.ipynb: cell 1: error K113",
        ),
        (
            {"root.ipynb": [ref("a", "a.ipynb"), ([], "y = 2")], "a.ipynb": [([S + "x"], "x = 1")]},
            "root.ipynb: cell 2: error K307",
        ),
        (
            {
                "root.ipynb": [ref("a", "sub/a.ipynb")],
                "sub/a.ipynb": ["# a", ([S + "x"], "x = undefined_thing")],
            },
            "sub/a.ipynb: cell 2, line 1: error K605: name 'undefined_thing' is not defined",
        ),
        (
            {
                "root.ipynb": [([S + "use"], "y = result + 1"), ref("sub", "sub.ipynb")],
                "sub.ipynb": [([S + "work"], "result = 42")],
            },
            "hint: move the notebook:sub cell (cell 2) above this cell",
        ),
        (
            {"root.ipynb": [ref("a", "missing.ipynb")]},
            "root.ipynb: cell 1: error K111: notebook:a names missing.ipynb, which cannot be read",
        ),
        (
            {"root.ipynb": [ref("a", "/dev/zero")]},
            "root.ipynb: cell 1: error K111: notebook:a names /dev/zero, which cannot be read: "
            "it is not a file",
        ),
    ],
    ids=["self", "cycle", "code", "untagged-after", "inside", "read-before", "missing", "device"],
)
def test_refusals_name_the_notebook_and_cell(
    tmp_path: Path, files: dict[str, list[Any]], expected: str
) -> None:
    root = write(tmp_path, files)
    done = run_kalec("check", str(root), cwd=tmp_path)
    assert done.returncode == 2
    assert expected in done.stderr.replace(str(tmp_path) + "/", ""), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "path",
    ["a\0b.ipynb", "x" * 5000 + ".ipynb", ".", "..", "", "sub/", 7],
    ids=["nul", "too-long", "folder", "parent", "empty", "trailing-slash", "number"],
)
def test_a_notebook_path_that_is_no_file_is_refused_in_words(tmp_path: Path, path: Any) -> None:
    root = write(tmp_path, {"root.ipynb": [ref("a", path)]})  # type: ignore[arg-type]
    done = run_kalec("check", str(root), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert re.search(r"root.ipynb: cell 1: error K11[01]", done.stderr), done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_a_prelude_of_another_notebook_is_not_silently_missing(tmp_path: Path) -> None:
    files = {
        "root.ipynb": [ref("a", "a.ipynb"), ([S + "use"], "print(helper(), np.pi)")],
        "a.ipynb": [
            (["imports"], "import math as np"),
            (["functions"], "def helper():\n    return 1"),
            ([S + "x"], "x = 1"),
        ],
    }
    done = run_kalec("check", str(write(tmp_path, files)), cwd=tmp_path)
    assert "error K611: step 'use' reads helper, which cell 2 of a.ipynb defines" in done.stderr
    assert "reads np" not in done.stderr  # an import is repeated in the step instead


def test_the_server_follows_references_only_inside_its_folder(tmp_path: Path) -> None:
    from kalec.serve.context import ServiceContext
    from kalec.serve.requests import CheckRequest, ServiceError
    from kalec.serve.service import check

    inside = tmp_path / "served"
    write(inside, {"a.ipynb": [([S + "x"], "x = 1")]})
    make_notebook(tmp_path / "secret.ipynb", [([S + "y"], "y = 2")])
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["notebook:a"], "notebook_path": "../secret.ipynb"},
                "source": "",
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    context = ServiceContext.in_folder(tmp_path / "server", notebooks_root=inside)

    def steps() -> list[str]:
        answer = check(context, CheckRequest(nb=nb, name="root.ipynb", folder=inside))
        return [s["name"] for s in answer["steps"]]

    with pytest.raises(ServiceError) as refused:
        steps()
    assert refused.value.status == 400
    assert "leads out of the folder" in refused.value.message
    nb["cells"][0]["metadata"]["notebook_path"] = "a.ipynb"
    assert steps() == ["a/x"]
    # the same request again, after the referenced notebook changed: no stale answer
    make_notebook(inside / "a.ipynb", [([S + "x"], "x = 1"), ([S + "z"], "z = x")])
    assert steps() == ["a/x", "a/z"]


# --- targets -------------------------------------------------------------------------------------


def _emit(root: Path, target: str, *extra: str) -> str:
    done = run_kalec("emit", str(root), "--target", target, *extra, cwd=root.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kfp_makes_each_reference_a_sub_dag(tmp_path: Path) -> None:
    root = write(tmp_path, SHAPES)
    script = tmp_path / "root.kfp.py"
    script.write_text(_emit(root, "kfp-py"))
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, capture_output=True)
    compiled = yaml.safe_load((tmp_path / "root.pipeline.yaml").read_text())
    dags = sorted(name for name, c in compiled["components"].items() if "dag" in c)
    # one per reference, counted recursively: square.ipynb, referenced twice, is two
    assert dags == ["comp-root-prep", "comp-root-prep-inner", "comp-root-sq1", "comp-root-sq2"]
    root_tasks = compiled["root"]["dag"]["tasks"]
    assert set(root_tasks) == {"root-prep", "report", "root-sq1", "root-sq2", "final"}
    prep = compiled["components"]["comp-root-prep"]
    assert set(prep["dag"]["tasks"]) == {"prep-load", "root-prep-inner", "prep-total"}
    assert set(prep["outputDefinitions"]["artifacts"]) == {"total", "X"}


def test_argo_makes_each_reference_a_dag_template(tmp_path: Path) -> None:
    from argo_harness import schema_errors

    workflow = yaml.safe_load(_emit(write(tmp_path, SHAPES), "argo"))
    assert schema_errors(workflow) == []
    dags = [t["name"] for t in workflow["spec"]["templates"] if "dag" in t]
    assert dags == [
        "pipeline",
        "prep-notebook",
        "prep-inner-notebook",
        "sq1-notebook",
        "sq2-notebook",
    ]


def test_a_hostile_notebook_path_stays_text_in_every_target(tmp_path: Path) -> None:
    from argo_harness import schema_errors

    odd = 'we\'ird "{{x}}"\n$(rm -rf ~).ipynb'
    root = write(tmp_path, {"root.ipynb": [ref("a", odd)], odd: [([S + "x"], "x = 1")]})
    script = tmp_path / "root.kfp.py"
    script.write_text(_emit(root, "kfp-py"))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((tmp_path / "root.pipeline.yaml").read_text())["components"]
    assert schema_errors(yaml.safe_load(_emit(root, "argo"))) == []


@pytest.mark.slow
def test_kfp_local_runs_the_sub_dags_as_the_inlined_program(tmp_path: Path) -> None:
    from helpers import kfp_local_run

    root = write(tmp_path, SHAPES)
    expected = kernel_results(inlined(tmp_path, SHAPES))
    neutral = tmp_path / "kfp"
    neutral.mkdir()
    script = neutral / "root.kfp.py"
    script.write_text(_emit(root, "kfp-py"))
    done = kfp_local_run(script)
    assert done.returncode == 0, done.stderr[-3000:]
    assert result_lines(done.stdout + done.stderr) == expected


@pytest.mark.slow
def test_through_a_workspace_the_sub_dags_run_as_the_inlined_program(tmp_path: Path) -> None:
    """Values that cross a notebook's border go through the workspace too: the nested
    pipelines take no artifacts, and each task waits for the ones it reads from."""
    from helpers import kfp_local_run

    root = write(tmp_path, SHAPES)
    expected = kernel_results(inlined(tmp_path, SHAPES))
    neutral = tmp_path / "kfp"
    neutral.mkdir()
    script = neutral / "root.kfp.py"
    script.write_text(_emit(root, "kfp-py", "--kfp-data", "workspace"))
    assert "Input[" not in script.read_text()
    done = kfp_local_run(script)
    assert done.returncode == 0, done.stderr[-3000:]
    assert result_lines(done.stdout + done.stderr) == expected


@pytest.mark.slow
def test_argo_dags_run_as_the_inlined_program(tmp_path: Path) -> None:
    from argo_harness import execute

    root = write(tmp_path, SHAPES)
    expected = kernel_results(inlined(tmp_path, SHAPES))
    code, printed = execute(yaml.safe_load(_emit(root, "argo")), tmp_path / "argo")
    assert code == 0, printed[-3000:]
    assert result_lines(printed) == expected


@pytest.mark.slow
def test_kfp_local_finds_a_referenced_notebooks_own_modules(tmp_path: Path) -> None:
    from helpers import kfp_local_run

    folder = tmp_path / "compose"
    shutil.copytree(ROOT / "examples" / "compose", folder)
    expected = kalec_results(folder / "pipeline.ipynb")[1]
    neutral = tmp_path / "kfp"
    neutral.mkdir()
    script = neutral / "pipeline.kfp.py"
    script.write_text(_emit(folder / "pipeline.ipynb", "kfp-py"))
    done = kfp_local_run(script)
    assert done.returncode == 0, done.stderr[-3000:]
    assert result_lines(done.stdout + done.stderr) == expected


# --- Kale 2.3's habits ---------------------------------------------------------------------------


def test_report_disabled_leaves_out_the_steps_page(tmp_path: Path) -> None:
    root = make_notebook(
        tmp_path / "nb.ipynb",
        [([S + "quiet", "report:disabled"], "x = 1"), ([S + "loud", "report:enabled"], "y = x")],
    )
    script = _emit(root, "kfp-py")
    quiet = script.split("def quiet(")[1].split("\n")[0]
    loud = script.split("def loud(")[1].split("\n")[0]
    assert "Output[HTML]" not in quiet and "Output[HTML]" in loud
    workflow = yaml.safe_load(_emit(root, "argo"))
    pages = {
        t["name"]: [a["name"] for a in t.get("outputs", {}).get("artifacts", [])]
        for t in workflow["spec"]["templates"]
        if "script" in t
    }
    assert "kalec-cells-html" not in pages["quiet"] and "kalec-cells-html" in pages["loud"]


def test_artifacts_are_typed_by_their_variables_names(tmp_path: Path) -> None:
    root = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (
                [S + "make"],
                "my_model = 1\ntrain_dataset = 2\nraw_data = 3\neval_metrics = 4\nz = 5",
            ),
            ([S + "use"], "print(my_model, train_dataset, raw_data, eval_metrics, z)"),
        ],
    )
    script = _emit(root, "kfp-py")
    use = script.split("def use(")[1].split("\n")[0]
    for expected in (
        "my_model: Input[Model]",
        "train_dataset: Input[Dataset]",
        "raw_data: Input[Dataset]",
        "eval_metrics: Input[Metrics]",
        "z: Input[Artifact]",
    ):
        assert expected in use


def test_kales_command_line_in_both_spellings(tmp_path: Path) -> None:
    from kfp_api_stub import KfpApiStub

    nb = make_notebook(tmp_path / "nb.ipynb", [([S + "a"], "x = 1"), ([S + "b"], "print(x)")])
    done = run_kalec("--nb", str(nb), "--pipeline_name", "demo", "--docker_image", "python:3.12")
    assert done.returncode == 0, done.stderr
    script = (tmp_path / ".kale" / "nb.kfp.py").read_text()
    assert "BASE_IMAGE = 'python:3.12'" in script and "name='demo'" in script
    assert (tmp_path / ".kale" / "nb.pipeline.yaml").is_file()
    assert done.stderr.count("the modern form of this command: kalec build") == 1
    with KfpApiStub() as server:
        port = server.url.rsplit(":", 1)[1].strip("/")
        done = run_kalec(
            "--nb", str(nb), "--pipeline_name", "demo", "--pipeline_descr", "d", "--deploy",
            "--kfp_port", port,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "nb.kfp.py").is_file()  # the original Kale: beside the notebook
        assert [p["display_name"] for p in server.pipelines] == ["demo"]
        assert len(server.runs) == 1
    assert "kalec deploy" in done.stderr


def test_a_package_index_reaches_the_steps_installs(tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb", [([S + "a"], "import json\nx = 1")])
    urls = (
        "--index-url",
        "https://mirror.example/simple",
        "--extra-index-url",
        "https://x.example/s",
    )
    script = _emit(nb, "kfp-py", *urls)
    assert "PIP_INDEX_URLS = ['https://mirror.example/simple', 'https://x.example/s']" in script
    workflow = _emit(nb, "argo", *urls)
    assert re.search(
        r"INDEX_URLS = \['https://mirror.example/simple', 'https://x.example/s'\]", workflow
    )
    done = run_kalec("emit", str(nb), "--target", "kfp-py", "--index-url", "file:///etc")
    assert done.returncode == 2 and "--index-url" in done.stderr
    done = run_kalec(
        "--nb", str(nb), "--pip-index-urls", "https://a.example/simple,https://b.example/simple"
    )
    assert done.returncode == 0, done.stderr
    kale_script = (tmp_path / ".kale" / "nb.kfp.py").read_text()
    assert (
        "PIP_INDEX_URLS = ['https://a.example/simple', 'https://b.example/simple']" in kale_script
    )


# --- the same compositions in Kale 2.3.0 ---------------------------------------------------------

KALE_SHAPES = {
    "root.ipynb": [
        ref("prep", "prep.ipynb"),
        ref("train", "models/train.ipynb"),
        ([S + "summary"], "print('RESULT', score)"),
    ],
    "prep.ipynb": [
        (["imports"], "import random"),
        ([S + "load"], "rows = [random.Random(0).random() for _ in range(20)]"),
        ([S + "split", "prev:load"], "train_rows, test_rows = rows[:15], rows[15:]"),
    ],
    "models/train.ipynb": [
        ([S + "fit"], "mean = sum(train_rows) / len(train_rows)"),
        ([S + "score", "prev:fit"], "score = sum(abs(r - mean) for r in test_rows)"),
    ],
}


@pytest.fixture(scope="session")
def kale(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Kale 2.3.0 from PyPI, beside this environment (its compiler's own dependencies that this
    one lacks added, no others)."""
    target = tmp_path_factory.mktemp("kale")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         "kubeflow-kale==2.3.0", "astor==0.8.1", "autopep8==2.3.2", "pycodestyle==2.15.0",
         "progress==1.6.1"],
        check=True,
    )  # fmt: skip
    return target


KALE_READER = """
import json, sys
from kale.processors import NotebookProcessor

def read(pipeline):
    out = {}
    for step in pipeline.steps:
        entry = {"ins": sorted(step.ins), "outs": sorted(step.outs),
                 "after": sorted(pipeline.predecessors(step.name))}
        if hasattr(step, "pipeline"):
            entry["steps"] = read(step.pipeline)
        out[step.name] = entry
    return out

config = {"experiment_name": "e", "pipeline_name": "p"}
print(json.dumps(read(NotebookProcessor(sys.argv[1], config).run())))
"""


@pytest.mark.slow
def test_kale_compiles_the_same_composition_to_the_same_structure(
    tmp_path: Path, kale: Path
) -> None:
    root = write(tmp_path, KALE_SHAPES)
    done = subprocess.run(
        [sys.executable, "-c", KALE_READER, str(root)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(kale), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    data = check_json(root)
    ours = {s["name"]: s for s in data["steps"]}
    # the same sub-pipelines holding the same steps
    assert set(theirs) == {"prep", "train", "summary"}
    for reference in ("prep", "train"):
        inside = {n.split("/")[1] for n in ours if n.startswith(reference + "/")}
        assert inside == set(theirs[reference]["steps"])
        for name, step in theirs[reference]["steps"].items():
            mine = ours[f"{reference}/{name}"]
            received = sorted({i["name"] for i in mine["inputs"] if i["kind"] == "artifact"})
            assert received == step["ins"], name
            assert sorted(mine["outputs"]) == step["outs"], name
    # what crosses each sub-pipeline's border: the same variables
    from kalec.compiler import compile_notebook
    from kalec.targets.nesting import Nesting

    nesting = Nesting(compile_notebook(root))
    for reference in ("prep", "train"):
        assert sorted({v for _, v in nesting.inputs(reference)}) == theirs[reference]["ins"]
        assert sorted({v for _, v in nesting.outputs(reference)}) == theirs[reference]["outs"]
    # and every order kalec keeps, Kale keeps too
    assert "prep" in theirs["train"]["after"]
    assert {d["step"].split("/")[0] for d in ours["summary"]["dependencies"]} <= set(
        theirs["summary"]["after"]
    )
