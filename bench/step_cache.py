"""The step cache: a fully cached re-run against the first run, and what hashing a 200 MB array
costs the first run.

1. Six steps of about a second each (numpy work), a chain with a side branch. The whole
   `kalec run --local` command on an empty cache, then again with nothing changed (every step
   from the cache). Target: the re-run under 10 % of the first run.
2. A step that makes a 200 MB array and one that reads it (each with about a second of work,
   as above). The first run with the cache
   against the same run with --no-cache (keys, storing by hard link); and, measured apart, the
   digest that saving the array computes while writing it, against writing it alone.
   Target: hashing under 5 % of the first run.

    python bench/step_cache.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from local_overhead import timed
from notebook_file import write_notebook

SECOND_OF_WORK = (
    "import numpy as np\n"
    "def work(seed):\n"
    "    rng = np.random.default_rng(seed)\n"
    "    a = rng.random((700, 700))\n"
    "    started = __import__('time').perf_counter()\n"
    "    while __import__('time').perf_counter() - started < 1.0:\n"
    "        a = np.tanh(a @ a.T / 700)\n"
    "    return a[:5, :5].copy()\n"
)


def digest_cost(repeat: int) -> tuple[float, float]:
    """(seconds to save a 200 MB array with its digest, seconds to write it alone)."""
    import numpy as np

    from kalec.runtime.marshal import resource_save_digest

    array = np.random.default_rng(0).random(25 * 2**20)
    with tempfile.TemporaryDirectory() as name:
        plain, hashed = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            with open(Path(name) / "plain.npy", "wb") as handle:
                np.save(handle, array)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            resource_save_digest(array, Path(name) / "value")
            hashed.append(time.perf_counter() - started)
    return min(hashed), min(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        steps = [(["imports"], SECOND_OF_WORK)]
        steps += [(["block:s0"], "x0 = work(0)")]
        steps += [
            ([f"block:s{i}", f"prev:s{i - 1}"], f"x{i} = work({i}) + x{i - 1}") for i in range(1, 5)
        ]
        steps += [
            (["block:side", "prev:s0"], "side = work(9) + x0\nprint('RESULT', side.sum() > 0)")
        ]
        path = write_notebook(folder / "six.ipynb", steps)
        firsts, cached = [], []
        for _ in range(args.repeat):
            shutil.rmtree(folder / ".kalec", ignore_errors=True)
            firsts.append(timed("run", "--local", str(path), cwd=folder))
            cached.append(timed("run", "--local", str(path), cwd=folder))
        first, again = min(firsts), min(cached)
        print("1. six steps of about 1 s each")
        print(f"   first run (empty cache)   {first:6.2f} s")
        print(
            f"   re-run, all cached        {again:6.2f} s   {again / first:6.1%} of the first"
            "   (target: under 10 %)"
        )

        big = write_notebook(
            folder / "big.ipynb",
            [
                (["imports"], SECOND_OF_WORK),
                (["block:make"], "work(1)\nbig = np.random.default_rng(0).random(25 * 2**20)"),
                (["block:use", "prev:make"], "work(2)\nprint('RESULT', big.mean() > 0)"),
            ],
        )
        with_cache, without = [], []
        for _ in range(args.repeat):
            shutil.rmtree(folder / ".kalec", ignore_errors=True)
            with_cache.append(timed("run", "--local", str(big), cwd=folder))
            without.append(timed("run", "--local", "--no-cache", str(big), cwd=folder))
        hashed, plain = digest_cost(args.repeat)
        run = min(with_cache)
        print("2. a 200 MB array passed between two steps of about 1 s each")
        print(f"   first run, cache on       {run:6.2f} s")
        print(
            f"   same run, --no-cache      {min(without):6.2f} s   (keys and storing: "
            f"{(run - min(without)) / run:+.1%})"
        )
        print(
            f"   saving it with its digest {hashed:6.2f} s, writing it alone {plain:.2f} s: "
            f"hashing {(hashed - plain) / run:.1%} of the first run   (target: under 5 %)"
        )


if __name__ == "__main__":
    main()
