"""The local runs a notebook has had: found, listed, and removed when old or too many.

Each run folder (``.kalec/runs/<run-id>`` beside the notebook) holds ``kalec-status.json``,
which the runner rewrites as the run goes: the notebook's path, when the run started, its state
and each step's. That file is the record ``kalec runs`` lists and ``--resume`` starts from.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUS_FILE = "kalec-status.json"
LOCK_FILE = "kalec.lock"


@dataclass
class RunRecord:
    run_id: str
    folder: Path
    notebook: str
    started: float
    state: str
    seconds: float
    steps: list[dict[str, Any]] = field(default_factory=list)

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("name") == name), None)


def read_record(folder: Path) -> RunRecord | None:
    try:
        data = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
        return RunRecord(
            run_id=folder.name,
            folder=folder,
            notebook=str(data.get("notebook", "")),
            started=float(data.get("started") or 0.0),
            state=str(data.get("state", "?")),
            seconds=float(data.get("seconds") or 0.0),
            steps=list(data.get("steps", [])),
        )
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def runs_roots(notebook: str | Path) -> list[Path]:
    """Where runs of ``notebook`` may be: beside it, or (read-only folder) in the current one."""
    beside = Path(notebook).resolve().parent / ".kalec" / "runs"
    here = Path(".kalec", "runs").resolve()
    return [beside] if here == beside else [beside, here]


def runs_of(notebook: str | Path) -> list[RunRecord]:
    """Every recorded run of ``notebook``, newest first."""
    target = str(Path(notebook).resolve())
    found = []
    for root in runs_roots(notebook):
        with contextlib.suppress(OSError):
            for folder in root.iterdir():
                record = read_record(folder) if folder.is_dir() else None
                if record is not None and record.notebook == target:
                    found.append(record)
    return sorted(found, key=lambda r: (r.started, r.run_id), reverse=True)


def in_use(folder: Path) -> bool:
    """True while a run holds the folder's lock."""
    try:
        with open(folder / LOCK_FILE, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def _size(path: Path, seen: set[tuple[int, int]]) -> int:
    """Bytes of the files under ``path``, each hard-linked file counted once."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                status = os.lstat(os.path.join(root, name))
                if (status.st_dev, status.st_ino) not in seen:
                    seen.add((status.st_dev, status.st_ino))
                    total += status.st_size
    return total


@dataclass
class Removal:
    runs: list[Path] = field(default_factory=list)
    entries: list[Path] = field(default_factory=list)
    objects: list[Path] = field(default_factory=list)
    freed_bytes: int = 0  # about: a value hard-linked elsewhere frees nothing


def clean(
    kalec_folder: Path,
    older_than: float | None,
    max_bytes: int | None,
    dry_run: bool = False,
) -> Removal:
    """Remove runs and cache entries last used more than ``older_than`` seconds ago, then the
    least recently used until what is left fits in ``max_bytes``; then every cached value no
    entry names. Runs in progress are never touched."""
    now = time.time()
    runs_folder, cache = kalec_folder / "runs", kalec_folder / "cache"
    items: list[tuple[float, str, Path]] = []  # (last used, kind, path)
    with contextlib.suppress(OSError):
        items += [
            (f.stat().st_mtime, "run", f)
            for f in runs_folder.iterdir()
            if f.is_dir() and not in_use(f)
        ]
    with contextlib.suppress(OSError):
        items += [(f.stat().st_mtime, "entry", f) for f in (cache / "steps").glob("*.json")]
    items.sort(key=lambda item: item[0])
    removal = Removal()
    doomed = {p for used, _, p in items if older_than is not None and now - used > older_than}
    if max_bytes is not None:
        seen: set[tuple[int, int]] = set()
        sizes = {
            p: _size(p, seen) if kind == "run" else _file_size(p, seen) for _, kind, p in items
        }
        objects = {
            p: _size(p, seen) if p.is_dir() else _file_size(p, seen) for p in _objects(cache)
        }
        total = sum(sizes[p] for _, _, p in items if p not in doomed) + sum(objects.values())
        for _, _, path in items:
            if total <= max_bytes:
                break
            if path not in doomed:
                doomed.add(path)
                total -= sizes[path]
    for _, kind, path in items:
        if path in doomed:
            (removal.runs if kind == "run" else removal.entries).append(path)
    named = _named_objects(cache, set(removal.entries))
    removal.objects = [p for p in _objects(cache) if p.name not in named]
    freed: set[tuple[int, int]] = set()
    removal.freed_bytes = sum(
        _size(p, freed) if p.is_dir() else _file_size(p, freed)
        for p in removal.runs + removal.entries + removal.objects
    )
    if not dry_run:
        for path in removal.runs:
            shutil.rmtree(path, ignore_errors=True)
        for path in removal.entries + removal.objects:
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    return removal


def _file_size(path: Path, seen: set[tuple[int, int]]) -> int:
    try:
        status = path.lstat()
    except OSError:
        return 0
    if (status.st_dev, status.st_ino) in seen:
        return 0
    seen.add((status.st_dev, status.st_ino))
    return status.st_size


def _objects(cache: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return [p for p in (cache / "objects").glob("*/*") if not p.name.startswith(".kalec-tmp-")]
    return []


def _named_objects(cache: Path, removed: set[Path]) -> set[str]:
    """File names of the values, outputs and displays the remaining entries name."""
    names: set[str] = set()
    for entry in (cache / "steps").glob("*.json"):
        if entry in removed:
            continue
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for digest, ending in data.get("outputs", {}).values():
            names.add(digest + ending)
        names.update(data[k] for k in ("log", "display") if data.get(k))
    return names
