"""``kalec deploy NB --host URL``: upload to Kubeflow Pipelines, optionally start a run and
follow it to its end."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kalec.cli.common import (
    EXIT_OK,
    EXIT_USER_CODE,
    UsageError,
    add_cluster,
    add_kfp_data,
    add_notebook,
    add_parameters,
    check_cluster_options,
    compiled,
    parameter_values,
    step_index_urls,
)


def add_arguments(sub: argparse.ArgumentParser) -> None:
    from kalec.deploy.auth import AUTH_MODES

    sub.description = (
        "Compile the notebook, upload it to a Kubeflow Pipelines server (as a new version when "
        "a pipeline of that name exists), and with --run start a run."
    )
    add_notebook(sub)
    add_cluster(sub)
    add_kfp_data(sub)
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
    follow = sub.add_mutually_exclusive_group()
    follow.add_argument(
        "--watch",
        action="store_true",
        help="with --run: follow the run to its end, a line per step's change of state; exit 0 "
        "when it succeeds, 1 when it fails (Ctrl-C stops following, not the run)",
    )
    follow.add_argument(
        "--wait",
        action="store_true",
        help="with --run: wait for the run's end quietly, then say how it ended (exit as --watch)",
    )
    sub.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="how long each call to the server may wait for its answer (default: 20)",
    )
    sub.add_argument(
        "--poll",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often --watch/--wait ask the server (default: 5)",
    )
    add_parameters(sub)
    sub.add_argument(
        "--namespace",
        metavar="NS",
        help="your Kubeflow profile's namespace (multi-user installs; inside a notebook "
        "server, its own by default)",
    )
    sub.add_argument(
        "--auth",
        choices=AUTH_MODES,
        help="how to authenticate: sa (the notebook server's service-account token), cookies "
        "($KALEC_KFP_COOKIES or --cookies-file: the dashboard's session cookies), token "
        "($KALEC_KFP_TOKEN or --token-file), none (default: the first available, in that "
        "order; -v says which)",
    )
    sub.add_argument(
        "--token-file", metavar="FILE", help="a file holding a bearer token (--auth token)"
    )
    sub.add_argument(
        "--cookies-file",
        metavar="FILE",
        help="a file holding the dashboard's session cookies, as a Cookie header's value "
        "(--auth cookies)",
    )
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="compile and say what would be uploaded and run; contact nothing",
    )


EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C


def run(args: argparse.Namespace) -> int:
    from kalec.targets import KFP_INSTALL_HINT, missing_requirements

    if not args.host and not args.dry_run:
        raise UsageError("error: deploy needs --host URL (or --dry-run to only compile)")
    if (args.watch or args.wait) and not args.run:
        raise UsageError("error: --watch and --wait follow a run: add --run")
    if args.poll <= 0 or args.timeout <= 0:
        raise UsageError("error: --poll and --timeout take a number of seconds above 0")
    check_cluster_options(args)
    if missing_requirements(("kfp",)):
        raise UsageError(f"error: deploy needs kfp, which is not installed: {KFP_INSTALL_HINT}")
    from kalec.deploy import AuthSettings, DeployError, deploy, describe, request_for
    from kalec.deploy.calls import CallLimits
    from kalec.targets.options import options_for

    pipeline = compiled(args)
    values = parameter_values(args, pipeline)
    if values and not args.run:
        raise UsageError("error: -p, -f and -y set parameters of a run; add --run")
    request = request_for(
        pipeline,
        host=args.host or "(no host: --dry-run)",
        options=options_for(
            "yaml",
            args.notebook,
            image=args.image,
            packages=tuple(args.package),
            index_urls=step_index_urls(args),
            kfp_data=args.kfp_data,
            kfp_workspace_size=args.kfp_workspace_size,
            kfp_workspace_storage_class=args.kfp_workspace_storage_class,
        ),
        name=args.name,
        experiment=args.experiment,
        run=args.run,
        params=values,
        namespace=args.namespace,
        auth=AuthSettings(args.auth, args.token_file, args.cookies_file),
        limits=CallLimits(read=args.timeout),
    )
    if args.dry_run:
        print(describe(request))
        return EXIT_OK
    try:
        result = deploy(request, sys.stdout, said=sys.stderr if args.verbose else None)
        if not (args.watch or args.wait):
            return EXIT_OK
        return follow_run(request, result, pipeline, args.poll, show_steps=args.watch)
    except DeployError as error:
        raise UsageError(f"error: {error}") from None


def follow_run(request: Any, result: Any, pipeline: Any, poll: float, show_steps: bool) -> int:
    """Follow the run just started to its end; 0 when it succeeded, 1 when not, 130 when the
    user stops following (the run goes on)."""
    from kalec.deploy import connect
    from kalec.deploy.calls import said_in_words, time_limited
    from kalec.deploy.follow import RunToFollow, follow

    run = RunToFollow(
        host=request.host,
        run_id=result.run_id,
        link=result.run_link,
        namespace=result.namespace or "kubeflow",
        steps=tuple(step.name.rpartition("/")[2] for step in pipeline.steps),
        metric_steps=tuple(s.name.rpartition("/")[2] for s in pipeline.steps if s.metrics),
        poll_seconds=poll,
    )
    print(f"following run {run.run_id} (Ctrl-C stops following; the run goes on)", flush=True)
    try:
        with time_limited(request.limits), said_in_words(request.host, request.limits):
            client, credentials, _ = connect(request)
            end = follow(
                client,
                run,
                credentials,
                request.limits,
                sys.stdout if show_steps else None,
                warn=lambda line: print(f"kalec: {line}", file=sys.stderr, flush=True),
            )
    except KeyboardInterrupt:
        sys.stderr.write(
            f"\nkalec: stopped following; the run goes on in the cluster: {run.link}\n"
        )
        return EXIT_INTERRUPTED
    print(f"run {end.state.lower()}: {run.link}")
    for name, value in end.metrics.items():
        print(f"metric {name} = {value}")
    if end.succeeded:
        return EXIT_OK
    if end.failed_step:
        where = f" at {end.failed_where}" if end.failed_where else ""
        why = f": {end.failed_why}" if end.failed_why else " (its log says more)"
        sys.stderr.write(f"kalec: step '{end.failed_step}' failed{where}{why}\n")
    return EXIT_USER_CODE
