"""Each local run leaves an executed notebook (and its HTML page) with what every cell showed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import SHARED_CORPUS
from helpers import result_lines, run_kalec

B = "block:"


def run_notebook_of(folder: Path, stem: str = "nb") -> nbformat.NotebookNode:
    path = folder / f"{stem}.ipynb"
    notebook = nbformat.read(str(path), as_version=4)
    nbformat.validate(notebook)
    return notebook


def test_the_run_notebook_holds_text_results_figures_and_tables(notebook, tmp_path: Path) -> None:
    path = notebook(
        [
            (["imports"], "import matplotlib.pyplot as plt\nimport pandas as pd"),
            "# Data",
            (
                [B + "data"],
                "frame = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})\nprint('rows', len(frame))",
            ),
            ([B + "data"], "frame"),
            (
                [B + "plot", "prev:data"],
                "plt.plot(frame['a'], frame['b'])\nplt.show()\nprint('after')",
            ),
            ([B + "plot"], "fig, ax = plt.subplots()\nax.bar([1], [2])"),
            (["skip"], "print('never')"),
            ([B + "show", "prev:data"], "display(frame.describe())\nprint('<script>x</script>')"),
        ]
    )
    done = run_kalec("run", "--local", str(path), "--run-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "after" in done.stdout and "UserWarning" not in done.stderr
    cells = run_notebook_of(tmp_path / "r").cells
    assert cells[0].metadata["kalec"] == {"role": "prelude"}
    assert cells[1].cell_type == "markdown"
    assert cells[2].metadata["kalec"] == {"step": "data"}
    assert cells[2].outputs == [{"output_type": "stream", "name": "stdout", "text": "rows 2\n"}]
    table = cells[3].outputs[0]
    assert table.output_type == "execute_result" and "<table" in table.data["text/html"]
    figure, text = cells[4].outputs
    assert "image/png" in figure.data and text.text == "after\n"
    assert [o.output_type for o in cells[5].outputs] == ["execute_result", "display_data"]
    assert "image/png" in cells[5].outputs[1].data  # left open at the cell's end: shown then
    assert cells[6].outputs == [] and cells[6].metadata["kalec"] == {"skipped": True}
    assert "text/html" in cells[7].outputs[0].data
    counts = [c.execution_count for c in cells if c.cell_type == "code"]
    assert counts == [1, 2, 3, 4, 5, None, 6]
    page = (tmp_path / "r" / "nb.html").read_text(encoding="utf-8")
    assert page.count("<img") == 2 and '<iframe sandbox=""' in page
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_a_failed_run_notebook_shows_the_error_in_its_cell(notebook, tmp_path: Path) -> None:
    path = notebook([([B + "a"], "print('before')\n1 / 0")])
    done = run_kalec("run", "--local", str(path), "--run-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 1
    outputs = run_notebook_of(tmp_path / "r").cells[0].outputs
    assert outputs[0].text == "before\n"
    assert outputs[1].output_type == "error" and outputs[1].ename == "ZeroDivisionError"


corpus = sorted(SHARED_CORPUS.glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []


@pytest.mark.shared_corpus
@pytest.mark.parametrize("path", corpus, ids=[p.stem for p in corpus])
def test_corpus_run_notebooks_carry_every_cells_output(path: Path, tmp_path: Path) -> None:
    expected = result_lines(path.with_suffix(".expected").read_text(encoding="utf-8"))
    done = run_kalec(
        "run", "--local", str(path), "--run-dir", str(tmp_path / "r"), "--no-cache", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    notebook = run_notebook_of(tmp_path / "r", path.stem)
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    assert result_lines("\n".join(texts)) == expected
