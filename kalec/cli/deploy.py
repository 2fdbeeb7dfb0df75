"""``kalec deploy NB --host URL``: upload to Kubeflow Pipelines, optionally start a run."""

from __future__ import annotations

import argparse
import os
import sys

from kalec.cli.common import (
    EXIT_OK,
    UsageError,
    add_cluster,
    add_notebook,
    add_parameters,
    check_cluster_options,
    compiled,
    parameter_values,
    step_index_urls,
)


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "Compile the notebook, upload it to a Kubeflow Pipelines server (as a new version when "
        "a pipeline of that name exists), and with --run start a run."
    )
    add_notebook(sub)
    add_cluster(sub)
    sub.add_argument(
        "--host",
        metavar="URL",
        help="the Kubeflow Pipelines API endpoint, e.g. http://localhost:8080 "
        "(required unless --dry-run)",
    )
    sub.add_argument(
        "--name",
        metavar="NAME",
        help="pipeline name (default: the notebook's setting, else its file name)",
    )
    sub.add_argument(
        "--experiment",
        metavar="NAME",
        help="experiment of the run (default: the notebook's setting, else 'Default')",
    )
    sub.add_argument("--run", action="store_true", help="start a run after uploading")
    add_parameters(sub)
    sub.add_argument("--namespace", metavar="NS", help="Kubernetes namespace (multi-user installs)")
    sub.add_argument(
        "--token",
        metavar="TOKEN",
        default=os.environ.get("KALEC_KFP_TOKEN"),
        help="bearer token for the server (default: $KALEC_KFP_TOKEN)",
    )
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="compile and say what would be uploaded and run; contact nothing",
    )


def run(args: argparse.Namespace) -> int:
    from kalec.targets import KFP_INSTALL_HINT, missing_requirements

    if not args.host and not args.dry_run:
        raise UsageError("error: deploy needs --host URL (or --dry-run to only compile)")
    check_cluster_options(args)
    if missing_requirements(("kfp",)):
        raise UsageError(f"error: deploy needs kfp, which is not installed: {KFP_INSTALL_HINT}")
    from kalec.deploy import DeployError, deploy, describe, request_for
    from kalec.targets.options import script_name_for

    pipeline = compiled(args)
    values = parameter_values(args, pipeline)
    if values and not args.run:
        raise UsageError("error: -p, -f and -y set parameters of a run; add --run")
    request = request_for(
        pipeline,
        host=args.host or "(no host: --dry-run)",
        script_name=script_name_for(None, args.notebook),
        name=args.name,
        experiment=args.experiment,
        image=args.image,
        packages=tuple(args.package),
        index_urls=step_index_urls(args),
        run=args.run,
        params=values,
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
