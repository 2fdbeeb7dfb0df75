"""Which modules the fork server imports before the steps start: those the steps' own code
imports (the prelude's and each step's cells'), where importing them early cannot change what
the notebook computes.

A kernel pays for ``import sklearn.ensemble`` once, in the cell that first asks; a step that
imports it again in a fresh process pays again. Imported once in the fork server, every step
forked from it has it. Importing early is only the same as importing where the code does when
nothing the code did before could change the import: so a step's imports are taken up to the
first statement, in the order the step runs its cells (prelude first), that changes process
state an import reads (the environment, the module search path, the working folder, module
attributes: the ``state_changes`` of its cells' facts that ``affects_imports``; print options do
not), runs a shell command (``!pip install``), or uses a
magic that may change what an import finds (``%env``, ``%cd``, ``%autoreload``, ``%pip``; the
catalogue of ``kalec.analysis.magic_effects`` says which: ``%matplotlib``, ``%load_ext``,
``%watermark``, ``%time`` do not; the body of ``%%capture`` is read as the Python it is; an
unknown magic counts as one that does). Statements inside functions and
loops are left out (they may never run); modules beside the notebook are left out (their code
may read files earlier steps write, or be written by a step: an old copy would be imported).
Modules whose import prints are found by the server itself, which leaves them to the step that
imports them (see ``kalec.runtime.zygote``).
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Iterable
from typing import Any

from kalec.analysis.magic_effects import call_effect, python_body
from kalec.analysis.parsing import parse
from kalec.analysis.process_state import affects_imports, state_changes
from kalec.frontend.magics import MagicError, to_python
from kalec.ir import Pipeline
from kalec.packaging.shipping import LocalModules


def _magic_barrier(node: ast.AST) -> bool:
    """Whether ``node`` is IPython syntax that may change what an import finds."""
    effect = call_effect(node)
    return effect is not None and effect.imports


def _statements(tree: ast.Module) -> list[ast.stmt]:
    """The statements that run with the cell, in order: blocks of if, try and with included,
    function bodies and loops not."""
    found: list[ast.stmt] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        found.append(node)
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            pending[:0] = [
                *node.body,
                *getattr(node, "orelse", []),
                *[s for h in getattr(node, "handlers", []) for s in h.body],
                *getattr(node, "finalbody", []),
            ]
    return found


class _Reader:
    """Reads cells in the order a step runs them, until the first barrier."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.found: dict[str, set[str]] = {}  # module -> names imported from it

    def read(self, cells: Iterable[int]) -> bool:
        """Add the imports of ``cells`` before the first barrier; False once one is met."""
        for number in cells:
            cell = self.pipeline.cell(number)
            try:
                tree = parse(cell.python)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return False
            facts = cell.facts
            changes = [
                line
                for kind, line, _ in (facts.state_changes if facts else ())
                if affects_imports(kind)
            ]
            barrier = min(changes, default=None)
            for statement in _statements(tree):
                if barrier is not None and statement.lineno >= barrier:
                    return False
                if not self._statement(statement):
                    return False
        return True

    def _statement(self, statement: ast.stmt) -> bool:
        """Note the statement's imports; False when it is a barrier."""
        if isinstance(statement, ast.Expr):
            body = python_body(statement.value)
            if body is not None:  # %%capture and friends: the body is the cell's Python
                return self._body(body)
        if any(_magic_barrier(n) for n in ast.walk(statement)):
            return False
        self._note(statement)
        return True

    def _body(self, body: str) -> bool:
        try:
            python = to_python(body)
            tree = parse(python)
        except (MagicError, SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        if any(affects_imports(c.kind) for c in state_changes(tree, set())):
            return False
        return all(self._statement(statement) for statement in _statements(tree))

    def _note(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                self.found.setdefault(alias.name, set())
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            self.found.setdefault(statement.module, set()).update(
                a.name for a in statement.names if a.name != "*"
            )


def preimports(pipeline: Pipeline, steps: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The absolute imports to make in the fork server (``{"module", "names"}``), in the order
    the notebook makes them: the prelude's, then those of ``steps`` (every step when None)."""
    reader = _Reader(pipeline)
    preludes = dict.fromkeys(n for s in pipeline.steps for n in s.prelude)
    if reader.read(tuple(preludes) or pipeline.prelude):
        wanted = None if steps is None else set(steps)
        for step in pipeline.steps:
            if wanted is None or step.name in wanted:
                reader.read(step.cells)
    local = LocalModules(pipeline)
    every = tuple(dict.fromkeys(f for s in pipeline.steps for f in local.folders(s.scope)))

    def beside_the_notebook(module: str) -> bool:
        top = module.split(".")[0]
        return (
            any(
                path == f"{top}.py" or path.startswith(f"{top}/")
                for path in map(posixpath.normpath, local.written)
            )
            or bool(local.files_of(top, every))
            or any((folder / f"{top}.py").exists() or (folder / top).is_dir() for folder in every)
        )

    return [
        {"module": module, "names": sorted(names)}
        for module, names in reader.found.items()
        if module != "__future__" and not beside_the_notebook(module)
    ]
