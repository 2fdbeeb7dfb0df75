"""Pass: what each cell binds, changes in place, imports and defines (``CellFacts``).

The readings of code are in ``kalec.analysis.effects``; this pass parses each cell once (through
``kalec.analysis.parsing``), runs them over every cell, and lets a call to a function defined in
another cell count that function's effects where it is called.
"""

from __future__ import annotations

from dataclasses import replace

from kalec.analysis.effects import (
    MUTATING_METHODS,
    CellVisitor,
    FunctionEffects,
    self_mutating_methods,
)
from kalec.analysis.files import file_accesses
from kalec.analysis.parsing import parse
from kalec.analysis.random_state import RandomAliases
from kalec.analysis.reserved import TIMEIT_SCOPE
from kalec.ir import CellFacts, Pipeline


def _unique(names: list[str] | set[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n != TIMEIT_SCOPE))


def cell_facts(pipeline: Pipeline) -> Pipeline:
    """Record each cell's ``CellFacts``; calls to functions of other cells count their effects."""
    visitors: dict[int, CellVisitor] = {}
    effects_by_function: dict[str, FunctionEffects] = {}
    trees = {c.number: parse(c.analyzed) for c in pipeline.cells}  # syntax checked before
    methods = MUTATING_METHODS | self_mutating_methods(list(trees.values()))
    rng = RandomAliases.of(list(trees.values()))
    for cell in pipeline.cells:
        tree = trees[cell.number]
        visitor = CellVisitor(methods, rng)
        for statement in tree.body:
            visitor.visit(statement)
        visitors[cell.number] = visitor
        for name, effects in visitor.functions.items():
            known = effects_by_function.setdefault(name, FunctionEffects())
            known.reads |= effects.reads
            known.writes |= effects.writes
            known.mutates |= effects.mutates
            known.changed_params.update(effects.changed_params)
    cells = []
    for cell in pipeline.cells:
        visitor = visitors[cell.number]
        files_written, files_read = file_accesses(trees[cell.number])
        writes = list(visitor.writes)
        mutates = list(visitor.mutates)
        direct = set(writes) | set(mutates)
        for called, arguments in visitor.calls:
            effects = effects_by_function.get(called)
            if effects:  # calling a function that rebinds or changes globals does so here
                writes += sorted(effects.writes)
                mutates += sorted(effects.mutates)
                # and so does passing a variable to a parameter the function changes
                mutates += [name for key, name in arguments if key in effects.changed_params]
        facts = CellFacts(
            writes=_unique(writes),
            mutates=_unique(mutates),
            imports=tuple(sorted(visitor.imports.items())),
            function_globals=tuple(
                (name, tuple(sorted(effects.reads)))
                for name, effects in sorted(visitor.functions.items())
            ),
            unpicklable=tuple(visitor.unpicklable),
            deletes=_unique(list(visitor.deleted)),
            via_calls=_unique([n for n in writes + mutates if n not in direct]),
            star_imports=tuple(visitor.star_imports),
            file_writes=_unique(files_written),
            file_reads=_unique(files_read),
        )
        cells.append(replace(cell, facts=facts))
    return replace(pipeline, cells=tuple(cells))
