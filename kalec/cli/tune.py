"""``kalec tune NB``: search the notebook's parameters for the best value of one metric."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kalec.cli.common import EXIT_OK, UsageError, add_notebook, compiled, contents_text


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description = (
        "Search the notebook's pipeline-parameters for the best value of one of its "
        "pipeline-metrics: each trial a local run, the steps a trial's values do not reach "
        "taken from the step cache. The search space comes from the notebook (Kale's "
        "katib_metadata, or metadata.kalec.tune) or from --param; --list shows earlier "
        "searches, --resume continues one."
    )
    add_notebook(sub)
    sub.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=RANGE",
        help="a parameter and its range (repeatable): uniform(A,B), loguniform(A,B), int(A,B), "
        "int(A,B,STEP), logint(A,B), float(A,B,STEP) or [v1,v2,...]",
    )
    sub.add_argument("--metric", metavar="NAME", help="the metric to optimise")
    direction = sub.add_mutually_exclusive_group()
    direction.add_argument("--maximize", action="store_true", help="higher is better (default)")
    direction.add_argument("--minimize", action="store_true", help="lower is better")
    sub.add_argument("--goal", type=float, metavar="VALUE", help="stop once a trial reaches it")
    sub.add_argument(
        "--trials",
        type=int,
        metavar="N",
        help="how many trials (default: the notebook's maxTrialCount, a grid's size, else 10)",
    )
    sub.add_argument("--jobs", type=int, default=1, metavar="N", help="trials at the same time")
    sub.add_argument(
        "--algorithm",
        metavar="NAME",
        help="random, grid, tpe, multivariate-tpe, sobol or cmaes (Katib's names; default: the "
        "notebook's, else random)",
    )
    sub.add_argument("--seed", type=int, metavar="N", help="seed the search, to repeat it")
    sub.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="ID",
        help="continue the last search (or search ID) until its trial count",
    )
    sub.add_argument("--list", action="store_true", help="show the notebook's earlier searches")
    sub.add_argument(
        "--contents",
        type=Path,
        metavar="FILE",
        help="read the notebook's cells from FILE (an editor's unsaved version of it)",
    )
    sub.add_argument(
        "--tunes-dir",
        type=Path,
        metavar="DIR",
        help="where searches are kept (default: .kalec/tunes beside the notebook)",
    )


def space_of(args: argparse.Namespace, pipeline) -> object:  # noqa: ANN001 - a Space
    """The search space: the notebook's metadata, with the command line's changes."""
    import dataclasses
    import json

    from kalec.searchspace import Objective, Space, SpaceError, checked, from_katib, parse_param

    try:
        saved = pipeline.settings.search
        space = from_katib(json.loads(saved), "the notebook's search space") if saved else None
        given = [parse_param(text) for text in args.param]
    except SpaceError as error:
        raise UsageError(f"{args.notebook}: error: {error}") from None
    if space is None:
        if not args.metric:
            raise UsageError(
                f"{args.notebook}: error: no search space: give --param NAME=RANGE and --metric "
                "NAME, or katib_metadata in the notebook's metadata"
            )
        space = Space((), Objective(args.metric))
    if given:
        kept = [d for d in space.dimensions if d.name not in {g.name for g in given}]
        space = dataclasses.replace(space, dimensions=tuple(kept + given))
    objective = space.objective
    if args.metric:
        objective = dataclasses.replace(objective, metric=args.metric)
    if args.maximize or args.minimize:
        objective = dataclasses.replace(objective, maximize=not args.minimize)
    if args.goal is not None:
        objective = dataclasses.replace(objective, goal=args.goal)
    space = dataclasses.replace(space, objective=objective)
    if args.algorithm:
        space = dataclasses.replace(space, algorithm=args.algorithm)
    try:
        return checked(space, pipeline)
    except SpaceError as error:
        raise UsageError(f"{args.notebook}: error: {error}") from None


def run(args: argparse.Namespace) -> int:
    from kalec.searchspace import SpaceError
    from kalec.tune.tuning import TuneOptions, list_tunes, tune

    if args.list:
        try:
            return list_tunes(args.notebook, sys.stdout, args.tunes_dir)
        except SpaceError as error:
            raise UsageError(f"error: {error}") from None
    for name in ("trials", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"error: --{name} is a whole number from 1")
    pipeline = compiled(args, text=contents_text(args))
    space = space_of(args, pipeline) if args.resume is None else None
    from kalec.tune import search

    try:
        search.need_optuna()
        if space is not None:
            search.sampler(space, args.seed)  # an unknown algorithm or a grid without steps
        options = TuneOptions(args.trials, args.jobs, args.seed, args.resume, folder=args.tunes_dir)
        if space is None:  # resuming: the saved space
            from kalec.searchspace import Objective, Space

            space = Space((), Objective(""))
        code = tune(pipeline, space, options, sys.stdout, sys.stderr)
    except SpaceError as error:
        raise UsageError(f"{args.notebook}: error: {error}") from None
    return EXIT_OK if code == 0 else 1
