"""Compile time of kalec against Kale 2.3.0 (PyPI `kubeflow-kale`), whole commands, one run.

Two notebooks in the tag language both tools read (`step:`, `prev:`) (a chain of 4 and of 40
steps, with imports, parameters and a metric), each compiled by:
- `kalec build NB --target kfp-py` (the KFP script),
- `kalec build NB --target yaml` (the script compiled by kfp's compiler),
- `kale --nb NB`, which always writes both the script and the compiled YAML.

Kale runs from its own venv (its dependencies pin versions kalec's do not): give its `kale`
executable with `--kale`, or set KALE; without one the Kale column says how to get it. Each
figure is the best of `--repeat` rounds after a first one (bytecode compiled, caches warm, for
both tools: kalec's caches include the readings of the notebook's code, kept from the round
before); in each round the three commands take turns. Target: kalec's kfp-py 40x faster than
Kale, at 4 steps and at 40.

    python -m venv /tmp/kale-venv && /tmp/kale-venv/bin/pip install kubeflow-kale==2.3.0
    python bench/compile_vs_kale.py --kale /tmp/kale-venv/bin/kale
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notebook_file import write_notebook


def notebook(path: Path, steps: int) -> Path:
    cells = [
        (["imports"], "import math\nimport statistics"),
        (["pipeline-parameters"], "SCALE = 3\nOFFSET = 1.5"),
        (["step:step0"], "values = [i * SCALE for i in range(100)]"),
    ]
    for n in range(1, steps):
        cells.append(
            (
                [f"step:step{n}", f"prev:step{n - 1}"],
                f"values = [math.sqrt(v + OFFSET) + {n} for v in values]",
            )
        )
    cells.append((["step:score", f"prev:step{steps - 1}"], "score = statistics.mean(values)"))
    cells.append((["pipeline-metrics"], "print(score)"))
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "kubeflow_notebook": {
            "pipeline_name": f"chain-{steps}",
            "experiment_name": "bench",
            "pipeline_description": "compile benchmark",
            "base_image": "python:3.11",
        },
    }
    return write_notebook(path, cells, metadata)


def best_of(commands: list[list[str]], cwd: Path, repeat: int) -> list[float]:
    """The best time of each command over ``repeat`` rounds after a first one. The commands
    take turns within each round, so that a slower spell of a shared machine slows all of
    them alike rather than the one that happened to run then."""
    # bytecode is written, as a normal install has it (an editable install of kalec would
    # otherwise compile its own sources on every run where PYTHONDONTWRITEBYTECODE is set)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: list[list[float]] = [[] for _ in commands]
    for attempt in range(repeat + 1):
        for command, taken in zip(commands, times, strict=True):
            started = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                output = (done.stdout + done.stderr)[-2000:]
                raise SystemExit(f"{' '.join(command)} failed:\n{output}")
            if attempt:  # the first run warms caches for every contender alike
                taken.append(elapsed)
    return [min(taken) for taken in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kale", default=os.environ.get("KALE"), help="Kale's executable")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    kale = args.kale or shutil.which("kale")
    # the command a user types: the installed script (``python -m`` would add runpy's imports)
    script_path = Path(sys.executable).with_name("kalec")
    kalec = [str(script_path)] if script_path.is_file() else [sys.executable, "-m", "kalec"]
    kalec.append("build")
    print(
        f"{'notebook':<10} {'kalec kfp-py':>13} {'kalec yaml':>11} {'Kale':>7} "
        f"{'ratio kfp-py':>13} {'ratio yaml':>11}"
    )
    with tempfile.TemporaryDirectory() as name:
        for steps in (4, 40):
            folder = Path(name) / f"chain{steps}"
            folder.mkdir()
            path = notebook(folder / f"chain{steps}.ipynb", steps)
            commands = [
                [*kalec, str(path), "--target", "kfp-py", "--force"],
                [*kalec, str(path), "--target", "yaml", "--force"],
            ]
            if kale:
                commands.append([kale, "--nb", str(path)])
            script, compiled, *kale_times = best_of(commands, folder, args.repeat)
            if kale_times:
                kale_time = kale_times[0]
                ratios = f"{kale_time / script:12.1f}x {kale_time / compiled:10.1f}x"
                kale_text = f"{kale_time * 1000:5.0f}ms"
            else:
                ratios, kale_text = f"{'-':>13} {'-':>11}", f"{'-':>7}"
            print(
                f"{steps:>3} steps  {script * 1000:11.0f}ms {compiled * 1000:9.0f}ms {kale_text} "
                f"{ratios}"
            )
    if not kale:
        print(
            "Kale is not installed here: make a venv with `pip install kubeflow-kale==2.3.0` "
            "and pass its bin/kale with --kale (or set KALE)"
        )


if __name__ == "__main__":
    main()
