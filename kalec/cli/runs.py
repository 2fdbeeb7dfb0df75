"""``kalec runs NB``: the earlier local runs of a notebook."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from kalec.cli.common import EXIT_OK, UsageError


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "List the local runs of a notebook, newest first: id, start, state (running, ok, "
        "failed, stopped, killed), seconds, and how many steps ran, came from memory, failed."
    )
    sub.add_argument("notebook", help="the tagged notebook (.ipynb)")
    sub.add_argument("--format", choices=("text", "json"), default="text", help="default: text")


def run(args: argparse.Namespace) -> int:
    from kalec.local.console import text_table
    from kalec.local.records import runs_of
    from kalec.local.status import StepStatus

    if not Path(args.notebook).is_file():
        raise UsageError(f"{args.notebook}: error: no such file")
    records = runs_of(args.notebook)
    if args.format == "json":
        rows = [
            {
                "id": r.run_id,
                "folder": str(r.folder),
                "started": r.started,
                "state": r.state.value,
                "seconds": r.seconds,
                "steps": {s.get("name"): s.get("status") for s in r.steps},
            }
            for r in records
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    if not records:
        sys.stdout.write(f"no local runs of {args.notebook} yet (kalec run --local runs it)\n")
        return EXIT_OK
    table = [("id", "started", "state", "seconds", "ran", "cached", "failed")]
    counted = (StepStatus.RAN, StepStatus.CACHED, StepStatus.FAILED)
    for r in records:
        counts = [sum(r.status_of(str(s.get("name"))) is k for s in r.steps) for k in counted]
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started))
        table.append((r.run_id, started, r.state.value, f"{r.seconds:.1f}", *map(str, counts)))
    sys.stdout.write(text_table(table, right=(3, 4, 5, 6)))
    return EXIT_OK
