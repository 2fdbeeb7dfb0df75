"""Pass: what each cell binds, changes in place, imports, defines and risks (``CellFacts``).

The readings of code are in ``kalec.analysis``; this pass runs them over every cell and lets a
call to a function defined in another cell count that function's effects where it is called.
It is the last pass that reads syntax trees: what the later passes and the lints need of the
code is in the facts it records. Two sweeps: the first gathers the few names that reading a cell
needs from the others (``WholeNotebook``; only cells that can tell any are parsed for it),
the second reads each cell; a cell's tree is dropped
once read (``kalec.analysis.parsing`` keeps recent ones), so a notebook of 50,000 cells never
holds all its trees.

A cell's reading depends on its text and on the notebook-wide names alone, which the cells that
can tell any decide: readings are remembered under those (``READINGS``), and kept from one
command to the next (``kept_readings``), so that a notebook compiled again after an edit (a
panel checks on every save, a user builds again) reads again only the cells whose reading can
differ; the readers (``kalec.analysis.cell_reader``) are imported only for those.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kalec.analysis.kept_readings import CellReading, kept, telling_digest, tells
from kalec.analysis.reserved import unique_names
from kalec.ir import CellFacts, Pipeline
from kalec.sized_cache import SizedCache

if TYPE_CHECKING:
    from kalec.analysis.whole_notebook import WholeNotebook

# (cell text, digest of the texts that decide the notebook-wide names) -> the cell's reading
READINGS = SizedCache(8 * 2**20)


def _with_calls(
    facts: CellFacts,
    calls: tuple[tuple[str, tuple[tuple[int | str, str], ...]], ...],
    effects_by_function: dict[str, _Called],
) -> CellFacts:
    """Calling a function that rebinds or changes globals does so in the calling cell, and so
    does passing a variable to a parameter the function changes."""
    writes: list[str] = []
    mutates: list[str] = []
    for called, arguments in calls:
        effects = effects_by_function.get(called)
        if effects:
            writes += sorted(effects.writes)
            mutates += sorted(effects.mutates)
            mutates += [name for key, name in arguments if key in effects.changed_params]
    if not writes and not mutates:
        return facts
    direct = set(facts.writes) | set(facts.mutates)
    return replace(
        facts,
        writes=unique_names([*facts.writes, *writes]),
        mutates=unique_names([*facts.mutates, *mutates]),
        via_calls=unique_names([n for n in writes + mutates if n not in direct]),
    )


class _Reader:
    """Reads the cells no reading was found for; the notebook-wide names they need are
    gathered once, at the first such cell."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.whole: WholeNotebook | None = None
        self.methods: frozenset[str] = frozenset()

    def read(self, text: str) -> CellReading:
        from kalec.analysis.cell_reader import read_cell
        from kalec.analysis.parsing import parse
        from kalec.analysis.whole_notebook import WholeNotebook

        if self.whole is None:
            self.whole = WholeNotebook()
            for cell in self.pipeline.cells:  # syntax checked before
                if tells(cell.analyzed):
                    self.whole.read(parse(cell.analyzed))
            self.methods = self.whole.mutating_methods()
        return read_cell(text, self.whole, self.methods)


def cell_facts(pipeline: Pipeline) -> Pipeline:
    """Record each cell's ``CellFacts``; calls to functions of other cells count their effects."""
    whole_key = telling_digest([cell.analyzed for cell in pipeline.cells])
    reader = _Reader(pipeline)
    # each cell's reading; what calling each function does, merged over the cells defining it
    readings: dict[int, CellReading] = {}
    effects_by_function: dict[str, _Called] = {}
    for cell in pipeline.cells:
        key = (cell.analyzed, whole_key)
        reading = READINGS.get(key)
        if reading is None:
            reading = kept.cell_reading(key) or reader.read(cell.analyzed)
            READINGS.put(key, reading, 4 * len(cell.analyzed) + 1_000)
        kept.put("cell", key, reading)
        for name, effects in reading.functions:
            known = effects_by_function.setdefault(name, _Called())
            known.writes |= effects.writes
            known.mutates |= effects.mutates
            known.changed_params |= effects.changed_params
        readings[cell.number] = reading
    cells = []
    for cell in pipeline.cells:
        reading = readings.pop(cell.number)
        facts = _with_calls(reading.facts, reading.calls, effects_by_function)
        cells.append(replace(cell, facts=facts))
    return replace(pipeline, cells=tuple(cells))


class _Called:
    """What calling a function does, over every cell that defines it (a redefinition adds)."""

    def __init__(self) -> None:
        self.writes: set[str] = set()
        self.mutates: set[str] = set()
        self.changed_params: set[int | str] = set()
