"""``kalec emit NB --target T``: print the pipeline for a cluster target."""

from __future__ import annotations

import argparse
import sys

from kalec.cli.build import add_target, compiled_for_target, lowered
from kalec.cli.common import EXIT_OK, add_notebook


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = "Compile the notebook and print the pipeline for TARGET on standard output."
    add_notebook(sub)
    add_target(sub)


def run(args: argparse.Namespace) -> int:
    sys.stdout.writelines(lowered(args, compiled_for_target(args)))
    return EXIT_OK
