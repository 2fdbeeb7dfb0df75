"""The distributions installed where kalec compiles: name, version, top-level modules.

Read from the ``*.dist-info`` folders on ``sys.path`` (the layout pip and every installer write,
as the packaging specifications define it) and the ``*.egg-info`` an old ``setup.py develop``
leaves, file by file as needed. ``importlib.metadata`` answers the same, but importing it (it
parses ``METADATA`` with the email package) and listing every file of every distribution is
most of a small compile.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Distribution:
    """An installed distribution: what a step pins its requirement to."""

    name: str  # as its metadata spells it: scikit-learn, PyYAML
    version: str


def normalized(name: str) -> str:
    """A distribution name as the specifications compare them: scikit_learn == Scikit.Learn."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _folders() -> dict[str, Path]:
    """normalized name -> its ``.dist-info`` folder; the first on ``sys.path`` wins, as for
    imports."""
    found: dict[str, Path] = {}
    for entry in sys.path:
        try:
            items = os.listdir(entry or ".")
        except OSError:
            continue
        for item in sorted(items):
            if item.endswith((".dist-info", ".egg-info")):
                name = normalized(item.rsplit(".", 1)[0].split("-")[0])
                found.setdefault(name, Path(entry or ".") / item)
    return found


def _read(folder: Path, name: str) -> str | None:
    """A file of the distribution's folder; an ``.egg-info`` may be one file, its PKG-INFO."""
    path = folder if folder.is_file() and name in ("METADATA", "PKG-INFO") else folder / name
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@functools.cache
def _described(folder: Path) -> Distribution | None:
    """Name and version from the ``METADATA`` headers (the part before the first blank line)."""
    fields: dict[str, str] = {}
    text = _read(folder, "METADATA") or _read(folder, "PKG-INFO") or ""
    for line in text.splitlines():
        if not line.strip():
            break
        key, separator, value = line.partition(":")
        if separator and key in ("Name", "Version"):
            fields.setdefault(key, value.strip())
    if "Name" in fields and "Version" in fields:
        return Distribution(fields["Name"], fields["Version"])
    return None


@functools.cache
def top_level_names(folder: Path) -> frozenset[str]:
    """The names a distribution makes importable at the top: from ``top_level.txt`` when it has
    one, else from the paths its ``RECORD`` lists."""
    declared = _read(folder, "top_level.txt")
    if declared is not None:
        return frozenset(declared.split())
    names = set()
    for line in (_read(folder, "RECORD") or "").splitlines():
        head, inside, _ = line.split(",", 1)[0].partition("/")
        if not inside:  # a module file at the top: name.py, name.cpython-311-x86_64-linux-gnu.so
            head = head.split(".", 1)[0] if head.endswith((".py", ".so", ".pyd")) else ""
        elif head.endswith((".dist-info", ".data", ".egg-info")):
            continue
        if head.isidentifier() and head != "__pycache__":
            names.add(head)
    return frozenset(names)


@functools.cache
def _providers() -> dict[str, Path]:
    """Top-level module -> the folder of the first distribution that provides it."""
    providers: dict[str, Path] = {}
    for folder in _folders().values():
        for name in top_level_names(folder):
            providers.setdefault(name, folder)
    return providers


@functools.cache
def providing(module: str) -> Distribution | None:
    """The installed distribution that provides top-level ``module``. Most are named after
    their module (numpy, pandas): that folder is checked first, every folder only for the
    others (sklearn, PIL, yaml)."""
    folder = _folders().get(normalized(module))
    if folder is None or module not in top_level_names(folder):
        folder = _providers().get(module)
    return _described(folder) if folder is not None else None


@functools.cache
def named(name: str) -> Distribution | None:
    """The installed distribution called ``name``, if any."""
    folder = _folders().get(normalized(name))
    return _described(folder) if folder is not None else None
