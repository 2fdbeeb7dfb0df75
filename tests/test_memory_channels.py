"""The memory at the edges of Python's file functions: what a step reads or writes through child
processes and native code is seen (by the system-call observer), or the step is not reused and
says why; a step's own products are not its inputs, while its own code's questions about a path
still are. Each rule from both sides: reused when it may be, run again when it must, and every
second run prints what a fresh run prints."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from helpers import result_lines, run_kalec
from test_memory import check_rerun, fresh, run, statuses, write

from kalec.runtime import syscalls

B = "block:"

needs_observer = pytest.mark.skipif(
    syscalls.unavailable() is not None, reason=f"{syscalls.unavailable()}"
)


def unchanged_rerun_reuses(path: Path) -> subprocess.CompletedProcess:
    first = run(path)
    assert first.returncode == 0, first.stderr
    second = run(path)
    assert second.returncode == 0, second.stderr
    assert set(statuses(path).values()) == {"cached"}, second.stdout + second.stderr
    assert result_lines(second.stdout) == result_lines(first.stdout)
    return second


# --- reads through child processes and native code ---------------------------------------------


READERS = {
    "shell-line": "rows = !cat data.csv\nprint('RESULT', rows)",
    "subprocess-computed-name": (
        "import subprocess\nname = 'da' + 'ta.csv'\n"
        "out = subprocess.run(['cat', name], capture_output=True, text=True).stdout\n"
        "print('RESULT', out.split())"
    ),
    "bash-cell": "%%bash\necho RESULT $(cat data.csv | tr '\\n' ' ')",
    "os-system": "import os\nos.system('echo RESULT; cat ' + 'data' + '.csv')",
    "python-child": (
        "import subprocess, sys\n"
        "code = \"print('RESULT', open('data' + '.csv').read().split())\"\n"
        "print(subprocess.run([sys.executable, '-c', code], capture_output=True, "
        "text=True).stdout)"
    ),
    "loky-worker": (
        "from joblib import Parallel, delayed\n"
        "rows = Parallel(n_jobs=2)(delayed(lambda n: open(n).read())('data' + '.csv') "
        "for _ in range(2))\nprint('RESULT', rows[0].split())"
    ),
    "fork-pool-worker": (
        "import multiprocessing\n"
        "with multiprocessing.get_context('fork').Pool(2) as pool:\n"
        "    rows = pool.map(open_and_read, ['data' + '.csv'])\n"
        "print('RESULT', rows[0].split())"
    ),
}


@needs_observer
@pytest.mark.parametrize("code", list(READERS.values()), ids=list(READERS))
def test_a_file_read_by_a_child_process(notebook, tmp_path: Path, code: str) -> None:
    write(tmp_path / "data.csv", "a,b\n1,2\n")
    path = notebook(
        [
            (["functions"], "def open_and_read(name):\n    return open(name).read()"),
            ([B + "load"], code),
        ]
    )
    check_rerun(path, lambda: write(tmp_path / "data.csv", "a,b\n3,4\n"), "load")


def _database(path: Path, value: int) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("create table if not exists t(x)")
        connection.execute("delete from t")
        connection.execute("insert into t values (?)", (value,))


NATIVE = {
    "sqlite": (
        "import os, sqlite3\nconnection = sqlite3.connect(os.path.join('data', 'my.db'))\n"
        "print('RESULT', connection.execute('select x from t').fetchall())\nconnection.close()"
    ),
    "arrow-dataset": (
        "import os, pyarrow.dataset as ds\nfolder = os.path.join('data', 'table')\n"
        "print('RESULT', ds.dataset(folder, format='parquet').to_table().to_pydict())"
    ),
    "numpy-fromfile": (
        "import os, numpy as np\n"
        "print('RESULT', np.fromfile(os.path.join('data', 'a.bin'), dtype=np.int64).tolist())"
    ),
}


def _native_data(folder: Path, value: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "data" / "table").mkdir(parents=True, exist_ok=True)
    _database(folder / "data" / "my.db", value)
    pq.write_table(pa.table({"x": [value]}), folder / "data" / "table" / "part.parquet")
    np.arange(value, dtype=np.int64).tofile(folder / "data" / "a.bin")


@needs_observer
@pytest.mark.parametrize("code", list(NATIVE.values()), ids=list(NATIVE))
def test_a_file_read_by_native_code(notebook, tmp_path: Path, code: str) -> None:
    _native_data(tmp_path, 2)
    path = notebook([([B + "load"], code)])
    check_rerun(path, lambda: _native_data(tmp_path, 3), "load")


# --- writes by child processes ---------------------------------------------------------------


@needs_observer
def test_a_file_a_child_process_made_is_put_back(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            ([B + "make"], "import subprocess\nsubprocess.run(['sh', '-c', 'echo 5 > made.txt'])"),
            ([B + "use", "prev:make"], "print('RESULT', open('made.txt').read().strip())"),
        ]
    )
    unchanged_rerun_reuses(path)
    (tmp_path / "made.txt").unlink()
    third = run(path)
    assert third.returncode == 0, third.stderr
    assert statuses(path) == {"make": "cached", "use": "cached"}
    assert result_lines(third.stdout) == ["RESULT 5"] == fresh(path)


@needs_observer
def test_a_file_a_child_process_changed_in_place_is_its_product(notebook, tmp_path: Path) -> None:
    """``sed -i`` reads the file and writes it again: what it read is the step's input, what it
    left is its product."""
    write(tmp_path / "log.txt", "a\n")
    path = notebook(
        [
            ([B + "edit"], "!sed -i 's/a/b/' log.txt"),
            ([B + "use", "prev:edit"], "print('RESULT', open('log.txt').read().split())"),
        ]
    )
    first = run(path)
    assert result_lines(first.stdout) == ["RESULT ['b']"]
    write(tmp_path / "log.txt", "a\n")  # as the first run found it: the edit is reused
    second = run(path)
    assert statuses(path) == {"edit": "cached", "use": "cached"}, second.stdout + second.stderr
    assert (tmp_path / "log.txt").read_text() == "b\n"
    assert result_lines(second.stdout) == ["RESULT ['b']"] == fresh(path)


# --- where the system offers no observer ------------------------------------------------------


@pytest.fixture
def no_observer(monkeypatch) -> None:
    """This machine as one without a system-call observer (macOS, an old kernel)."""
    monkeypatch.setenv("KALEC_OBSERVE_SYSCALLS", "0")
    monkeypatch.setattr(syscalls, "unavailable", syscalls.unavailable.__wrapped__)


def test_a_channel_that_cannot_be_observed_runs_again_and_says_why(
    notebook, tmp_path: Path, no_observer
) -> None:
    write(tmp_path / "data.csv", "1\n")
    path = notebook(
        [
            ([B + "shell"], "rows = !cat data.csv\nprint('RESULT', rows)"),
            ([B + "plain"], "print('RESULT plain')"),
        ]
    )
    first = run(path)
    assert first.returncode == 0, first.stderr
    second = run(path)
    assert statuses(path) == {"shell": "ran", "plain": "cached"}
    note = second.stdout + second.stderr
    assert "kalec cannot see what" in note and "cat data.csv" in note and "cell 1" in note
    assert "cache:enabled" in note
    checked = run_kalec("check", str(path), "-v", cwd=path.parent)
    assert "note K907: step 'shell' reaches files through a child process (!cat data.csv)" in (
        checked.stdout + checked.stderr
    )


def test_cache_enabled_reuses_a_step_kalec_cannot_observe(
    notebook, tmp_path: Path, no_observer
) -> None:
    write(tmp_path / "data.csv", "1\n")
    path = notebook(
        [([B + "shell", "cache:enabled"], "rows = !cat data.csv\nprint('RESULT', rows)")]
    )
    unchanged_rerun_reuses(path)


# --- a step's own products -----------------------------------------------------------------------

FIGURES = (
    "import os\nimport matplotlib.pyplot as plt\nIMAGES = os.path.join('.', 'images', 'intro')\n"
    "os.makedirs(IMAGES, exist_ok=True)\n"
    "def save_fig(name):\n    plt.tight_layout()\n"
    "    plt.savefig(os.path.join(IMAGES, name + '.png'), dpi=50)"
)


def test_folders_and_figures_a_step_makes_are_its_products(notebook, tmp_path: Path) -> None:
    """A teaching notebook's habit: the prelude makes a folder for figures, every step saves
    one there. An unchanged re-run reuses every step, and puts back what was removed."""
    path = notebook(
        [
            (["imports"], FIGURES),
            ([B + "one"], "plt.plot([1, 2])\nsave_fig('one')\nprint('RESULT one')"),
            (
                [B + "two", "prev:one"],
                "from pathlib import Path\nPath('out').mkdir(parents=True, exist_ok=True)\n"
                "open(os.path.join('out', 't.csv'), 'w').write('x')\nplt.plot([2, 1])\n"
                "save_fig('two')\nprint('RESULT two')",
            ),
        ]
    )
    unchanged_rerun_reuses(path)
    shutil.rmtree(tmp_path / "images")
    shutil.rmtree(tmp_path / "out")
    third = run(path)
    assert statuses(path) == {"one": "cached", "two": "cached"}, third.stdout + third.stderr
    assert (tmp_path / "images" / "intro" / "two.png").is_file()
    assert (tmp_path / "out" / "t.csv").read_text() == "x"


def test_a_steps_own_question_about_a_path_stays_an_input(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            (
                [B + "own"],
                "import os\nif not os.path.exists('flag.txt'):\n"
                "    open('flag.txt', 'w').write('x')\n    made = True\nelse:\n    made = False\n"
                "print('RESULT', made)",
            )
        ]
    )
    first = run(path)
    assert result_lines(first.stdout) == ["RESULT True"]
    second = run(path)  # the answer changed: the step runs again, as a fresh run would
    assert statuses(path) == {"own": "ran"}
    assert result_lines(second.stdout) == ["RESULT False"] == fresh(path)
    run(path)
    assert statuses(path) == {"own": "cached"}  # and now the answer holds


def test_a_library_write_over_a_file_the_step_never_read_is_its_product(
    notebook, tmp_path: Path
) -> None:
    write(tmp_path / "report.csv", "old\n")
    path = notebook(
        [
            (
                [B + "save"],
                "import pandas as pd\npd.DataFrame({'a': [1]}).to_csv('report.csv')\n"
                "print('RESULT saved')",
            )
        ]
    )
    unchanged_rerun_reuses(path)
    write(tmp_path / "report.csv", "someone else's\n")
    third = run(path)
    assert statuses(path) == {"save": "cached"}, third.stdout + third.stderr
    assert (tmp_path / "report.csv").read_text().startswith(",a")  # put back


def test_environment_variables_modules_set_at_import_do_not_stop_reuse(
    notebook, tmp_path: Path
) -> None:
    """scikit-learn sets KMP_DUPLICATE_LIB_OK when the fork server imports it: a step that
    reads the whole environment (a child process gets it) is kept as the runner gave it."""
    path = notebook(
        [
            (["imports"], "import sklearn"),
            ([B + "env"], "import os\nprint('RESULT', len(dict(os.environ)) > 0)"),
            ([B + "child"], "import subprocess\nsubprocess.run(['true'])\nprint('RESULT c')"),
        ]
    )
    unchanged_rerun_reuses(path)


def test_a_step_that_sets_a_variable_and_reads_it_back_is_reused(notebook) -> None:
    path = notebook(
        [
            (
                [B + "env"],
                "import os\nos.environ['MODE'] = 'fast'\nprint('RESULT', os.environ['MODE'])",
            )
        ]
    )
    unchanged_rerun_reuses(path)
