"""``kalec clean [PATH]``: remove old local runs and step-cache entries."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from kalec.cli.common import EXIT_OK, UsageError, count

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "Remove local runs and step-cache entries (the .kalec folder beside a notebook) last "
        "used longer ago than --older-than, then the least recently used ones until what is "
        "left fits in --max-size. Runs in progress, and stored values a kept entry names, are "
        "left alone."
    )
    sub.add_argument(
        "path",
        nargs="?",
        default=".",
        help="a notebook, or the folder holding notebooks and their .kalec (default: .)",
    )
    sub.add_argument(
        "--older-than",
        metavar="AGE",
        help="age such as 90m, 12h, 7d, 2w (default: 7d unless --max-size is given)",
    )
    sub.add_argument("--max-size", metavar="SIZE", help="size such as 500M or 2G")
    sub.add_argument(
        "--dry-run", action="store_true", help="say what would be removed, remove nothing"
    )


def _amount(text: str, units: dict[str, int], option: str, example: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]?)i?[bB]?\s*", text or "")
    if not match or match.group(2).lower() not in units:
        raise UsageError(f"error: {option} {text!r}: give it as, for example, {example}")
    return float(match.group(1)) * units[match.group(2).lower()]


def run(args: argparse.Namespace) -> int:
    from kalec.local.clean import clean

    target = Path(args.path)
    if not target.exists():
        raise UsageError(f"{args.path}: error: no such file or folder")
    folder = (target if target.is_dir() else target.resolve().parent) / ".kalec"
    older = args.older_than or (None if args.max_size else "7d")
    age = _amount(older, _AGE_UNITS, "--older-than", "12h or 7d") if older else None
    size = (
        _amount(args.max_size, _SIZE_UNITS, "--max-size", "500M or 2G") if args.max_size else None
    )
    removal = clean(folder, age, int(size) if size is not None else None, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    sys.stdout.write(
        f"{verb} {count(len(removal.runs), 'run')}, {len(removal.entries)} cache "
        f"entr{'y' if len(removal.entries) == 1 else 'ies'}"
        f" and {count(len(removal.objects), 'cached value')} "
        f"({removal.freed_bytes / 2**20:,.1f} MB) in {folder}\n"
    )
    return EXIT_OK
