"""What the commands share: exit codes, the refusal they print, compiling with diagnostics on
standard error, the arguments several commands take, and writing an output file safely."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kalec.errors import KalecError

EXIT_OK, EXIT_USER_CODE, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(KalecError):
    """Bad input: exit 2 with the message, printed as it is."""


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


# --- arguments ---------------------------------------------------------------------------------


def add_notebook(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("notebook", help="the tagged notebook (.ipynb)")
    sub.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print notes (such as dependencies kalec added), and why remembered steps run",
    )
    sub.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="CODE",
        help="do not show warnings and notes of this code, e.g. K303 (repeatable; "
        "errors cannot be ignored; the codes are listed in docs/diagnostics.md)",
    )


def add_cluster(sub: argparse.ArgumentParser) -> None:
    """Options of every target that runs on a cluster."""
    sub.add_argument(
        "--image",
        metavar="IMAGE",
        help="base image of the steps that have no image: tag (default: the "
        "notebook's setting, else python:X.Y of this Python)",
    )
    sub.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="install this requirement in every step, replacing the version "
        "kalec found for the same package (repeatable), e.g. numpy==1.26.4",
    )
    sub.add_argument(
        "--index-url",
        metavar="URL",
        help="the package index the steps install from (pip's --index-url), e.g. a mirror",
    )
    sub.add_argument(
        "--extra-index-url",
        action="append",
        default=[],
        metavar="URL",
        help="another package index for the steps' installs (repeatable)",
    )


def add_kfp_data(sub: argparse.ArgumentParser) -> None:
    """How a Kubeflow Pipelines pipeline passes values between its steps."""
    sub.add_argument(
        "--kfp-data",
        choices=("artifacts", "workspace"),
        default="artifacts",
        help="kfp: pass values as artifacts, uploaded and downloaded at every step (default), "
        "or through the run's workspace, a volume every step mounts (for data too large to "
        "copy around)",
    )
    sub.add_argument(
        "--kfp-workspace-size",
        default="10Gi",
        metavar="SIZE",
        help="kfp, --kfp-data workspace: the workspace's size (default: 10Gi)",
    )
    sub.add_argument(
        "--kfp-workspace-storage-class",
        metavar="CLASS",
        help="kfp, --kfp-data workspace: the workspace's storage class (default: the cluster's)",
    )


def add_parameters(sub: argparse.ArgumentParser) -> None:
    """Parameter values, in kalec's spelling and in papermill's."""
    sub.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a pipeline parameter (repeatable; papermill's `-p NAME VALUE` works too); "
        "the value is read as the parameter's declared type (lists and dicts as JSON)",
    )
    sub.add_argument(
        "-f",
        "--parameters-file",
        action="append",
        default=[],
        metavar="FILE",
        help="a YAML file of parameters, NAME: VALUE per line (repeatable)",
    )
    sub.add_argument(
        "-y",
        "--parameters-yaml",
        action="append",
        default=[],
        metavar="YAML",
        help="parameters as YAML text, e.g. -y '{alpha: 0.5, epochs: 3}' (repeatable)",
    )


def parameter_values(args: argparse.Namespace, pipeline: Any) -> dict[str, Any]:
    """``-p``, ``-f`` and ``-y`` read as each parameter's type; ``UsageError`` if not."""
    from kalec.params import ParamError, overrides

    try:
        return overrides(pipeline.params, args.param, args.parameters_file, args.parameters_yaml)
    except ParamError as error:
        raise UsageError(f"error: {error}") from None


def check_cluster_options(args: argparse.Namespace) -> None:
    """``--image`` and ``--package`` reach generated commands: only well-formed values pass."""
    from kalec.targets.options import option_problems

    for option, problem in option_problems(getattr(args, "image", None), args.package):
        raise UsageError(f"error: --{option}: {problem}")
    args.index_urls = step_index_urls(args)
    if getattr(args, "kfp_data", "artifacts") == "workspace":
        from kalec.cluster_names import storage_problem

        problem = storage_problem(args.kfp_workspace_size, args.kfp_workspace_storage_class)
        if problem:
            raise UsageError(
                f"error: --kfp-workspace-size/--kfp-workspace-storage-class: {problem}"
            )


def step_index_urls(args: argparse.Namespace) -> tuple[str, ...]:
    """``--index-url`` and ``--extra-index-url``, checked: they reach generated commands."""
    from kalec.targets.options import index_urls

    try:
        return index_urls(getattr(args, "index_url", None), getattr(args, "extra_index_url", []))
    except ValueError as error:
        raise UsageError(f"error: --index-url/--extra-index-url: {error}") from None


# --- compiling ---------------------------------------------------------------------------------


def ignored(args: argparse.Namespace) -> set[str]:
    """The codes of ``--ignore``: known codes of warnings and notes only."""
    from kalec.diagnostics import CATALOGUE
    from kalec.ir import Severity

    codes = {code.strip().upper() for code in getattr(args, "ignore", [])}
    for code in sorted(codes):
        if code not in CATALOGUE:
            raise UsageError(f"error: --ignore {code}: no such code (see docs/diagnostics.md)")
        if CATALOGUE[code].severity is Severity.ERROR:
            raise UsageError(
                f"error: --ignore {code}: {code} is an error; errors cannot be ignored"
            )
    return codes


def contents_text(args: argparse.Namespace) -> str | None:
    """The text of ``--contents FILE`` (an editor's unsaved notebook), or None without it."""
    if getattr(args, "contents", None) is None:
        return None
    try:
        return args.contents.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"error: --contents: cannot read {args.contents}: {error}") from None


def compiled(args: argparse.Namespace, verbose: bool | None = None, text: str | None = None) -> Any:
    """The notebook compiled (from ``text`` when given: its cells, as an editor holds them),
    its diagnostics on standard error; ``UsageError`` (exit 2) when it has errors or is not a
    notebook."""
    from kalec.compiler import compile_notebook
    from kalec.frontend.notebook_file import NotebookError
    from kalec.ir import Severity
    from kalec.ir.places import render

    path, skip = args.notebook, ignored(args)
    verbose = args.verbose if verbose is None else verbose
    try:
        pipeline = compile_notebook(path, text)
    except NotebookError as error:
        raise UsageError(f"{path}: error {error.code}: {error}") from None
    finally:  # a command that compiles starts without the collector (``kalec.cli.entry``):
        gc.enable()  # its start-up is over; what a target makes of a large pipeline is not
    for diagnostic in pipeline.diagnostics:
        if (verbose or diagnostic.severity is not Severity.NOTE) and diagnostic.code not in skip:
            sys.stderr.write(render(pipeline, diagnostic) + "\n")
    if pipeline.has_errors:
        errors = sum(d.severity is Severity.ERROR for d in pipeline.diagnostics)
        raise UsageError(f"{path}: {count(errors, 'error')}; nothing was built or run")
    return pipeline


# --- output files --------------------------------------------------------------------------------


def written_by_kalec(path: Path) -> bool:
    """Whether an existing file is one kalec wrote (so it may be replaced without --force):
    every target's text says so near its top."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
    except OSError:
        return False
    return b"compiled by kalec" in head or b"_kalec_" in head or b'"kalec_ir"' in head


def refuse_foreign(output: Path, force: bool, written_by_kalec: Callable[[Path], bool]) -> None:
    """A file kalec did not write is never replaced without ``--force``."""
    if output.exists() and not force and not written_by_kalec(output):
        raise UsageError(
            f"error: {output} exists and kalec did not write it; not replacing it "
            "(give another -o PATH, or --force to replace it)"
        )


def write_output(output: Path, text: str | Iterable[str], what: str) -> None:
    """Write ``text`` (or its pieces, as they come) to ``output`` and say so."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", encoding="utf-8") as handle:
            handle.writelines([text] if isinstance(text, str) else text)
    except OSError as error:
        raise UsageError(f"error: cannot write {output}: {error}") from None
    print(f"wrote {output} ({what})")


def starts_with(path: Path, marker: str) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(marker.encode())) == marker.encode()
    except OSError:
        return False
