"""Large values passed between two steps of a local run: peak memory and time, in one run.

Two pipelines, each of two steps: ``make`` builds the value, ``use`` reads all of it.
- a 2 GiB float64 numpy array (``np.random.default_rng(0).random(2**28)``);
- a 1 GiB DataFrame (4 float64 columns of 2**25 rows).
Each is made and read without a copy of its own, so what the steps hold beyond it is kalec's
(and the interpreter's, about 100 MB with numpy and pandas imported).
Printed for each: the peak resident memory of each step's process (VmHWM, read from /proc
while it runs), as a multiple of the value's size (target: at most 1.3x); and the time from
the end of ``make``'s cell to the end of ``use``'s (the value saved, the next step started,
the value loaded and read through), against the same value saved and loaded in one process
by the library's own calls (``np.save`` + ``np.load``; ``to_parquet`` + ``read_parquet``),
then read through (target: at most 1.2x).

    python bench/large_values.py [--only numpy|pandas] [--gib 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from helpers import make_notebook  # noqa: E402

from kalec.local.process_tree import descendants  # noqa: E402

MAKE = {
    "numpy": "value = np.random.default_rng(0).random({count})",
    "pandas": (
        "rng = np.random.default_rng(0)\n"
        "value = pd.DataFrame({{c: rng.random({count}) for c in 'abcd'}}, copy=False)"
    ),
}
READ = {
    "numpy": "total = float(value.sum())",
    "pandas": "total = float(sum(value[c].sum() for c in value.columns))",
}
STAMP = "open({path!r}, 'a').write(f'{{time.time()}}\\n')"


def notebook(folder: Path, kind: str, count: int) -> Path:
    stamps = folder / "stamps.txt"
    return make_notebook(
        folder / f"{kind}.ipynb",
        [
            (["imports"], "import time\nimport numpy as np\nimport pandas as pd"),
            (
                ["block:make"],
                MAKE[kind].format(count=count) + "\n" + STAMP.format(path=str(stamps)),
            ),
            (["block:use", "prev:make"], READ[kind] + "\n" + STAMP.format(path=str(stamps))),
        ],
    )


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_pipeline(path: Path, folder: Path) -> tuple[dict[int, int], float]:
    """Run it; the peak of each process below the run (KiB, by pid) and the seconds from the
    end of make's cell to the end of use's."""
    peaks: dict[int, int] = {}
    process = subprocess.Popen(
        [sys.executable, "-m", "kalec", "run", "--local", str(path), "--no-cache",
         "--run-dir", str(folder / "run")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for pid, _started in descendants(process.pid):
                peaks[pid] = max(peaks.get(pid, 0), _peak_kib(pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, err = process.communicate()
    done.set()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"the run failed:\n{err}")
    made, used = (float(t) for t in (folder / "stamps.txt").read_text().split())
    return peaks, used - made


def library_round_trip(kind: str, count: int, folder: Path) -> float:
    """Seconds to save, load and read through the value with the library's own calls."""
    code = f"""
import time, numpy as np, pandas as pd
{MAKE[kind].format(count=count)}
started = time.time()
if {kind!r} == "numpy":
    np.save({str(folder / "v.npy")!r}, value); del value
    value = np.load({str(folder / "v.npy")!r})
else:
    value.to_parquet({str(folder / "v.parquet")!r}); del value
    value = pd.read_parquet({str(folder / "v.parquet")!r})
{READ[kind]}
print(time.time() - started)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(MAKE))
    parser.add_argument("--gib", type=float, default=2.0, help="the array's size (the frame: half)")
    args = parser.parse_args()
    results = {}
    for kind in [args.only] if args.only else sorted(MAKE):
        size = args.gib * 2**30 / (1 if kind == "numpy" else 2)
        count = int(size // 8 // (1 if kind == "numpy" else 4))
        with tempfile.TemporaryDirectory(prefix=f"kalec-large-{kind}-") as name:
            folder = Path(name)
            path = notebook(folder, kind, count)
            peaks, seconds = run_pipeline(path, folder)
            baseline = library_round_trip(kind, count, folder)
        steps = sorted(peaks.values(), reverse=True)[:2]  # the two steps are the largest
        ratios = [peak * 1024 / size for peak in steps]
        label = "np.save + np.load" if kind == "numpy" else "to_parquet + read_parquet"
        print(f"{kind}: a value of {size / 2**30:.2f} GiB")
        print(
            f"  peak memory of the two steps: {', '.join(f'{r:.2f}x' for r in ratios)} of the "
            "value (target: at most 1.3x)"
        )
        print(
            f"  saved, passed, loaded and read: {seconds:.2f} s; {label} and read: "
            f"{baseline:.2f} s; ratio {seconds / baseline:.2f} (target: at most 1.2)"
        )
        results[kind] = {"peaks": ratios, "seconds": seconds, "baseline": baseline}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
