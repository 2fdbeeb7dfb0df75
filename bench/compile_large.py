"""Compile time and memory of a large notebook: 2,000 cells in 400 steps.

Prints the in-process compile time (frontend and passes, after imports), the whole command's
time (`kalec emit --target ir`, a fresh interpreter), the peak memory of the in-process compile,
and the same figures for a notebook of half the size, so that the growth with the number of
cells shows. Target: the 2,000-cell notebook compiles in under 2 s in-process, cost linear in cells.

    python bench/compile_large.py [--cells 2000] [--steps 400]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def generate(path: Path, cells: int, steps: int) -> None:
    """A notebook of `steps` steps, each reading the previous step's values and adding its own."""
    per_step = max(1, cells // steps)
    out = [
        {
            "cell_type": "code",
            "metadata": {"tags": ["imports"]},
            "source": "import math\nimport json",
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {"tags": ["pipeline-parameters"]},
            "source": "SCALE = 2\nNAME = 'bench'",
            "outputs": [],
            "execution_count": None,
        },
    ]
    for s in range(steps):
        for c in range(per_step):
            tags = [f"block:step-{s}"] + ([f"prev:step-{s - 1}"] if s and c == 0 else [])
            lines = [f"v{s}_{c} = {c} * SCALE"]
            if s:
                lines.append(
                    f"acc{s} = acc{s - 1} + [v{s}_{c}]" if c == 0 else f"acc{s}.append(v{s}_{c})"
                )
                lines.append(f"total_{s}_{c} = sum(acc{s}) + math.sqrt(v{s - 1}_0 + 1)")
            else:
                lines.append(f"acc{s} = [v{s}_{c}]")
            lines.append(f"def helper_{s}_{c}(x):\n    return x * SCALE + len(acc{s})")
            lines.append(f"rows_{s}_{c} = [helper_{s}_{c}(i) for i in range(3)]")
            out.append(
                {
                    "cell_type": "code",
                    "metadata": {"tags": tags},
                    "source": "\n".join(lines),
                    "outputs": [],
                    "execution_count": None,
                }
            )
    notebook = {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(notebook))


def measure(cells: int, steps: int, folder: Path) -> dict[str, float]:
    from kalec.compiler import compile_notebook

    path = folder / f"bench_{cells}.ipynb"
    generate(path, cells, steps)
    compile_notebook(path)  # warm the caches a user's second compile would have
    times = []
    for _ in range(3):
        started = time.perf_counter()
        pipeline = compile_notebook(path)
        times.append(time.perf_counter() - started)
    assert not pipeline.has_errors, [d.message for d in pipeline.diagnostics][:3]
    assert len(pipeline.steps) == steps
    tracemalloc.start()
    compile_notebook(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kalec", "emit", str(path), "--target", "ir"], capture_output=True
    )
    command = time.perf_counter() - started
    assert done.returncode == 0, done.stderr.decode()[-500:]
    return {"in_process": min(times), "command": command, "peak_mb": peak / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        half = measure(args.cells // 2, args.steps // 2, Path(folder))
        full = measure(args.cells, args.steps, Path(folder))
    for label, cells, figures in (("half", args.cells // 2, half), ("full", args.cells, full)):
        print(
            f"{label}: {cells} cells: compile in-process {figures['in_process']:.3f} s, "
            f"whole command {figures['command']:.3f} s, peak memory {figures['peak_mb']:.1f} MB"
        )
    ratio = full["in_process"] / half["in_process"]
    print(f"growth: 2x the cells took {ratio:.2f}x the time (linear = 2.0)")
    print(f"target: in-process under 2 s: {'met' if full['in_process'] < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
