"""The step cache, resume, --from/--only, `kalec runs` and `kalec clean`: which steps run is
asserted step by step from the run's record, never from timings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import kernel_results, make_notebook, result_lines, run_kalec

B = "block:"

CHAIN = [
    (["pipeline-parameters"], "SCALE = 2\nOFFSET = 1"),
    ([B + "load"], "data = [1, 2, 3]\nprint('loaded', len(data))"),
    ([B + "double", "prev:load"], "doubled = [x * SCALE for x in data]"),
    ([B + "shift", "prev:load"], "shifted = [x + OFFSET for x in data]"),
    ([B + "report", "prev:double", "prev:shift"], "print('RESULT', sum(doubled), sum(shifted))"),
]


def run(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_kalec("run", "--local", str(path), *extra, cwd=path.parent)


def last_run(path: Path) -> dict:
    listed = run_kalec("runs", str(path), "--format", "json", cwd=path.parent)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)[0]


def statuses(path: Path) -> dict[str, str]:
    return last_run(path)["steps"]


def test_a_second_run_of_an_unchanged_notebook_runs_no_step(notebook) -> None:
    path = notebook(CHAIN)
    first = run(path)
    assert first.returncode == 0, first.stderr
    assert set(statuses(path).values()) == {"ran"}
    second = run(path)
    assert second.returncode == 0, second.stderr
    assert set(statuses(path).values()) == {"cached"}
    assert result_lines(second.stdout) == result_lines(first.stdout) == ["RESULT 12 9"]
    assert "[load  ] loaded 3" in second.stdout  # the recorded output, shown again
    summary = [line.split()[:2] for line in second.stdout.splitlines() if line.startswith("load")]
    assert summary == [["load", "cached"]]


def test_changing_a_cell_reruns_that_step_and_those_after_it(notebook) -> None:
    path = notebook(CHAIN)
    assert run(path).returncode == 0
    changed = list(CHAIN)
    changed[2] = ([B + "double", "prev:load"], "doubled = [x * SCALE * 10 for x in data]")
    make_notebook(path, changed)
    done = run(path)
    assert done.returncode == 0, done.stderr
    assert statuses(path) == {
        "load": "cached",
        "double": "ran",
        "shift": "cached",
        "report": "ran",
    }
    assert result_lines(done.stdout) == ["RESULT 120 9"]


def test_a_step_whose_new_value_is_unchanged_leaves_later_steps_cached(notebook) -> None:
    path = notebook(CHAIN)
    assert run(path).returncode == 0
    changed = list(CHAIN)
    changed[2] = ([B + "double", "prev:load"], "doubled = [SCALE * x for x in data]")
    make_notebook(path, changed)
    assert run(path).returncode == 0
    assert statuses(path)["double"] == "ran" and statuses(path)["report"] == "cached"


def test_a_parameter_reruns_the_steps_that_read_it(notebook) -> None:
    path = notebook(CHAIN)
    assert run(path).returncode == 0
    done = run(path, "-p", "OFFSET=5")
    assert done.returncode == 0, done.stderr
    assert statuses(path) == {
        "load": "cached",
        "double": "cached",
        "shift": "ran",
        "report": "ran",
    }
    assert result_lines(done.stdout) == ["RESULT 12 21"]


def test_a_changed_input_file_reruns_the_step_that_reads_it(notebook, tmp_path: Path) -> None:
    (tmp_path / "numbers.txt").write_text("1 2 3")
    path = notebook(
        [
            ([B + "read"], "values = [int(v) for v in open('numbers.txt').read().split()]"),
            ([B + "other"], "other = 1"),
            ([B + "sum", "prev:read"], "print('RESULT', sum(values))"),
        ]
    )
    assert run(path).returncode == 0
    (tmp_path / "numbers.txt").write_text("1 2 3 4")
    done = run(path)
    assert statuses(path) == {"read": "ran", "other": "cached", "sum": "ran"}
    assert result_lines(done.stdout) == ["RESULT 10"]


def test_a_file_named_by_a_parameter_or_a_variable_is_part_of_the_key(
    notebook, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("1")
    (tmp_path / "b.txt").write_text("2")
    path = notebook(
        [
            (["pipeline-parameters"], "DATA = 'a.txt'"),
            ([B + "param"], "print('RESULT', open(DATA).read())"),
            ([B + "variable"], "name = 'b.txt'\nprint('RESULT', open(name).read())"),
        ]
    )
    assert run(path).returncode == 0
    (tmp_path / "a.txt").write_text("10")
    assert result_lines(run(path).stdout) == ["RESULT 10", "RESULT 2"]
    assert statuses(path) == {"param": "ran", "variable": "cached"}
    (tmp_path / "b.txt").write_text("20")
    assert result_lines(run(path).stdout) == ["RESULT 10", "RESULT 20"]
    assert statuses(path) == {"param": "cached", "variable": "ran"}


def test_files_a_cached_step_wrote_are_put_back(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            ([B + "write"], "open('table.csv', 'w').write('a,b\\n1,2\\n')"),
            ([B + "read", "prev:write"], "print('RESULT', open('table.csv').read().split())"),
        ]
    )
    first = run(path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "table.csv").unlink()
    second = run(path)
    assert second.returncode == 0, second.stderr
    assert statuses(path) == {"write": "cached", "read": "cached"}
    assert (tmp_path / "table.csv").read_text() == "a,b\n1,2\n"


def test_cache_disabled_tag_and_no_cache_flag_run_the_steps(notebook) -> None:
    cells = list(CHAIN)
    cells[1] = ([B + "load", "cache:disabled"], cells[1][1])
    path = notebook(cells)
    assert run(path).returncode == 0
    assert run(path).returncode == 0
    assert statuses(path)["load"] == "ran"
    assert statuses(path)["report"] == "cached"  # its input, load's value, is the same
    assert run(path, "--no-cache").returncode == 0
    assert set(statuses(path).values()) == {"ran"}
    assert run(path, "--refresh", "shift").returncode == 0
    assert statuses(path)["shift"] == "ran" and statuses(path)["double"] == "cached"


def test_values_are_stored_once_by_content(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            ([B + "a"], "import numpy as np\nx = np.arange(100000)"),
            ([B + "b"], "import numpy as np\ny = np.arange(100000)"),
            ([B + "c", "prev:a", "prev:b"], "print('RESULT', int((x == y).all()))"),
        ]
    )
    assert run(path).returncode == 0
    arrays = list((tmp_path / ".kalec" / "cache" / "objects").glob("*/*.npy"))
    assert len(arrays) == 1


@pytest.mark.slow
def test_a_run_killed_during_a_step_caches_only_the_finished_steps(notebook) -> None:
    path = notebook(
        [
            ([B + "quick"], "x = 1"),
            ([B + "slow", "prev:quick"], "import time\ntime.sleep(60)\ny = x"),
        ]
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "kalec", "run", "--local", str(path)],
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "slow: started" in line:
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert statuses(path) == {"quick": "ran", "slow": "stopped"}
    make_notebook(path, [([B + "quick"], "x = 1"), ([B + "slow", "prev:quick"], "y = x")])
    assert run(path).returncode == 0
    assert statuses(path) == {"quick": "cached", "slow": "ran"}


FAILING = [
    (["imports"], "import math"),
    ([B + "load"], "values = [3, 4]\nprint('RESULT loaded', values)"),
    ([B + "side"], "side = 5"),
    ([B + "norm", "prev:load"], "norm = math.hypot(*values) / DIVISOR"),
    ([B + "report", "prev:norm"], "print('RESULT norm', norm)"),
]


def test_resume_runs_the_failed_step_and_those_after_it(notebook) -> None:
    path = notebook(FAILING)
    failed = run(path, "--no-cache")
    assert failed.returncode == 2  # DIVISOR is undefined: kalec refuses at compile time
    cells = list(FAILING)
    cells[3] = ([B + "norm", "prev:load"], "norm = math.hypot(*values) / 0")
    make_notebook(path, cells)
    failed = run(path, "--no-cache")
    assert failed.returncode == 1
    assert statuses(path) == {"load": "ran", "side": "ran", "norm": "failed", "report": "skipped"}
    cells[3] = ([B + "norm", "prev:load"], "norm = math.hypot(*values) / 1")
    make_notebook(path, cells)
    resumed = run(path, "--resume", "--no-cache")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(path) == {"load": "cached", "side": "cached", "norm": "ran", "report": "ran"}
    assert result_lines(resumed.stdout) == kernel_results(path)


def test_from_and_only_run_the_steps_asked_for(notebook) -> None:
    path = notebook(CHAIN)
    assert run(path).returncode == 0
    assert run(path, "--from", "double").returncode == 0
    assert statuses(path) == {"load": "cached", "double": "ran", "shift": "cached", "report": "ran"}
    only = run(path, "--only", "shift")
    assert only.returncode == 0, only.stderr
    assert statuses(path) == {
        "load": "cached",
        "double": "cached",
        "shift": "ran",
        "report": "cached",
    }


def test_only_without_an_earlier_run_says_what_is_missing(notebook) -> None:
    path = notebook(CHAIN)
    done = run(path, "--only", "report")
    assert done.returncode == 2
    assert "no earlier run of this notebook" in done.stderr
    assert "Traceback" not in done.stderr
    unknown = run(path, "--from", "trian")
    assert unknown.returncode == 2 and "no step named 'trian'" in unknown.stderr


def test_runs_lists_and_clean_removes(notebook, tmp_path: Path) -> None:
    path = notebook(CHAIN)
    assert run(path).returncode == 0
    assert run(path, "-p", "SCALE=3").returncode == 0
    listed = run_kalec("runs", str(path), cwd=tmp_path)
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "started", "state", "seconds", "ran", "cached", "failed"]
    assert len(lines) == 3 and lines[1].split()[3] == "ok"
    old = time.time() - 30 * 86400
    for folder in (tmp_path / ".kalec" / "runs").iterdir():
        os.utime(folder, (old, old))
    dry = run_kalec("clean", str(path), "--older-than", "7d", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and "would remove 2 runs" in dry.stdout
    assert len(list((tmp_path / ".kalec" / "runs").iterdir())) == 2
    cleaned = run_kalec("clean", str(tmp_path), "--max-size", "0", cwd=tmp_path)
    assert cleaned.returncode == 0, cleaned.stderr
    assert list((tmp_path / ".kalec" / "runs").iterdir()) == []
    assert list((tmp_path / ".kalec" / "cache" / "steps").iterdir()) == []
    assert list((tmp_path / ".kalec" / "cache" / "objects").glob("*/*")) == []
    bad = run_kalec("clean", str(tmp_path), "--older-than", "soon", cwd=tmp_path)
    assert bad.returncode == 2 and "12h or 7d" in bad.stderr


def test_paths_to_devices_and_huge_folders_never_hang_a_run(notebook) -> None:
    path = notebook(
        [
            ([B + "a"], "endless = '/dev/zero'\nroot = '/'\nx = 1"),
            ([B + "b", "prev:a"], "print('RESULT', x, endless)"),
        ]
    )
    first = run(path)
    assert first.returncode == 0, first.stderr
    assert "a: not cached: it names /, a folder of more than" in first.stderr
    second = run(path)
    assert statuses(path) == {"a": "ran", "b": "cached"}
    assert result_lines(second.stdout) == ["RESULT 1 /dev/zero"]
