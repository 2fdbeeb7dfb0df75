"""``kalec serve``: the HTTP API and Kale's ``POST /kale``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kalec.cli.common import EXIT_OK, UsageError


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "Serve check, build, graph, runs and deploy over HTTP (JSON), and the POST /kale "
        "endpoint Kale's clients call, with waitress. Safe by default: loopback only, a token "
        "(printed at start), requests from other web origins or host names refused, bodies "
        "capped."
    )
    sub.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    sub.add_argument("--port", type=int, default=5000, help="default: 5000")
    sub.add_argument(
        "--token",
        help="the token clients must send (default: $KALEC_SERVE_TOKEN, which `ps` does not "
        "show, else a new random one, printed)",
    )
    sub.add_argument(
        "--no-token",
        action="store_true",
        help="ask for no token (only on a loopback address; any program here may then run "
        "notebooks through the server)",
    )
    sub.add_argument(
        "--max-body-mb", type=float, default=20, metavar="MB", help="largest request (default 20)"
    )
    sub.add_argument(
        "--max-runs", type=int, default=2, metavar="N", help="local runs at once (default 2)"
    )
    sub.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="a web origin whose pages may call the server, e.g. http://localhost:8888 "
        "(repeatable; the server's own is always allowed)",
    )
    sub.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name clients reach the server by (repeatable)",
    )
    sub.add_argument(
        "--folder", type=Path, metavar="DIR", help="where runs go (default: a new temporary folder)"
    )
    sub.add_argument(
        "--keep-runs",
        type=int,
        default=20,
        metavar="N",
        help="finished runs whose folders are kept; older ones are removed (default 20)",
    )
    sub.add_argument(
        "--kfp-workers",
        type=int,
        default=1,
        metavar="N",
        help="processes that compile with kfp (the yaml target, deploy); 0 compiles in the "
        "server's own process, one at a time (default 1)",
    )
    sub.add_argument(
        "--max-deploys",
        type=int,
        default=2,
        metavar="N",
        help="deploys to Kubeflow Pipelines at once; more are refused with 503 (default 2)",
    )
    sub.add_argument(
        "--deploy-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a deploy not done by then is ended and answered 504 (default 60)",
    )
    sub.add_argument(
        "--allow-link-local",
        action="store_true",
        help="deploy to link-local addresses and cloud metadata services too (refused by "
        "default: they hand out the machine's credentials)",
    )


def run(args: argparse.Namespace) -> int:
    from kalec.targets import missing_requirements

    missing = missing_requirements(("flask", "waitress"))
    if missing:
        raise UsageError(
            f"error: serve needs {' and '.join(missing)}: pip install 'kalec[serve]' "
            "(in a source checkout: pip install -e '.[serve]')"
        )
    from kalec.serve.app import LOOPBACK, ServerConfig, new_token, serve

    if not 0 < args.port < 65536:
        raise UsageError("error: --port: a port number, 1 to 65535")
    if args.no_token and args.token:
        raise UsageError("error: --no-token and --token: give one of them")
    if args.no_token and args.host not in LOOPBACK:
        raise UsageError(
            f"error: --no-token: only on a loopback address ({', '.join(LOOPBACK)}), "
            f"not {args.host}: anyone who reaches the server could run code on this machine"
        )
    if args.max_body_mb <= 0 or args.max_runs < 1 or args.max_deploys < 1:
        raise UsageError("error: --max-body-mb, --max-runs and --max-deploys must be positive")
    if args.keep_runs < 0 or args.kfp_workers < 0 or args.deploy_timeout <= 0:
        raise UsageError(
            "error: --keep-runs and --kfp-workers cannot be negative, --deploy-timeout must be "
            "positive"
        )
    from kalec.serve.context import Limits

    token = args.token or os.environ.get("KALEC_SERVE_TOKEN") or None
    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=None if args.no_token else (token or new_token()),
        show_token=not token,
        max_bytes=int(args.max_body_mb * 1024 * 1024),
        allowed_origins=tuple(args.allow_origin),
        allowed_hosts=tuple(args.allow_host),
        folder=args.folder,
        kfp_workers=args.kfp_workers,
        limits=Limits(
            deploy_seconds=args.deploy_timeout,
            max_deploys=args.max_deploys,
            allow_link_local=args.allow_link_local,
            max_runs=args.max_runs,
            keep_runs=args.keep_runs,
        ),
    )
    try:
        serve(config)
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as error:  # the port is taken, the address is not this machine's
        raise UsageError(f"error: cannot serve on {args.host}:{args.port}: {error}") from None
    return EXIT_OK
