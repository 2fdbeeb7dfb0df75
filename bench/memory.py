"""What the honest step cache costs and keeps, on real notebooks: observing each step, an
unchanged re-run, checking a cached step's reads, and saving and loading a big value.

The notebooks are the real corpus of `bench/corpus/` (textbook chapters, library documentation,
Kale's examples; SOURCES.md), tagged by their sections with `bench/corpus/tag.py`;
`--generated` adds the six generated analyses of `bench/notebooks/` (a figure from them alone
is a hypothesis).

1. Observation: each notebook run with `--no-cache`, with and without recording what its
   steps read (in shuffled order, the median of --repeat runs each). Target: at most 2 % more
   in sum.
2. An unchanged re-run of each notebook against its first run: how many steps came from the
   cache (target: all) and the re-run's share of the first run's time (target: at most 5 %).
3. Checking a cached step that read 100 files (1 MB each) before reusing it: the lookup's
   check of every observed read, with the digests remembered by stat (as between two runs).
   Target: at most 20 ms.
4. resource_save + resource_load of a 200 MB array (loaded data summed) against
   np.save + np.load. Target: 0.8x or better.

    python bench/memory.py [--repeat 3] [--generated] [--only NAME]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kalec.compiler import compile_notebook
from kalec.local.memory.digests import RACY_SECONDS, DigestMemo
from kalec.local.memory.manifest import Manifest, Places, mismatch
from kalec.local.options import RunOptions
from kalec.local.runner import LocalRun
from kalec.runtime.marshal import resource_load, resource_save

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "notebooks"
sys.path.insert(0, str(HERE / "corpus"))
import tag  # noqa: E402 - the corpus's tagger, beside it


def run_once(path: Path, **options: object) -> tuple[float, dict[str, str]]:
    """Seconds of a whole local run, and each step's state."""
    pipeline = compile_notebook(str(path))
    log = io.StringIO()
    started = time.perf_counter()
    run = LocalRun(pipeline, RunOptions(jobs=2, **options), out=log, err=log)
    code = run.execute()
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{path.name} failed:\n{log.getvalue()[-1500:]}")
    status = json.loads((run.run_dir / "kalec-status.json").read_text())
    return seconds, {s["name"]: s["status"] for s in status["steps"]}


def observation(notebooks: list[Path], repeat: int) -> None:
    print("1. recording what each step reads, --no-cache runs (median of each, shuffled)")
    total_on = total_off = 0.0
    shuffle = random.Random(0).shuffle
    for notebook in notebooks:
        times: dict[bool, list[float]] = {True: [], False: []}
        order = [True, False] * repeat
        shuffle(order)  # neither side always runs first: caches and clocks warm both alike
        for observe in order:
            times[observe].append(run_once(notebook, cache=False, observe=observe)[0])
        a, b = statistics.median(times[True]), statistics.median(times[False])
        total_on, total_off = total_on + a, total_off + b
        print(f"   {notebook.stem[:44]:44} observed {a:6.2f} s, not {b:6.2f} s  {a / b - 1:+6.1%}")
    print(
        f"   {'sum':44} observed {total_on:6.2f} s, not {total_off:6.2f} s  "
        f"{total_on / total_off - 1:+6.1%}   (target: at most +2 %)"
    )


def revalidation(folder: Path, repeat: int) -> None:
    data = folder / "data"
    data.mkdir()
    for index in range(100):
        (data / f"part-{index:03d}.bin").write_bytes(os.urandom(2**20))
    time.sleep(RACY_SECONDS + 0.5)  # data made before the run, not in this clock tick
    places = Places(folder)
    memo = DigestMemo(folder / "memo")
    manifest = Manifest(files={f"data/{f.name}": memo.file(str(f)) for f in data.iterdir()})
    memo.save()
    times = []
    for _ in range(max(repeat, 5)):
        fresh = DigestMemo(folder / "memo")  # as the next run finds it
        started = time.perf_counter()
        problem = mismatch(manifest, places, fresh)
        times.append(time.perf_counter() - started)
        assert problem is None, problem
    print("3. checking a cached step's 100 observed reads (1 MB files) before reusing it")
    print(f"   {statistics.median(times) * 1000:6.2f} ms   (target: at most 20 ms)")


def rerun(notebooks: list[Path], repeat: int) -> None:
    print("2. an unchanged re-run against the first run: steps from the cache, time")
    first_sum = again_sum = 0.0
    cached = steps = 0
    for notebook in notebooks:
        firsts, agains = [], []
        for _ in range(repeat):
            shutil.rmtree(notebook.parent / ".kalec", ignore_errors=True)
            firsts.append(run_once(notebook)[0])
            seconds, states = run_once(notebook)
            agains.append(seconds)
        a, b = statistics.median(firsts), statistics.median(agains)
        first_sum, again_sum = first_sum + a, again_sum + b
        hits = sum(1 for state in states.values() if state == "cached")
        cached, steps = cached + hits, steps + len(states)
        missed = ", ".join(n for n, state in states.items() if state != "cached")
        print(
            f"   {notebook.stem[:44]:44} {hits:3} of {len(states):3} cached; first {a:6.2f} s, "
            f"again {b:5.2f} s  {b / a:6.1%}" + (f"  (ran: {missed})" if missed else "")
        )
    print(
        f"   {'sum':44} {cached:3} of {steps:3} cached; first {first_sum:6.2f} s, again "
        f"{again_sum:5.2f} s  {again_sum / first_sum:6.1%}   (targets: all; at most 5 %)"
    )


def marshal(folder: Path, repeat: int) -> None:
    array = np.random.default_rng(0).random(200 * 10**6 // 8)

    def best(work) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return min(times)

    raw = best(
        lambda: float(np.load(np.save(folder / "raw.npy", array) or folder / "raw.npy").sum())
    )
    ours = best(lambda: float(resource_load(resource_save(array, folder / "value")).sum()))
    print("4. a 200 MB array saved (with its digest) and loaded, summed")
    print(
        f"   np.save + np.load {raw:.3f} s, resource_save + resource_load {ours:.3f} s: "
        f"{raw / ours:.2f}x   (target: 0.8x or better)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each")
    parser.add_argument("--generated", action="store_true", help="add bench/notebooks")
    parser.add_argument("--only", default="", help="the notebooks whose name holds this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        notebooks = tag.prepare(folder / "real")
        if args.generated:
            (folder / "generated").mkdir()
            for notebook in GENERATED.glob("*.ipynb"):
                notebooks.append(Path(shutil.copy(notebook, folder / "generated")))
        notebooks = [n for n in notebooks if args.only in n.name]
        print(f"{len(notebooks)} notebooks; this machine: {os.cpu_count()} cores")
        observation(notebooks, args.repeat)
        rerun(notebooks, args.repeat)
    with tempfile.TemporaryDirectory() as name:
        revalidation(Path(name), args.repeat)
    with tempfile.TemporaryDirectory() as name:
        marshal(Path(name), args.repeat)


if __name__ == "__main__":
    main()
