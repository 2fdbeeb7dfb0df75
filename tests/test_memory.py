"""A memory that never lies: change one thing a step reads, run again, and the result equals a
fresh run. One test per kind of thing a step can read (a file by any path, a folder, a module,
an environment variable, an upstream value, a parameter), and per way a remembered value could
go stale (damaged objects, data changing during the run, --resume/--from/--only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import make_notebook, result_lines, run_kalec

B = "block:"


def run(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_kalec("run", "--local", str(path), *extra, cwd=path.parent)


def statuses(path: Path) -> dict[str, str]:
    listed = run_kalec("runs", str(path), "--format", "json", cwd=path.parent)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)[0]["steps"]


def last_record(path: Path) -> dict:
    runs = sorted((path.parent / ".kalec" / "runs").iterdir())
    newest = max(runs, key=lambda f: json.loads((f / "kalec-status.json").read_text())["started"])
    return json.loads((newest / "kalec-status.json").read_text())


def fresh(path: Path) -> list[str]:
    done = run(path, "--no-cache")
    assert done.returncode == 0, done.stderr
    return result_lines(done.stdout)


def check_rerun(path: Path, change, step: str) -> subprocess.CompletedProcess:
    """Run, make ``change``, run again: the step ran again, and the second run printed what a
    fresh run prints now."""
    first = run(path)
    assert first.returncode == 0, first.stderr
    change()
    second = run(path)
    assert second.returncode == 0, second.stderr
    assert statuses(path)[step] == "ran", second.stdout + second.stderr
    assert result_lines(second.stdout) == fresh(path)
    return second


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- reads the code does not spell out ------------------------------------------------------


@pytest.mark.slow  # several runs, each of several processes: the second tier
@pytest.mark.parametrize(
    "code",
    [
        "import os\nfolder = 'data'\nname = 'train'\n"
        "text = open(f'{folder}{os.sep}{name}.csv').read()",
        "import os\ntext = open(os.path.join('data', 'train.csv')).read()",
        "from pathlib import Path\ntext = (Path('data') / 'train.csv').read_text()",
        "import os\nimport pandas as pd\n"
        "text = str(pd.read_csv(os.path.join('data', 'train.csv')).values)",
    ],
    ids=["f-string", "os.path.join", "pathlib", "pandas"],
)
def test_a_file_read_through_a_built_path(notebook, tmp_path: Path, code: str) -> None:
    write(tmp_path / "data" / "train.csv", "a\n1\n")
    path = notebook(
        [([B + "load"], code), ([B + "show", "prev:load"], "print('RESULT', text.split())")]
    )
    check_rerun(path, lambda: write(tmp_path / "data" / "train.csv", "a\n2\n"), "load")


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_new_file_in_a_listed_folder(notebook, tmp_path: Path) -> None:
    write(tmp_path / "data" / "a.txt", "1")
    path = notebook(
        [
            ([B + "load"], "import os\nnames = sorted(os.listdir('data'))"),
            ([B + "show", "prev:load"], "print('RESULT', names)"),
        ]
    )
    check_rerun(path, lambda: write(tmp_path / "data" / "b.txt", "2"), "load")


def test_a_file_whose_name_has_no_ending(notebook, tmp_path: Path) -> None:
    write(tmp_path / "numbers", "1 2 3")
    path = notebook(
        [([B + "load"], "print('RESULT', sum(map(int, open('numbers').read().split())))")]
    )
    check_rerun(path, lambda: write(tmp_path / "numbers", "1 2 3 4"), "load")


def test_a_list_parameter_of_paths(notebook, tmp_path: Path) -> None:
    write(tmp_path / "one", "1")
    write(tmp_path / "two", "2")
    path = notebook(
        [
            (["pipeline-parameters"], "FILES = ['one', 'two']"),
            ([B + "load"], "total = sum(int(open(f).read()) for f in FILES)"),
            ([B + "show", "prev:load"], "print('RESULT', total)"),
        ]
    )
    check_rerun(path, lambda: write(tmp_path / "two", "20"), "load")


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_path_set_in_one_step_and_read_in_the_next(notebook, tmp_path: Path) -> None:
    write(tmp_path / "data" / "train.csv", "x\n1\n")
    path = notebook(
        [
            ([B + "config"], "DATA = 'data/train.csv'"),
            ([B + "load", "prev:config"], "import pandas as pd\ndf = pd.read_csv(DATA)"),
            ([B + "show", "prev:load"], "print('RESULT', int(df.x.sum()))"),
        ]
    )
    check_rerun(path, lambda: write(tmp_path / "data" / "train.csv", "x\n5\n"), "load")


def test_a_file_read_inside_a_local_module(notebook, tmp_path: Path) -> None:
    write(tmp_path / "helpers.py", "def load():\n    return open('settings.txt').read()\n")
    write(tmp_path / "settings.txt", "fast")
    path = notebook(
        [
            (["imports"], "import helpers"),
            ([B + "load"], "mode = helpers.load()"),
            ([B + "show", "prev:load"], "print('RESULT', mode)"),
        ]
    )
    check_rerun(path, lambda: write(tmp_path / "settings.txt", "slow"), "load")


def test_a_module_found_through_sys_path(notebook, tmp_path: Path) -> None:
    write(tmp_path / "src" / "mylib.py", "SCALE = 2\n")
    path = notebook(
        [
            (
                [B + "load"],
                "import sys\nsys.path.insert(0, 'src')\nimport mylib\nvalue = mylib.SCALE",
            ),
            ([B + "show", "prev:load"], "print('RESULT', value)"),
        ]
    )
    check_rerun(path, lambda: write(tmp_path / "src" / "mylib.py", "SCALE = 3\n"), "load")


def test_a_package_installed_as_editable_whose_code_changed(
    notebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pip install -e`` of a src layout: the code and its metadata (same version) live in the
    project's own folder, found through a path entry."""
    source = tmp_path / "project" / "src"
    write(source / "tool" / "__init__.py", "FACTOR = 2\n")
    write(source / "tool-1.0.dist-info" / "METADATA", "Name: tool\nVersion: 1.0\n")
    write(source / "tool-1.0.dist-info" / "top_level.txt", "tool\n")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])
    )
    path = notebook(
        [
            ([B + "load"], "import tool\nvalue = tool.FACTOR"),
            ([B + "show", "prev:load"], "print('RESULT', value)"),
        ]
    )
    check_rerun(path, lambda: write(source / "tool" / "__init__.py", "FACTOR = 7\n"), "load")


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_an_environment_variable(notebook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_MODE", "fast")
    monkeypatch.delenv("PIPELINE_LEVEL", raising=False)
    path = notebook(
        [
            (
                [B + "load"],
                "import os\nmode = os.environ['PIPELINE_MODE'] + os.getenv('PIPELINE_LEVEL', '-')",
            ),
            ([B + "show", "prev:load"], "print('RESULT', mode)"),
        ]
    )
    check_rerun(path, lambda: monkeypatch.setenv("PIPELINE_MODE", "slow"), "load")
    check_rerun(path, lambda: monkeypatch.setenv("PIPELINE_LEVEL", "3"), "load")


def test_a_file_rewritten_with_its_old_size_and_time(notebook, tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.txt"
    write(numbers, "1 2 3")
    old = time.time() - 3600
    os.utime(numbers, (old, old))
    path = notebook([([B + "load"], "print('RESULT', open('numbers.txt').read())")])

    def rewrite() -> None:
        numbers.write_text("4 5 6")  # same size
        os.utime(numbers, (old, old))  # and the old time, as cp -p or a checkout leaves it

    check_rerun(path, rewrite, "load")


# --- what a step writes, what a step passes on -------------------------------------------------


def test_files_written_through_a_built_path_are_put_back(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            (
                [B + "write"],
                "import os\nout = 'results'\nos.makedirs(out, exist_ok=True)\n"
                "open(os.path.join(out, 'r.txt'), 'w').write('42')",
            ),
            ([B + "read", "prev:write"], "print('RESULT', open('results/r.txt').read())"),
        ]
    )
    assert run(path).returncode == 0
    shutil.rmtree(tmp_path / "results")
    again = run(path)
    assert again.returncode == 0, again.stderr
    assert statuses(path) == {"write": "cached", "read": "cached"}
    assert (tmp_path / "results" / "r.txt").read_text() == "42"
    write(tmp_path / "results" / "r.txt", "changed by hand")
    third = run(path)
    assert third.returncode == 0, third.stderr
    assert result_lines(third.stdout) == ["RESULT 42"] == fresh(path)


def test_a_step_that_starts_reading_another_value_of_a_cached_step(notebook) -> None:
    cells = [
        ([B + "make"], "x = 1\ny = 2"),
        ([B + "use", "prev:make"], "print('RESULT', x)"),
    ]
    path = notebook(cells)
    assert run(path).returncode == 0
    cells[1] = ([B + "use", "prev:make"], "print('RESULT', x, y)")
    make_notebook(path, cells)
    again = run(path)
    assert again.returncode == 0, again.stderr
    assert result_lines(again.stdout) == ["RESULT 1 2"]
    assert "the values it passes on changed" in last_record(path)["steps"][0]["note"]


# --- the store itself ---------------------------------------------------------------------------

ARRAY = [
    ([B + "make"], "import numpy as np\nx = np.arange(1000)"),
    ([B + "use", "prev:make"], "print('RESULT', int(x.sum()))"),
]


def _objects(tmp_path: Path, pattern: str) -> list[Path]:
    return list((tmp_path / ".kalec" / "cache" / "objects").glob(pattern))


@pytest.mark.slow  # several runs, each of several processes: the second tier
@pytest.mark.parametrize("damage", ["truncate", "rewrite", "delete log"])
def test_a_damaged_stored_value_is_never_served(notebook, tmp_path: Path, damage: str) -> None:
    path = notebook(ARRAY + [([B + "say", "prev:make"], "print('made it')")])
    assert run(path).returncode == 0
    (stored,) = _objects(tmp_path, "*/*.npy")
    os.chmod(stored, 0o644)
    if damage == "truncate":
        stored.write_bytes(stored.read_bytes()[:100])
    elif damage == "rewrite":
        data = bytearray(stored.read_bytes())
        data[-8:] = b"\x07" * 8
        stored.write_bytes(bytes(data))
    else:
        for log in _objects(tmp_path, "*/*"):
            if not log.suffix and log.read_bytes() == b"made it\n":
                log.unlink()
    again = run(path)
    assert again.returncode == 0, again.stderr
    step = "say" if damage == "delete log" else "make"
    assert statuses(path)[step] == "ran"
    assert result_lines(again.stdout) == ["RESULT 499500"]


def test_writing_over_a_runs_value_never_changes_the_cache(notebook, tmp_path: Path) -> None:
    path = notebook(ARRAY)
    assert run(path, "--run-dir", str(tmp_path / "first")).returncode == 0
    import numpy as np

    (value,) = (tmp_path / "first" / "make").glob("x.npy")
    os.chmod(value, 0o644)
    np.save(value, np.zeros(1000, dtype=int))  # writes through a hard link, were it one
    make_notebook(path, [ARRAY[0], ([B + "use", "prev:make"], "print('RESULT', int(x.sum()) + 0)")])
    again = run(path)
    assert again.returncode == 0, again.stderr
    assert result_lines(again.stdout) == ["RESULT 499500"]


def test_stored_values_are_read_only(notebook, tmp_path: Path) -> None:
    path = notebook(ARRAY)
    assert run(path).returncode == 0
    (stored,) = _objects(tmp_path, "*/*.npy")
    assert stored.stat().st_mode & 0o222 == 0


NATIVE_READ = (  # through the C library: no Python-level open, no stat
    "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.fopen.restype = ctypes.c_void_p\n"
    "libc.fread.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]\n"
    "libc.fclose.argtypes = [ctypes.c_void_p]\nbuffer = ctypes.create_string_buffer(64)\n"
    "handle = libc.fopen('data.txt'.encode(), b'r')\nlibc.fread(buffer, 1, 63, handle)\n"
    "libc.fclose(handle)\ntext = buffer.value.decode()"
)


@pytest.mark.slow  # several runs, each of several processes: the second tier
@pytest.mark.parametrize(
    "read", ["text = open('data.txt').read()", NATIVE_READ], ids=["python", "native"]
)
def test_data_that_changes_while_the_step_runs_is_not_stored(
    notebook, tmp_path: Path, read: str
) -> None:
    write(tmp_path / "data.txt", "old")
    path = notebook(
        [
            (
                [B + "load"],
                f"import time\n{read}\nopen('read.flag', 'w').close()\ntime.sleep(1.5)",
            ),
            ([B + "show", "prev:load"], "print('RESULT', text)"),
        ]
    )

    def change_when_read() -> None:
        deadline = time.monotonic() + 60
        while not (tmp_path / "read.flag").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        write(tmp_path / "data.txt", "new")

    changer = threading.Thread(target=change_when_read)
    changer.start()
    first = run(path)
    changer.join()
    assert first.returncode == 0, first.stderr
    assert result_lines(first.stdout) == ["RESULT old"]
    assert "data.txt changed while the step ran" in first.stderr
    second = run(path)
    assert statuses(path)["load"] == "ran"
    assert result_lines(second.stdout) == ["RESULT new"]


# --- runs that continue earlier runs --------------------------------------------------------------

FAILING = [
    (["pipeline-parameters"], "N = 2"),
    ([B + "load"], "values = [1, 2, 3]"),
    ([B + "scale", "prev:load"], "scaled = [v * N for v in values]"),
    ([B + "check", "prev:scale"], "assert N != 2, 'N must not be 2'\nprint('RESULT', sum(scaled))"),
]


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_resume_after_an_upstream_edit_runs_that_step_again(notebook) -> None:
    path = notebook(FAILING)
    assert run(path).returncode == 1
    cells = list(FAILING)
    cells[1] = ([B + "load"], "values = [10, 20, 30]")
    cells[3] = ([B + "check", "prev:scale"], "print('RESULT', sum(scaled))")
    make_notebook(path, cells)
    resumed = run(path, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(path) == {"load": "ran", "scale": "ran", "check": "ran"}
    assert result_lines(resumed.stdout) == ["RESULT 120"] == fresh(path)
    assert "its code changed" in resumed.stdout  # the summary says why


def test_resume_with_another_parameter_value(notebook) -> None:
    path = notebook(FAILING)
    assert run(path, "-p", "N=2").returncode == 1
    resumed = run(path, "--resume", "-p", "N=3")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(path)["scale"] == "ran" and statuses(path)["load"] == "cached"
    assert result_lines(resumed.stdout) == ["RESULT 18"]


def test_resume_without_the_cache_still_checks(notebook) -> None:
    path = notebook(FAILING)
    assert run(path, "--no-cache", "-p", "N=2").returncode == 1
    resumed = run(path, "--resume", "--no-cache", "-p", "N=3")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(path) == {"load": "cached", "scale": "ran", "check": "ran"}
    assert result_lines(resumed.stdout) == ["RESULT 18"]


def test_from_a_later_step_after_a_data_file_changed(notebook, tmp_path: Path) -> None:
    write(tmp_path / "values.txt", "1 2 3")
    cells = [
        ([B + "load"], "values = [int(v) for v in open('values.txt').read().split()]"),
        ([B + "total", "prev:load"], "print('RESULT', sum(values))"),
    ]
    path = notebook(cells)
    assert run(path, "--no-cache").returncode == 0
    write(tmp_path / "values.txt", "1 2 3 4")
    again = run(path, "--from", "total", "--no-cache")
    assert again.returncode == 0, again.stderr
    assert statuses(path) == {"load": "ran", "total": "ran"}
    assert result_lines(again.stdout) == ["RESULT 10"]
    assert "values.txt changed" in again.stdout


def test_only_never_shows_a_later_step_computed_from_old_values(notebook) -> None:
    cells = [
        (["pipeline-parameters"], "N = 2"),
        ([B + "load"], "values = [1, 2, 3]"),
        ([B + "scale", "prev:load"], "scaled = [v * N for v in values]"),
        ([B + "report", "prev:scale"], "print('RESULT', sum(scaled))"),
    ]
    path = notebook(cells)
    assert run(path, "--no-cache").returncode == 0
    only = run(path, "--only", "scale", "-p", "N=5", "--no-cache")
    assert only.returncode == 0, only.stderr
    assert statuses(path) == {"load": "cached", "scale": "ran", "report": "skipped"}
    assert result_lines(only.stdout) == []
    assert "input scaled changed" in only.stdout


# --- records and cleaning -----------------------------------------------------------------------


def test_runs_tells_a_killed_run_from_a_running_one(notebook, tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    path = notebook(
        [([B + "slow"], "import os, time\nwhile os.path.exists('hold'):\n    time.sleep(0.1)")]
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "kalec", "run", "--local", str(path)],
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "slow: started" in line:
            break
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = run_kalec("runs", str(path), "--format", "json", cwd=path.parent)
        if json.loads(listed.stdout) and json.loads(listed.stdout)[0]["steps"]["slow"] == "running":
            break
        time.sleep(0.05)
    assert json.loads(listed.stdout)[0]["state"] == "running"
    os.killpg(process.pid, 9)  # the runner dies without a word; its step lives on
    process.wait()
    listed = run_kalec("runs", str(path), "--format", "json", cwd=path.parent)
    hold.unlink()  # the orphaned step ends
    assert json.loads(listed.stdout)[0]["state"] == "killed"
    assert json.loads(listed.stdout)[0]["steps"]["slow"] == "stopped"
    table = run_kalec("runs", str(path), cwd=path.parent)
    assert " killed " in table.stdout


def test_clean_keeps_every_object_a_kept_entry_names(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            ([B + "write"], "open('table.csv', 'w').write('a,b\\n1,2\\n')\nx = 1"),
            ([B + "read", "prev:write"], "print('RESULT', open('table.csv').read().split(), x)"),
        ]
    )
    assert run(path).returncode == 0
    old = time.time() - 30 * 86400
    for run_folder in (tmp_path / ".kalec" / "runs").iterdir():
        os.utime(run_folder, (old, old))
    cleaned = run_kalec("clean", str(path), "--older-than", "7d", cwd=tmp_path)
    assert cleaned.returncode == 0, cleaned.stderr
    (tmp_path / "table.csv").unlink()
    again = run(path)
    assert again.returncode == 0, again.stderr
    assert statuses(path) == {"write": "cached", "read": "cached"}
    assert (tmp_path / "table.csv").read_text() == "a,b\n1,2\n"


def test_run_verbose_says_which_read_changed(notebook, tmp_path: Path) -> None:
    write(tmp_path / "data" / "train.csv", "1")
    path = notebook(
        [
            (
                [B + "load"],
                "import os\nprint('RESULT', open(os.path.join('data', 'train.csv')).read())",
            )
        ]
    )
    assert run(path).returncode == 0
    write(tmp_path / "data" / "train.csv", "2")
    again = run(path, "-v")
    assert "load: runs again: data/train.csv changed, read at run time" in again.stderr


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_reader_a_preimported_module_holds_is_observed(notebook, tmp_path: Path) -> None:
    """numpy keeps its own reference to ``open`` (taken when the fork server imported it, before
    any step ran): reads through it are seen all the same."""
    write(tmp_path / "data" / "values.txt", "1\n2\n")
    path = notebook(
        [
            (["imports"], "import os\nimport numpy as np"),
            ([B + "load"], "total = float(np.loadtxt(os.path.join('data', 'values.txt')).sum())"),
            ([B + "show", "prev:load"], "print('RESULT', total)"),
        ]
    )
    check_rerun(path, lambda: write(tmp_path / "data" / "values.txt", "1\n5\n"), "load")


def test_a_log_file_the_prelude_appends_to_does_not_stop_caching(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            (
                ["imports"],
                "import logging\nlog = logging.getLogger('nb')\nlog.setLevel(logging.INFO)\n"
                "log.addHandler(logging.FileHandler('run.log'))",
            ),
            ([B + "load"], "log.info('loading')\nx = 1"),
            ([B + "show", "prev:load"], "print('RESULT', x)"),
        ]
    )
    assert run(path).returncode == 0
    again = run(path)
    assert again.returncode == 0, again.stderr
    assert statuses(path) == {"load": "cached", "show": "cached"}


def test_a_written_file_too_large_to_copy_is_checked_in_place(
    notebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kalec.local.memory import store

    monkeypatch.setattr(store, "COPY_FILE_LIMIT", 10)
    path = notebook(
        [
            ([B + "write"], "name = 'big.txt'\nopen(name, 'w').write('0123456789' * 3)"),
            ([B + "read", "prev:write"], "print('RESULT', len(open('big.txt').read()))"),
        ]
    )
    assert run(path).returncode == 0
    assert not [p for p in _objects(tmp_path, "*/*") if p.stat().st_size == 30]
    assert run(path).returncode == 0
    assert statuses(path)["write"] == "cached"
    write(tmp_path / "big.txt", "changed")
    again = run(path, "-v")
    assert again.returncode == 0, again.stderr
    assert statuses(path)["write"] == "ran"
    assert "big.txt, which it wrote, has changed" in again.stderr
    assert result_lines(again.stdout) == ["RESULT 30"]


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_file_native_code_reads_through_a_literal_path(notebook, tmp_path: Path) -> None:
    """No Python-level open or stat to observe: the path the code names is checked."""
    write(tmp_path / "data.txt", "old")
    path = notebook(
        [([B + "load"], NATIVE_READ), ([B + "show", "prev:load"], "print('RESULT', text)")]
    )
    check_rerun(path, lambda: write(tmp_path / "data.txt", "new"), "load")


# --- compositions and searches ----------------------------------------------------------------


def _composition(tmp_path: Path) -> Path:
    from conftest import ROOT

    folder = tmp_path / "compose"
    shutil.copytree(ROOT / "examples" / "compose", folder)
    return folder / "pipeline.ipynb"


def _edit_cell(path: Path, old: str, new: str) -> None:
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = source.replace(old, new)
    path.write_text(json.dumps(notebook))


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_module_beside_a_referenced_notebook(tmp_path: Path) -> None:
    root = _composition(tmp_path)
    module = root.parent / "models" / "fitting.py"
    check_rerun(
        root,
        lambda: module.write_text(
            module.read_text().replace("return statistics.mean(ys)", "return statistics.median(ys)")
        ),
        "train/baseline",
    )


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_cell_of_a_referenced_notebook(tmp_path: Path) -> None:
    root = _composition(tmp_path)
    check_rerun(
        root,
        lambda: _edit_cell(root.parent / "prepare.ipynb", "len(xs) * 0.75", "len(xs) * 0.5"),
        "prepare/split",
    )


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_parameter_only_a_referenced_notebook_declares(tmp_path: Path) -> None:
    root = _composition(tmp_path)
    check_rerun(
        root,
        lambda: _edit_cell(root.parent / "prepare.ipynb", "N_POINTS = 200", "N_POINTS = 120"),
        "prepare/make-data",
    )


@pytest.mark.slow  # several runs, each of several processes: the second tier
def test_a_search_after_its_data_changed_loads_it_again(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("1 2 3")
    path = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["pipeline-parameters"], "K = 1"),
            ([B + "load"], "values = [int(v) for v in open('data.txt').read().split()]"),
            ([B + "fit"], "score = sum(values) * K"),
            (["pipeline-metrics"], "score"),
        ],
    )
    args = ["tune", str(path), "--param", "K=[1,2]", "--metric", "score", "--algorithm", "grid"]
    first = run_kalec(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "score = 12 with K=2" in first.stdout
    data.write_text("1 2 3 4")
    again = run_kalec(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    rows = [line.split() for line in again.stdout.split("\n\n")[0].splitlines()[1:]]
    assert rows[0][-1] == "2/0"  # the load step ran again for the new data
    assert "score = 20 with K=2" in again.stdout  # what a fresh search finds now


def test_what_the_plan_wants_decides_before_the_cache(tmp_path: Path) -> None:
    """``Memory.reuse`` takes the whole decision: a step outside the steps to run whose earlier
    values are gone is skipped under --only (said with -v), a forced step runs whatever the
    cache holds, and an untouched step misses an empty cache with no reason to give."""
    from kalec.compiler import compile_notebook
    from kalec.local.folder import file_name
    from kalec.local.memory import Memory, Wanted

    path = make_notebook(tmp_path / "nb.ipynb", [([B + "a"], "x = 1")])
    pipeline = compile_notebook(path)
    memory = Memory(pipeline, tmp_path, tmp_path / "cache")
    step = pipeline.steps[0]
    folder = tmp_path / "a"
    folder.mkdir()

    def reuse(wanted: Wanted):
        return memory.reuse(step, {}, {}, wanted, folder, file_name)

    skipped = reuse(Wanted(earlier_only=True, may_skip=True))
    assert skipped.skipped and skipped.outcome is None and skipped.key is not None
    assert skipped.note == "no earlier run kept its values"
    assert skipped.told == ["a: skipped: no earlier run kept its values; run it with --from a"]
    refreshed = reuse(Wanted(forced=True, refreshed=True))
    assert (refreshed.skipped, refreshed.outcome, refreshed.note) == (False, None, "--refresh")
    missed = reuse(Wanted())
    assert (missed.outcome, missed.note, missed.said) == (None, None, [])
