"""What the command line (or a server) can choose for each target: one typed record per target.

The CLI builds these from its own arguments (``kalec.cli``), so a backend reads only the
options of its target; the records import nothing heavy, so choosing a target costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def script_name_for(output: str | None, notebook: str) -> str:
    """The kfp-py script's file name: the ``-o`` path's when it is a script, else named after
    the output or the notebook, so that ``-o x.yaml`` (target yaml) means the script
    ``x.kfp.py``, never a script named like its own output."""
    if output and output.endswith(".py"):
        return Path(output).name
    stem = Path(output).name if output else Path(notebook).name
    for suffix in (".yaml", ".ipynb", ".pipeline"):
        stem = stem.removesuffix(suffix)
    return (stem or "pipeline") + ".kfp.py"


@dataclass(frozen=True)
class KfpOptions:
    """Targets ``kfp-py`` and ``yaml`` (and ``deploy``)."""

    image: str | None = None  # default base image of every step
    packages: tuple[str, ...] = ()  # requirement overrides (--package)
    script_name: str = "pipeline.kfp.py"


@dataclass(frozen=True)
class ArgoOptions:
    """Target ``argo``."""

    image: str | None = None
    packages: tuple[str, ...] = ()
    data: str = "artifacts"  # or "volume"
    volume_claim: str | None = None  # an existing claim, for data=volume
    volume_size: str = "1Gi"  # size of the claim made for each run, for data=volume


@dataclass(frozen=True)
class IrOptions:
    """Target ``ir``: nothing to choose."""


@dataclass(frozen=True)
class RunOptions:
    """Target ``local``."""

    jobs: int = 1
    run_dir: Path | None = None  # default .kalec/runs/<run-id> beside the notebook
    fork: bool = True  # fork steps from a process that imported the prelude's modules once
    params: dict = field(default_factory=dict)  # overrides, already typed
    cache: bool = True  # settle steps whose key is in the step cache without running them
    cache_dir: Path | None = None  # default .kalec/cache beside the runs
    refresh: frozenset[str] = frozenset()  # steps to run even when cached
    resume: bool = False  # run what the last run did not complete, the rest from that run
    start_from: str | None = None  # run this step and its descendants, the rest as resume
    only: str | None = None  # run this step alone, its inputs from earlier runs
    verbose: bool = False  # say at once why each remembered step runs again
    seed: int | None = None  # seed the global random generators of every step (verify)
    observe: bool = True  # record what each step reads (off only to measure what that costs)
