"""How compiling grows with the notebook: time and memory of the whole command, up to 50,000 cells.

Notebooks of a chain of N steps of `--cells` cells each (5: every cell binding values, the first
of a step reading the previous step's, each defining a function and calling it; an imports cell
and a parameters cell), for N = 1,000, 2,000, 4,000 and 10,000 (`--steps` sets the largest; the
others keep their ratio to it). For each: the whole `kalec build NB --target T` command's
seconds and peak memory (the child's maximum resident set), and both as a multiple of the
smallest notebook's. Linear growth shows as 10x at ten times the steps. Targets: at most 10x of
1,000 steps in time and memory at 10,000, and at most 1 GB for the 50,000 cells.

    python bench/compile_large.py [--steps 10000] [--cells 5] [--target ir]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# the command a user types: the installed script (``python -m`` would add runpy's imports)
_SCRIPT = Path(sys.executable).with_name("kalec")
KALEC = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "kalec"]


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


def measure(path: Path, target: str) -> tuple[float, float, int]:
    """(seconds, peak MB, bytes written) of `kalec build` on the notebook."""
    output = path.with_suffix(".out")
    started = time.perf_counter()
    process = subprocess.Popen(
        [*KALEC, "build", str(path), "--target", target, "-o", str(output), "--force"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not all children's
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"kalec build failed on {path.name}:\n{(out + err).decode()[-2000:]}")
    written = output.stat().st_size
    output.unlink()
    return seconds, usage.ru_maxrss / 1024, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000, help="steps of the largest notebook")
    parser.add_argument("--cells", type=int, default=5, help="cells of each step")
    parser.add_argument("--target", default="ir", choices=["ir", "kfp-py", "argo"])
    args = parser.parse_args()
    sizes = [max(1, args.steps * n // 10) for n in (1, 2, 4, 10)]
    print(f"kalec build --target {args.target}, a chain of N steps of {args.cells} cells")
    print(
        f"{'steps':>7} {'cells':>7} {'notebook MB':>12} {'seconds':>8} {'x time':>7} "
        f"{'peak MB':>8} {'x memory':>9} {'output MB':>10}"
    )
    first = None
    with tempfile.TemporaryDirectory() as folder:
        for steps in sizes:
            path = Path(folder) / f"chain_{steps}.ipynb"
            generate(path, steps * args.cells, steps)
            seconds, peak, written = measure(path, args.target)
            first = first or (seconds, peak)
            print(
                f"{steps:>7} {steps * args.cells:>7} {path.stat().st_size / 1e6:12.1f} "
                f"{seconds:8.1f} {seconds / first[0]:6.2f}x {peak:8.0f} {peak / first[1]:8.2f}x "
                f"{written / 1e6:10.1f}"
            )
            path.unlink()


if __name__ == "__main__":
    main()
