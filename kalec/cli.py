"""The ``kalec`` command: build, emit, run, check.

Exit codes scripts can rely on: 0 success; 1 the notebook's own code failed while running; 2 the
notebook or the command line is wrong (nothing ran); 3 kalec itself failed (a bug to report).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from kalec import __version__
from kalec.backends.options import (
    ArgoOptions,
    IrOptions,
    KfpOptions,
    RunOptions,
    script_name_for,
)
from kalec.errors import KalecError
from kalec.runtime.params import parse_value

EXIT_OK, EXIT_USER_CODE, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(KalecError):
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
        sub.add_argument(
            "--ignore",
            action="append",
            default=[],
            metavar="CODE",
            help="do not show warnings and notes of this code, e.g. K303 (repeatable; "
            "errors cannot be ignored; the codes are listed in docs/diagnostics.md)",
        )

    def cluster(sub: argparse.ArgumentParser) -> None:
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

    def argo(sub: argparse.ArgumentParser) -> None:
        """Options of the argo target."""
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

    def parameters(sub: argparse.ArgumentParser) -> None:
        """Parameter overrides, in kalec's spelling and in papermill's."""
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

    targets = ", ".join(_targets(runs=False))
    build = commands.add_parser(
        "build",
        help="write the pipeline for a target to a file",
        description="Compile the notebook and write the pipeline for TARGET to a file.",
    )
    common(build)
    cluster(build)
    argo(build)
    build.add_argument("--target", "-t", required=True, metavar="TARGET", help=f"one of: {targets}")
    build.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file to write (default: beside the notebook, named after it: NB.kfp.py, "
        "NB.pipeline.yaml, NB.argo.yaml, NB.ir.json)",
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="replace the output file even when kalec did not write it",
    )

    emit = commands.add_parser(
        "emit",
        help="print the pipeline for a target",
        description="Compile the notebook and print the pipeline for TARGET on standard output.",
    )
    common(emit)
    cluster(emit)
    argo(emit)
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
    parameters(run)
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
        "(default: .kalec/runs/RUN-ID beside the notebook)",
    )
    run.add_argument(
        "--no-fork",
        dest="fork",
        action="store_false",
        help="start every step as a new interpreter that imports its modules itself (default: "
        "fork steps from one process that imported the prelude's modules once, where forking "
        "is safe)",
    )
    run.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="run every step, and keep nothing in the step cache (default: a step whose code, "
        "inputs, parameters, files and packages are unchanged takes its values from the cache)",
    )
    run.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="folder of the step cache (default: .kalec/cache beside the notebook)",
    )
    run.add_argument(
        "--refresh",
        action="append",
        default=[],
        metavar="STEP",
        help="run STEP even when it is in the cache (repeat for several steps)",
    )
    chosen = run.add_mutually_exclusive_group()
    chosen.add_argument(
        "--resume",
        action="store_true",
        help="run the steps the last run did not complete and those after them; the others' "
        "values come from that run",
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

    verify = commands.add_parser(
        "verify",
        help="check that the pipeline computes what the notebook computes",
        description="Run the notebook top to bottom in a Jupyter kernel (cells tagged skip left "
        "out) and as a pipeline on this machine, then compare every value passed between steps "
        "and every metric. Exit 0 when all are equal, 1 when any differs or either run fails.",
    )
    common(verify)
    verify.add_argument(
        "--rtol",
        type=float,
        default=1e-7,
        help="relative tolerance for floating-point numbers, arrays and frames (default: 1e-7)",
    )
    verify.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (default: 0)")
    verify.add_argument(
        "--kernel", metavar="NAME", help="Jupyter kernel (default: the notebook's, or python3)"
    )
    verify.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="limit for each cell in the kernel"
    )
    verify.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="pipeline steps to run at the same time",
    )

    runs = commands.add_parser(
        "runs",
        help="list the earlier local runs of a notebook",
        description="List the local runs of a notebook, newest first: id, start, state, "
        "seconds, and how many steps ran, came from the cache, failed.",
    )
    runs.add_argument("notebook", help="the tagged notebook (.ipynb)")
    runs.add_argument("--format", choices=("text", "json"), default="text", help="default: text")

    clean = commands.add_parser(
        "clean",
        help="remove old local runs and step-cache entries",
        description="Remove local runs and step-cache entries (the .kalec folder beside a "
        "notebook) last used longer ago than --older-than, then the least recently used ones "
        "until what is left fits in --max-size. Runs in progress are left alone.",
    )
    clean.add_argument(
        "path",
        nargs="?",
        default=".",
        help="a notebook, or the folder holding notebooks and their .kalec (default: .)",
    )
    clean.add_argument(
        "--older-than",
        metavar="AGE",
        help="age such as 90m, 12h, 7d, 2w (default: 7d unless --max-size is given)",
    )
    clean.add_argument("--max-size", metavar="SIZE", help="size such as 500M or 2G")
    clean.add_argument(
        "--dry-run", action="store_true", help="say what would be removed, remove nothing"
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
        metavar="URL",
        help="the Kubeflow Pipelines API endpoint, e.g. http://localhost:8080 "
        "(required unless --dry-run)",
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
    parameters(deploy)
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
    check.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), or JSON: steps, inputs, parameters, metrics and "
        "diagnostics with their codes, cells and lines",
    )

    graph = commands.add_parser(
        "graph",
        help="draw the step graph: a box per step, arrows labelled with what they carry",
        description="Compile the notebook and draw its steps: one box per step (its name and "
        "cells), an arrow for each dependency, labelled with the variables and files that "
        "travel along it. SVG by default (no system package needed), or Graphviz DOT, or "
        "Mermaid.",
    )
    common(graph)
    graph.add_argument(
        "--format", choices=("svg", "dot", "mermaid"), default="svg", help="default: svg"
    )
    graph.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default: standard output)"
    )
    graph.add_argument(
        "--force", action="store_true", help="replace FILE even if kalec did not write it"
    )

    serve = commands.add_parser(
        "serve",
        help="serve kalec over HTTP: the seed's POST /kale and the /api/v1 endpoints",
        description="Serve check, build, graph, runs and deploy over HTTP (JSON), and the "
        "seed's POST /kale, with waitress. Safe by default: loopback only, a token (printed at "
        "start), requests from other web origins or host names refused, bodies capped.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=5000, help="default: 5000")
    serve.add_argument(
        "--token", help="the token clients must send (default: a new random one, printed)"
    )
    serve.add_argument(
        "--no-token",
        action="store_true",
        help="ask for no token (only on a loopback address; any program here may then run "
        "notebooks through the server)",
    )
    serve.add_argument(
        "--max-body-mb", type=float, default=20, metavar="MB", help="largest request (default 20)"
    )
    serve.add_argument(
        "--max-runs", type=int, default=2, metavar="N", help="local runs at once (default 2)"
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="a web origin whose pages may call the server, e.g. http://localhost:8888 "
        "(repeatable; the server's own is always allowed)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name clients reach the server by (repeatable)",
    )
    serve.add_argument(
        "--folder", type=Path, metavar="DIR", help="where runs go (default: a new temporary folder)"
    )
    return parser


def _ignored(args: argparse.Namespace) -> set[str]:
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


def _compile(path: str, verbose: bool, ignore: set[str] | None = None) -> Any:
    from kalec.compiler import compile_notebook
    from kalec.frontend.notebook import NotebookError
    from kalec.ir import Severity

    try:
        pipeline = compile_notebook(path)
    except NotebookError as error:
        raise UsageError(f"{path}: error {error.code}: {error}") from None
    shown = [
        d
        for d in pipeline.diagnostics
        if (verbose or d.severity is not Severity.NOTE) and d.code not in (ignore or ())
    ]
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


def _typed(value: Any, kind: str) -> Any:
    """A value from a parameters file as the declared type: text is parsed as ``-p`` text is,
    a YAML number or list is taken when it is of that type (an int where a float is declared)."""
    if isinstance(value, str):
        return parse_value(value, kind)
    if kind == "float" and type(value) is int:
        return float(value)
    if type(value).__name__ != kind:
        raise ValueError(value)
    return value


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def parse_overrides(args: argparse.Namespace, params: tuple) -> dict[str, Any]:
    """``-p NAME=VALUE``, ``-f FILE`` and ``-y YAML`` -> values of each parameter's type.

    Later sources win: files, then YAML text, then ``-p``, as papermill orders them.
    """
    declared = {p.name: p for p in params}
    given: list[tuple[str, Any, str]] = []  # (name, value, where it came from)
    for file in getattr(args, "parameters_file", []):
        given += [(k, v, f"-f {file}") for k, v in _yaml_mapping(_read_text(file), f"-f {file}")]
    for text in getattr(args, "parameters_yaml", []):
        given += [(k, v, "-y") for k, v in _yaml_mapping(text, "-y")]
    for pair in args.param:
        name, sep, text = pair.partition("=")
        if not sep:
            raise UsageError(f"error: -p {pair}: write -p NAME=VALUE or -p NAME VALUE")
        given.append((name, text, f"-p {name}"))
    values: dict[str, Any] = {}
    for name, value, where in given:
        if name not in declared:
            known = ", ".join(declared) or "none: the notebook has no pipeline-parameters cell"
            raise UsageError(
                f"error: {where}: no such pipeline parameter {name} (parameters: {known})"
            )
        kind = declared[name].type.value
        try:
            values[name] = _typed(value, kind)
        except (ValueError, TypeError):
            raise UsageError(
                f"error: {where}: {value!r} is not a value for {name}, which is "
                f"{_article(kind)} {kind} parameter"
            ) from None
    return values


def _read_text(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"error: -f {file}: cannot read it: {error}") from None


def _yaml_mapping(text: str, where: str) -> list[tuple[str, Any]]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:
        raise UsageError(f"error: {where}: not valid YAML: {error}") from None
    if data is None:
        return []
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise UsageError(f"error: {where}: write a mapping of NAME: VALUE")
    return list(data.items())


def _default_output(notebook: Path, target: str) -> Path:
    from kalec.backends import TARGETS

    return notebook.with_name(notebook.stem + TARGETS[target].suffix)


def _written_by_kalec(path: Path) -> bool:
    """Whether an existing file is one kalec wrote (so it may be replaced without --force)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
    except OSError:
        return False
    return b"compiled by kalec" in head or b"_kalec_" in head or b'"kalec_ir"' in head


def _kfp_options(args: argparse.Namespace) -> KfpOptions:
    return KfpOptions(
        image=args.image,
        packages=tuple(args.package),
        script_name=script_name_for(getattr(args, "output", None), args.notebook),
    )


def _target_options(args: argparse.Namespace) -> KfpOptions | ArgoOptions | IrOptions:
    """The options of ``args.target``, from the arguments that belong to it."""
    if args.target in ("kfp-py", "yaml"):
        return _kfp_options(args)
    if args.target == "argo":
        return ArgoOptions(
            image=args.image,
            packages=tuple(args.package),
            data=args.argo_data,
            volume_claim=args.argo_volume_claim,
            volume_size=args.argo_volume_size,
        )
    return IrOptions()


def _check_cluster_options(args: argparse.Namespace) -> None:
    """``--image`` and ``--package`` reach generated commands: only well-formed values pass."""
    from kalec import names

    checks = [("--image", names.image_problem(args.image))] if getattr(args, "image", None) else []
    checks += [("--package", names.requirement_problem(r)) for r in getattr(args, "package", [])]
    for option, problem in checks:
        if problem:
            raise UsageError(f"error: {option}: {problem}")


def _warn_unshipped(pipeline: Any, target: str, ignore: set[str]) -> None:
    """Data files the steps read beside the notebook, which a cluster step will not have."""
    if target == "ir":
        return
    from kalec.backends.shipping import unshipped_reads
    from kalec.diagnostics import DATA_NOT_SHIPPED

    for step, path, origin in unshipped_reads(pipeline):
        diagnostic = DATA_NOT_SHIPPED(
            f"step '{step}' reads {path}, which is beside the notebook here but will not be in "
            f"the {target} step's container",
            origin,
            hint="put it in the image, on a volume (notebook setting volumes), or in object "
            "storage, and read it from there",
        )
        if diagnostic.code not in ignore:
            sys.stderr.write(diagnostic.render(pipeline.source) + "\n")


def cmd_build(args: argparse.Namespace) -> int:
    _check_target(args.target, runs=False)
    _check_cluster_options(args)
    pipeline = _compile(args.notebook, args.verbose, _ignored(args))
    notebook = Path(args.notebook)
    output = Path(args.output) if args.output else _default_output(notebook, args.target)
    _refuse_foreign(output, args.force, _written_by_kalec)
    text = _backend(args.target, runs=False).emit(pipeline, _target_options(args))
    _warn_unshipped(pipeline, args.target, _ignored(args))
    _write(output, text, f"{args.target}, {_count(len(pipeline.steps), 'step')}")
    return EXIT_OK


def _refuse_foreign(output: Path, force: bool, written_by_kalec: Any) -> None:
    """A file kalec did not write is never replaced without ``--force``."""
    if output.exists() and not force and not written_by_kalec(output):
        raise UsageError(
            f"error: {output} exists and kalec did not write it; not replacing it "
            "(give another -o PATH, or --force to replace it)"
        )


def _write(output: Path, text: str, what: str) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"error: cannot write {output}: {error}") from None
    print(f"wrote {output} ({what})")


def cmd_graph(args: argparse.Namespace) -> int:
    from kalec.graph import MARKERS, RENDERERS

    pipeline = _compile(args.notebook, args.verbose, _ignored(args))
    text = RENDERERS[args.format](pipeline)
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    output = Path(args.output)
    _refuse_foreign(output, args.force, lambda path: _starts_with(path, MARKERS[args.format]))
    _write(output, text, f"{args.format}, {_count(len(pipeline.steps), 'step')}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from kalec.backends import missing_requirements

    missing = missing_requirements(("flask", "waitress"))
    if missing:
        raise UsageError(
            f"error: serve needs {' and '.join(missing)}: pip install 'kalec[serve]' "
            "(in a source checkout: pip install -e '.[serve]')"
        )
    from kalec.server import LOOPBACK, ServerConfig, new_token, serve

    if not 0 < args.port < 65536:
        raise UsageError("error: --port: a port number, 1 to 65535")
    if args.no_token and args.token:
        raise UsageError("error: --no-token and --token: give one of them")
    if args.no_token and args.host not in LOOPBACK:
        raise UsageError(
            f"error: --no-token: only on a loopback address ({', '.join(LOOPBACK)}), "
            f"not {args.host}: anyone who reaches the server could run code on this machine"
        )
    if args.max_body_mb <= 0 or args.max_runs < 1:
        raise UsageError("error: --max-body-mb and --max-runs must be positive")
    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=None if args.no_token else (args.token or new_token()),
        max_bytes=int(args.max_body_mb * 1024 * 1024),
        max_runs=args.max_runs,
        allowed_origins=tuple(args.allow_origin),
        allowed_hosts=tuple(args.allow_host),
    )
    if args.folder:
        config.folder = args.folder
    try:
        serve(config)
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as error:  # the port is taken, the address is not this machine's
        raise UsageError(f"error: cannot serve on {args.host}:{args.port}: {error}") from None
    return EXIT_OK


def _starts_with(path: Path, marker: str) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(marker.encode())) == marker.encode()
    except OSError:
        return False


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def cmd_emit(args: argparse.Namespace) -> int:
    _check_target(args.target, runs=False)
    _check_cluster_options(args)
    pipeline = _compile(args.notebook, args.verbose, _ignored(args))
    sys.stdout.write(_backend(args.target, runs=False).emit(pipeline, _target_options(args)))
    _warn_unshipped(pipeline, args.target, _ignored(args))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError("error: --jobs must be at least 1")
    pipeline = _compile(args.notebook, args.verbose, _ignored(args))
    overrides = parse_overrides(args, pipeline.params)
    local = _backend("local", runs=True)
    options = RunOptions(
        jobs=args.jobs,
        run_dir=args.run_dir,
        params=overrides,
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


def cmd_verify(args: argparse.Namespace) -> int:
    from kalec.verify import VerifyOptions, verify

    if args.jobs < 1 or args.rtol < 0 or args.atol < 0:
        raise UsageError("error: --jobs must be at least 1 and the tolerances not negative")
    pipeline = _compile(args.notebook, args.verbose, _ignored(args))
    options = VerifyOptions(
        rtol=args.rtol, atol=args.atol, kernel=args.kernel, timeout=args.timeout, jobs=args.jobs
    )
    return verify(pipeline, options, sys.stdout, sys.stderr)


def cmd_runs(args: argparse.Namespace) -> int:
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


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def _amount(text: str, units: dict[str, int], option: str, example: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]?)i?[bB]?\s*", text or "")
    if not match or match.group(2).lower() not in units:
        raise UsageError(f"error: {option} {text!r}: give it as, for example, {example}")
    return float(match.group(1)) * units[match.group(2).lower()]


def cmd_clean(args: argparse.Namespace) -> int:
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
        f"{verb} {_count(len(removal.runs), 'run')}, {len(removal.entries)} cache "
        f"entr{'y' if len(removal.entries) == 1 else 'ies'}"
        f" and {_count(len(removal.objects), 'cached value')} "
        f"({removal.freed_bytes / 2**20:,.1f} MB) in {folder}\n"
    )
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from kalec.report import check_report

    ignore = _ignored(args)
    if args.format == "json":
        return _check_json(args.notebook, ignore)
    pipeline = _compile(args.notebook, verbose=True, ignore=ignore)
    sys.stdout.write(check_report(pipeline))
    return EXIT_OK


def _check_json(path: str, ignore: set[str]) -> int:
    """``check --format json``: one JSON document on standard output, whatever the outcome."""
    import json

    from kalec.compiler import compile_notebook
    from kalec.diagnostics import NOT_A_NOTEBOOK
    from kalec.frontend.notebook import NotebookError
    from kalec.report import check_data

    try:
        pipeline = compile_notebook(path)
    except NotebookError as error:
        data = {
            "notebook": path,
            "ok": False,
            "diagnostics": [NOT_A_NOTEBOOK(str(error)).as_dict()],
        }
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return EXIT_BAD_INPUT
    kept = tuple(d for d in pipeline.diagnostics if d.code not in ignore)
    data = check_data(pipeline, kept)
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=repr) + "\n")
    return EXIT_OK if data["ok"] else EXIT_BAD_INPUT


def cmd_deploy(args: argparse.Namespace) -> int:
    from kalec.backends import KFP_INSTALL_HINT, missing_requirements

    if not args.host and not args.dry_run:
        raise UsageError("error: deploy needs --host URL (or --dry-run to only compile)")
    _check_cluster_options(args)
    if missing_requirements(("kfp",)):
        raise UsageError(f"error: deploy needs kfp, which is not installed: {KFP_INSTALL_HINT}")
    from kalec.backends import kfp_yaml
    from kalec.backends.kfp_py import description as kfp_description
    from kalec.deploy import DeployError, DeployRequest, deploy, describe
    from kalec.names import pipeline_name

    pipeline = _compile(args.notebook, args.verbose, _ignored(args))
    overrides = parse_overrides(args, pipeline.params)
    if overrides and not args.run:
        raise UsageError("error: -p, -f and -y set parameters of a run; add --run")
    settings = pipeline.settings
    name = pipeline_name(args.name or settings.name)
    request = DeployRequest(
        host=args.host or "(no host: --dry-run)",
        pipeline_name=name,
        yaml_text=kfp_yaml.emit(pipeline, _kfp_options(args)),
        description=kfp_description(pipeline),
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
    "runs": cmd_runs,
    "verify": cmd_verify,
    "clean": cmd_clean,
    "deploy": cmd_deploy,
    "graph": cmd_graph,
    "serve": cmd_serve,
}


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


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name with odd bytes must not crash a print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = _papermill_params(sys.argv[1:] if argv is None else list(argv))
    args = _parser().parse_args(argv)
    bad = _unencodable_argument(args)
    if bad:
        shown = "the notebook's file name" if bad == "notebook" else "--" + bad.replace("_", "-")
        sys.stderr.write(
            f"kalec: error: {shown} is not valid UTF-8 text; rename the file or retype the value\n"
        )
        return EXIT_BAD_INPUT
    try:
        return COMMANDS[args.command](args)
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
            traceback.print_exc()
        error = sys.exc_info()[1]
        sys.stderr.write(
            f"kalec: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in kalec, not in your notebook; set KALEC_DEBUG=1 for the details "
            "and report it.\n"
        )
        return EXIT_INTERNAL


# Commands that by their end hold no open file, thread or child process of their own.
_NOTHING_TO_CLOSE = frozenset({"build", "emit", "check", "graph"})


def entry() -> None:
    """The ``kalec`` command. Those that only compile end without the interpreter's teardown
    (freeing every imported module is a tenth of a small build); what they wrote is flushed."""
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] in _NOTHING_TO_CLOSE:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to keep
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
