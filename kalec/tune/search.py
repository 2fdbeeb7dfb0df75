"""The search itself, by Optuna (the ``kalec[tune]`` extra): Katib's algorithm names mapped to
Optuna's samplers where one does the same thing, the study kept in SQLite in the tune's folder
so a stopped search resumes where it was.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kalec.searchspace import Dimension, Space, SpaceError

INSTALL_HINT = "pip install 'kalec[tune]'"
# Katib's names (and Optuna's own short ones) -> what kalec runs
ALGORITHMS = {
    "random": "random search",
    "grid": "every point of the grid",
    "tpe": "tree-structured Parzen estimator",
    "multivariate-tpe": "TPE over the parameters together",
    "sobol": "a Sobol quasi-random sequence",
    "cmaes": "CMA-ES (needs the cmaes package)",
}
REFUSED = {  # Katib algorithms kalec cannot run locally, and why
    "bayesianoptimization": "use tpe (kalec has no Gaussian-process optimiser)",
    "hyperband": "it stops trials early inside a run, which a pipeline run does not report",
    "enas": "it searches network architectures, not parameters",
    "darts": "it searches network architectures, not parameters",
    "pbt": "it trains a population with checkpoints, not independent runs",
}


def need_optuna() -> None:
    if importlib.util.find_spec("optuna") is None:
        raise SpaceError(f"kalec tune searches with Optuna, which is not installed: {INSTALL_HINT}")


def sampler(space: Space, seed: int | None) -> Any:
    """The Optuna sampler of ``space.algorithm``; ``SpaceError`` listing the names otherwise."""
    import optuna

    name = space.algorithm.lower()
    if name in REFUSED:
        raise SpaceError(f"algorithm {space.algorithm!r}: {REFUSED[name]}")
    if name not in ALGORITHMS:
        raise SpaceError(
            f"algorithm {space.algorithm!r} is not one kalec runs; use one of: "
            + ", ".join(ALGORITHMS)
        )
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        grid_size(space, check=True)  # every parameter has values to walk, not too many
        # the points are queued in the study (``grid_points``); Optuna's GridSampler stops the
        # study from inside, which only its own optimisation loop allows
        return optuna.samplers.RandomSampler(seed=seed)
    if name in ("tpe", "multivariate-tpe"):
        return optuna.samplers.TPESampler(seed=seed, multivariate=name == "multivariate-tpe")
    if name == "sobol":
        return optuna.samplers.QMCSampler(qmc_type="sobol", seed=seed)
    if importlib.util.find_spec("cmaes") is None:
        raise SpaceError("algorithm 'cmaes' needs the cmaes package: pip install cmaes")
    return optuna.samplers.CmaEsSampler(seed=seed)


MAX_GRID = 100_000  # points a grid search may have


def grid_points(space: Space) -> Iterator[dict[str, Any]]:
    """The points of a grid search in order (the first parameter slowest); ``SpaceError`` for
    a range without a step or a grid past MAX_GRID."""
    import itertools

    grid_size(space, check=True)
    axes = [d.grid() or [] for d in space.dimensions]
    names = [d.name for d in space.dimensions]
    for point in itertools.product(*axes):
        yield dict(zip(names, point, strict=True))


def grid_size(space: Space, check: bool = False) -> int | None:
    """How many points a grid search has (None: not a grid search)."""
    if space.algorithm.lower() != "grid":
        return None
    total = 1
    for dim in space.dimensions:
        count = dim.count()
        if count is None:
            raise SpaceError(
                f"grid search: parameter {dim.name} is a continuous range; give it a step "
                "(float(A,B,STEP), or feasibleSpace.step) or a list of values"
            )
        total *= count
        if check and total > MAX_GRID:
            raise SpaceError(
                f"grid search: the grid has over {MAX_GRID:,} points; give coarser steps, fewer "
                "values, or another algorithm (random, tpe) with --trials"
            )
    return total


def suggest(trial: Any, dim: Dimension) -> Any:
    """The trial's value of one parameter."""
    if dim.choices:
        return trial.suggest_categorical(dim.name, list(dim.choices))
    if dim.kind == "int":
        if dim.log:
            return trial.suggest_int(dim.name, int(dim.low), int(dim.high), log=True)
        return trial.suggest_int(dim.name, int(dim.low), int(dim.high), step=int(dim.step or 1))
    if dim.log:
        return trial.suggest_float(dim.name, dim.low, dim.high, log=True)
    return trial.suggest_float(dim.name, dim.low, dim.high, step=dim.step)


STUDY_FILE = "study.db"


def _storage(folder: Path, file: str = STUDY_FILE) -> str:
    return f"sqlite:///{folder / file}"


def load_study(folder: Path) -> Any | None:
    """The study of the search kept in ``folder`` (named after it), to read; None when it
    cannot be read."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not (folder / STUDY_FILE).is_file():
        return None  # not made yet: opening it here would race its maker to write the schema
    try:
        return optuna.load_study(study_name=folder.name, storage=_storage(folder))
    except (KeyError, ValueError, RuntimeError, optuna.exceptions.OptunaError):
        return None


def open_study(folder: Path, space: Space, seed: int | None, name: str) -> Any:
    """The study kept in ``folder/study.db``: made on first use, continued after.

    A new study is made in a file of its own and moved into place whole, so a reader polling
    the folder (``kalec serve``'s status, ``kalec tune --list``) never finds a half-made
    database, and never writes the schema while this process writes it too."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if space.objective.maximize else "minimize"
    if not (folder / STUDY_FILE).is_file():
        making = f".{STUDY_FILE}.{os.getpid()}"
        storage = optuna.storages.RDBStorage(_storage(folder, making))
        optuna.create_study(study_name=name, storage=storage, direction=direction)
        storage.engine.dispose()
        os.replace(folder / making, folder / STUDY_FILE)
    return optuna.create_study(
        study_name=name,
        storage=_storage(folder),
        sampler=sampler(space, seed),
        direction=direction,
        load_if_exists=True,
    )
