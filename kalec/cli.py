"""The ``kalec`` command: build, emit, run, check.

Exit codes scripts can rely on: 0 success; 1 the notebook's own code failed while running; 2 the
notebook or the command line is wrong (nothing ran); 3 kalec itself failed (a bug to report).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from kalec import __version__
from kalec.runtime.params import parse_value

EXIT_OK, EXIT_USER_CODE, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input: exit 2 with the message."""


def _targets(runs: bool) -> list[str]:
    from kalec.backends import TARGETS

    return [t.name for t in TARGETS.values() if t.runs == runs]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kalec",
        description="Compile a tagged Jupyter notebook into a pipeline whose steps pass their "
        "variables to each other, and run it.",
        epilog="Exit codes: 0 ok, 1 the notebook's code failed, 2 bad notebook or usage, "
        "3 internal error. `kalec COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"kalec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("notebook", help="the tagged notebook (.ipynb)")
        sub.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="also print notes (such as dependencies kalec added)",
        )

    def cluster(sub: argparse.ArgumentParser) -> None:
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
            "--argo-data",
            choices=("artifacts", "volume"),
            default="artifacts",
            help="argo: pass values as artifacts through the artifact repository (default), "
            "or through a volume every step mounts",
        )
        sub.add_argument(
            "--argo-volume-claim",
            metavar="CLAIM",
            help="argo, --argo-data volume: an existing claim to use "
            "(default: a claim made for each run)",
        )
        sub.add_argument(
            "--argo-volume-size",
            default="1Gi",
            metavar="SIZE",
            help="argo, --argo-data volume: size of the claim made for each run",
        )

    targets = ", ".join(_targets(runs=False))
    build = commands.add_parser(
        "build",
        help="write the pipeline for a target to a file",
        description="Compile the notebook and write the pipeline for TARGET to a file.",
    )
    common(build)
    cluster(build)
    build.add_argument("--target", "-t", required=True, metavar="TARGET", help=f"one of: {targets}")
    build.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file to write (default: beside the notebook, named after it)",
    )

    emit = commands.add_parser(
        "emit",
        help="print the pipeline for a target",
        description="Compile the notebook and print the pipeline for TARGET on standard output.",
    )
    common(emit)
    cluster(emit)
    emit.add_argument("--target", "-t", required=True, metavar="TARGET", help=f"one of: {targets}")

    run = commands.add_parser(
        "run",
        help="run the pipeline on this machine",
        description="Run the notebook as a pipeline on this machine: each step in its own "
        "process, independent steps at the same time, variables passed between steps.",
    )
    common(run)
    run.add_argument(
        "--local",
        action="store_true",
        help="run on this machine (the default and, for now, the only place)",
    )
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline parameter (repeatable); the value is read as "
        "the parameter's declared type (lists and dicts as JSON)",
    )
    run.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="steps to run at the same time (default: the number of cores, "
        f"{os.cpu_count() or 1} here)",
    )
    run.add_argument(
        "--run-dir",
        type=Path,
        metavar="DIR",
        help="folder for the values passed between steps "
        "(default: .kalec/runs/RUN-ID in the current folder)",
    )

    deploy = commands.add_parser(
        "deploy",
        help="upload the pipeline to Kubeflow Pipelines, optionally start a run",
        description="Compile the notebook, upload it to a Kubeflow Pipelines server (as a new "
        "version when a pipeline of that name exists), and with --run start a run.",
    )
    common(deploy)
    cluster(deploy)
    deploy.add_argument(
        "--host",
        required=True,
        metavar="URL",
        help="the Kubeflow Pipelines API endpoint, e.g. http://localhost:8080",
    )
    deploy.add_argument(
        "--name",
        metavar="NAME",
        help="pipeline name (default: the notebook's setting, else its file name)",
    )
    deploy.add_argument(
        "--experiment",
        metavar="NAME",
        help="experiment of the run (default: the notebook's setting, else 'Default')",
    )
    deploy.add_argument("--run", action="store_true", help="start a run after uploading")
    deploy.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter for the run (repeatable)",
    )
    deploy.add_argument(
        "--namespace", metavar="NS", help="Kubernetes namespace (multi-user installs)"
    )
    deploy.add_argument(
        "--token",
        metavar="TOKEN",
        default=os.environ.get("KALEC_KFP_TOKEN"),
        help="bearer token for the server (default: $KALEC_KFP_TOKEN)",
    )
    deploy.add_argument(
        "--dry-run",
        action="store_true",
        help="compile and say what would be uploaded and run; contact nothing",
    )

    check = commands.add_parser(
        "check",
        help="show the steps, their inputs and outputs, and any problem",
        description="Compile the notebook and print its steps: dependencies, each input with "
        "its producer, outputs, parameters and metrics, with every diagnostic.",
    )
    common(check)
    return parser


def _compile(path: str, verbose: bool) -> Any:
    from kalec.compiler import compile_notebook
    from kalec.frontend.notebook import NotebookError
    from kalec.ir import Severity

    try:
        pipeline = compile_notebook(path)
    except NotebookError as error:
        raise UsageError(f"{path}: error: {error}") from None
    shown = [d for d in pipeline.diagnostics if verbose or d.severity is not Severity.NOTE]
    for diagnostic in shown:
        sys.stderr.write(diagnostic.render(path) + "\n")
    if pipeline.has_errors:
        errors = sum(d.severity is Severity.ERROR for d in pipeline.diagnostics)
        raise UsageError(f"{path}: {errors} error{'s' * (errors != 1)}; nothing was built or run")
    return pipeline


def _check_target(target: str, runs: bool) -> None:
    from kalec.backends import TARGETS

    if target not in TARGETS or TARGETS[target].runs != runs:
        raise UsageError(
            f"error: unknown target '{target}'; choose one of: {', '.join(_targets(runs))}"
        )


def _backend(target: str, runs: bool) -> Any:
    """The target's module; the notebook is compiled first, so its own errors come first."""
    from kalec.backends import TargetUnavailable, load

    _check_target(target, runs)
    try:
        return load(target)
    except TargetUnavailable as error:
        raise UsageError(f"error: {error}") from None


def parse_overrides(pairs: list[str], params: tuple) -> dict[str, Any]:
    """``-p name=value`` pairs -> values of each parameter's declared type."""
    declared = {p.name: p for p in params}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise UsageError(f"error: -p {pair}: write NAME=VALUE")
        if name not in declared:
            known = ", ".join(declared) or "none: the notebook has no pipeline-parameters cell"
            raise UsageError(f"error: -p {name}: no such pipeline parameter (parameters: {known})")
        kind = declared[name].type.value
        try:
            value = parse_value(text, kind)
        except ValueError:
            raise UsageError(f"error: -p {name}={text}: {name} is a {kind} parameter") from None
        values[name] = value
    return values


def cmd_build(args: argparse.Namespace) -> int:
    from kalec.backends import TARGETS

    _check_target(args.target, runs=False)
    pipeline = _compile(args.notebook, args.verbose)
    text = _backend(args.target, runs=False).emit(pipeline, args)
    notebook = Path(args.notebook)
    output = (
        Path(args.output)
        if args.output
        else notebook.with_name(notebook.stem + TARGETS[args.target].suffix)
    )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"error: cannot write {output}: {error}") from None
    print(
        f"wrote {output} ({args.target}, {len(pipeline.steps)} step{'s' * (len(pipeline.steps) != 1)})"
    )
    return EXIT_OK


def cmd_emit(args: argparse.Namespace) -> int:
    _check_target(args.target, runs=False)
    pipeline = _compile(args.notebook, args.verbose)
    sys.stdout.write(_backend(args.target, runs=False).emit(pipeline, args))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    local = _backend("local", runs=True)
    if args.jobs < 1:
        raise UsageError("error: --jobs must be at least 1")
    pipeline = _compile(args.notebook, args.verbose)
    overrides = parse_overrides(args.param, pipeline.params)
    options = local.RunOptions(jobs=args.jobs, run_dir=args.run_dir, params=overrides)
    return local.run(pipeline, options)


def cmd_check(args: argparse.Namespace) -> int:
    from kalec.report import check_report

    pipeline = _compile(args.notebook, verbose=True)
    sys.stdout.write(check_report(pipeline))
    return EXIT_OK


def cmd_deploy(args: argparse.Namespace) -> int:
    from kalec.backends import missing_requirements

    if missing_requirements(("kfp",)):
        raise UsageError(
            "error: deploy needs kfp, which is not installed: pip install 'kalec[kfp]'"
        )
    from kalec.backends import kfp_yaml
    from kalec.backends.kfp_py import kfp_name
    from kalec.deploy import DeployError, DeployRequest, deploy, describe

    pipeline = _compile(args.notebook, args.verbose)
    overrides = parse_overrides(args.param, pipeline.params)
    if args.param and not args.run:
        raise UsageError("error: -p sets parameters of a run; add --run")
    settings = pipeline.settings
    name = kfp_name(args.name or settings.name)
    request = DeployRequest(
        host=args.host,
        pipeline_name=name,
        yaml_text=kfp_yaml.emit(pipeline, args),
        description=settings.description or f"Compiled by kalec from {Path(args.notebook).name}",
        experiment=args.experiment or settings.experiment or "Default",
        run=args.run,
        params=overrides,
        namespace=args.namespace,
        token=args.token,
    )
    if args.dry_run:
        print(describe(request))
        return EXIT_OK
    try:
        deploy(request, sys.stdout)
    except DeployError as error:
        raise UsageError(f"error: {error}") from None
    return EXIT_OK


COMMANDS = {
    "build": cmd_build,
    "emit": cmd_emit,
    "run": cmd_run,
    "check": cmd_check,
    "deploy": cmd_deploy,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from kalec.backends import BackendError

    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_BAD_INPUT
    except BackendError as error:
        sys.stderr.write(f"{getattr(args, 'notebook', 'kalec')}: error: {error}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug in kalec, not in the notebook: say so plainly
        if os.environ.get("KALEC_DEBUG"):
            traceback.print_exc()
        error = sys.exc_info()[1]
        sys.stderr.write(
            f"kalec: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in kalec, not in your notebook; set KALEC_DEBUG=1 for the details "
            "and report it.\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
