"""`kalec run --local` against the same notebook run top to bottom in a Jupyter kernel.

For each notebook of `bench/notebooks/` (six analyses tagged by section), in one run, side by side:
- kernel: nbclient executes the notebook in a fresh `python3` kernel, start and shutdown included
  (what a user waits for with "Restart and run all");
- kalec: the whole `kalec run --local` command, steps forked from one process that imported the
  prelude's modules once (the default);
- fresh: the same with `--no-fork`, every step a new interpreter that imports its own modules.

Each run's `RESULT` line must equal the kernel's, or the row says so. Targets: kalec at most 1.0x
the kernel in sum and at most 1.3x on any notebook.

    python bench/run_vs_kernel.py [--repeat 1] [--jobs 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).parent / "notebooks"
# the command a user types: the installed script (``python -m`` would add runpy's imports)
_SCRIPT = Path(sys.executable).with_name("kalec")
KALEC = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "kalec"]
NEEDS = {"wages_ols.ipynb": "statsmodels", "digits_pca_svm.ipynb": "matplotlib"}


def kernel_run(path: Path) -> tuple[float, list[str]]:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
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
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for source in sorted(NOTEBOOKS.glob("*.ipynb")):
            need = NEEDS.get(source.name)
            if need and importlib.util.find_spec(need) is None:
                print(f"{source.name}: skipped, {need} is not installed here")
                continue
            path = Path(folder) / source.name
            shutil.copy(source, path)
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
            rows.append((source.name, best, same))
    print(
        f"\n{'notebook':<26} {'kernel s':>9} {'kalec s':>8} {'ratio':>6} {'fresh s':>8} {'ratio':>6}  results"
    )
    totals = {"kernel": 0.0, "kalec": 0.0, "fresh": 0.0}
    for name, best, same in rows:
        for label in totals:
            totals[label] += best[label]
        print(
            f"{name:<26} {best['kernel']:9.2f} {best['kalec']:8.2f} "
            f"{best['kalec'] / best['kernel']:6.2f} {best['fresh']:8.2f} "
            f"{best['fresh'] / best['kernel']:6.2f}  {'equal' if same else 'DIFFERENT'}"
        )
    if rows:
        print(
            f"{'sum':<26} {totals['kernel']:9.2f} {totals['kalec']:8.2f} "
            f"{totals['kalec'] / totals['kernel']:6.2f} {totals['fresh']:8.2f} "
            f"{totals['fresh'] / totals['kernel']:6.2f}"
        )
        worst = max(best["kalec"] / best["kernel"] for _, best, _ in rows)
        print(
            f"target: sum at most 1.0x ({totals['kalec'] / totals['kernel']:.2f}x), "
            f"each at most 1.3x (worst {worst:.2f}x)"
        )


if __name__ == "__main__":
    main()
