"""Steps forked from one process that imported the steps' modules once, and the way back to
fresh processes where forking is not safe.

Both paths must give the notebook's results (the equivalence tests run the forked path, and the
fresh one in the slow tier); here: what the server imports, that a forked step is as fresh as a
new interpreter where it matters (its own random numbers, its own session, its files flushed),
and that every hazard found sends the run to fresh processes, saying why.
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

import pytest
from helpers import result_lines, run_kalec

from kalec.compiler import compile_notebook
from kalec.local.fork_server import ForkServer
from kalec.local.preimports import preimports
from kalec.runtime import zygote
from kalec.runtime.protocol import SpecCell, StepOutcome, StepRequest, StepSpec

B = "block:"


def test_the_server_imports_what_the_prelude_imports_when_it_runs(notebook) -> None:
    path = notebook(
        [
            (
                ["imports"],
                "from __future__ import annotations\n"
                "import os, json as j\nfrom collections import abc, OrderedDict\n"
                "import helpers\nfrom helpers import tool\nimport data_tools.clean\n"
                "try:\n    import numpy\nexcept ImportError:\n    numpy = None\n"
                "def later():\n    import csv\nfrom . import sibling",
            ),
            ([B + "a"], "import zipfile\nx = 1"),
        ]
    )
    (path.parent / "helpers.py").write_text("tool = 1\n")
    (path.parent / "data_tools").mkdir()  # a folder of that name: the notebook's, not a library
    imports = preimports(compile_notebook(path), steps=[])
    assert imports == [
        {"module": "os", "names": []},
        {"module": "json", "names": []},
        {"module": "collections", "names": ["OrderedDict", "abc"]},
        {"module": "numpy", "names": []},
    ]  # not local modules, not imports in functions, not relative ones; no step asked for
    assert preimports(compile_notebook(path))[-1] == {"module": "zipfile", "names": []}


def test_a_steps_imports_are_made_early_only_where_nothing_before_them_could_change_them(
    notebook,
) -> None:
    path = notebook(
        [
            (["imports"], "%matplotlib inline\nimport math"),
            ([B + "plain"], "import statistics\nfrom fractions import Fraction\nx = 1"),
            ([B + "env"], "import os\nos.environ['BACKEND'] = 'two'\nimport decimal"),
            ([B + "shell"], "import string\n!pip install --quiet nothing\nimport textwrap"),
            ([B + "written"], "%%writefile made.py\nVALUE = 1"),
            ([B + "uses", "prev:written"], "import made\nimport calendar\ny = made.VALUE"),
            ([B + "later"], "import random\nrandom.seed(1)\nimport bisect"),
        ]
    )
    modules = [item["module"] for item in preimports(compile_notebook(path))]
    assert modules == [
        "math",
        "statistics",
        "fractions",
        "os",  # before the environment changes; decimal, after, is imported by the step itself
        "string",  # before the shell command; textwrap after it
        "calendar",  # made.py is written by a cell: the file there may be an old one
        "random",
        "bisect",  # seeding is not a change of what an import finds
    ]


def test_magics_that_change_nothing_an_import_reads_do_not_stop_the_early_imports(
    notebook,
) -> None:
    """A prelude that opens with ``%load_ext watermark``, ``%watermark``, ``%matplotlib``,
    ``%config`` or ``%precision``, or a ``%%capture`` cell, still has its imports made once."""
    path = notebook(
        [
            (
                ["imports"],
                "%load_ext watermark\n%watermark -a someone -p numpy\n%matplotlib inline\n"
                "%config InlineBackend.figure_format = 'retina'\n%precision 3\nimport math",
            ),
            (["functions"], "%%capture\nimport statistics\nimport fractions"),
            ([B + "a"], "%time import decimal\nx = 1"),
        ]
    )
    modules = [item["module"] for item in preimports(compile_notebook(path))]
    assert modules == ["math", "statistics", "fractions", "decimal"]


@pytest.mark.parametrize(
    "magic",
    ["%env MODE=fast", "%cd /tmp", "%autoreload 2", "%pip install nothing", "%sql SELECT 1"],
    ids=["env", "cd", "autoreload", "pip", "unknown"],
)
def test_magics_that_may_change_an_import_stop_the_early_imports(magic: str, notebook) -> None:
    path = notebook(
        [(["imports"], f"import math\n{magic}\nimport statistics"), ([B + "a"], "x = 1")]
    )
    assert [item["module"] for item in preimports(compile_notebook(path))] == ["math"]


def test_a_module_that_prints_when_imported_is_imported_by_the_step_that_asks(
    notebook, tmp_path: Path, monkeypatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "banner.py").write_text("print('BANNER of the module')\n")
    (site / "quiet_tool.py").write_text("VALUE = 20\n")
    path = notebook(
        [
            (["imports"], "import quiet_tool"),
            ([B + "one"], "import banner\nx = quiet_tool.VALUE"),
            ([B + "two", "prev:one"], "print('RESULT', x + 1)"),
        ]
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *sys.path]))
    run_dir = tmp_path / "run"
    done = run_kalec("run", str(path), "--run-dir", str(run_dir), cwd=path.parent)
    assert done.returncode == 0, done.stderr
    assert "fresh processes" not in done.stderr  # still forked, from a server without banner
    assert "BANNER of the module" in done.stdout  # printed by step one, as by its cell
    assert result_lines(done.stdout) == ["RESULT 21"]
    asked = json.loads((run_dir / "kalec-imports.json").read_text())
    assert [item["module"] for item in asked] == ["quiet_tool", "banner"]


def _request(folder: Path, name: str, code: str) -> str:
    request = StepRequest(
        spec=StepSpec(name, "nb.ipynb", cells=(SpecCell(1, code),)),
        result=str(folder / f"{name}.result.json"),
    )
    path = folder / f"{name}.request.json"
    request.write(str(path))
    return str(path)


def _server(tmp_path: Path, modules: list[str]) -> ForkServer:
    imports = tmp_path / "imports.json"
    imports.write_text(json.dumps([{"module": m, "names": []} for m in modules]))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent.parent), *sys.path])
    return ForkServer(str(imports), str(tmp_path), env)


def test_forked_steps_are_fresh_where_results_depend_on_it(tmp_path: Path) -> None:
    server = _server(tmp_path, ["numpy.random", "random"])
    try:
        assert server.usable(), server.reason
        code = (
            "import numpy, os, random\n"
            "print(numpy.random.randint(2**31), random.getrandbits(31), os.getsid(0) == "
            "os.getpid(),"
            " os.environ['KALEC_STEP'])\n"
            "left_open = open('unclosed.txt', 'w')\nn = left_open.write('flushed at the end')"
        )
        steps = [
            server.start(_request(tmp_path, name, code), {"KALEC_STEP": name}) for name in "ab"
        ]
        lines = []
        for step in steps:
            assert step.wait(timeout=60) == 0, step.stderr.read()
            lines.append(step.stdout.read().decode().split())
            step.stdout.close()
            step.stderr.close()
    finally:
        server.close()
    (a_numpy, a_random, a_leads, a_name), (b_numpy, b_random, b_leads, b_name) = lines
    assert a_numpy != b_numpy and a_random != b_random  # each seeded anew, as a new process
    assert a_leads == b_leads == "True"  # its own session: the runner ends its whole group
    assert (a_name, b_name) == ("a", "b")
    assert (tmp_path / "unclosed.txt").read_text() == "flushed at the end"
    assert StepOutcome.read(str(tmp_path / "a.result.json")).ok


@pytest.mark.parametrize(
    ("module", "words"),
    [
        (
            "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True)"
            ".start()\n",
            "an imported module started a thread",
        ),
        ("", "tensorflow is imported, and does not survive fork"),
    ],
    ids=["thread-at-import", "unsafe-framework"],
)
def test_a_fork_hazard_sends_the_run_to_fresh_processes_saying_why(
    module: str, words: str, notebook, tmp_path: Path, monkeypatch
) -> None:
    site = tmp_path / "site"
    (site / "tensorflow").mkdir(parents=True)
    (site / "tensorflow" / "__init__.py").write_text(module)
    path = notebook(
        [
            (["imports"], "import tensorflow"),
            ([B + "one"], "x = 20"),
            ([B + "two", "prev:one"], "print('RESULT', x + 1)"),
        ]
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *sys.path]))
    done = run_kalec("run", str(path), "--run-dir", str(tmp_path / "run"), cwd=path.parent)
    assert done.returncode == 0, done.stderr
    assert f"steps start as fresh processes: {words}" in done.stderr
    assert result_lines(done.stdout) == ["RESULT 21"]


def test_a_thread_pool_that_hangs_after_fork_is_detected(monkeypatch) -> None:
    """The probe: a forked child that uses the loaded native pools must end in time."""

    def hang(*_: object) -> None:
        time.sleep(60)

    fake_torch = types.SimpleNamespace(ones=lambda *a: None, mm=hang)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.setattr(zygote, "PROBE_SECONDS", 0.5)
    started = time.monotonic()
    assert zygote._probe() is False
    assert time.monotonic() - started < 5
    monkeypatch.setattr(fake_torch, "mm", lambda *a: None)
    assert zygote._probe() is True


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


_POOLS = [
    (
        [B + "loky"],
        "from joblib import Parallel, delayed\n"
        "loky = Parallel(n_jobs=2)(delayed(worker)(i) for i in range(4))\n"
        "print('RESULT loky', [v for _, v in loky])",
    ),
    (
        [B + "sklearn"],
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.model_selection import cross_val_score\n"
        "X, y = load_iris(return_X_y=True)\n"
        "scores = cross_val_score(LogisticRegression(max_iter=500), X, y, cv=3, n_jobs=2)\n"
        "print('RESULT sklearn', scores.round(3).tolist())",
    ),
    (
        [B + "pool"],
        "import multiprocessing\nleft_open = multiprocessing.Pool(2)\n"
        "fork_pool = left_open.map(worker, range(4))\n"
        "print('RESULT pool', [v for _, v in fork_pool])",
    ),
    (
        [B + "spawn"],
        "import multiprocessing, os\n"
        "with multiprocessing.get_context('spawn').Pool(2) as spawned:\n"
        "    spawn_pool = [(spawned.apply(os.getpid), 0)]\n"
        "print('RESULT spawn', len(spawn_pool))",
    ),
    (
        [B + "futures"],
        "from concurrent.futures import ProcessPoolExecutor\n"
        "executor = ProcessPoolExecutor(2)\n"
        "futures = list(executor.map(worker, range(4)))\n"
        "print('RESULT futures', [v for _, v in futures])",
    ),
    (
        [B + "pids", "prev:loky", "prev:pool", "prev:spawn", "prev:futures"],
        "print('PIDS', *sorted({p for p, _ in loky + fork_pool + spawn_pool + futures}))",
    ),
]


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "fresh"])
def test_a_steps_worker_pools_neither_keep_it_running_nor_outlive_it(
    fork: bool, notebook, tmp_path: Path
) -> None:
    """scikit-learn's n_jobs (joblib's loky), multiprocessing pools (fork and spawn) and process
    pools, some left open as a notebook leaves them: each step ends when its code ends, and
    none of its workers is left running."""
    path = notebook(
        [(["functions"], "import os\ndef worker(i):\n    return os.getpid(), i * i"), *_POOLS]
    )
    args = ["run", str(path), "--no-cache", "--run-dir", str(tmp_path / "run")]
    done = run_kalec(
        *args, *([] if fork else ["--no-fork"]), cwd=path.parent, in_process=False, timeout=90
    )
    assert done.returncode == 0, done.stderr
    if fork:
        assert "fresh processes" not in done.stderr, done.stderr
    assert result_lines(done.stdout) == [
        "RESULT futures [0, 1, 4, 9]",
        "RESULT loky [0, 1, 4, 9]",
        "RESULT pool [0, 1, 4, 9]",
        "RESULT sklearn [0.98, 0.96, 0.98]",
        "RESULT spawn 1",
    ]
    line = next(line for line in done.stdout.splitlines() if " PIDS " in line)
    workers = [int(p) for p in line.split(" PIDS ", 1)[1].split()]
    assert len(workers) >= 4
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "a step's worker outlived it"
