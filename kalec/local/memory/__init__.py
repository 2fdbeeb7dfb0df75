"""What a local run remembers of its steps, in two words: **reuse** and **keep**.

*Reuse* is the decision whether values a step had may stand for running it now, and putting them
in place: from an earlier run (``--resume``, ``--from``, ``--only``) or from the step cache.
``Memory.reuse`` takes the whole decision, from what the run's plan wants of the step
(``Wanted``) to the cache's entry, and answers with one record (``Reuse``). The rule is the same
either way: the step's static key (``key``) must be the key it ran with, every read it was seen
to make (``manifest``) must still give what it gave, and every stored value must be intact.
Anything else runs the step again, and the reason goes with the answer ("its code changed",
"data/train.csv changed, read at run time").

*Keep* is what happens after a step ran: ``Memory.keep`` writes its receipt (the key it ran
with and its manifest, in the step's folder, which a later ``--resume`` checks) and stores its
values in the cache, or says why it did not (``Kept``).

May import the IR, the packaging helpers, the runtime's records and observation; nothing of the
runner's scheduling: the plan reaches it as a ``Wanted``.
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
from kalec.local.folder import LOG_FILE, file_name
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
from kalec.local.memory.store import StepCache, Stored, intact, link_into
from kalec.packaging.packages import Packages
from kalec.packaging.shipping import LocalModules
from kalec.runtime.protocol import (
    DISPLAY_FILE,
    OBSERVED_FILE,
    OUTCOME_FILE,
    Observation,
    StepOutcome,
)

RECEIPT_FILE = "kalec-memory.json"  # in a step's folder: the key it ran with, its manifest


@dataclass(frozen=True)
class Wanted:
    """What the run's plan wants of one step, which decides where its values may come from."""

    earlier_only: bool = False  # outside the steps to run: values from an earlier run, or none
    earlier: Path | None = None  # that run's folder of the step, when one kept it
    earlier_run: str = ""  # that run's id, for the words
    may_skip: bool = False  # --only: skipped, never run, when the earlier values cannot be used
    forced: bool = False  # run whatever is remembered (--from, --refresh)
    refreshed: bool = False  # forced by name, with --refresh


@dataclass
class Reuse:
    """Memory's answer for a step about to run: its values, in place, or why it runs (or is
    skipped); the key it has now, which ``keep`` stores once it ran."""

    outcome: StepOutcome | None = None  # reused: the step is done
    source: str | None = None  # where the values came from: "cache", "run <id>"
    skipped: bool = False  # --only, and its earlier values cannot be used
    note: str | None = None  # why it runs (or is skipped) though something was remembered
    key: StaticKey | None = None
    named: dict[str, str | None] = field(default_factory=dict)  # paths its code names, now
    said: list[str] = field(default_factory=list)  # to say at once
    told: list[str] = field(default_factory=list)  # to say with -v


@dataclass
class Kept:
    """What ``keep`` did with a step that ran: nothing to say, or why it was not kept."""

    note: str | None = None
    said: list[str] = field(default_factory=list)


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

    # --- reuse -----------------------------------------------------------------------------

    def reuse(
        self,
        step: Step,
        params: dict[str, Any],
        inputs: dict[str, str],
        wanted: Wanted,
        folder: Path,
        names: Callable[[str], str],
    ) -> Reuse:
        """Whether the step's values can be reused, in ``folder`` when they can. ``inputs``:
        the digest of each value it reads; ``names``: variable -> file name in its folder."""
        answer = self._keyed(step, params, inputs)
        name = step.name
        if wanted.earlier_only:
            if wanted.earlier is not None:
                found = self._from_earlier_run(wanted, answer.key, folder, names)
                if found.outcome is not None:
                    answer.outcome, answer.source = found.outcome, f"run {wanted.earlier_run}"
                    return answer
                answer.note = found.note
            else:
                answer.note = "no earlier run kept its values"
            if wanted.may_skip:
                answer.skipped = True
                answer.told.append(f"{name}: skipped: {answer.note}; run it with --from {name}")
                return answer
        if wanted.forced:
            if wanted.refreshed:
                answer.note = "--refresh"
            return answer
        if self.cache is None or answer.key is None:
            return answer
        if step.options.cache is False:
            answer.note = answer.note or "cache:disabled"
            return answer
        self._from_cache(step, answer, folder, names)
        return answer

    def _keyed(self, step: Step, params: dict[str, Any], inputs: dict[str, str]) -> Reuse:
        """An answer holding the step's static key and the paths its code names, or saying
        why it has no key."""
        if self._packages is None:
            self._packages = Packages(self.pipeline)
            self._modules = LocalModules(self.pipeline)
        assert self._modules is not None
        try:
            key = static_key(
                self.pipeline, step, params, inputs, self._packages, self._modules, self.memo
            )
            return Reuse(key=key, named=named_paths(self.pipeline, step, params, self.memo))
        except TooLarge as error:
            problem = (
                f"not cached: it names {error}, a folder of more than {MAX_FILES:,} "
                "files, which would be checked on every run"
            )
        except OSError as error:  # a file it names vanished while hashing
            problem = f"not looked up in the cache: {error}"
        return Reuse(said=[f"{step.name}: {problem}"])

    def _why_new(self, step: str, key: StaticKey) -> str | None:
        """How ``key`` differs from the step's key in the last run that computed one."""
        if self.cache is None:
            return None
        earlier = self.cache.last_parts(self.notebook, step)
        if earlier is None:
            return None
        changes = key.changes_from(earlier)
        return ", ".join(changes[:3]) if changes else None

    def _from_cache(
        self, step: Step, answer: Reuse, folder: Path, names: Callable[[str], str]
    ) -> None:
        """The cache's entry for the step put in place, or in ``answer`` why there is none."""
        assert self.cache is not None and answer.key is not None
        found = self.cache.find(answer.key.digest, self.places)
        why = found.reason or self._why_new(step.name, answer.key)
        self.cache.keep_parts(self.notebook, step.name, answer.key)
        entry = found.entry
        if entry is None:
            answer.note = answer.note or why
            if why:
                answer.told.append(f"{step.name}: runs again: {why}")
            return
        try:
            restored = self.cache.restore(entry, {v: folder / names(v) for v in entry.outputs})
            self.cache.restore_writes(entry.manifest, self.places)
        except OSError as error:
            answer.note = f"its stored values cannot be used ({error})"
            answer.said.append(f"{step.name}: {answer.note}; running it")
            return
        self.cache.restore_text(entry.log, folder / LOG_FILE)
        self.cache.restore_text(entry.display, folder / DISPLAY_FILE)
        _write_receipt(folder, answer.key, entry.manifest)
        answer.source = "cache"
        answer.outcome = StepOutcome(
            ok=True,
            seconds=entry.seconds,
            outputs=restored,
            digests={v: s.digest for v, s in entry.outputs.items()},
            metrics=entry.metrics,
        )

    def _from_earlier_run(
        self,
        wanted: Wanted,
        key: StaticKey | None,
        folder: Path,
        names: Callable[[str], str],
    ) -> Reuse:
        """The values the step had in the earlier run's folder, linked into ``folder``, when
        its key is the key it ran with and all it read still holds; else why not."""
        earlier, run_id = wanted.earlier, wanted.earlier_run
        assert earlier is not None
        try:
            receipt = json.loads((earlier / RECEIPT_FILE).read_text(encoding="utf-8"))
            outcome = StepOutcome.read(str(earlier / OUTCOME_FILE))
        except (OSError, ValueError, TypeError):
            return Reuse(note=f"run {run_id} kept no record of what it read")
        if key is None:
            return Reuse(note="its key cannot be computed now")
        if receipt.get("key") != key.digest:
            changes = key.changes_from(receipt.get("parts") or {})
            return Reuse(note=(", ".join(changes[:3]) or "its key changed") + f" since {run_id}")
        manifest = Manifest.from_json(receipt.get("manifest") or {})
        problem = mismatch(manifest, self.places, self.memo)
        if problem:
            return Reuse(note=f"{problem} since {run_id}")
        restored = {}
        for variable, path in outcome.outputs.items():
            stored = Stored(outcome.digests.get(variable, ""), "", -1)
            source = Path(path)
            if not stored.digest or not intact(source, stored, self.memo):
                return Reuse(note=f"its value {variable} in run {run_id} was changed or removed")
            target = folder / (names(variable) + ending_of(path, earlier, variable))
            link_into(source, target)
            restored[variable] = str(target)
        written = self._writes_in_place(manifest)
        if written:
            return Reuse(note=f"{written}, which it wrote, has changed since {run_id}")
        outcome.outputs = restored
        _write_receipt(folder, key, manifest)
        for extra in (DISPLAY_FILE, LOG_FILE):
            if (earlier / extra).is_file():
                with contextlib.suppress(OSError):
                    link_into(earlier / extra, folder / extra)
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

    # --- keep ------------------------------------------------------------------------------

    def keep(
        self,
        step: Step,
        key: StaticKey | None,
        named: dict[str, str | None],
        folder: Path,
        outcome: StepOutcome,
    ) -> Kept:
        """After a step succeeded: its receipt in its folder (for ``--resume``) and, unless
        tagged ``cache:disabled``, its values in the cache. ``key`` and ``named``: what
        ``reuse`` found before it ran (no key: nothing is kept)."""
        if key is None:
            return Kept()
        try:
            manifest = self._manifest(step, folder, named)
        except Unseen as error:
            return Kept(
                f"runs again each time: {error}",
                [
                    f"{step.name}: not kept in the cache: {error}; tag it cache:enabled to "
                    "reuse it anyway"
                ],
            )
        except Unstable as error:
            return Kept(f"not kept: {error}", [f"{step.name}: not kept in the cache: {error}"])
        except (OSError, ValueError, TypeError) as error:
            return Kept(f"not kept: {error}")
        _write_receipt(folder, key, manifest)
        if step.options.cache is False or self.cache is None:
            return Kept()
        files = {}
        for variable, path in outcome.outputs.items():
            digest = outcome.digests.get(variable)
            if digest is None:
                return Kept()
            files[variable] = (path, digest, ending_of(path, folder, variable))
        self.cache.store(
            key,
            files,
            outcome.metrics,
            outcome.seconds,
            folder / LOG_FILE,
            folder / DISPLAY_FILE,
            manifest,
            self.places,
        )
        return Kept()

    def _manifest(self, step: Step, folder: Path, named: dict[str, str | None]) -> Manifest:
        """What the step that just succeeded read and wrote (``named``: the paths its code
        names, as they were before it ran); ``Unstable`` when something it read changed while
        it ran, ``Unseen`` when it reached files where they cannot be observed."""
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

    def save(self) -> None:
        self.memo.save()


def _write_receipt(folder: Path, key: StaticKey, manifest: Manifest) -> None:
    """The key a step's values were made under and its manifest, in the step's folder: what a
    later ``--resume`` checks before taking them."""
    receipt = {"key": key.digest, "parts": key.parts, "manifest": manifest.as_json()}
    with contextlib.suppress(OSError, TypeError, ValueError):
        (folder / RECEIPT_FILE).write_text(json.dumps(receipt, default=repr), encoding="utf-8")


def ending_of(path: str, folder: Path, variable: str) -> str:
    """The format's file ending of a saved value (``.npy``, ``.pd.pkl``)."""
    base = os.fspath(folder / file_name(variable))
    return path[len(base) :] if path.startswith(base) else Path(path).suffix


__all__ = ["RECEIPT_FILE", "Kept", "Memory", "Reuse", "StaticKey", "Wanted"]
