"""What goes wrong around a local run: signals, time limits, stray processes, a shared or
unusable run folder, a full disk, names too long for a file system, names kalec uses itself.

A run never leaves a process behind, never mixes two runs' values, and reports each fault in
one line that names the step (and the cell, where known), with the exit code the contract says.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import result_lines, run_kalec

from kalec.runtime.step import StepFailure, run_step

B = "block:"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose: it runs nothing and holds nothing
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def _ends_soon(pid: int, seconds: float = 5.0) -> bool:
    """True when the process is gone within a moment: SIGKILL is sent, not waited for."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    time.sleep(0.2)  # let the file be written through


def _start(path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kalec", "run", "--local", str(path), *extra],
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# A step that starts a child (which would outlive it), records both pids, then waits.
SPAWNER = (
    "import json, os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "{ignore}"
    "open('pids.json', 'w').write(json.dumps([os.getpid(), child.pid]))\n"
    "time.sleep(600)"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "ignore"),
    [
        (signal.SIGTERM, ""),
        (signal.SIGINT, ""),
        (signal.SIGINT, "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"),
    ],
    ids=["sigterm", "sigint", "sigint-step-ignores-sigterm"],
)
@pytest.mark.parametrize("start", [[], ["--no-fork"]], ids=["forked", "fresh"])
def test_stopping_kalec_ends_every_step_process_and_its_children(
    signum: int, ignore: str, start: list[str], notebook
) -> None:
    path = notebook([([B + "spawn"], SPAWNER.format(ignore=ignore)), ([B + "other"], "x = 1")])
    kalec = _start(path, *start)
    _wait_for(path.parent / "pids.json")
    pids = json.loads((path.parent / "pids.json").read_text())
    started = time.monotonic()
    kalec.send_signal(signum)  # to kalec's pid alone, as `kill` does
    out, err = kalec.communicate(timeout=30)
    assert kalec.returncode == 128 + signum, err
    assert time.monotonic() - started < 15
    assert f"stopped by {signal.Signals(signum).name}" in out
    for pid in pids:
        assert _ends_soon(pid), f"process {pid} outlived kalec"


@pytest.mark.slow
@pytest.mark.parametrize("start", [[], ["--no-fork"]], ids=["forked", "fresh"])
def test_a_timed_out_step_ends_on_time_with_its_children_and_names_the_cell(
    start: list[str], notebook
) -> None:
    holder = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "time.sleep(600)"
    )
    path = notebook([([B + "setup"], "x = 1"), ([B + "slow", "timeout:2s"], holder)])
    started = time.monotonic()
    done = run_kalec("run", str(path), "--run-dir", str(path.parent / "run"), *start, timeout=60)
    assert done.returncode == 1
    assert time.monotonic() - started < 20
    assert "cell 2: error: step 'slow' failed: timed out after 2 s" in done.stderr


@pytest.mark.slow
def test_a_process_left_behind_by_a_step_does_not_hold_the_run(notebook) -> None:
    leaver = (
        "import json, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open('child.json', 'w').write(json.dumps(child.pid))\n"
        "print('RESULT left one behind')"
    )
    path = notebook([([B + "leaver"], leaver)])
    started = time.monotonic()
    done = run_kalec("run", str(path), "--run-dir", str(path.parent / "run"), timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 15
    assert _ends_soon(json.loads((path.parent / "child.json").read_text()))


def test_two_runs_never_share_a_run_folder(notebook) -> None:
    path = notebook([([B + "wait"], "import time\nopen('started', 'w').close()\ntime.sleep(30)")])
    run_dir = path.parent / "shared-run"
    first = _start(path, "--run-dir", str(run_dir))
    try:
        _wait_for(path.parent / "started")
        second = run_kalec("run", str(path), "--run-dir", str(run_dir))
        assert second.returncode == 2
        assert "in use by another kalec run" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


@pytest.mark.parametrize("kind", ["file", "under-a-file", "proc", "step-folder-is-a-file"])
def test_an_unusable_run_folder_is_exit_2_naming_the_option(kind: str, notebook) -> None:
    path = notebook([([B + "a"], "x = 1")])
    blocker = path.parent / "blocker"
    blocker.write_text("not a folder")
    run_dir = {
        "file": blocker,
        "under-a-file": blocker / "run",
        "proc": Path("/proc/kalec-run"),
        "step-folder-is-a-file": path.parent / "run",
    }[kind]
    if kind == "step-folder-is-a-file":
        (run_dir / "a").parent.mkdir()
        (run_dir / "a").write_text("in the way")
    done = run_kalec("run", str(path), "--run-dir", str(run_dir))
    assert done.returncode == 2, done.stderr
    assert "--run-dir" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_folder_that_is_not_a_run_folder_is_never_emptied(notebook) -> None:
    path = notebook([([B + "data"], "x = 1")])
    precious = path.parent / "data" / "train.csv"
    precious.parent.mkdir()
    precious.write_text("a,b\n1,2\n")
    done = run_kalec("run", str(path), "--run-dir", str(path.parent))
    assert done.returncode == 2 and "not a kalec run folder" in done.stderr
    assert precious.read_text() == "a,b\n1,2\n"


def test_a_run_folder_reused_holds_no_value_of_the_earlier_run(notebook) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "print('RESULT', x)")])
    run_dir = path.parent / "run"
    assert run_kalec("run", str(path), "--run-dir", str(run_dir)).returncode == 0
    stale = run_dir / "b" / "old-value.json"
    stale.write_text("1")
    (run_dir / ".kalec-tmp-left-by-a-killed-step").write_text("partial")
    done = run_kalec("run", str(path), "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert not stale.exists()
    assert not list(run_dir.rglob(".kalec-tmp-*"))


def test_variables_named_like_kalecs_own_files_pass_unharmed(notebook) -> None:
    path = notebook(
        [
            ([B + "a"], "result = 41\nrun = 'r'\nprogress = [1]\nmetrics = {'m': 1}\nlock = 2"),
            ([B + "b", "prev:a"], "print('RESULT', result + 1, run, progress, metrics, lock)"),
        ]
    )
    done = run_kalec("run", str(path), "--run-dir", str(path.parent / "run"))
    assert done.returncode == 0, done.stderr
    assert result_lines(done.stdout) == ["RESULT 42 r [1] {'m': 1} 2"]


def test_names_too_long_for_a_file_system_run(notebook) -> None:
    step, variable = "s" * 300, "v" * 300
    path = notebook(
        [
            ([B + step], f"{variable} = 7"),
            ([B + "reader", f"prev:{step}"], f"print('RESULT', {variable})"),
        ]
    )
    done = run_kalec("run", str(path), "--run-dir", str(path.parent / "run"))
    assert done.returncode == 0, done.stderr
    assert result_lines(done.stdout) == ["RESULT 7"]


def test_a_full_disk_while_saving_names_the_value_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch
) -> None:
    import numpy as np

    def no_space(*args, **kwargs):  # what writing to a full disk raises
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    from kalec.runtime.marshal import numpy_format

    monkeypatch.setattr(np, "save", no_space)
    monkeypatch.setattr(numpy_format, "_save_contiguous", no_space)  # both ways of writing
    spec = {
        "step": "train",
        "source": "nb.ipynb",
        "cells": [{"cell": 4, "code": "import numpy as np\nweights = np.zeros(1_000_000)"}],
    }
    with pytest.raises(StepFailure) as failure:
        run_step(spec, {}, {}, {"weights": str(tmp_path / "weights")})
    message = str(failure.value)
    assert "no space left on device while saving weights of step 'train' (8.0 MB)" in message
    assert failure.value.phase == "save"
    assert list(tmp_path.iterdir()) == []


def test_sys_exit_in_a_cell_fails_the_step_naming_the_cell(notebook) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "import sys\nsys.exit(0)")])
    done = run_kalec("run", str(path), "--run-dir", str(path.parent / "run"))
    assert done.returncode == 1
    assert "cell 2, line 2: error: step 'b' failed: SystemExit: 0" in done.stderr


def test_partial_files_an_earlier_killed_run_left_are_removed_at_the_next_run(notebook) -> None:
    path = notebook([([B + "a"], "x = 1")])
    old = path.parent / ".kalec" / "runs" / "20260101-000000-dead"
    (old / "a").mkdir(parents=True)
    (old / "kalec.lock").write_text("")
    partial = old / "a" / ".kalec-tmp-k1l2.npy"
    partial.write_text("half a value")
    done = run_kalec("run", str(path))
    assert done.returncode == 0, done.stderr
    assert not partial.exists()


# --- what the hostile-input replay found -------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "said"),
    [("raise KeyboardInterrupt", "KeyboardInterrupt"), ("raise SystemExit(3)", "SystemExit: 3")],
)
def test_an_interrupt_or_exit_raised_in_a_cell_is_the_cell_s_error(notebook, code, said) -> None:
    path = notebook([(["imports"], "import os"), ([B + "a"], f"x = 1\n{code}")])
    done = run_kalec("run", "--local", str(path), cwd=path.parent)
    assert done.returncode == 1, done.stderr
    assert f"nb.ipynb: cell 2, line 2: error: step 'a' failed: {said}" in done.stderr
    assert "zygote" not in done.stderr and "before reporting" not in done.stderr


def test_a_full_disk_while_kalec_writes_a_step_s_file(notebook, monkeypatch) -> None:
    from kalec.runtime.protocol import StepRequest

    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "print(x)")])
    real = StepRequest.write

    def write(self, target: str) -> None:
        if self.spec.step == "b":
            raise OSError(errno.ENOSPC, "No space left on device", target)
        real(self, target)

    monkeypatch.setattr(StepRequest, "write", write)
    done = run_kalec("run", "--local", str(path), cwd=path.parent)
    assert done.returncode == 1, done.stderr
    assert "step 'b' failed: kalec cannot write" in done.stderr
    assert "no space left on device" in done.stderr and "MB free there" in done.stderr


def test_a_step_that_removes_the_run_folder_fails_by_name(notebook, tmp_path: Path) -> None:
    run_dir = tmp_path / "the-run"
    path = notebook(
        [
            ([B + "a"], "x = 1"),
            ([B + "b", "prev:a"], f"import shutil\nshutil.rmtree({str(run_dir)!r})\ny = x"),
            ([B + "c", "prev:b"], "print(y)"),
        ]
    )
    done = run_kalec("run", "--local", str(path), "--run-dir", str(run_dir), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"step 'b' failed: the run folder {run_dir} was removed while step 'b' ran" in (
        done.stderr
    )


def test_a_parameter_text_no_utf_8_can_hold_is_refused_at_check(notebook) -> None:
    path = notebook([(["pipeline-parameters"], "S = '\\ud800'"), ([B + "a"], "print(S)")])
    done = run_kalec("check", str(path))
    assert done.returncode == 2
    assert "cell 1, line 1: error K506: parameter S" in done.stderr and "surrogate" in done.stderr
