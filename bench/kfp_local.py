"""Time of a 4-step notebook's pipeline run under kfp.local (SubprocessRunner, no network).

Builds the kfp-py script with kalec, then runs the pipeline in a fresh interpreter from a
neutral folder, and prints the whole run's time and the time per step (the run's own start-up,
kfp's import included, counts against the steps). Target: 1.0 s per step or less; each step
checks its requirements and runs no pip, as everything is installed here (kfp's own command
runs pip twice per step, about 1.8 s of CPU).

    python bench/kfp_local.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notebook_file import write_notebook

DRIVER = """
import importlib.util, sys
from kfp import local
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[2])
spec = importlib.util.spec_from_file_location("pipeline_script", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.pipeline()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    cells = [
        (["imports"], "import statistics"),
        (["block:load"], "values = list(range(1000))"),
        (["block:square", "prev:load"], "squares = [v * v for v in values]"),
        (["block:stats", "prev:square"], "mean = statistics.mean(squares)"),
        (["block:report", "prev:stats"], "print('RESULT mean', mean)"),
    ]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        notebook = folder / "four_steps.ipynb"
        write_notebook(notebook, cells)
        script = folder / "four_steps.py"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "kalec",
                "build",
                str(notebook),
                "--target",
                "kfp-py",
                "-o",
                str(script),
            ],
            check=True,
            capture_output=True,
        )
        times = []
        for attempt in range(args.repeat):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", DRIVER, str(script), str(folder / f"out{attempt}")],
                capture_output=True,
                text=True,
                cwd=folder,
            )
            times.append(time.perf_counter() - started)
            if done.returncode != 0 or "RESULT mean 332833.5" not in done.stdout + done.stderr:
                raise SystemExit((done.stdout + done.stderr)[-2000:])
    best = min(times)
    print(
        f"kfp.local, 4 steps: whole run {best:.2f} s, {best / 4:.2f} s per step "
        f"(target 1.0 s per step or less: {'met' if best / 4 <= 1.0 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
