"""The local runner: order, parallelism, failures, parameters, retries, timeouts, run folder."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_kalec

B = "block:"


def run(path: Path, *extra: str):
    return run_kalec(
        "run", "--local", str(path), "--run-dir", str(path.parent / "run"), *extra, cwd=path.parent
    )


def stamp(name: str, seconds: float = 0.0) -> str:
    """Cell code recording when a step ran, in the notebook's folder."""
    return (
        f"import time, json\nstart = time.time()\ntime.sleep({seconds})\n"
        f"open('{name}.json', 'w').write(json.dumps([start, time.time()]))"
    )


def interval(folder: Path, name: str) -> tuple[float, float]:
    return tuple(json.loads((folder / f"{name}.json").read_text()))


def test_steps_run_in_dependency_order(notebook) -> None:
    path = notebook(
        [
            ([B + "c", "prev:b"], stamp("c")),
            ([B + "a"], stamp("a")),
            ([B + "b", "prev:a"], stamp("b")),
        ]
    )
    done = run(path)
    assert done.returncode == 0, done.stderr
    a, b, c = (interval(path.parent, n) for n in "abc")
    assert a[1] <= b[0] and b[1] <= c[0]


def test_independent_steps_run_at_the_same_time(notebook) -> None:
    path = notebook([([B + "x"], stamp("x", 0.6)), ([B + "y"], stamp("y", 0.6))])
    assert run(path, "--jobs", "2").returncode == 0
    x, y = interval(path.parent, "x"), interval(path.parent, "y")
    assert x[0] < y[1] and y[0] < x[1], "the two steps should overlap"
    assert run(path, "--jobs", "1", "--no-cache").returncode == 0
    x, y = interval(path.parent, "x"), interval(path.parent, "y")
    assert x[1] <= y[0] or y[1] <= x[0], "with --jobs 1 they should not overlap"


def test_working_directory_is_the_notebook_folder(notebook, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("from-disk")
    path = notebook([([B + "a"], "print('RESULT', open('data.txt').read())")])
    done = run_kalec("run", "--local", str(path), "--run-dir", str(tmp_path / "r"), cwd="/")
    assert "RESULT from-disk" in done.stdout, done.stderr


def test_output_is_prefixed_with_the_step_name_and_a_summary_follows(notebook) -> None:
    path = notebook(
        [
            ([B + "load"], "x = list(range(1000))\nprint('hello')"),
            ([B + "train-model", "prev:load"], "print(len(x))"),
        ]
    )
    done = run(path)
    assert "[load       ] hello" in done.stdout
    assert "[train-model] 1000" in done.stdout
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("step "))
    assert lines[header].split() == ["step", "status", "seconds", "bytes", "passed"]
    assert lines[header + 1].split()[:2] == ["load", "ran"]
    assert int(lines[header + 1].split()[3].replace(",", "")) > 0  # x was passed on


def test_failure_points_at_the_cell_and_line_and_exits_1(notebook) -> None:
    path = notebook(
        [
            ([B + "a"], "x = 1"),
            ([B + "slow"], "import time\ntime.sleep(0.5)\nprint('slow done')"),
            ([B + "b", "prev:a"], "y = x + 1\nz = y / 0"),
            ([B + "c", "prev:b"], "print(z)"),
        ]
    )
    done = run(path, "--jobs", "2")
    assert done.returncode == 1
    assert "nb.ipynb: cell 3, line 2: error: step 'b' failed: ZeroDivisionError" in done.stderr
    assert 'File "nb.ipynb, cell 3", line 2' in done.stderr  # the traceback names the cell
    assert "z = y / 0" in done.stderr
    assert "kalec/runtime" not in done.stderr  # no frames of kalec itself
    assert "slow done" in done.stdout  # the step already running finished
    summary = {
        line.split()[0]: line.split()[1]
        for line in done.stdout.splitlines()
        if line.split() and line.split()[0] in ("a", "b", "c", "slow")
    }
    assert summary == {"a": "ran", "b": "failed", "c": "skipped", "slow": "ran"}


def test_parameters_can_be_overridden_with_their_types(notebook) -> None:
    path = notebook(
        [
            (["pipeline-parameters"], "N = 2\nR = 0.5\nON = False\nL = [1]\nS = 'a'"),
            ([B + "a"], "print('RESULT', N * 2, R, ON, L, S, type(N).__name__)"),
        ]
    )
    done = run(path, "-p", "N=21", "-p", "ON=true", "-p", "L=[3, 4]", "-p", "S=x y")
    assert "RESULT 42 0.5 True [3, 4] x y int" in done.stdout, done.stderr
    for bad in ("N=many", "NOPE=1", "L={}", "N"):
        done = run(path, "-p", bad)
        assert done.returncode == 2 and "Traceback" not in done.stderr, bad
        assert "-p" in done.stderr


def test_retries_rerun_a_failing_step(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            (
                [B + "flaky", "retry:2"],
                "import os\nn = len(os.listdir('tries')) if os.path.isdir('tries') else 0\n"
                "os.makedirs('tries', exist_ok=True)\nopen(f'tries/{n}', 'w').close()\n"
                "assert n >= 2, 'not yet'\nprint('RESULT attempts', n + 1)",
            )
        ]
    )
    done = run(path)
    assert done.returncode == 0, done.stderr
    assert "RESULT attempts 3" in done.stdout


def test_timeout_stops_a_step(notebook) -> None:
    path = notebook([([B + "hang", "timeout:1"], "import time\ntime.sleep(30)")])
    done = run(path)
    assert done.returncode == 1
    assert "timed out after 1 s" in done.stderr


def test_values_and_metrics_land_in_the_run_folder(notebook) -> None:
    path = notebook(
        [
            ([B + "a"], "import numpy as np\narr = np.ones(3)\nscore = 0.5"),
            ([B + "b", "prev:a"], "print(arr.sum())"),
            (["pipeline-metrics"], "score"),
        ]
    )
    done = run(path)
    assert done.returncode == 0, done.stderr
    assert (path.parent / "run" / "a" / "arr.npy").is_file()
    assert json.loads((path.parent / "run" / "kalec-metrics.json").read_text()) == {"score": 0.5}
    assert "score = 0.5" in done.stdout


def test_a_value_that_cannot_be_passed_names_variable_step_and_fix(notebook) -> None:
    # made through a function, so that only the runtime can see what it is
    path = notebook(
        [
            (
                [B + "a"],
                "import threading\ndef make():\n    return threading.Lock()\nguard = make()",
            ),
            ([B + "b", "prev:a"], "print(guard)"),
        ]
    )
    done = run(path)
    assert done.returncode == 1
    assert "guard" in done.stderr and "'a'" in done.stderr and "lock" in done.stderr
    assert "functions" in done.stderr  # the suggested fix
    assert "Traceback" not in done.stderr


def test_a_terminal_gets_a_live_board_and_a_pipe_plain_lines(notebook) -> None:
    import os
    import pty
    import select
    import subprocess
    import sys

    path = notebook(
        [
            ([B + "first"], "import time\ntime.sleep(0.6)\nx = 1"),
            ([B + "second", "prev:first"], "print('value', x)"),
        ]
    )
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "kalec", "run", "--local", str(path)],
        stdout=slave,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        cwd=path.parent,
    )
    os.close(slave)
    shown = b""
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=60) == 0
    text = shown.decode()
    assert "▶ first   running 0:00" in text and "✓ first   done" in text
    assert "\x1b[2F\x1b[J[second] value 1" in text  # output goes above the board
    assert "kalec: first: started" not in text  # the board says it
    piped = run(path, "--no-cache")
    assert "\x1b[" not in piped.stdout + piped.stderr
    assert "kalec: first: started" in piped.stderr
