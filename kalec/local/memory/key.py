"""A step's static key: what can be known about its inputs before it runs.

Its parts: the step's code and the prelude's (the spec the runtime gets), the parameter values
it reads, the digest of every value it loads, the names of the values it passes on, the content
of the local modules it imports, the versions of the packages it imports, and of Python and
kalec's step runtime. The key is the digest of the parts; each part keeps a digest of its own,
so that when a key is new kalec can say which part changed ("its code changed", "input x
changed").

What a step reads is checked against each entry of the key (``manifest``): what it was seen to
read while it ran, and the paths its code names (``named_paths``), hashed before it runs for
readers in native code that nothing observes. Those are not in the static key: a path the code
names may turn out to be a file the step only writes, or a log it only appends to.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kalec import __version__
from kalec.analysis.files import looks_like_path, path_literals
from kalec.analysis.parsing import parse
from kalec.ir import Pipeline, Step
from kalec.local.memory.digests import DigestMemo
from kalec.packaging.packages import Packages
from kalec.packaging.runtime_bundle import runtime_archive
from kalec.packaging.shipping import LocalModules
from kalec.packaging.step_spec import step_spec
from kalec.runtime.marshal.digest import ALGORITHM

FORMAT = 2  # of keys and entries: a change makes every old entry a miss


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class StaticKey:
    """A step's cache key from what is known before it runs, with the parts that made it."""

    digest: str
    parts: dict[str, Any]  # part -> digest, or name -> digest for inputs, files, modules

    def changes_from(self, earlier: dict[str, Any]) -> list[str]:
        """What differs from an earlier key's parts, in words, most telling first."""
        said = []
        if earlier.get("code") != self.parts["code"]:
            said.append("its code changed")
        for name in ("params", "inputs", "modules"):
            now, then = self.parts.get(name, {}), earlier.get(name, {})
            if not isinstance(then, dict):
                then = {}
            changed = sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k))
            for item in changed[:3]:
                said.append(_change(name, item, now, then))
        if earlier.get("outputs") != self.parts["outputs"]:
            said.append("the values it passes on changed")
        if earlier.get("packages") != self.parts["packages"]:
            said.append("the versions of the packages it imports changed")
        if earlier.get("tools") != self.parts["tools"]:
            said.append("Python or kalec changed")
        return said


def _change(part: str, item: str, now: dict[str, Any], then: dict[str, Any]) -> str:
    if part == "params":
        return f"parameter {item} changed"
    if part == "inputs":
        return f"input {item} changed"
    return f"its module {item} changed"


def static_key(
    pipeline: Pipeline,
    step: Step,
    params: dict[str, Any],
    inputs: dict[str, str],
    packages: Packages,
    modules: LocalModules,
    memo: DigestMemo,
) -> StaticKey:
    """The step's key; ``inputs``: variable -> digest of the value it loads.

    Raises ``OSError`` when a module it imports cannot be read.
    """
    local, _ = modules.for_step(pipeline, step)
    parts = {
        "format": FORMAT,
        "tools": _digest([__version__, runtime_archive()[1], sys.version, ALGORITHM]),
        "code": _digest(step_spec(pipeline, step).as_json()),
        "params": {name: _digest(value) for name, value in sorted(params.items())},
        "inputs": dict(sorted(inputs.items())),
        "outputs": _digest(sorted(step.outputs)),
        "modules": {name: memo.path(path) for name, path in sorted(local.items())},
        "packages": _digest(packages.for_step(step)),
    }
    return StaticKey(_digest(parts), parts)


def named_paths(
    pipeline: Pipeline, step: Step, params: dict[str, Any], memo: DigestMemo
) -> dict[str, str | None]:
    """The content, now, of every path the step's code names (``read_paths``): None for a
    missing path. Raises ``OSError`` when one cannot be read, ``TooLarge`` for a huge folder."""
    folder = Path(pipeline.source).resolve().parent
    return {p: memo.path(folder / p) for p in read_paths(pipeline, step, params)}


def written_paths(pipeline: Pipeline, step: Step) -> list[str]:
    """Literal paths of files the step's code writes (its products, which a hit puts back)."""
    paths: dict[str, None] = {}
    for number in step.prelude + step.cells:
        facts = pipeline.cell(number).facts
        for path in facts.file_writes if facts else ():
            if not glob.has_magic(path):
                paths[os.path.expanduser(path)] = None
    return list(paths)


def read_paths(pipeline: Pipeline, step: Step, params: dict[str, Any]) -> list[str]:
    """Paths the step may read, known before it runs: those its code (and the prelude's) reads
    by literal path, any string in that code that looks like a path, and parameter values that
    look like one (``pd.read_csv(DATA)`` with ``DATA = 'data/train.csv'``). Keyed before the
    run, they cover readers in native code that nothing observes. Those that do not exist are
    keyed as missing, so creating one later runs the step again."""
    reads: dict[str, None] = {}
    mentioned: dict[str, None] = {}
    for number in step.prelude + step.cells:
        cell = pipeline.cell(number)
        facts = cell.facts
        for path in facts.file_reads if facts else ():
            reads[os.path.expanduser(path)] = None
        try:
            tree = parse(cell.analyzed)
        except SyntaxError:
            continue
        for path in path_literals(tree):
            mentioned[os.path.expanduser(path)] = None
    for value in _strings(params.values()):
        if looks_like_path(value):
            mentioned[os.path.expanduser(value)] = None
    # a file the step only writes is its product, not its input: keying it would make the
    # second run differ from the first, which found no such file yet
    own = set(written_paths(pipeline, step))
    return list(reads) + [p for p in mentioned if p not in reads and p not in own]


def _strings(values: Any) -> list[str]:
    """Every string in parameter values, inside lists and dicts too (a list of data files)."""
    found: list[str] = []
    pending = list(values)
    while pending and len(found) < 1000:
        value = pending.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
    return found
