"""What a local run remembers, and the one place that decides whether a step's values can be
reused: from the step cache, or from an earlier run (``--resume``, ``--from``, ``--only``).

May import the IR, the packaging helpers, the runtime's records and observation; nothing of the
runner's scheduling. Either way the rule is the same: the step's static key (``key``) must be
the key it ran with, every read it was seen to make (``manifest``) must still give what it gave,
and every stored value must be intact. Anything else runs the step again, and the reason is
kept for the user ("its code changed", "data/train.csv changed, read at run time").
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec.ir import Pipeline, Step
from kalec.ir.places import cell_name
from kalec.local.memory.digests import MAX_FILES, DigestMemo, TooLarge
from kalec.local.memory.key import StaticKey, named_paths, static_key, written_paths
from kalec.local.memory.manifest import (
    Manifest,
    Places,
    Unseen,
    Unstable,
    mismatch,
    resolve,
    unseen_reason,
)
from kalec.local.memory.store import Entry, StepCache, Stored, intact, link_into
from kalec.packaging.packages import Packages
from kalec.packaging.shipping import LocalModules
from kalec.runtime.protocol import OBSERVED_FILE, OUTCOME_FILE, Observation, StepOutcome

MEMORY_FILE = "kalec-memory.json"  # in a step's folder: the key it ran with, its manifest


@dataclass
class Keyed:
    """A step's static key and the content of the paths its code names, or why it has none."""

    key: StaticKey | None = None
    named: dict[str, str | None] = field(default_factory=dict)
    problem: str | None = None


@dataclass
class Reuse:
    """Values that can be reused, or why not."""

    outcome: StepOutcome | None = None
    reason: str | None = None


class Memory:
    """The step cache (when on) and the reading of earlier runs, for one run."""

    def __init__(self, pipeline: Pipeline, workdir: Path, cache_root: Path | None) -> None:
        self.pipeline = pipeline
        self.notebook = str(Path(pipeline.source).resolve())
        self.places = Places(workdir)
        self.memo = DigestMemo(cache_root)
        self.cache = StepCache(cache_root, self.memo) if cache_root is not None else None
        self._packages: Packages | None = None
        self._modules: LocalModules | None = None

    # --- keys ------------------------------------------------------------------------------

    def key(self, step: Step, params: dict[str, Any], inputs: dict[str, str]) -> Keyed:
        """The step's static key and the paths its code names, or why it has no key."""
        if self._packages is None:
            self._packages = Packages(self.pipeline)
            self._modules = LocalModules(self.pipeline)
        assert self._modules is not None
        try:
            key = static_key(
                self.pipeline, step, params, inputs, self._packages, self._modules, self.memo
            )
            return Keyed(key, named_paths(self.pipeline, step, params, self.memo))
        except TooLarge as error:
            return Keyed(
                problem=f"not cached: it names {error}, a folder of more than {MAX_FILES:,} "
                "files, which would be checked on every run"
            )
        except OSError as error:  # a file it names vanished while hashing
            return Keyed(problem=f"not looked up in the cache: {error}")

    def why_new(self, step: str, key: StaticKey) -> str | None:
        """How ``key`` differs from the step's key in the last run that computed one."""
        if self.cache is None:
            return None
        earlier = self.cache.last_parts(self.notebook, step)
        if earlier is None:
            return None
        changes = key.changes_from(earlier)
        return ", ".join(changes[:3]) if changes else None

    # --- the step cache ----------------------------------------------------------------------

    def lookup(self, step: str, key: StaticKey) -> tuple[Entry | None, str | None]:
        """The cache's entry for the step, or why there is none it can use."""
        assert self.cache is not None
        found = self.cache.find(key.digest, self.places)
        reason = found.reason or self.why_new(step, key)
        self.cache.remember_parts(self.notebook, step, key)
        return found.entry, reason

    def restore(self, entry: Entry, folder: Path, file_names: dict[str, Path]) -> StepOutcome:
        """Put a hit's values, output and written files in place; ``OSError`` when it cannot."""
        assert self.cache is not None
        restored = self.cache.restore(entry, file_names)
        self.cache.restore_writes(entry.manifest, self.places)
        return StepOutcome(
            ok=True,
            seconds=entry.seconds,
            outputs=restored,
            digests={v: s.digest for v, s in entry.outputs.items()},
            metrics=entry.metrics,
        )

    def restore_texts(self, entry: Entry, log: Path, display: Path) -> None:
        assert self.cache is not None
        self.cache.restore_text(entry.log, log)
        self.cache.restore_text(entry.display, display)

    # --- after a step ran ------------------------------------------------------------------------

    def manifest(self, step: Step, folder: Path, named: dict[str, str | None]) -> Manifest:
        """What the step that just succeeded read and wrote (``named``: the paths its code
        names, as they were before it ran); ``Unstable`` when something it read changed while
        it ran."""
        try:
            observed = Observation.read(str(folder / OBSERVED_FILE))
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise Unstable(f"what it read was not recorded ({error})") from None
        unseen = unseen_reason(observed, lambda cell: cell_name(self.pipeline, cell))
        if unseen and step.options.cache is not True:
            raise Unseen(unseen)
        native = {
            os.path.normpath(self.places.real(os.path.expanduser(p)))
            for p in written_paths(self.pipeline, step)
        }
        return resolve(observed, self.places, self.memo, native, named)

    def remember(
        self,
        step: Step,
        key: StaticKey,
        manifest: Manifest,
        folder: Path,
        outcome: StepOutcome,
        log: Path,
        display: Path,
        into_cache: bool,
    ) -> None:
        """Record the key and manifest in the step's folder (for ``--resume``), and keep the
        step in the cache when ``into_cache``."""
        _record(folder, key, manifest)
        if not into_cache or self.cache is None:
            return
        files = {}
        for variable, path in outcome.outputs.items():
            digest = outcome.digests.get(variable)
            if digest is None:
                return
            files[variable] = (path, digest, ending_of(path, folder, variable))
        self.cache.store(
            key, files, outcome.metrics, outcome.seconds, log, display, manifest, self.places
        )

    def remember_entry(self, key: StaticKey, entry: Entry, folder: Path) -> None:
        """A hit's key and manifest in the step's folder, as if it had run."""
        _record(folder, key, entry.manifest)

    # --- earlier runs ------------------------------------------------------------------------

    def reuse(
        self,
        earlier: Path,
        run_id: str,
        key: StaticKey | None,
        folder: Path,
        names: Callable[[str], str],
    ) -> Reuse:
        """The values a step had in an earlier run's folder ``earlier``, linked into ``folder``,
        when its key is the key it ran with and all it read still holds; else why not.
        ``names``: variable -> file name in the step's folder."""
        try:
            record = json.loads((earlier / MEMORY_FILE).read_text(encoding="utf-8"))
            outcome = StepOutcome.read(str(earlier / OUTCOME_FILE))
        except (OSError, ValueError, TypeError):
            return Reuse(reason=f"run {run_id} kept no record of what it read")
        if key is None:
            return Reuse(reason="its key cannot be computed now")
        if record.get("key") != key.digest:
            changes = key.changes_from(record.get("parts") or {})
            return Reuse(reason=(", ".join(changes[:3]) or "its key changed") + f" since {run_id}")
        manifest = Manifest.from_json(record.get("manifest") or {})
        problem = mismatch(manifest, self.places, self.memo)
        if problem:
            return Reuse(reason=f"{problem} since {run_id}")
        restored = {}
        for variable, path in outcome.outputs.items():
            stored = Stored(outcome.digests.get(variable, ""), "", -1)
            source = Path(path)
            if not stored.digest or not intact(source, stored, self.memo):
                return Reuse(reason=f"its value {variable} in run {run_id} was changed or removed")
            target = folder / (names(variable) + ending_of(path, earlier, variable))
            link_into(source, target)
            restored[variable] = str(target)
        written = self._writes_in_place(manifest)
        if written:
            return Reuse(reason=f"{written}, which it wrote, has changed since {run_id}")
        outcome.outputs = restored
        _record(folder, key, manifest)
        return Reuse(outcome=outcome)

    def _writes_in_place(self, manifest: Manifest) -> str | None:
        """The first file an earlier step wrote that is no longer as it left it and that the
        cache cannot put back; None when all are (or were put back)."""
        for kept, state in manifest.writes.items():
            path = self.places.real(kept)
            if "digest" in state:
                with contextlib.suppress(OSError):
                    if self.memo.file(path) == state["digest"]:
                        continue
                stored = self.cache.object_path(state["digest"]) if self.cache else None
                if stored is None or not stored.is_file():
                    return kept
            elif (
                state.get("dir")
                and not os.path.isdir(path)
                or state.get("gone")
                and os.path.lexists(path)
            ):
                return kept
        if self.cache is not None:
            self.cache.restore_writes(manifest, self.places)
        return None

    def save(self) -> None:
        self.memo.save()


def _record(folder: Path, key: StaticKey, manifest: Manifest) -> None:
    """The key a step's values were made under and its manifest, in the step's folder: what a
    later ``--resume`` checks before taking them."""
    record = {"key": key.digest, "parts": key.parts, "manifest": manifest.as_json()}
    with contextlib.suppress(OSError, TypeError, ValueError):
        (folder / MEMORY_FILE).write_text(json.dumps(record, default=repr), encoding="utf-8")


def ending_of(path: str, folder: Path, variable: str) -> str:
    """The format's file ending of a saved value (``.npy``, ``.pd.pkl``)."""
    from kalec.local.folder import file_name

    base = os.fspath(folder / file_name(variable))
    return path[len(base) :] if path.startswith(base) else Path(path).suffix


__all__ = ["MEMORY_FILE", "Keyed", "Memory", "Reuse", "StaticKey", "Unseen", "Unstable"]
