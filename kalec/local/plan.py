"""Which steps of a local run run, and which may take their values from an earlier run:
``--resume``, ``--from STEP``, ``--only STEP`` and ``--refresh STEP``.

- ``--resume``: the steps the last run did not complete, and every step after them, run; the
  others may reuse that run's values.
- ``--from STEP``: STEP and every step after it run, whatever the cache holds; the others may
  reuse earlier values.
- ``--only STEP``: STEP runs alone; the steps it needs may reuse earlier values, and so may the
  rest, which are skipped when they cannot (never run).

"May reuse" is only a permission: the memory (``kalec.local.memory``) grants it when the step's
key is still the key it ran with and all it read still holds. A step refused that way runs
again (a step STEP needs, or any step under ``--resume`` and ``--from``), and the summary says
why. Nothing here reads a value.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from kalec.errors import KalecError
from kalec.ir import Pipeline
from kalec.ir.dag import ancestors, descendants
from kalec.local.folder import file_name
from kalec.local.memory import Wanted
from kalec.local.options import RunOptions
from kalec.local.records import RunRecord, runs_of


class SelectionError(KalecError):
    """``--resume``, ``--from``, ``--only`` or ``--refresh`` cannot be done as asked."""


@dataclass
class Plan:
    """Which steps a local run runs, which it may reuse, and from which earlier run."""

    to_run: set[str]  # run (the cache may still settle them unless forced)
    forced: set[str] = field(default_factory=set)  # run whatever the cache holds
    earlier: dict[str, RunRecord] = field(default_factory=dict)  # step -> run that kept it
    optional: set[str] = field(default_factory=set)  # skipped (not run) if not reusable
    last: RunRecord | None = None  # the run --resume continues

    def wanted(self, name: str, refresh: Collection[str]) -> Wanted:
        """What this plan wants of step ``name``, in the memory's terms (``refresh``: the
        steps named by --refresh)."""
        earlier = self.earlier.get(name)
        return Wanted(
            earlier_only=name not in self.to_run,
            earlier=earlier.folder / file_name(name) if earlier else None,
            earlier_run=earlier.run_id if earlier else "",
            may_skip=name in self.optional,
            forced=name in self.forced,
            refreshed=name in refresh,
        )


def plan(pipeline: Pipeline, options: RunOptions, run_folder: object = None) -> Plan:
    """Raises ``SelectionError`` when a step named is unknown, or there is no earlier run."""
    names = [s.name for s in pipeline.steps]
    for asked in [options.start_from, options.only, *options.refresh]:
        if asked is not None and asked not in names:
            raise SelectionError(
                f"the notebook has no step named {asked!r}; its steps: {', '.join(names)}"
            )
    forced = set(options.refresh)
    if not (options.resume or options.start_from or options.only):
        return Plan(set(names), forced)
    earlier = [r for r in runs_of(pipeline.source) if r.folder != run_folder]
    if not earlier:
        raise SelectionError(
            "there is no earlier run of this notebook to take values from; run it whole first"
        )
    last = earlier[0]
    optional: set[str] = set()
    if options.only:
        to_run = {options.only}
        forced |= to_run
        optional = set(names) - to_run - ancestors(pipeline, to_run)
    else:
        first = (
            {options.start_from}
            if options.start_from
            else {n for n in names if not last.settled(n)}
        )
        to_run = first | descendants(pipeline, first)
        if options.start_from:
            forced |= to_run
    reuse = {}
    for name in set(names) - to_run:
        record = next((r for r in earlier if r.settled(name)), None)
        if record is not None:
            reuse[name] = record
    return Plan(to_run, forced, reuse, optional, last)
