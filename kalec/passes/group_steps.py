"""Pass: cells -> steps, following the tags in notebook order.

A cell tagged ``block:``/``step:`` belongs to the steps it names; a code cell without such a tag
(or with an empty ``block:``, as Kale writes it) continues whatever the code cell before it
belonged to (a step, or the imports or functions prelude: such a cell that does more than import
and define is warned about, since the prelude runs at the start of every step);
``pipeline-parameters`` and ``pipeline-metrics`` cells stand alone and do not change what the
next untagged cell continues. Untagged cells before any step tag form a step named
``main``, which makes a notebook without tags a one-step pipeline.
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, field, replace

from kalec import diagnostics as D
from kalec.analysis.parsing import parse
from kalec.ir import Dependency, Diagnostic, Origin, Pipeline, Role, Step, StepOptions
from kalec.ir.places import cell_name, enclosing

IMPLICIT_STEP = "main"
# Line magics that only set up the session: at home in a prelude.
_SETUP_MAGICS = {"matplotlib", "load_ext", "reload_ext", "autoreload", "config"}


def _is_definition(node: ast.stmt) -> bool:
    """Statements a prelude is for: imports, definitions, constants, session set-up."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    if isinstance(node, (ast.ClassDef, ast.Pass, ast.Global)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        value = node.value
        return value is None or isinstance(
            value,
            (ast.Constant, ast.Name, ast.Attribute, ast.Lambda, ast.List, ast.Tuple, ast.Dict),
        )
    if isinstance(node, ast.Expr):
        call = node.value
        if isinstance(call, ast.Constant):  # a docstring
            return True
        return (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_line_magic"
            and bool(call.args)
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value in _SETUP_MAGICS
        )
    if isinstance(node, ast.Try):
        return all(_is_definition(n) for n in node.body + node.orelse + node.finalbody) and all(
            _is_definition(n) for h in node.handlers for n in h.body
        )
    if isinstance(node, ast.If):
        return all(_is_definition(n) for n in node.body + node.orelse)
    return False


def _first_action(code: str) -> tuple[int, str] | None:
    """(line, text) of the first statement that does more than import and define."""
    try:
        tree = parse(code)
    except SyntaxError:
        return None
    for node in tree.body:
        if not _is_definition(node):
            return node.lineno, ast.get_source_segment(code, node) or ""
    return None


class _Nothing(enum.Enum):
    """What an untagged cell right after a ``notebook:`` cell would continue: nothing (that
    cell stands for another notebook, not a step)."""

    AFTER_REFERENCE = "after a notebook: cell"


@dataclass
class _Grouped:
    """One step as its cells are gathered: where it is, its cells, its settings, its prev:."""

    name: str
    scope: str
    origin: Origin
    cells: list[int] = field(default_factory=list)
    options: StepOptions = field(default_factory=StepOptions)
    prev: list[Dependency] = field(default_factory=list)


def qualified(scope: str, name: str) -> str:
    """A step's name in the pipeline: in a referenced notebook, after that notebook's scope."""
    return f"{scope}/{name}" if scope else name


class _Notebook:
    """Grouping state of one notebook of a composition (the root alone, usually)."""

    def __init__(self, scope: str, references: list[int]) -> None:
        self.scope = scope
        self.references = references  # its notebook: cells, in order
        self.imports: list[int] = []
        self.functions: list[int] = []
        self.current: Role | tuple[str, ...] | _Nothing | None = None
        self.prelude_cell = 0  # the imports or functions cell untagged cells now continue
        self.last_cell = 0
        self.tagged = False  # has a step tag: an untagged first cell is said to form 'main'


def _prelude_of(scope: str, books: dict[str, _Notebook], reference_of: dict[str, int]) -> tuple:
    """What a step of ``scope`` runs first: the imports and functions cells of each notebook
    above it that come before the reference leading down to it, then its own notebook's."""
    chain = [*enclosing(scope), ""]
    cells: list[int] = []
    for outer, inner in zip(reversed(chain[1:]), reversed(chain[:-1]), strict=True):
        before = reference_of[inner]
        book = books[outer]
        cells += [n for n in book.imports + book.functions if n < before]
    own = books.get(scope)
    if own is not None:
        cells += own.imports + own.functions
    return tuple(cells)


def group_steps(pipeline: Pipeline) -> Pipeline:
    diagnostics: list[Diagnostic] = []
    reference_of = {n.scope: n.reference.cell for n in pipeline.notebooks}
    books = {"": _Notebook("", [])}
    for notebook in pipeline.notebooks:
        books[notebook.scope] = _Notebook(notebook.scope, [])
    for notebook in pipeline.notebooks:
        books[notebook.scope.rpartition("/")[0]].references.append(notebook.reference.cell)
    for cell in pipeline.cells:
        if cell.tags.role is Role.STEP:
            books[cell.scope].tagged = True
    grouped: dict[str, _Grouped] = {}  # in the order the steps first appear

    for cell in pipeline.cells:
        book = books[cell.scope]
        if any(book.last_cell < r < cell.number for r in book.references):
            book.current = _Nothing.AFTER_REFERENCE
        book.last_cell = cell.number
        tags = cell.tags
        role = tags.role
        if role is Role.STEP:
            book.current = tuple(qualified(cell.scope, s) for s in tags.steps)
        elif role in (Role.IMPORTS, Role.FUNCTIONS):
            book.current = role
            book.prelude_cell = cell.number
        elif role in (Role.PARAMETERS, Role.METRICS):
            if tags.prev or tags.options != StepOptions():
                diagnostics.append(D.SETTINGS_WITHOUT_EFFECT(cell.origin, role=role.value))
            continue
        elif book.current is _Nothing.AFTER_REFERENCE:
            diagnostics.append(D.UNTAGGED_AFTER_REFERENCE(cell.origin))
            continue
        elif book.current is None:
            book.current = (qualified(cell.scope, IMPLICIT_STEP),)
            if book.tagged:
                diagnostics.append(D.IMPLICIT_STEP(cell.origin, step=IMPLICIT_STEP))
        current = book.current
        if current in (Role.IMPORTS, Role.FUNCTIONS) and role is None:
            action = _first_action(cell.analyzed)
            if action:
                line, text = action
                diagnostics.append(
                    D.PRELUDE_DOES_WORK(
                        Origin(cell.number, line),
                        cell=cell_name(pipeline, cell.number),
                        role=current.value,
                        prelude_cell=cell_name(pipeline, book.prelude_cell),
                        first_line=text.splitlines()[0][:60] if text else "",
                    )
                )
        if current == Role.IMPORTS:
            book.imports.append(cell.number)
        elif current == Role.FUNCTIONS:
            book.functions.append(cell.number)
        if isinstance(current, tuple):
            for name in current:
                step = grouped.setdefault(name, _Grouped(name, cell.scope, Origin(cell.number)))
                step.cells.append(cell.number)
                step.options = step.options.merged(tags.options)
                step.prev += [Dependency(p, "prev", cell.origin) for p in tags.prev]
        elif tags.prev or tags.options != StepOptions():
            diagnostics.append(D.SETTINGS_ON_PRELUDE(cell.origin, role=current.value))

    diagnostics += _reference_names(pipeline, grouped)
    steps = []
    by_scope: dict[str, dict[str, str]] = {}  # each notebook's steps, by their own names
    for step in grouped.values():
        by_scope.setdefault(step.scope, {})[step.name.rpartition("/")[2]] = step.name
    for step in grouped.values():
        prev = _resolved_prev(step, grouped, by_scope[step.scope], diagnostics)
        steps.append(
            Step(
                name=step.name,
                cells=tuple(step.cells),
                origin=step.origin,
                options=step.options,
                prev=tuple(prev),
                prelude=_prelude_of(step.scope, books, reference_of),
            )
        )
    root = books[""]
    return replace(
        pipeline,
        steps=tuple(steps),
        prelude=tuple(root.imports + root.functions),
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )


def _reference_names(pipeline: Pipeline, grouped: dict[str, _Grouped]) -> list[Diagnostic]:
    """A reference named like a step of its notebook: their steps' names would collide."""
    found = []
    for notebook in pipeline.notebooks:
        if notebook.scope in grouped:
            name = notebook.scope.rpartition("/")[2]
            found.append(D.REFERENCE_IS_STEP_NAME(notebook.reference, name=name))
    return found


def _resolved_prev(
    step: _Grouped,
    grouped: dict[str, _Grouped],
    local: dict[str, str],
    diagnostics: list[Diagnostic],
) -> list[Dependency]:
    """A step's prev: names, read within its own notebook (``local``: its steps by their own
    names): a step of it, or a notebook it references (every step of that notebook then runs
    before)."""
    name = step.name
    prev: list[Dependency] = []
    for dep in step.prev:
        target = qualified(step.scope, dep.step)
        if target == name:
            diagnostics.append(D.PREV_SELF(dep.origin, step=name, prev=dep.step))
            continue
        if dep.step in local:
            targets = [local[dep.step]]
        else:
            inside = target + "/"
            targets = [s for s in grouped if s.startswith(inside)]
        if not targets:
            from difflib import get_close_matches  # only for a hint: imported when one is due

            close = get_close_matches(dep.step, list(local), n=1)
            diagnostics.append(
                D.PREV_UNKNOWN_CLOSE(dep.origin, prev=dep.step, close=close[0])
                if close
                else D.PREV_UNKNOWN(dep.origin, prev=dep.step, steps=", ".join(local))
            )
            continue
        for before in targets:
            if all(d.step != before for d in prev):
                prev.append(Dependency(before, dep.reason, dep.origin, dep.variable))
    return prev
