"""The ``kalec`` command: one module per command, each with ``add_arguments`` and ``run``; this
module holds the table of commands, parses the command line (importing only the module of the
command given: startup is most of a small build) and turns every outcome into an exit code.

Imports from kalec: kalec, cluster_names, compiler, deploy, diagnostics, errors, frontend,
graph, ir, local, packaging, params, report, searchspace, serve, startup_cache, targets, tune,
verify. Nothing imports it. Exit codes scripts can rely on: 0 success; 1 the notebook's own code
failed while running; 2 the notebook or the command line is wrong (nothing ran); 3 kalec itself
failed (a bug to report); 128+N a run stopped by signal N.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from pathlib import Path

from kalec import __version__
from kalec.cli.common import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, UsageError
from kalec.errors import KalecError

# Each command and what ``kalec --help`` says of it, in the order it lists them.
COMMANDS = {
    "build": "write the pipeline for a target to a file",
    "emit": "print the pipeline for a target",
    "run": "run the pipeline on this machine",
    "verify": "check that the pipeline computes what the notebook computes",
    "tune": "search the notebook's parameters for the best value of a metric",
    "runs": "list the earlier local runs of a notebook",
    "clean": "remove old local runs and step-cache entries",
    "deploy": "upload the pipeline to Kubeflow Pipelines, optionally start a run",
    "check": "show the steps, their inputs and outputs, and any problem",
    "graph": "draw the step graph: a box per step, arrows labelled with what they carry",
    "serve": "serve kalec over HTTP: the /api/v1 endpoints and Kale's POST /kale",
}
# Commands that by their end hold no open file, thread or child process of their own.
_NOTHING_TO_CLOSE = frozenset({"build", "emit", "check", "graph"})


def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size`` answers, without importing shutil (and bz2 and lzma
    with it) on every command for the help text most commands never print."""
    with contextlib.suppress(ValueError):
        columns = int(os.environ.get("COLUMNS", "0"))
        if columns > 0:
            return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width=None
    ) -> None:
        width = _terminal_columns() - 2 if width is None else width  # as argparse's own
        super().__init__(prog, indent_increment, max_help_position, width)


def _command(name: str):  # noqa: ANN202 - a module
    return importlib.import_module(f"kalec.cli.{name}")


def parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``chosen`` (a command's name), that command alone: its
    arguments are read from its module, and the others' parsers, needed only to list them in
    ``kalec --help`` or to refuse an unknown command, are not built."""
    top = argparse.ArgumentParser(
        prog="kalec",
        formatter_class=_HelpFormatter,
        description="Compile a tagged Jupyter notebook into a pipeline whose steps pass their "
        "variables to each other, and run it.",
        epilog="Exit codes: 0 ok, 1 the notebook's code failed, 2 bad notebook or usage, "
        "3 internal error. `kalec COMMAND --help` describes each command.",
    )
    top.add_argument("--version", action="version", version=f"kalec {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        if chosen in COMMANDS and name != chosen:
            continue
        sub = commands.add_parser(name, help=summary, formatter_class=_HelpFormatter)
        if chosen is None or name == chosen:  # kalec --help lists them all, by name and help
            _command(name).add_arguments(sub)
    return top


def _papermill_params(argv: list[str]) -> list[str]:
    """``-p NAME VALUE`` (papermill's spelling) -> ``-p NAME=VALUE``."""
    out: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token in ("-p", "--param") and index + 2 < len(argv) and "=" not in argv[index + 1]:
            out += [token, f"{argv[index + 1]}={argv[index + 2]}"]
            index += 3
            continue
        out.append(token)
        index += 1
    return out


def _unencodable_argument(args: argparse.Namespace) -> str | None:
    """The first option whose text is not valid Unicode (bytes the file system gave as is)."""
    for key, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (str, Path)):
                try:
                    str(item).encode("utf-8")
                except UnicodeEncodeError:
                    return key
    return None


def _kale_command_line(argv: list[str]) -> int:
    """``kalec --nb NB ...``: Kale's own command line (``kalec.cli.kale``)."""
    from kalec.cli import kale

    try:
        return kale.run(argv)
    except UsageError as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_BAD_INPUT
    except KalecError as error:
        sys.stderr.write(f"kalec: error: {error}\n")
        return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name with odd bytes must not crash a print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = _papermill_params(sys.argv[1:] if argv is None else list(argv))
    if (
        argv
        and (argv[0] == "--nb" or argv[0].startswith("--nb="))
        or (any(a == "--nb" or a.startswith("--nb=") for a in argv) and argv[0] not in COMMANDS)
    ):
        return _kale_command_line(argv)
    if argv == ["--version"]:  # no command's parser is needed to say it
        sys.stdout.write(f"kalec {__version__}\n")
        return EXIT_OK
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = parser(chosen).parse_args(argv)
    bad = _unencodable_argument(args)
    if bad:
        shown = "the notebook's file name" if bad == "notebook" else "--" + bad.replace("_", "-")
        sys.stderr.write(
            f"kalec: error: {shown} is not valid UTF-8 text; rename the file or retype the value\n"
        )
        return EXIT_BAD_INPUT
    try:
        return _command(args.command).run(args)
    except UsageError as error:  # its message is ready to print
        sys.stderr.write(f"{error}\n")
        return EXIT_BAD_INPUT
    except KalecError as error:  # a target, a folder or a server refused: name the notebook
        sys.stderr.write(f"{getattr(args, 'notebook', 'kalec')}: error: {error}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug in kalec, not in the notebook: say so plainly
        if os.environ.get("KALEC_DEBUG"):
            import traceback

            traceback.print_exc()
        error = sys.exc_info()[1]
        sys.stderr.write(
            f"kalec: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in kalec, not in your notebook; set KALEC_DEBUG=1 for the details "
            "and report it.\n"
        )
        return EXIT_INTERNAL


def entry() -> None:
    """The ``kalec`` command. Those that only compile start with the methods of the IR's
    dataclasses compiled by an earlier run and without the cyclic garbage collector until the
    notebook is compiled (``common.compiled`` turns it on; the compiler collects between its
    passes; the collector going through every module's objects as they are imported was a
    twentieth of a small build), and end without the interpreter's teardown (freeing every
    imported module is a tenth of a small build); what they wrote is flushed."""
    if len(sys.argv) > 1 and sys.argv[1] in _NOTHING_TO_CLOSE:
        import gc

        gc.disable()
        from kalec.startup_cache import compiled_dataclasses

        with compiled_dataclasses(sys.argv[1]):
            code = main()
    else:
        code = main()
    if len(sys.argv) > 1 and sys.argv[1] in _NOTHING_TO_CLOSE:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to keep
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
