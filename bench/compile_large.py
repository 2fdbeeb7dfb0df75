"""How compiling grows with the notebook: time and memory of the whole command, up to 10,000 steps.

Notebooks of a chain of N steps (one cell each, every step reading the previous step's values,
defining a function and calling it; an imports cell and a parameters cell), for N from an eighth
of `--steps` to `--steps`, each doubling the last. For each: the whole `kalec emit --target T`
command's seconds and peak memory (the child's maximum resident set). Linear growth shows as
2.0x per doubling, for time and for memory above the interpreter's fixed share.

    python bench/compile_large.py [--steps 10000] [--target kfp-py]
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
    """(seconds, peak MB, bytes written) of `kalec emit` on the notebook."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "kalec", "emit", str(path), "--target", target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out = process.stdout.read()  # kalec writes its few lines of stderr only at the end
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not all children's
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"kalec emit failed on {path.name}:\n{err.decode()[-2000:]}")
    peak = usage.ru_maxrss / 1024
    return seconds, peak, len(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--target", default="kfp-py", choices=["ir", "kfp-py", "argo"])
    args = parser.parse_args()
    sizes = [max(1, args.steps // 8), max(1, args.steps // 4), max(1, args.steps // 2), args.steps]
    print(f"kalec emit --target {args.target}, a chain of N one-cell steps")
    print(
        f"{'steps':>7} {'seconds':>8} {'x time':>7} {'peak MB':>8} {'x memory':>9} {'output MB':>10}"
    )
    previous = None
    with tempfile.TemporaryDirectory() as folder:
        for steps in sizes:
            path = Path(folder) / f"chain_{steps}.ipynb"
            generate(path, steps, steps)
            seconds, peak, written = measure(path, args.target)
            growth = (
                f"{seconds / previous[0]:6.2f}x {peak / previous[1]:8.2f}x"
                if previous
                else f"{'':>7} {'':>9}"
            )
            print(f"{steps:>7} {seconds:8.1f} {growth} {peak:8.0f} {written / 1e6:10.1f}")
            previous = (seconds, peak)
    print("linear growth: 2.0x per doubling of the steps")


if __name__ == "__main__":
    main()
