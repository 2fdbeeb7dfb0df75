"""``kalec run --local NB``: run the pipeline on this machine, remembering what can be."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kalec.cli.common import (
    UsageError,
    add_notebook,
    add_parameters,
    compiled,
    contents_text,
    parameter_values,
)


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "Run the notebook as a pipeline on this machine: each step in its own process, "
        "independent steps at the same time, variables passed between steps. A step whose "
        "inputs and reads are unchanged takes its values from the step cache."
    )
    add_notebook(sub)
    sub.add_argument(
        "--local",
        action="store_true",
        help="run on this machine (the default and, for now, the only place)",
    )
    sub.add_argument(
        "--contents",
        type=Path,
        metavar="FILE",
        help="read the notebook's cells from FILE (an editor's unsaved version of it); the "
        "notebook still names the run and its folder is where the steps run",
    )
    add_parameters(sub)
    cores = os.cpu_count() or 1
    sub.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=cores,
        metavar="N",
        help=f"steps to run at the same time (default: the number of cores, {cores} here)",
    )
    sub.add_argument(
        "--run-dir",
        type=Path,
        metavar="DIR",
        help="folder for the values passed between steps "
        "(default: .kalec/runs/RUN-ID beside the notebook)",
    )
    sub.add_argument(
        "--no-fork",
        dest="fork",
        action="store_false",
        help="start every step as a new interpreter that imports its modules itself (default: "
        "fork steps from one process that imported the prelude's modules once, where forking "
        "is safe)",
    )
    sub.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="run every step, and keep nothing in the step cache (default: a step whose code, "
        "inputs, parameters, and everything it read are unchanged takes its values from the "
        "cache)",
    )
    sub.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="folder of the step cache (default: .kalec/cache beside the notebook)",
    )
    sub.add_argument(
        "--refresh",
        action="append",
        default=[],
        metavar="STEP",
        help="run STEP even when it is in the cache (repeat for several steps)",
    )
    chosen = sub.add_mutually_exclusive_group()
    chosen.add_argument(
        "--resume",
        action="store_true",
        help="run the steps the last run did not complete and those after them; the others' "
        "values come from that run where nothing they read has changed",
    )
    chosen.add_argument(
        "--from",
        dest="start_from",
        metavar="STEP",
        help="run STEP and every step after it; the others' values come from earlier runs",
    )
    chosen.add_argument(
        "--only",
        metavar="STEP",
        help="run STEP alone; the values it needs come from earlier runs",
    )


def run(args: argparse.Namespace) -> int:
    from kalec import local
    from kalec.local.options import RunOptions

    if args.jobs < 1:
        raise UsageError("error: --jobs must be at least 1")
    source_text = contents_text(args)
    pipeline = compiled(args, text=source_text)
    options = RunOptions(
        source_text=source_text,
        jobs=args.jobs,
        run_dir=args.run_dir,
        params=parameter_values(args, pipeline),
        fork=args.fork,
        cache=args.cache,
        cache_dir=args.cache_dir,
        refresh=frozenset(args.refresh),
        resume=args.resume,
        start_from=args.start_from,
        only=args.only,
        verbose=args.verbose,
    )
    try:
        return local.run(pipeline, options)
    except local.SelectionError as error:
        raise UsageError(f"{args.notebook}: error: {error}") from None
    except local.RunFolderError as error:
        if args.run_dir:
            raise UsageError(f"error: --run-dir: {error}") from None
        raise UsageError(f"error: {error}; choose another folder with --run-dir DIR") from None
