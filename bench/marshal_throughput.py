"""Save+load throughput of the marshal against the raw library calls, in one run.

- a 200 MB float64 array: resource_save/resource_load against np.save/np.load;
- a 1,000,000-row DataFrame of mixed types: against to_parquet/read_parquet and pickle;
- a small value: the time of one resource_save + resource_load (dispatch overhead).
Loaded data is summed in every case, so a lazily mapped load pays for reading too.
Targets: numpy >= 80 % of raw; DataFrame no slower than the faster of parquet and pickle;
small value under 1 ms.

    python bench/marshal_throughput.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kalec.runtime.marshal import resource_load, resource_save


def best(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "i": rng.integers(0, 1000, rows),
            "f": rng.random(rows),
            "s": rng.choice(["alpha", "beta", "gamma", "delta"], rows),
            "b": rng.random(rows) > 0.5,
            "t": pd.date_range("2020-01-01", periods=rows, freq="s"),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], rows)),
            "u": [f"id-{k}" for k in range(rows)],
        }
    )


def touch(value) -> None:
    if isinstance(value, pd.DataFrame):
        value["f"].sum()
    else:
        float(np.asarray(value).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        array = np.random.default_rng(0).random(200 * 10**6 // 8)
        raw = best(
            args.repeat,
            lambda: (np.save(folder / "raw.npy", array), touch(np.load(folder / "raw.npy"))),
        )
        ours = best(
            args.repeat,
            lambda: (resource_save(array, folder / "a"), touch(resource_load(folder / "a"))),
        )
        mb = array.nbytes / 1e6
        print(
            f"numpy 200 MB: raw {mb / raw:.0f} MB/s, kalec {mb / ours:.0f} MB/s: "
            f"{raw / ours:.0%} of raw (target >= 80 %)"
        )

        df = frame(1_000_000)
        parquet = best(
            args.repeat,
            lambda: (
                df.to_parquet(folder / "d.parquet"),
                touch(pd.read_parquet(folder / "d.parquet")),
            ),
        )

        def pickled() -> None:
            with open(folder / "d.pkl", "wb") as handle:
                pickle.dump(df, handle, protocol=pickle.HIGHEST_PROTOCOL)
            with open(folder / "d.pkl", "rb") as handle:
                touch(pickle.load(handle))

        pickle_time = best(args.repeat, pickled)
        kalec_time = best(
            args.repeat,
            lambda: (resource_save(df, folder / "df"), touch(resource_load(folder / "df"))),
        )
        fastest = min(parquet, pickle_time)
        print(
            f"DataFrame 1,000,000 rows: parquet {parquet:.3f} s, pickle {pickle_time:.3f} s, "
            f"kalec {kalec_time:.3f} s ({kalec_time / fastest:.2f}x the faster; target <= 1.00x)"
        )

        small = 1000
        started = time.perf_counter()
        for _ in range(small):
            resource_save(42, folder / "n")
            resource_load(folder / "n")
        per = (time.perf_counter() - started) / small
        print(f"small value save+load: {per * 1000:.3f} ms (target < 1 ms)")


if __name__ == "__main__":
    main()
