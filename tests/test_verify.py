"""`kalec verify`: the notebook in a real kernel against the pipeline, value by value."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SHARED_CORPUS
from helpers import run_kalec

from kalec.verify import compare

B = "block:"


def test_verify_passes_on_an_example(tmp_path: Path) -> None:
    path = tmp_path / "quickstart.ipynb"
    path.write_bytes((ROOT / "examples" / "quickstart.ipynb").read_bytes())
    done = run_kalec("verify", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[rows.index(next(r for r in rows if r[:1] == ["slope"]))][:4] == [
        "slope",
        "fit",
        "evaluate",
        "equal",
    ]
    assert "equal: 8 passed values and 2 metrics match" in done.stdout


def test_verify_names_the_variable_and_step_where_a_difference_first_appears(notebook) -> None:
    # tweak changes settings through an alias, which no reading of the code can see: in the
    # notebook, use sees the change; in the pipeline, use gets settings as setup left it
    path = notebook(
        [
            ([B + "setup"], "settings = {'scale': 1}\nalias = settings"),
            ([B + "tweak", "prev:setup"], "alias['scale'] = 10"),
            ([B + "use", "prev:setup"], "result = settings['scale'] * 2"),
            ([B + "report", "prev:use"], "print(result)"),
        ]
    )
    done = run_kalec("verify", str(path), cwd=path.parent)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "first difference: settings, as step 'use' receives it (cell 3): "
        "['scale']: 1 in the pipeline, 10 in the notebook" in done.stdout
    )
    assert "it was equal when step 'setup' ended" in done.stdout and "(cell 2)" in done.stdout
    assert "not equal: 2 of 3 passed values differ" in done.stdout


def test_verify_reports_a_notebook_that_fails_in_the_kernel(notebook) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "y = x / 0")])
    done = run_kalec("verify", str(path), cwd=path.parent)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "not equal: the pipeline failed" in done.stdout


def test_values_compare_by_content_within_the_tolerance() -> None:
    import numpy as np
    import pandas as pd

    assert compare(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]), 1e-7, 0) is None
    found = compare(np.array([1.0, 2.0]), np.array([1.0, 2.5]), 1e-7, 0)
    assert found is not None and "first at (1,)" in found
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    assert compare(frame, frame + 1e-12, 1e-7, 0) is None
    assert compare(frame, frame + 1, 1e-7, 0) is not None
    assert compare({"b": 1, "a": {2, 3}}, {"a": {3, 2}, "b": 1}, 0, 0) is None
    assert compare([1, 2.0], [1, 2.1], 0.1, 0) is None
    assert "item 1" in (compare([1, 2.0], [1, 2.1], 1e-7, 0) or "")


corpus = sorted(SHARED_CORPUS.glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []


@pytest.mark.slow
@pytest.mark.skipif(not corpus, reason="the shared corpus is not checked out beside the project")
@pytest.mark.parametrize("path", corpus, ids=[p.stem for p in corpus])
def test_verify_passes_on_the_corpus(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    done = run_kalec("verify", str(copy), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "equal:" in done.stdout


def test_an_unknown_kernel_is_a_clear_refusal(notebook) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "print(x)")])
    done = run_kalec("verify", str(path), "--kernel", "no-such-kernel", cwd=path.parent)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot run the notebook in the kernel 'no-such-kernel'" in done.stderr
