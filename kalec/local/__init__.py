"""The local runner: runs a compiled pipeline on this machine, step by step, and remembers.

Imports from kalec: kalec, analysis, cluster_names, errors, frontend, ir, packaging, runtime.
Not the cluster targets, verify, the service or the CLI. ``run`` is what ``kalec run --local``
calls.
"""

from __future__ import annotations

from kalec.ir import Pipeline
from kalec.local.folder import RunFolderError
from kalec.local.options import RunOptions
from kalec.local.plan import SelectionError


def run(pipeline: Pipeline, options: RunOptions) -> int:
    """Run every step (or those ``options`` select); the exit code."""
    from kalec.local.runner import LocalRun

    return LocalRun(pipeline, options).execute()


__all__ = ["RunFolderError", "SelectionError", "run"]
