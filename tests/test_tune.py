"""``kalec tune``: searches over a notebook's parameters, each trial a local run whose steps the
trial's values do not reach come from the step cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import make_notebook, run_kalec

# Kale's dog-breed-katib notebook's search, as Kale writes it (grid over an int range with a
# step and a categorical list, a hyphenated objective name, a goal), on a stand-in notebook:
# the real one needs a GPU and a dataset.
DOG_BREED_KATIB = {
    "algorithm": {"algorithmName": "grid"},
    "maxFailedTrialCount": 3,
    "maxTrialCount": 16,
    "objective": {
        "additionalMetricNames": [],
        "goal": 90,
        "objectiveMetricName": "test-accuracy-resnet",
        "type": "maximize",
    },
    "parallelTrialCount": 1,
    "parameters": [
        {
            "feasibleSpace": {"max": "1200", "min": "256", "step": "256"},
            "name": "nodes_number",
            "parameterType": "int",
        },
        {
            "feasibleSpace": {"list": ["0.001", "0.005", "0.0001", "0.0005"]},
            "name": "learning_rate",
            "parameterType": "categorical",
        },
    ],
}


def dog_breed(folder: Path) -> Path:
    return make_notebook(
        folder / "dog-breed-katib.ipynb",
        [
            (["imports"], "import math"),
            (["pipeline-parameters"], "nodes_number = 256\nlearning_rate = 0.0001"),
            (["block:load_data"], "features = [math.sin(i) for i in range(2000)]"),
            (
                ["block:train", "prev:load_data"],
                "score = sum(abs(f) for f in features[:nodes_number]) / nodes_number\n"
                "test_accuracy_resnet = round(40 + 20 * score - 1000 * learning_rate, 4)",
            ),
            (["pipeline-metrics"], "print(test_accuracy_resnet)"),
        ],
        {"kubeflow_notebook": {"katib_run": True, "katib_metadata": DOG_BREED_KATIB}},
    )


def rows(stdout: str) -> list[list[str]]:
    """The trial table's rows (after its header)."""
    lines = stdout.split("\n\n")[0].splitlines()
    return [line.split() for line in lines[1:]]


def test_kales_katib_search_runs_here_reusing_what_no_parameter_reaches(tmp_path: Path) -> None:
    path = dog_breed(tmp_path)
    done = run_kalec("tune", str(path), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    assert len(table) == 16  # the whole grid: 4 node counts x 4 learning rates
    points = {(r[1], r[2]) for r in table}
    assert len(points) == 16
    assert {p[0] for p in points} == {"256", "512", "768", "1024"}
    # load_data ran in the first trial only; every trial trained
    assert table[0][-1] == "2/0"
    assert all(r[-1] == "1/1" for r in table[1:]), table
    # the best, as a loop over the grid computes it here
    import math

    features = [math.sin(i) for i in range(2000)]

    def accuracy(nodes: int, rate: float) -> float:
        return round(40 + 20 * sum(abs(f) for f in features[:nodes]) / nodes - 1000 * rate, 4)

    best = max(
        ((n, r) for n in (256, 512, 768, 1024) for r in (0.001, 0.005, 0.0001, 0.0005)),
        key=lambda p: accuracy(*p),
    )
    assert f"nodes_number={best[0]}, learning_rate={best[1]:g}" in done.stdout
    assert f"test_accuracy_resnet = {accuracy(*best):.6g}" in done.stdout
    report = re.search(r"picture: (\S+)", done.stdout)[1]
    assert "<svg" in Path(report).read_text(encoding="utf-8")


def test_a_search_resumes_and_is_listed(tmp_path: Path) -> None:
    path = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["pipeline-parameters"], "X = 1.0"),
            (["block:load"], "base = 3"),
            (["block:fit"], "loss = (X - base) ** 2"),
            (["pipeline-metrics"], "loss"),
        ],
    )
    args = ["tune", str(path), "--param", "X=uniform(0,6)", "--metric", "loss", "--minimize"]
    first = run_kalec(*args, "--trials", "2", "--seed", "3", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(rows(first.stdout)) == 2
    again = run_kalec("tune", str(path), "--resume", "--trials", "4", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    table = rows(again.stdout)
    assert len(table) == 4 and sum("(earlier)" in " ".join(r) for r in table) == 2
    listed = run_kalec("tune", str(path), "--list", cwd=tmp_path)
    assert listed.returncode == 0
    assert re.search(r"nb-\d{8}-\d{6}\s+\S+\s+4\s+loss = ", listed.stdout), listed.stdout


def test_the_goal_ends_the_search(tmp_path: Path) -> None:
    path = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["pipeline-parameters"], "N = 1"),
            (["block:score"], "score = N"),
            (["pipeline-metrics"], "score"),
        ],
    )
    done = run_kalec(
        "tune", str(path), "--param", "N=[5,1,2,3]", "--metric", "score", "--goal", "5",
        "--algorithm", "grid", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "reached the goal 5" in done.stderr
    assert len(rows(done.stdout)) < 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "DEPTH=int(2,8)"], "parameter 'DEPTH' is not a pipeline parameter"),
        (["--param", "N=uniform(0.5,2.5)"], "an int parameter takes int(A,B)"),
        (["--param", "N=int(2,8)", "--metric", "acc"], "metric 'acc' is not a metric"),
        (["--param", "RATE=uniform(0,1)", "--algorithm", "grid"], "give it a step"),
        (["--param", "N=int(2,8)", "--algorithm", "hyperband"], "hyperband"),
        (["--param", "N=int(2,8)", "--algorithm", "anneal"], "use one of: random, grid"),
        (["--param", "N=wobbly(1,2)"], "the range is uniform(A,B)"),
        (["--param", "N=int(1,30000000)", "--algorithm", "grid"], "over 100,000 points"),
        (["--param", "NAME=[a,b]"], "NAME"),
    ],
)
def test_a_search_that_cannot_be_run_is_refused_naming_why(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    path = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["pipeline-parameters"], "N = 3\nRATE = 0.1\nFLAG = True"),
            (["block:fit"], "score = N * RATE"),
            (["pipeline-metrics"], "score"),
        ],
    )
    args = ["tune", str(path), *extra]
    if "--metric" not in extra:
        args += ["--metric", "score"]
    done = run_kalec(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_best_trial_is_the_best_of_the_grid_run_in_a_kernel(tmp_path: Path) -> None:
    """An exhaustive loop over the grid, each point the notebook run top to bottom in a kernel
    with its parameters cell set to the point, finds the same best as the search."""
    import nbclient
    import nbformat

    cells = [
        (["pipeline-parameters"], "A = 1\nB = 'x'"),
        (["block:data"], "weights = {'x': 1.5, 'y': -0.5}"),
        (["block:fit"], "value = -(A - 2) ** 2 + weights[B] * A"),
        (["pipeline-metrics"], "value"),
    ]
    path = make_notebook(tmp_path / "nb.ipynb", cells)
    done = run_kalec(
        "tune", str(path), "--param", "A=int(0,3)", "--param", "B=[x,y]", "--metric", "value",
        "--algorithm", "grid", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = {}
    for a in range(4):
        for b in ("x", "y"):
            notebook = nbformat.read(str(path), as_version=4)
            notebook.cells[0].source = f"A = {a}\nB = {b!r}"
            notebook.cells.append(nbformat.v4.new_code_cell("print('VALUE', value)"))
            nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
            text = notebook.cells[-1].outputs[0]["text"]
            found[(a, b)] = float(text.split()[1])
    best = max(found, key=found.get)
    assert f"A={best[0]}, B={best[1]}" in done.stdout
    assert f"value = {found[best]:.6g}" in done.stdout


def test_the_space_reads_katib_fields_and_writes_them_back() -> None:
    from kalec.searchspace import from_katib

    space = from_katib(DOG_BREED_KATIB)
    assert [d.grid() for d in space.dimensions] == [
        [256, 512, 768, 1024],
        ["0.001", "0.005", "0.0001", "0.0005"],
    ]
    assert space.as_katib()["parameters"][0] == {
        "name": "nodes_number",
        "parameterType": "int",
        "feasibleSpace": {"min": "256", "max": "1200", "step": "256"},
    }
    assert space.as_katib()["maxTrialCount"] == 16


KATIB_READER = """
import json, sys
import yaml
from kubeflow.katib import ApiClient

read = yaml.safe_load(open(sys.argv[1]))
experiment = ApiClient()._ApiClient__deserialize(read, "V1beta1Experiment")
spec = experiment.spec
print(json.dumps({
    "kind": type(experiment).__name__,
    "metric": spec.objective.objective_metric_name,
    "type": spec.objective.type,
    "goal": spec.objective.goal,
    "algorithm": spec.algorithm.algorithm_name,
    "max_trials": spec.max_trial_count,
    "parameters": [[p.name, p.parameter_type] for p in spec.parameters],
    "collector": spec.metrics_collector_spec.collector.kind,
    "references": [t.reference for t in spec.trial_template.trial_parameters],
    "container": spec.trial_template.primary_container_name,
}))
"""


@pytest.fixture(scope="session")
def katib_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kubeflow-katib SDK from PyPI, beside this environment: its pins (protobuf 4) clash
    with kfp's (protobuf 6), so it is installed apart, without dependencies (its client imports
    grpc too; the rest kfp brings)."""
    import subprocess
    import sys

    target = tmp_path_factory.mktemp("katib")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         "kubeflow-katib==0.19.0", "kubeflow-training==1.9.3", "grpcio==1.85.3"],
        check=True,
    )  # fmt: skip
    return target


@pytest.mark.slow
def test_the_katib_experiment_loads_in_katibs_sdk(tmp_path: Path, katib_sdk: Path) -> None:
    import os
    import subprocess
    import sys

    path = dog_breed(tmp_path)
    done = run_kalec("build", str(path), "--target", "katib", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    read = subprocess.run(
        [sys.executable, "-c", KATIB_READER, str(tmp_path / "dog-breed-katib.katib.yaml")],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(katib_sdk)),
    )
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {
        "kind": "V1beta1Experiment",
        "metric": "test_accuracy_resnet",
        "type": "maximize",
        "goal": 90,
        "algorithm": "grid",
        "max_trials": 16,
        "parameters": [["nodes_number", "int"], ["learning_rate", "categorical"]],
        "collector": "StdOut",
        "references": ["nodes_number", "learning_rate"],
        "container": "kalec-trial",
    }


def test_a_katib_experiment_kalec_wrote_is_replaced_by_the_next_build(tmp_path: Path) -> None:
    path = dog_breed(tmp_path)
    for _ in range(2):
        done = run_kalec("build", str(path), "--target", "katib", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    foreign = tmp_path / "mine.yaml"
    foreign.write_text("kind: Experiment\n")
    done = run_kalec("build", str(path), "--target", "katib", "-o", str(foreign), cwd=tmp_path)
    assert done.returncode == 2 and "kalec did not write it" in done.stderr


def test_the_katib_trial_starts_a_kfp_run_and_reports_its_metrics(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml
    from kfp_api_stub import KfpApiStub

    path = dog_breed(tmp_path)
    done = run_kalec("emit", str(path), "--target", "katib", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = yaml.safe_load(done.stdout)
    container = document["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert "${" not in container["command"][2]  # no notebook text for Katib to substitute into
    with KfpApiStub() as server:
        # Katib puts the trial's values in; the trial talks to the stand-in KFP and Kubernetes
        values = {"nodes_number": "512", "learning_rate": "0.0005"}
        args = [
            re.sub(r"\$\{trialParameters\.(\w+)\}", lambda m: values[m[1]], a)
            for a in container["args"]
        ]
        args[args.index("--kfp") + 1] = server.url
        args[args.index("--kubernetes") + 1] = server.url
        server.pod_logs = {
            "load-data-x1": "kalec: nothing to report\n",
            "train-x2": "[KFP Executor] ...\nkalec-metric test_accuracy_resnet=57.125\n",
        }
        trial = subprocess.run(
            [sys.executable, "-c", container["command"][2], *args, "--poll", "0.01"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert trial.returncode == 0, trial.stdout + trial.stderr
        assert "test_accuracy_resnet=57.125" in trial.stdout.splitlines()
        (run,) = server.runs
        assert run["runtime_config"]["parameters"] == {"nodes_number": 512, "learning_rate": 0.0005}
        assert run["pipeline_spec"]["pipelineInfo"]["name"] == "dog-breed-katib"
        # a run that failed is a failed trial, with no metric printed
        server.run_state = "FAILED"
        failed = subprocess.run(
            [sys.executable, "-c", container["command"][2], *args, "--poll", "0.01"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert failed.returncode == 1 and "=57.125" not in failed.stdout


def test_the_readmes_scikit_learn_example_tunes(tmp_path: Path) -> None:
    import shutil

    from conftest import ROOT

    path = Path(
        shutil.copy(ROOT / "examples" / "tune_digits.ipynb", tmp_path / "tune_digits.ipynb")
    )
    done = run_kalec("tune", str(path), "--trials", "3", "--seed", "0", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    assert [r[-1] for r in table] == ["2/0", "1/1", "1/1"]  # the digits are loaded and split once
    assert "maximising accuracy with tpe" in done.stderr
    assert re.search(r"best: trial \d: accuracy = 0\.\d+ with C=", done.stdout)
    # the trials share one fork server, which imported scikit-learn once for the search
    search = next((tmp_path / ".kalec" / "tunes").iterdir())
    assert [p.relative_to(search) for p in search.rglob("kalec-imports.json")] == [
        Path("trials/.server-0/kalec-imports.json")
    ]


def test_each_worker_of_a_parallel_search_keeps_one_fork_server(tmp_path: Path) -> None:
    path = make_notebook(
        tmp_path / "p.ipynb",
        [
            (["imports"], "import statistics"),
            (["pipeline-parameters"], "X = 0"),
            (["block:fit"], "loss = statistics.fmean([(X - 3) ** 2, 0])"),
            (["pipeline-metrics"], "loss"),
        ],
    )
    args = ["--param", "X=int(0,5)", "--metric", "loss", "--minimize", "--algorithm", "grid"]
    done = run_kalec("tune", str(path), *args, "--jobs", "2", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(rows(done.stdout)) == 6
    search = next((tmp_path / ".kalec" / "tunes").iterdir())
    servers = sorted(p.parent.name for p in search.rglob("kalec-imports.json"))
    assert servers == [".server-0", ".server-1"]  # not one a trial


def test_ctrl_c_between_two_trials_says_how_to_resume(tmp_path: Path, monkeypatch) -> None:
    import optuna

    path = make_notebook(
        tmp_path / "r.ipynb",
        [
            (["pipeline-parameters"], "X = 0"),
            (["block:fit"], "loss = (X - 3) ** 2"),
            (["pipeline-metrics"], "loss"),
        ],
    )
    asked = optuna.study.Study.ask
    calls = []

    def ask_then_interrupt(self, *args, **kwargs):  # Ctrl-C lands after the first trial
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return asked(self, *args, **kwargs)

    monkeypatch.setattr(optuna.study.Study, "ask", ask_then_interrupt)
    args = ["--param", "X=int(0,5)", "--metric", "loss", "--minimize", "--algorithm", "grid"]
    done = run_kalec("tune", str(path), *args, cwd=tmp_path)
    assert done.returncode == 130, done.stderr
    assert "search stopped; kalec tune" in done.stderr and "--resume" in done.stderr


@pytest.mark.slow
def test_ctrl_c_stops_the_search_and_resume_finishes_the_grid(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    path = make_notebook(
        tmp_path / "r.ipynb",
        [
            (["pipeline-parameters"], "X = 0"),
            (["block:fit"], "import time\ntime.sleep(0.6)\nloss = (X - 3) ** 2"),
            (["pipeline-metrics"], "loss"),
        ],
    )
    args = ["--param", "X=int(0,5)", "--metric", "loss", "--minimize", "--algorithm", "grid"]
    process = subprocess.Popen(
        [sys.executable, "-m", "kalec", "tune", str(path), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    while len(lines) < 2:  # the header and the first trial
        lines.append(process.stdout.readline())
    time.sleep(0.3)  # the second trial is running
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "search stopped; kalec tune" in err and "--resume" in err
    assert "Traceback" not in err
    again = run_kalec("tune", str(path), "--resume", cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    done = sorted(int(r[1]) for r in rows(again.stdout) if r[2] != "failed")
    assert done == [0, 1, 2, 3, 4, 5]  # every point once, the stopped one again
    assert "best: trial" in again.stdout and "with X=3" in again.stdout


def test_two_searches_started_in_one_second_get_folders_of_their_own(tmp_path: Path) -> None:
    from kalec.tune.tuning import _new_folder

    folders = [_new_folder(tmp_path, tmp_path / "nb.ipynb") for _ in range(3)]
    assert len(set(folders)) == 3 and all(f.is_dir() for f in folders)
    assert all(re.fullmatch(r"nb-\d{8}-\d{6}(-\d)?", f.name) for f in folders)


def test_a_reader_polling_a_search_never_writes_its_half_made_study(tmp_path: Path) -> None:
    """The server polls a search's folder while the search makes its study: reading must not
    make the database (two writers of one schema collide), and the study appears whole."""
    pytest.importorskip("optuna")
    from kalec.searchspace import from_katib
    from kalec.tune.search import STUDY_FILE, load_study, open_study

    assert load_study(tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    space = from_katib(
        {
            "parameters": [
                {"name": "X", "parameterType": "int", "feasibleSpace": {"min": "0", "max": "3"}}
            ],
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "grid"},
        }
    )
    open_study(tmp_path, space, 1, tmp_path.name)
    assert [p.name for p in tmp_path.iterdir()] == [STUDY_FILE]
    study = load_study(tmp_path)
    assert study is not None and study.trials == []
