"""``kalec clean``: remove local runs and step-cache entries that are old or beyond a size.

Runs and entries are removed least recently used first (an entry is "used" when a run takes
its values); then every object that no remaining entry names: values, printed output, what the
cells showed, and the copies of the files a step wrote. Runs in progress are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from kalec.local.records import in_use


@dataclass
class Removal:
    """What ``kalec clean`` removed (or, with ``--dry-run``, would remove)."""

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
    least recently used until what is left fits in ``max_bytes``; then every cached object no
    entry names."""
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
        items += [(f.stat().st_mtime, "entry", f) for f in (cache / "steps").glob("*/*.json")]
    items.sort(key=lambda item: item[0])
    removal = Removal()
    doomed = {p for used, _, p in items if older_than is not None and now - used > older_than}
    if max_bytes is not None:
        seen: set[tuple[int, int]] = set()
        sizes = {p: _size(p, seen) for _, _, p in items}
        objects = {p: _size(p, seen) for p in _objects(cache)}
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
        _size(p, freed) for p in removal.runs + removal.entries + removal.objects
    )
    if not dry_run:
        for path in removal.runs:
            shutil.rmtree(path, ignore_errors=True)
        for path in removal.entries + removal.objects:
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for folder in {p.parent for p in removal.entries}:
            with contextlib.suppress(OSError):
                folder.rmdir()  # the static key's folder, once its last entry is gone
    return removal


def _size(path: Path, seen: set[tuple[int, int]]) -> int:
    """Bytes of a file, or of the files under a folder, each hard-linked file counted once."""
    files = [path] if not path.is_dir() else []
    for root, _, names in os.walk(path) if path.is_dir() else ():
        files += [Path(root) / name for name in names]
    total = 0
    for file in files:
        with contextlib.suppress(OSError):
            status = file.lstat()
            if (status.st_dev, status.st_ino) not in seen:
                seen.add((status.st_dev, status.st_ino))
                total += status.st_size
    return total


def _objects(cache: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return [p for p in (cache / "objects").glob("*/*") if not p.name.startswith(".kalec-tmp-")]
    return []


def _named_objects(cache: Path, removed: set[Path]) -> set[str]:
    """File names of the objects the remaining entries name: values, printed output, what the
    cells showed, and the files the step wrote."""
    names: set[str] = set()
    for entry in (cache / "steps").glob("*/*.json"):
        if entry in removed:
            continue
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            for digest, ending, *_ in data.get("outputs", {}).values():
                names.add(digest + ending)
            for label in ("log", "display"):
                if data.get(label):
                    names.add(data[label][0])
            writes = (data.get("manifest") or {}).get("writes") or {}
            names.update(w["digest"] for w in writes.values() if "digest" in w)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
    return names
