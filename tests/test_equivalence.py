"""The rule of correctness: a pipeline run prints what the notebook's top-to-bottom run prints.

Each notebook of tests/cases.py (and of the shared corpus, where it is checked out beside the
project) is run in a real Jupyter kernel with nbclient and with ``kalec run --local``; the
``RESULT`` lines must be the same. The refused notebooks must fail to compile with exit 2, a
message naming the problem, and no traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cases import BAD, BAD_CODES, GOOD
from conftest import SHARED_CORPUS
from helpers import kalec_results, kernel_results, result_lines, run_kalec


@pytest.mark.parametrize("name", sorted(GOOD))
def test_pipeline_prints_what_the_notebook_prints(name: str, notebook) -> None:
    path = notebook(GOOD[name], name=f"{name}.ipynb")
    expected = kernel_results(path)
    assert expected, "the case must print RESULT lines to compare"
    code, got, stderr = kalec_results(path)
    assert code == 0, stderr
    assert got == expected


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GOOD))
def test_fresh_step_processes_print_what_the_notebook_prints(name: str, notebook) -> None:
    """The other way steps start (``--no-fork``, and where forking is unsafe) gives the
    notebook's results as well."""
    path = notebook(GOOD[name], name=f"{name}.ipynb")
    code, got, stderr = kalec_results(path, "--no-fork")
    assert code == 0, stderr
    assert got == kernel_results(path)


@pytest.mark.parametrize("name", sorted(BAD))
def test_impossible_notebooks_are_refused_at_compile_time(
    name: str, notebook, tmp_path: Path
) -> None:
    cells, words = BAD[name]
    path = notebook(cells, name=f"{name}.ipynb")
    done = run_kalec("build", str(path), "--target", "ir", "-o", str(tmp_path / "out.json"))
    text = done.stdout + done.stderr
    assert done.returncode == 2, text
    assert "Traceback" not in text
    assert f"error {BAD_CODES[name]}:" in text
    for word in words:
        assert word in text
    assert f"{name}.ipynb: cell " in text  # points at a cell
    assert not (tmp_path / "out.json").exists()


corpus = sorted(SHARED_CORPUS.glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []
bad_corpus = sorted((SHARED_CORPUS / "bad").glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []


@pytest.mark.shared_corpus
@pytest.mark.parametrize("path", corpus, ids=[p.stem for p in corpus])
def test_shared_corpus_runs_as_recorded(path: Path, tmp_path: Path) -> None:
    expected = result_lines(path.with_suffix(".expected").read_text(encoding="utf-8"))
    done = run_kalec(
        "run", "--local", str(path), "--run-dir", str(tmp_path / "run"), "--no-cache", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert result_lines(done.stdout + "\n" + done.stderr) == expected


@pytest.mark.shared_corpus
@pytest.mark.parametrize("path", bad_corpus, ids=[p.stem for p in bad_corpus])
def test_shared_bad_corpus_is_refused(path: Path, tmp_path: Path) -> None:
    done = run_kalec("build", str(path), "--target", "ir", "-o", str(tmp_path / "o.json"))
    assert done.returncode == 2
    assert re.search(r"error K\d{3}:", done.stderr) and "Traceback" not in done.stderr
