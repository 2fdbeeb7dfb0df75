"""`kalec run --local` against the same notebook run top to bottom in a Jupyter kernel.

For each notebook of the real corpus (`bench/corpus/`: textbook chapters, library documentation
and Kale's examples, tagged by section with `bench/corpus/tag.py`), and with `--generated` the six
generated analyses of `bench/notebooks/`, in one run, side by side:
- kernel: nbclient executes the notebook in a fresh `python3` kernel, start and shutdown included
  (what a user waits for with "Restart and run all");
- kalec: the whole `kalec run --local` command, steps forked from one process that imported the
  prelude's modules once (the default);
- fresh: the same with `--no-fork`, every step a new interpreter that imports its own modules.

A generated notebook's `RESULT` lines must equal the kernel's, or the row says so (the real
notebooks print what they print; `kalec verify` compares them). Targets: kalec at most 0.9x the
kernel in sum, and at most 1.2x on every notebook of the real corpus.

    python bench/run_vs_kernel.py [--repeat 1] [--jobs 2] [--generated] [--only NAME]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
sys.path.insert(0, str(HERE / "corpus"))
import tag  # noqa: E402 - the corpus's tagger, beside it

# the command a user types: the installed script (``python -m`` would add runpy's imports)
_SCRIPT = Path(sys.executable).with_name("kalec")
KALEC = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "kalec"]
NEEDS = {"wages_ols.ipynb": "statsmodels", "digits_pca_svm.ipynb": "matplotlib"}


def kernel_run(path: Path) -> tuple[float, list[str]]:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells if "skip" not in c.metadata.get("tags", [])]
    started = time.perf_counter()
    NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - started
    lines = [
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream"
        for line in output.get("text", "").splitlines()
        if line.startswith("RESULT")
    ]
    return seconds, lines


def kalec_run(path: Path, jobs: int, *extra: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        [*KALEC, "run", "--local", str(path), "--no-cache", "--jobs", str(jobs), *extra],
        capture_output=True,
        text=True,
        cwd=path.parent,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kalec run failed on {path.name}:\n{done.stderr[-2000:]}")
    lines = [line.split("] ", 1)[1] for line in done.stdout.splitlines() if "] RESULT" in line]
    return seconds, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is kept")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--generated", action="store_true", help="add bench/notebooks")
    parser.add_argument("--only", default="", help="the notebooks whose name holds this")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        notebooks = tag.prepare(folder / "real")
        if args.generated:
            (folder / "generated").mkdir()
            for source in sorted(NOTEBOOKS.glob("*.ipynb")):
                need = NEEDS.get(source.name)
                if need and importlib.util.find_spec(need) is None:
                    print(f"{source.name}: skipped, {need} is not installed here")
                    continue
                notebooks.append(Path(shutil.copy(source, folder / "generated")))
        for path in (n for n in notebooks if args.only in n.name):
            kernel_run(path)  # first run: bytecode compiled, caches warm, for every contender
            best: dict[str, float] = {}
            results: dict[str, list[str]] = {}
            for _ in range(args.repeat):
                for label, run, extra in (
                    ("kernel", kernel_run, ()),
                    ("kalec", kalec_run, (args.jobs,)),
                    ("fresh", kalec_run, (args.jobs, "--no-fork")),
                ):
                    seconds, lines = run(path, *extra)
                    best[label] = min(best.get(label, seconds), seconds)
                    results[label] = lines
            same = results["kalec"] == results["kernel"] == results["fresh"]
            real = path.parent.name == "real"
            rows.append((path.stem, best, "-" if real and not results["kernel"] else same, real))
    print(f"\nthis machine: {os.cpu_count()} cores, --jobs {args.jobs}")
    print(
        f"{'notebook':<44} {'kernel s':>9} {'kalec s':>8} {'ratio':>6} {'fresh s':>8} "
        f"{'ratio':>6}  results"
    )
    totals = {"kernel": 0.0, "kalec": 0.0, "fresh": 0.0}
    for name, best, same, _ in rows:
        for label in totals:
            totals[label] += best[label]
        shown = same if same == "-" else "equal" if same else "DIFFERENT"
        print(
            f"{name[:44]:<44} {best['kernel']:9.2f} {best['kalec']:8.2f} "
            f"{best['kalec'] / best['kernel']:6.2f} {best['fresh']:8.2f} "
            f"{best['fresh'] / best['kernel']:6.2f}  {shown}"
        )
    if rows:
        print(
            f"{'sum':<44} {totals['kernel']:9.2f} {totals['kalec']:8.2f} "
            f"{totals['kalec'] / totals['kernel']:6.2f} {totals['fresh']:8.2f} "
            f"{totals['fresh'] / totals['kernel']:6.2f}"
        )
        real = [best["kalec"] / best["kernel"] for _, best, _, is_real in rows if is_real]
        print(
            f"target: sum at most 0.9x ({totals['kalec'] / totals['kernel']:.2f}x), each real "
            f"notebook at most 1.2x (worst {max(real, default=0):.2f}x)"
        )


if __name__ == "__main__":
    main()
