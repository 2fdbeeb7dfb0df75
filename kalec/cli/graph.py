"""``kalec graph NB``: draw the step graph."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kalec.cli.common import (
    EXIT_OK,
    add_notebook,
    compiled,
    count,
    refuse_foreign,
    starts_with,
    write_output,
)


def add_arguments(sub: argparse.ArgumentParser) -> None:
    from kalec.graph import FORMATS

    sub.description = (
        "Compile the notebook and draw its steps: one box per step (its name and cells), an "
        "arrow for each dependency, labelled with the variables and files that travel along "
        "it. SVG by default (no system package needed), or Graphviz DOT, or Mermaid."
    )
    add_notebook(sub)
    sub.add_argument("--format", choices=FORMATS, default=FORMATS[0], help="default: svg")
    sub.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default: standard output)"
    )
    sub.add_argument(
        "--force", action="store_true", help="replace FILE even if kalec did not write it"
    )


def run(args: argparse.Namespace) -> int:
    from kalec.graph import MARKERS, RENDERERS

    pipeline = compiled(args)
    text = RENDERERS[args.format](pipeline)
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    output = Path(args.output)
    refuse_foreign(output, args.force, lambda path: starts_with(path, MARKERS[args.format]))
    write_output(output, text, f"{args.format}, {count(len(pipeline.steps), 'step')}")
    return EXIT_OK
