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
can tell any decide: readings are remembered under those (``READINGS``), so that a notebook
compiled again after an edit (a panel checks on every save) reads again only the cells whose
reading can differ.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from kalec.analysis.channels import channels
from kalec.analysis.effects import CellVisitor, FunctionEffects
from kalec.analysis.files import file_accesses
from kalec.analysis.hazards import loop_closures, run_to_run_hazards
from kalec.analysis.parsing import parse
from kalec.analysis.process_state import dynamic_reads, state_changes
from kalec.analysis.reserved import TIMEIT_SCOPE
from kalec.analysis.symbols import tree_modules
from kalec.analysis.whole_notebook import WholeNotebook
from kalec.ir import CellFacts, Pipeline
from kalec.sized_cache import SizedCache

try:  # blake2 without hashlib, which loads OpenSSL: a tenth of a small build's start
    from _blake2 import blake2b
except ImportError:  # an interpreter built without it
    from hashlib import blake2b

Calls = list[tuple[str, list[tuple[int | str, str]]]]
# (cell text, digest of the texts that decide the notebook-wide names) -> the cell's reading
READINGS = SizedCache(8 * 2**20)


def _unique(names: list[str] | set[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n != TIMEIT_SCOPE))


def _own_readings(tree: ast.Module, whole: WholeNotebook) -> dict[str, Any]:
    """The facts that need only the cell's own tree (and the notebook-wide names)."""
    files_written, files_read = file_accesses(tree)
    return {
        "file_writes": _unique(files_written),
        "file_reads": _unique(files_read),
        "run_to_run": tuple(
            (h.kind, h.line, h.text) for h in run_to_run_hazards(tree, whole.seeded)
        ),
        "loop_closures": tuple((c.holder, c.variable, c.line) for c in loop_closures(tree)),
        "state_changes": tuple(
            (c.kind, c.line, c.text) for c in state_changes(tree, whole.modules)
        ),
        "dynamic_reads": tuple((r.names, r.line, r.text) for r in dynamic_reads(tree)),
        "channels": tuple((c.kind, c.line, c.text) for c in channels(tree)),
        "modules": tuple(sorted(tree_modules(tree))),
    }


def _draft(visitor: CellVisitor, tree: ast.Module, whole: WholeNotebook) -> CellFacts:
    """The cell's facts before calls to the notebook's functions count their effects."""
    return CellFacts(
        writes=_unique(visitor.writes),
        mutates=_unique(visitor.mutates),
        imports=tuple(sorted(visitor.imports.items())),
        function_globals=tuple(
            (name, tuple(sorted(effects.reads)))
            for name, effects in sorted(visitor.functions.items())
        ),
        unpicklable=tuple(visitor.unpicklable),
        deletes=_unique(list(visitor.deleted)),
        star_imports=tuple(visitor.star_imports),
        **_own_readings(tree, whole),
    )


def _with_calls(
    facts: CellFacts,
    calls: list[tuple[str, list[tuple[int | str, str]]]],
    effects_by_function: dict[str, FunctionEffects],
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
        writes=_unique([*facts.writes, *writes]),
        mutates=_unique([*facts.mutates, *mutates]),
        via_calls=_unique([n for n in writes + mutates if n not in direct]),
    )


def _read_cell(
    text: str, whole: WholeNotebook, methods: frozenset[str]
) -> tuple[CellFacts, Calls, dict[str, FunctionEffects]]:
    """One cell's facts before calls count, its calls, and the functions it defines."""
    tree = parse(text)
    visitor = CellVisitor(methods, whole.random_aliases)
    for statement in tree.body:
        visitor.visit(statement)
    return _draft(visitor, tree, whole), visitor.calls, visitor.functions


def cell_facts(pipeline: Pipeline) -> Pipeline:
    """Record each cell's ``CellFacts``; calls to functions of other cells count their effects."""
    whole = WholeNotebook()
    telling = blake2b(digest_size=16)
    for cell in pipeline.cells:  # syntax checked before
        if whole.tells(cell.analyzed):
            whole.read(parse(cell.analyzed))
            telling.update(cell.analyzed.encode("utf-8", "surrogatepass") + b"\0")
    whole_key = telling.digest()
    methods = whole.mutating_methods()
    # each cell's facts so far and its calls: small records, where the readers were large
    drafts: dict[int, tuple[CellFacts, Calls]] = {}
    effects_by_function: dict[str, FunctionEffects] = {}
    for cell in pipeline.cells:
        key = (cell.analyzed, whole_key)
        reading = READINGS.get(key)
        if reading is None:
            reading = _read_cell(cell.analyzed, whole, methods)
            READINGS.put(key, reading, 4 * len(cell.analyzed) + 1_000)
        draft, calls, functions = reading
        for name, effects in functions.items():  # merged into new records: readings are shared
            known = effects_by_function.setdefault(name, FunctionEffects())
            known.reads |= effects.reads
            known.writes |= effects.writes
            known.mutates |= effects.mutates
            known.changed_params.update(effects.changed_params)
        drafts[cell.number] = (draft, calls)
    cells = []
    for cell in pipeline.cells:
        facts, calls = drafts.pop(cell.number)
        cells.append(replace(cell, facts=_with_calls(facts, calls, effects_by_function)))
    return replace(pipeline, cells=tuple(cells))
