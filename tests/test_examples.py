"""The project's own example notebooks run as pipelines exactly as they run in a kernel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import kalec_results, kernel_results

EXAMPLES = sorted((ROOT / "examples").glob("*.ipynb"))


@pytest.mark.parametrize("source", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_as_in_a_kernel(source: Path, tmp_path: Path) -> None:
    path = Path(shutil.copy(source, tmp_path / source.name))
    expected = kernel_results(path)
    assert expected
    code, got, stderr = kalec_results(path)
    assert code == 0, stderr
    assert got == expected


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 2
