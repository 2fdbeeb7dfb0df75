"""What a local search costs: a notebook whose first step takes 5 s (loading data no parameter
touches) and whose training step reads the parameters, searched over a 16-point grid.

Target: the search takes at most 1.3 x (16 x the training step's time) + 5 s of wall time, i.e.
the first step runs once. Also reported: the ratio against 16 full runs of the notebook (one
full run measured, without the step cache, times 16).

    python bench/tune.py [--load 5] [--train 0.5]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from helpers import make_notebook  # noqa: E402


def notebook(folder: Path, load: float, train: float) -> Path:
    return make_notebook(
        folder / "search.ipynb",
        [
            (["imports"], "import time\nimport random"),
            (["pipeline-parameters"], "DEPTH = 2\nRATE = 0.1"),
            (
                ["block:load"],
                f"time.sleep({load})  # reading the data\n"
                "rows = [random.Random(0).random() for _ in range(10_000)]",
            ),
            (
                ["block:train", "prev:load"],
                f"time.sleep({train})  # fitting\n"
                "score = sum(r * RATE for r in rows[: 1000 * DEPTH]) / DEPTH",
            ),
            (["pipeline-metrics"], "score"),
        ],
    )


def kalec(*args: str, cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kalec", *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=float, default=5.0, help="seconds of the first step")
    parser.add_argument("--train", type=float, default=0.5, help="seconds of the training step")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kalec-bench-tune-") as name:
        folder = Path(name)
        path = notebook(folder, args.load, args.train)
        full, _ = kalec("run", "--local", str(path), "--no-cache", cwd=folder)
        wall, out = kalec(
            "tune", str(path), "--param", "DEPTH=int(1,4)", "--param", "RATE=[0.1,0.2,0.3,0.4]",
            "--metric", "score", "--algorithm", "grid", cwd=folder,
        )  # fmt: skip
        rows = [line.split() for line in out.split("\n\n")[0].splitlines()[1:]]
        study = next((folder / ".kalec" / "tunes").iterdir())
        steps = [
            json.loads(p.read_text()) for p in sorted(study.glob("trials/*/kalec-status.json"))
        ]
        train_seconds = [
            s["seconds"] for run in steps for s in run.get("steps", []) if s["name"] == "train"
        ]
    train = sum(train_seconds) / len(train_seconds) if train_seconds else args.train
    target = 1.3 * 16 * train + args.load
    loads = sum(1 for r in rows if re.fullmatch(r"2/0", r[-1]))
    print(f"trials: {len(rows)}, the load step ran in {loads} of them")
    print(f"training step: {train:.2f} s on average (its sleep: {args.train} s)")
    print(
        f"search: {wall:.1f} s wall; target 1.3 x 16 x {train:.2f} + {args.load:g} = {target:.1f} s"
        f" -> {'met' if wall <= target else 'MISSED'} ({wall / target:.2f} of the target)"
    )
    print(
        f"16 full runs: {16 * full:.1f} s (one measured: {full:.2f} s); the search takes "
        f"{wall / (16 * full):.2f}x of that"
    )


if __name__ == "__main__":
    main()
