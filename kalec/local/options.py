"""What a local run can be asked: one typed record, built by the CLI and the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    source_text: str | None = None  # the notebook's JSON when it is not the file's (unsaved)
    observe: bool = True  # record what each step reads (off only to measure what that costs)
