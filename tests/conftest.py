"""Shared fixtures: a folder per test for notebooks, and the public corpus when it is present."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import Cell, make_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_CORPUS = ROOT.parent / "shared" / "notebooks"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``shared_corpus`` measure kalec against the shared yardstick in
    ``../shared/notebooks``, which is not part of the project: without it they are left out of
    the run (not skipped), and the summary says so, so a fresh clone's green means what it says."""
    if SHARED_CORPUS.is_dir():
        return
    left_out = [item for item in items if item.get_closest_marker("shared_corpus")]
    if left_out:
        items[:] = [item for item in items if not item.get_closest_marker("shared_corpus")]
        config.hook.pytest_deselected(items=left_out)
        config.stash[_LEFT_OUT] = len(left_out)


_LEFT_OUT = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    count = config.stash.get(_LEFT_OUT, 0)
    if count:
        terminalreporter.write_line(
            f"{count} test(s) of the shared corpus left out: {SHARED_CORPUS} is not beside the "
            "checkout (.ci/run runs them where it is)"
        )


@pytest.fixture
def notebook(tmp_path: Path):
    """notebook(cells, name=..., metadata=...) -> path of a new notebook in the test's folder."""

    def build(
        cells: list[Cell | str], name: str = "nb.ipynb", metadata: dict | None = None
    ) -> Path:
        return make_notebook(tmp_path / name, cells, metadata)

    return build


@pytest.fixture
def service_context(tmp_path: Path):
    """A server's context of its own (runs in the test's folder, kfp compiled in this
    process), closed after the test."""
    from kalec.serve.context import ServiceContext

    context = ServiceContext.in_folder(tmp_path / "server", kfp_workers=0)
    yield context
    context.close()


@pytest.fixture
def ask(service_context):
    """ask(endpoint_name, body, run_id=None) -> the answer, as an adapter would give it: the
    body read into the endpoint's request record, then the endpoint's handler called."""
    from kalec.serve.endpoints import ENDPOINTS, Call
    from kalec.serve.requests import read_request

    def answer(name: str, body: dict | None = None, run_id: str | None = None):
        endpoint = next(e for e in ENDPOINTS if e.name == name)
        request = read_request(endpoint.request, body) if endpoint.body else endpoint.request()
        return endpoint.handle(Call(service_context, request, run_id))

    return answer
