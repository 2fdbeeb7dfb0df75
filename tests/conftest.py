"""Shared fixtures: a folder per test for notebooks, and the public corpus when it is present."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import Cell, make_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_CORPUS = ROOT.parent / "shared" / "notebooks"


@pytest.fixture
def notebook(tmp_path: Path):
    """notebook(cells, name=..., metadata=...) -> path of a new notebook in the test's folder."""

    def build(
        cells: list[Cell | str], name: str = "nb.ipynb", metadata: dict | None = None
    ) -> Path:
        return make_notebook(tmp_path / name, cells, metadata)

    return build
