"""One cell's reading: what it binds, changes in place, imports, defines and risks.

The ``cell_facts`` pass asks for it only for code it has no reading of (in memory, or kept
from an earlier command by ``kept_readings``): importing the readers is most of what reading a
small notebook costs.
"""

from __future__ import annotations

import ast
from typing import Any

from kalec.analysis.channels import channels
from kalec.analysis.effects import CellVisitor
from kalec.analysis.files import file_accesses
from kalec.analysis.hazards import loop_closures, run_to_run_hazards
from kalec.analysis.kept_readings import CalledEffects, CellReading
from kalec.analysis.parsing import parse
from kalec.analysis.process_state import dynamic_reads, state_changes
from kalec.analysis.reserved import unique_names
from kalec.analysis.symbols import tree_modules
from kalec.analysis.whole_notebook import WholeNotebook
from kalec.ir import CellFacts


def read_cell(text: str, whole: WholeNotebook, methods: frozenset[str]) -> CellReading:
    """One cell's facts before calls count, its calls, and the functions it defines."""
    tree = parse(text)
    visitor = CellVisitor(methods, whole.random_aliases)
    for statement in tree.body:
        visitor.visit(statement)
    return CellReading(
        _draft(visitor, tree, whole),
        tuple((name, tuple(arguments)) for name, arguments in visitor.calls),
        tuple(
            (
                name,
                CalledEffects(
                    frozenset(e.writes), frozenset(e.mutates), frozenset(e.changed_params)
                ),
            )
            for name, e in visitor.functions.items()
        ),
    )


def _own_readings(tree: ast.Module, whole: WholeNotebook) -> dict[str, Any]:
    """The facts that need only the cell's own tree (and the notebook-wide names)."""
    files_written, files_read = file_accesses(tree)
    return {
        "file_writes": unique_names(files_written),
        "file_reads": unique_names(files_read),
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
        writes=unique_names(visitor.writes),
        mutates=unique_names(visitor.mutates),
        imports=tuple(sorted(visitor.imports.items())),
        function_globals=tuple(
            (name, tuple(sorted(effects.reads)))
            for name, effects in sorted(visitor.functions.items())
        ),
        unpicklable=tuple(visitor.unpicklable),
        deletes=unique_names(list(visitor.deleted)),
        star_imports=tuple(visitor.star_imports),
        **_own_readings(tree, whole),
    )
