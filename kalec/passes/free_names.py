"""Pass: the names each step reads before binding them, found by pyflakes.

pyflakes reads a step's code (its cells in notebook order, without the prelude) as one module and
reports every name that is used without a binding before it, including names that functions,
lambdas and methods defined in the step read as globals. Each such name is a free name of the
step, recorded with the cell and line of its first use; the data flow decides where it comes from.

The prelude (imports and functions cells) is read the same way: at its top level it may read only
pipeline parameters, because it runs at the start of every step before any value arrives.

What pyflakes finds in a step depends on its cells' texts and on which builtins the notebook
rebinds, nothing else: it is remembered under those (``FOUND``) and kept from one command to the
next (``kept_readings``), so that a notebook compiled again after an edit runs pyflakes
(``kalec.analysis.undefined_names``, imported only then) again only over the steps whose code
changed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kalec import diagnostics as D
from kalec.analysis.kept_readings import kept
from kalec.analysis.symbols import BUILTIN_NAMES, FILE_PREFIX
from kalec.ir import Diagnostic, FreeName, Origin, Pipeline
from kalec.runtime.global_state import STATES
from kalec.sized_cache import SizedCache

if TYPE_CHECKING:
    from kalec.analysis.undefined_names import Found

# (cell texts, the builtins they rebind) -> what pyflakes found in them (``Found``)
FOUND = SizedCache(8 * 2**20)


def _undefined_names(
    pipeline: Pipeline, cell_numbers: tuple[int, ...], rebound: frozenset[str] = frozenset()
) -> list[tuple[str, Origin, bool]]:
    """(name, first use, used at top level) for each name the cells read without binding it;
    ``rebound``: builtins that count as names like others (the notebook binds them itself)."""
    texts = tuple(pipeline.cell(number).analyzed for number in cell_numbers)
    found = _found(texts, rebound & BUILTIN_NAMES)
    placed = [(name, Origin(cell_numbers[i], line), top) for name, i, line, top in found]
    return sorted(placed, key=lambda f: f[1])


def _found(texts: tuple[str, ...], rebound: frozenset[str]) -> Found:
    """What pyflakes finds in the code of ``texts`` (``undefined_names``): remembered in this
    process, else kept from an earlier command, else read."""
    key = (texts, rebound)
    found = FOUND.get(key)
    if found is None:
        found = kept.free_names(key)
        if found is None:
            from kalec.analysis.undefined_names import undefined_names

            found = undefined_names(texts, rebound)
        FOUND.put(key, found, sum(map(len, texts)) + 64 * len(texts) + 200 * len(found) + 1000)
    kept.put("free", key, found)
    return found


def _generator_reads(pipeline: Pipeline, cell_numbers: tuple[int, ...]) -> tuple[FreeName, ...]:
    """A step that draws from a global generator before seeding it reads the generator's state."""
    reads = []
    for state in STATES:
        for number in cell_numbers:
            facts = pipeline.cell(number).facts
            if facts and state in facts.writes:
                break  # seeded here first: whatever came before does not matter
            if facts and state in facts.mutates:
                reads.append(FreeName(state, Origin(number)))
                break
    return tuple(reads)


def _file_reads(pipeline: Pipeline, cell_numbers: tuple[int, ...]) -> tuple[FreeName, ...]:
    """Files the step reads that it has not written itself by then (or in the same cell)."""
    written: set[str] = set()
    reads: dict[str, FreeName] = {}
    for number in cell_numbers:
        facts = pipeline.cell(number).facts
        if not facts:
            continue
        written.update(facts.file_writes)
        for path in facts.file_reads:
            if path not in written and path not in reads:
                reads[path] = FreeName(FILE_PREFIX + path, Origin(number))
    return tuple(reads.values())


def free_names(pipeline: Pipeline) -> Pipeline:
    diagnostics: list[Diagnostic] = []
    params = {p.name for p in pipeline.params}
    prelude_reads: dict[tuple[str, Origin], FreeName] = {}
    preludes = dict.fromkeys([pipeline.prelude, *(s.prelude for s in pipeline.steps)])
    reported: set[tuple[str, Origin]] = set()
    for prelude in (p for p in preludes if p):
        for name, origin, top_level in _undefined_names(pipeline, prelude):
            if name in params:
                prelude_reads.setdefault((name, origin), FreeName(name, origin))
            elif top_level and (name, origin) not in reported:
                reported.add((name, origin))
                diagnostics.append(D.PRELUDE_READS_VALUE(origin, name=name))
    # A builtin the notebook rebinds (`sum = 0`, `id = df.id`, a parameter named `type`) is a
    # value like any other where a step reads it: the data flow binds it, and where no cell
    # set it before the read, it is the builtin after all.
    rebound = frozenset(
        {p.name for p in pipeline.params}
        | {name for cell in pipeline.cells if cell.facts for name in cell.facts.writes}
    )
    steps = tuple(
        replace(
            step,
            free_names=tuple(
                FreeName(name, origin, deferred=not top_level)
                for name, origin, top_level in _undefined_names(pipeline, step.cells, rebound)
            )
            + _generator_reads(pipeline, step.cells)
            + _file_reads(pipeline, step.cells),
        )
        for step in pipeline.steps
    )
    return replace(
        pipeline,
        steps=steps,
        prelude_reads=tuple(prelude_reads.values()),
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )
