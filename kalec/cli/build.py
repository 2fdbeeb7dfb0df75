"""``kalec build NB --target T``: write the pipeline for a cluster target to a file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kalec.cli.common import (
    EXIT_OK,
    UsageError,
    add_cluster,
    add_kfp_data,
    add_notebook,
    check_cluster_options,
    compiled,
    count,
    ignored,
    refuse_foreign,
    step_index_urls,
    write_output,
    written_by_kalec,
)


def cluster_targets() -> list[str]:
    from kalec.targets import TARGETS

    return list(TARGETS)


def add_target(sub: argparse.ArgumentParser) -> None:
    """The target, and the options of the targets that have some."""
    sub.add_argument(
        "--target",
        "-t",
        required=True,
        metavar="TARGET",
        help=f"one of: {', '.join(cluster_targets())}",
    )
    add_cluster(sub)
    add_kfp_data(sub)
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


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = "Compile the notebook and write the pipeline for TARGET to a file."
    add_notebook(sub)
    add_target(sub)
    sub.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file to write (default: beside the notebook, named after it: NB.kfp.py, "
        "NB.pipeline.yaml, NB.argo.yaml, NB.ir.json)",
    )
    sub.add_argument(
        "--force",
        action="store_true",
        help="replace the output file even when kalec did not write it",
    )


def compiled_for_target(args: argparse.Namespace) -> Any:
    """The pipeline, once the target and its options are known good; the notebook's own
    errors come before anything about the output file."""
    if args.target not in cluster_targets():
        raise UsageError(
            f"error: unknown target '{args.target}'; choose one of: {', '.join(cluster_targets())}"
        )
    check_cluster_options(args)
    return compiled(args)


def lowered(args: argparse.Namespace, pipeline: Any) -> Iterable[str]:
    """The pipeline's text for ``args.target``, in pieces where the target writes it so (the
    IR of a large notebook is a hundred megabytes), with a warning for each data file the
    steps read beside the notebook."""
    from kalec.targets import TargetUnavailable, load, text_pieces
    from kalec.targets.options import options_for

    try:
        target = load(args.target)
    except TargetUnavailable as error:
        raise UsageError(f"error: {error}") from None
    options = options_for(
        args.target,
        args.notebook,
        image=args.image,
        packages=tuple(args.package),
        output=getattr(args, "output", None),
        argo_data=args.argo_data,
        argo_volume_claim=args.argo_volume_claim,
        argo_volume_size=args.argo_volume_size,
        index_urls=step_index_urls(args),
        kfp_data=args.kfp_data,
        kfp_workspace_size=args.kfp_workspace_size,
        kfp_workspace_storage_class=args.kfp_workspace_storage_class,
    )
    text = text_pieces(target, pipeline, options)
    warn_unshipped(pipeline, args.target, ignored(args))
    return text


def warn_unshipped(pipeline: Any, target: str, ignore: set[str]) -> None:
    """Data files the steps read beside the notebook, which a cluster step will not have."""
    if target == "ir":
        return
    from kalec.diagnostics import DATA_NOT_SHIPPED
    from kalec.ir.places import render
    from kalec.packaging.shipping import unshipped_reads

    for step, path, origin in unshipped_reads(pipeline):
        diagnostic = DATA_NOT_SHIPPED(origin, step=step, path=path, target=target)
        if diagnostic.code not in ignore:
            sys.stderr.write(render(pipeline, diagnostic) + "\n")


def run(args: argparse.Namespace) -> int:
    from kalec.targets import TARGETS

    pipeline = compiled_for_target(args)
    notebook = Path(args.notebook)
    suffix = TARGETS[args.target].suffix
    output = Path(args.output) if args.output else notebook.with_name(notebook.stem + suffix)
    refuse_foreign(output, args.force, written_by_kalec)
    text = lowered(args, pipeline)
    write_output(output, text, f"{args.target}, {count(len(pipeline.steps), 'step')}")
    return EXIT_OK
