"""``kalec verify NB``: the notebook in a Jupyter kernel against the pipeline."""

from __future__ import annotations

import argparse
import os
import sys

from kalec.cli.common import UsageError, add_notebook, compiled


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "Run the notebook top to bottom in a Jupyter kernel (cells tagged skip left out) and as "
        "a pipeline on this machine, then compare every value passed between steps, every "
        "metric and what every cell printed. Exit 0 when all are equal, 1 when any differs or "
        "either run fails."
    )
    add_notebook(sub)
    sub.add_argument(
        "--rtol",
        type=float,
        default=1e-7,
        help="relative tolerance for floating-point numbers, arrays and frames (default: 1e-7)",
    )
    sub.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (default: 0)")
    sub.add_argument(
        "--kernel", metavar="NAME", help="Jupyter kernel (default: the notebook's, or python3)"
    )
    sub.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="limit for each cell in the kernel"
    )
    sub.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="pipeline steps to run at the same time",
    )


def run(args: argparse.Namespace) -> int:
    from kalec.verify import VerifyOptions, verify

    if args.jobs < 1 or args.rtol < 0 or args.atol < 0:
        raise UsageError("error: --jobs must be at least 1 and the tolerances not negative")
    pipeline = compiled(args)
    options = VerifyOptions(
        rtol=args.rtol, atol=args.atol, kernel=args.kernel, timeout=args.timeout, jobs=args.jobs
    )
    return verify(pipeline, options, sys.stdout, sys.stderr)
