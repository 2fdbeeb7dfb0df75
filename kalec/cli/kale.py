"""``kalec --nb NB ...``: Kale's command line, in both of its spellings, for scripts and habits
that predate kalec.

Kale 2.3 (``kale --nb NB [--upload_pipeline] [--run_pipeline] [--experiment_name E]
[--pipeline_name N] [--pipeline_description D] [--docker_image I] [--kfp_host H]
[--output_path P] [--pip-index-urls U]``) writes the KFP script under ``.kale/`` beside the
notebook (or ``--output_path``, from the notebook's folder), compiles it, and uploads or runs it.
The original Kale (``kale --nb NB --pipeline_name N --pipeline_descr D --docker_image I
[--deploy] [--kfp_port P]``) writes the script beside the notebook and with ``--deploy``
uploads and runs it on ``localhost:PORT`` (8080 by default). Both do the same here, with
kalec's compiler, and say once which ``kalec`` command is the modern form.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from kalec.cli.common import (
    EXIT_OK,
    UsageError,
    compiled,
    refuse_foreign,
    write_output,
    written_by_kalec,
)

_ORIGINAL_ONLY = ("--pipeline_descr", "--deploy", "--kfp_port")


def parser() -> argparse.ArgumentParser:
    sub = argparse.ArgumentParser(
        prog="kalec --nb",
        description="Kale's command line: compile NB to a Kubeflow Pipelines script (and its "
        "YAML), optionally upload and run it. Kale 2.3's options and the original Kale's are "
        "both accepted; `kalec build` and `kalec deploy` are the modern forms.",
    )
    sub.add_argument("--nb", required=True, metavar="NB", help="the tagged notebook")
    sub.add_argument("--upload_pipeline", action="store_true", help="upload the pipeline")
    sub.add_argument("--run_pipeline", action="store_true", help="upload and start a run")
    sub.add_argument("--deploy", action="store_true", help="(original Kale) upload and run")
    sub.add_argument("--experiment_name", metavar="E", help="experiment of the run")
    sub.add_argument("--pipeline_name", metavar="N", help="name of the pipeline")
    sub.add_argument("--pipeline_description", metavar="D", help="description of the pipeline")
    sub.add_argument("--pipeline_descr", metavar="D", help="(original Kale) the same")
    sub.add_argument("--docker_image", metavar="I", help="base image of the steps")
    sub.add_argument("--kfp_host", metavar="H", help="the KFP endpoint, host:port or a URL")
    sub.add_argument(
        "--kfp_port",
        type=int,
        default=8080,
        metavar="P",
        help="(original Kale) with --deploy: the KFP API on localhost:P (default 8080)",
    )
    sub.add_argument(
        "--output_path",
        metavar="P",
        help="folder of the script, from the notebook's folder (default: .kale, or the "
        "notebook's folder with the original Kale's options)",
    )
    sub.add_argument(
        "--pip-index-urls",
        dest="pip_index_urls",
        metavar="U",
        help="comma-separated package indexes the steps install from, the main one first",
    )
    sub.add_argument("--debug", action="store_true", help="also print notes")
    return sub


def _host(args: argparse.Namespace, pipeline_host: str | None) -> str:
    if args.kfp_host:
        host = args.kfp_host
    elif args.deploy and not (args.upload_pipeline or args.run_pipeline):
        host = f"localhost:{args.kfp_port}"
    elif pipeline_host:
        host = pipeline_host
    else:
        raise UsageError("error: uploading needs the KFP endpoint: --kfp_host HOST:PORT")
    return host if "://" in host else f"http://{host}"


def _modern(args: argparse.Namespace, script: Path, host: str | None, run: bool) -> str:
    """The kalec command that does what this one did."""
    words = ["kalec"]
    if host:
        words += ["deploy", args.nb, "--host", host] + (["--run"] if run else [])
        if args.experiment_name:
            words += ["--experiment", args.experiment_name]
        if args.pipeline_name:
            words += ["--name", args.pipeline_name]
    else:
        words += ["build", args.nb, "--target", "kfp-py", "-o", str(script)]
    if args.docker_image:
        words += ["--image", args.docker_image]
    return shlex.join(words)


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    args.notebook, args.verbose, args.ignore = args.nb, args.debug, []
    from kalec.targets.options import index_urls, script_name_for

    try:
        urls = index_urls(None, [u.strip() for u in (args.pip_index_urls or "").split(",") if u])
    except ValueError as error:
        raise UsageError(f"error: --pip-index-urls: {error}") from None
    if urls and urls[0] == "https://pypi.org/simple" and args.pip_index_urls:
        urls = urls[1:]  # Kale's list is complete: its first entry is the main index
    pipeline = compiled(args)
    settings = pipeline.settings
    description = args.pipeline_description or args.pipeline_descr
    renamed = dataclasses.replace(
        settings,
        name=args.pipeline_name or settings.name,
        description=description or settings.description,
    )
    pipeline = dataclasses.replace(pipeline, settings=renamed)
    notebook = Path(args.nb)
    original = any(a.split("=")[0] in _ORIGINAL_ONLY for a in argv)
    folder = notebook.parent / (args.output_path or ("" if original else ".kale"))
    script = folder / (notebook.name.removesuffix(".ipynb") + ".kfp.py")
    upload = args.upload_pipeline or args.run_pipeline or args.deploy
    run_it = args.run_pipeline or args.deploy
    host = _host(args, None) if upload else None
    modern = _modern(args, script, host, run_it)
    sys.stderr.write(f"kalec: the modern form of this command: {modern}\n")

    from kalec.targets import kfp_py, kfp_yaml
    from kalec.targets.options import KfpOptions

    options = KfpOptions(
        image=args.docker_image, script_name=script_name_for(str(script), args.nb), index_urls=urls
    )
    package = script.with_name(script.name.removesuffix(".kfp.py") + ".pipeline.yaml")
    for path in (script, package):
        refuse_foreign(path, False, written_by_kalec)
    write_output(script, kfp_py.emit(pipeline, options), "kfp-py")
    write_output(package, kfp_yaml.emit(pipeline, options), "yaml")
    print(f"dsl_script_path: {script}")
    print(f"pipeline_package_path: {package}")
    if not upload:
        return EXIT_OK
    from kalec.deploy import DeployError, deploy, request_for

    request = request_for(
        pipeline,
        host=host or "",
        options=options,
        experiment=args.experiment_name,
        run=run_it,
    )
    try:
        deploy(request, sys.stdout)
    except DeployError as error:
        raise UsageError(f"error: {error}") from None
    return EXIT_OK
