"""The local runner: runs a compiled pipeline on this machine, step by step, and remembers.

May import the IR, the packaging helpers (``kalec.targets`` for now) and the runtime; nothing
of the CLI, the service or verify. ``run`` is the target ``local`` of the backend registry.
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
