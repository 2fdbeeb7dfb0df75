"""Overhead of the local runner per step, and a diamond whose branches each sleep 1 s.

1. A chain of 10 steps of trivial cells, each reading the previous step's value: the whole
   `kalec run --local` command's time, minus the time of compiling the same notebook
   (`kalec emit --target ir`), divided by 10. Target: under 0.3 s per step.
2. A diamond (root -> two branches sleeping 1 s each -> join), whole command with --jobs 2.
   Target: under 1.7 s, which needs the branches to run at the same time.

    python bench/local_overhead.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notebook_file import write_notebook


def timed(*args: str, cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kalec", *args], capture_output=True, cwd=cwd)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr.decode()[-800:])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        chain = write_notebook(
            folder / "chain.ipynb",
            [(["block:s0"], "v = 0")]
            + [([f"block:s{i}", f"prev:s{i - 1}"], "v = v + 1") for i in range(1, 10)],
        )
        diamond = write_notebook(
            folder / "diamond.ipynb",
            [
                (["imports"], "import time"),
                (["block:root"], "x = 1"),
                (["block:left", "prev:root"], "time.sleep(1)\nl = x + 1"),
                (["block:right", "prev:root"], "time.sleep(1)\nr = x + 2"),
                (["block:join", "prev:left;right"], "print(l + r)"),
            ],
        )
        compile_only = min(
            timed("emit", str(chain), "--target", "ir", cwd=folder) for _ in range(args.repeat)
        )
        run_chain = min(
            timed("run", "--local", str(chain), "--run-dir", str(folder / "r1"), cwd=folder)
            for _ in range(args.repeat)
        )
        run_diamond = min(
            timed(
                "run",
                "--local",
                str(diamond),
                "--jobs",
                "2",
                "--run-dir",
                str(folder / "r2"),
                cwd=folder,
            )
            for _ in range(args.repeat)
        )
    per_step = (run_chain - compile_only) / 10
    print(
        f"10-step chain: whole run {run_chain:.3f} s, compile alone {compile_only:.3f} s, "
        f"overhead per step {per_step:.3f} s (target < 0.3 s: "
        f"{'met' if per_step < 0.3 else 'NOT met'})"
    )
    print(
        f"diamond with two 1 s branches: {run_diamond:.3f} s "
        f"(target < 1.7 s: {'met' if run_diamond < 1.7 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
