"""The run folder: where a local run keeps each step's values, output and record.

``.kalec/runs/<run-id>/<step>/<variable>.<format>`` beside the notebook, kept for inspection.
kalec's own files there have names no variable can have (``kalec-*``), and a name too long for
the file system is shortened with a digest. A run folder is locked while a run uses it: two runs
never mix their values, and a folder whose record says "running" while nobody holds the lock
belongs to a run that died.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import IO

from kalec.cluster_names import digest
from kalec.errors import KalecError
from kalec.local.records import LOCK_FILE
from kalec.runtime.marshal.atomic import TEMPORARY_PREFIX

_MAX_NAME_BYTES = 120  # a file name of a step or a variable; file systems allow 255
LOG_FILE = "kalec-output.log"  # in a step's folder: all it printed, as the terminal showed it
METRICS_FILE = "kalec-metrics.json"  # in the run folder: every metric of the run


class RunFolderError(KalecError):
    """The run folder cannot be used: not a folder, not writable, or in use by another run."""


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def file_name(name: str) -> str:
    """A step's or variable's name as a file name: itself, or when too long for a file system,
    its start and a digest of the whole (two long names never share a file). A composed
    notebook's step (``prepare/load``) becomes ``prepare.load``: no tag name holds a dot."""
    name = name.replace("/", ".")
    if len(name.encode("utf-8", "surrogatepass")) <= _MAX_NAME_BYTES:
        return name
    return name[:40] + "-" + digest(name, 16)


def remove_partial_files(folder: Path) -> None:
    """Temporary files a killed step left while saving a value: never a value to read."""
    for stale in folder.rglob(TEMPORARY_PREFIX + "*"):
        with contextlib.suppress(OSError):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def _remove_partial_files_if_idle(folder: Path) -> None:
    """``remove_partial_files`` for an earlier run's folder, unless a run holds it now."""
    lock = folder / LOCK_FILE
    if not lock.is_file():
        return
    try:
        with open(lock, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            remove_partial_files(folder)
    except OSError:
        pass  # in use by another run, or not ours to clean


class RunFolder:
    """A run's folder, made, locked and cleared for the steps that will write there."""

    def __init__(self, path: Path, chosen: bool) -> None:
        """``chosen``: the user named the folder (``--run-dir``); else it is kalec's own."""
        self.path = Path(os.path.abspath(path))
        self.chosen = chosen
        self._lock: IO[str] | None = None

    def step(self, name: str) -> Path:
        return self.path / file_name(name)

    def open(self, steps: list[str]) -> None:
        """Make and lock the folder, give each step an empty folder of its own.

        Raises ``RunFolderError`` (exit 2: nothing ran) when the folder cannot serve the run.
        """
        try:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError:  # a notebook in a read-only folder: its run goes in the current one
                if self.chosen:
                    raise
                self.path = Path(os.path.abspath(Path(".kalec") / "runs" / self.path.name))
                self.path.mkdir(parents=True, exist_ok=True)
            foreign = not (self.path / LOCK_FILE).exists() and any(self.path.iterdir())
        except OSError as error:
            raise RunFolderError(f"cannot use {self.path} as the run folder: {error}") from None
        if foreign:  # kalec empties step folders in a run folder: never in someone else's folder
            raise RunFolderError(
                f"{self.path} holds files and is not a kalec run folder; give a new or empty "
                "folder, or one an earlier kalec run used"
            )
        try:
            self._lock = open(self.path / LOCK_FILE, "a+")  # noqa: SIM115 - held for the run
        except OSError as error:
            raise RunFolderError(f"cannot use {self.path} as the run folder: {error}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.close()
            raise RunFolderError(
                f"{self.path} is in use by another kalec run; give this run another --run-dir"
            ) from None
        try:
            remove_partial_files(self.path)
            if not self.chosen:  # earlier runs beside this one, unless in use
                for other in self.path.parent.iterdir():
                    if other != self.path and other.is_dir():
                        _remove_partial_files_if_idle(other)
            for name in steps:
                folder = self.step(name)
                if folder.is_dir():  # an earlier run's values: never read them by mistake
                    shutil.rmtree(folder)
                folder.mkdir()
        except OSError as error:
            self.close()
            raise RunFolderError(f"cannot prepare the run folder {self.path}: {error}") from None

    def intact(self) -> bool:
        """False once something removed the folder (its lock file went with it)."""
        return (self.path / LOCK_FILE).exists()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
