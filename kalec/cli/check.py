"""``kalec check NB``: the steps, their inputs and outputs, and every diagnostic."""

from __future__ import annotations

import argparse
import json
import sys

from kalec.cli.common import EXIT_BAD_INPUT, EXIT_OK, add_notebook, compiled, ignored


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "Compile the notebook and print its steps: dependencies, each input with its producer, "
        "outputs, parameters and metrics, with every diagnostic."
    )
    add_notebook(sub)
    sub.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), or JSON: steps, inputs, parameters, metrics and "
        "diagnostics with their codes, cells and lines",
    )


def run(args: argparse.Namespace) -> int:
    from kalec.report import check_report

    if args.format == "json":
        return _as_json(args.notebook, ignored(args))
    sys.stdout.write(check_report(compiled(args, verbose=True)))
    return EXIT_OK


def _as_json(path: str, ignore: set[str]) -> int:
    """One JSON document on standard output, whatever the outcome."""
    from kalec.compiler import compile_notebook
    from kalec.frontend.notebook_file import NotebookError
    from kalec.report import check_data, not_a_notebook

    try:
        pipeline = compile_notebook(path)
    except NotebookError as error:
        data = not_a_notebook(path, error)
    else:
        data = check_data(pipeline, tuple(d for d in pipeline.diagnostics if d.code not in ignore))
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=repr) + "\n")
    return EXIT_OK if data["ok"] else EXIT_BAD_INPUT
