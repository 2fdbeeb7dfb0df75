"""For a step about to run: can memory settle it, and after it ran, what to keep of it.

The runner's side of ``kalec.local.memory``: it follows the plan (a step outside the steps to
run may take its values from an earlier run; under ``--only`` a step that cannot is skipped,
never run), then the step cache (unless the step is forced, or tagged ``cache:disabled``), and
keeps in each step's ``note`` why memory could not settle it, for ``-v`` and the summary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from kalec.local.folder import LOG_FILE, RunFolder, file_name
from kalec.local.memory import Memory, Unseen, Unstable
from kalec.local.memory.store import link_into
from kalec.local.options import RunOptions
from kalec.local.plan import Plan
from kalec.local.status import StepStatus
from kalec.local.step_run import StepRun
from kalec.runtime.protocol import DISPLAY_FILE, StepOutcome


class Recall:
    def __init__(
        self,
        memory: Memory,
        plan: Plan,
        folder: RunFolder,
        options: RunOptions,
        progress: Callable[[str], None],
    ) -> None:
        self.memory, self.plan, self.folder = memory, plan, folder
        self.options, self.progress = options, progress

    def _tell(self, name: str, text: str) -> None:
        """A reason, said at once with ``-v`` (the summary says it anyway)."""
        if self.options.verbose:
            self.progress(f"{name}: {text}")

    def settle(
        self, state: StepRun, inputs: dict[str, str], params: dict[str, Any]
    ) -> tuple[StepOutcome, str] | None:
        """(the step's outcome, where its values came from) when memory vouches for them, its
        values then in the run folder; None when it must run (or is skipped: ``status``)."""
        memory, step, name = self.memory, state.step, state.step.name
        keyed = memory.key(step, params, inputs)
        state.key, state.named = keyed.key, keyed.named
        if keyed.problem:
            self.progress(f"{name}: {keyed.problem}")
        folder = self.folder.step(name)
        if name not in self.plan.to_run:
            record = self.plan.earlier.get(name)
            if record is not None:
                earlier = record.folder / file_name(name)
                reuse = memory.reuse(earlier, record.run_id, state.key, folder, file_name)
                if reuse.outcome is not None:
                    for extra in (DISPLAY_FILE, LOG_FILE):
                        if (earlier / extra).is_file():
                            with contextlib.suppress(OSError):
                                link_into(earlier / extra, folder / extra)
                    return reuse.outcome, f"run {record.run_id}"
                state.note = reuse.reason
            else:
                state.note = "no earlier run kept its values"
            if name in self.plan.optional:
                state.status = StepStatus.SKIPPED
                self._tell(name, f"skipped: {state.note}; run it with --from {name}")
                return None
        if name in self.plan.forced:
            if name in self.options.refresh:
                state.note = "--refresh"
            return None
        if memory.cache is None or state.key is None:
            return None
        if step.options.cache is False:
            state.note = state.note or "cache:disabled"
            return None
        entry, why = memory.lookup(name, state.key)
        if entry is None:
            state.note = state.note or why
            if why:
                self._tell(name, f"runs again: {why}")
            return None
        try:
            outcome = memory.restore(
                entry, folder, {v: folder / file_name(v) for v in entry.outputs}
            )
        except OSError as error:
            state.note = f"its stored values cannot be used ({error})"
            self.progress(f"{name}: {state.note}; running it")
            return None
        memory.restore_texts(entry, folder / LOG_FILE, folder / DISPLAY_FILE)
        memory.remember_entry(state.key, entry, folder)
        return outcome, "cache"

    def keep(self, state: StepRun) -> None:
        """After a step succeeded: what it read and wrote, in its folder and in the cache."""
        assert state.outcome is not None
        if state.key is None:
            return
        folder = self.folder.step(state.step.name)
        try:
            manifest = self.memory.manifest(state.step, folder, state.named or {})
        except Unseen as error:
            state.note = f"runs again each time: {error}"
            self.progress(
                f"{state.step.name}: not kept in the cache: {error}; tag it cache:enabled to "
                "reuse it anyway"
            )
            return
        except Unstable as error:
            state.note = f"not kept: {error}"
            self.progress(f"{state.step.name}: not kept in the cache: {error}")
            return
        except (OSError, ValueError, TypeError) as error:
            state.note = f"not kept: {error}"
            return
        self.memory.remember(
            state.step,
            state.key,
            manifest,
            folder,
            state.outcome,
            folder / LOG_FILE,
            folder / DISPLAY_FILE,
            into_cache=state.step.options.cache is not False,
        )
