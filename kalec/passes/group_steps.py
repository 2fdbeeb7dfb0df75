"""Pass: cells -> steps, following the tags in notebook order.

A cell tagged ``block:``/``step:`` belongs to the steps it names; a code cell without such a tag
(or with an empty ``block:``, as Kale writes it) continues whatever the code cell before it
belonged to (a step, or the imports or functions prelude: such a cell that does more than import
and define is warned about, since the prelude runs at the start of every step); ``pipeline-parameters`` and ``pipeline-metrics`` cells stand alone and do not change
what the next untagged cell continues. Untagged cells before any step tag form a step named
``main``, which makes a notebook without tags a one-step pipeline.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.parsing import parse
from kalec.ir import Dependency, Diagnostic, Origin, Pipeline, Role, Step, StepOptions

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


def group_steps(pipeline: Pipeline) -> Pipeline:
    diagnostics: list[Diagnostic] = []
    imports: list[int] = []
    functions: list[int] = []
    step_cells: dict[str, list[int]] = {}
    step_origin: dict[str, Origin] = {}
    step_options: dict[str, StepOptions] = {}
    step_prev: dict[str, list[Dependency]] = {}
    current: Role | tuple[str, ...] | None = None
    prelude_cell = 0  # the imports or functions cell that untagged cells now continue

    def join(names: tuple[str, ...], cell_number: int) -> None:
        for name in names:
            if name not in step_cells:
                step_cells[name] = []
                step_origin[name] = Origin(cell_number)
                step_options[name] = StepOptions()
                step_prev[name] = []
            step_cells[name].append(cell_number)

    for cell in pipeline.cells:
        tags = cell.tags
        role = tags.role
        if role is Role.STEP:
            current = tags.steps
        elif role in (Role.IMPORTS, Role.FUNCTIONS):
            current = role
            prelude_cell = cell.number
        elif role in (Role.PARAMETERS, Role.METRICS):
            if tags.prev or tags.options != StepOptions():
                diagnostics.append(
                    D.SETTINGS_WITHOUT_EFFECT(
                        f"step tags on a {role.value} cell have no effect",
                        cell.origin,
                    )
                )
            continue
        elif current is None:
            current = (IMPLICIT_STEP,)
            if any(c.tags.role is Role.STEP for c in pipeline.cells):
                diagnostics.append(
                    D.IMPLICIT_STEP(
                        f"this cell comes before any step tag; it forms step '{IMPLICIT_STEP}'",
                        cell.origin,
                        hint="tag it block:NAME to give its step a name",
                    )
                )
        if current in (Role.IMPORTS, Role.FUNCTIONS) and role is None:
            action = _first_action(cell.analyzed)
            if action:
                line, text = action
                diagnostics.append(
                    D.PRELUDE_DOES_WORK(
                        f"cell {cell.number} has no step tag and follows the {current.value} "
                        f"cell {prelude_cell}, so it joins the prelude that runs at the start of "
                        f"every step; it does more than import and define: "
                        f"`{text.splitlines()[0][:60] if text else ''}`",
                        Origin(cell.number, line),
                        hint="tag it block:NAME to make it a step of its own (or skip)",
                    )
                )
        if current == Role.IMPORTS:
            imports.append(cell.number)
        elif current == Role.FUNCTIONS:
            functions.append(cell.number)
        if isinstance(current, tuple):
            join(current, cell.number)
            for name in current:
                step_options[name] = step_options[name].merged(tags.options)
                step_prev[name] += [Dependency(p, "prev", cell.origin) for p in tags.prev]
        elif tags.prev or tags.options != StepOptions():
            diagnostics.append(
                D.SETTINGS_ON_PRELUDE(
                    "prev:, limit: and the other step settings belong on a step's cells, "
                    f"not on {current.value} cells",
                    cell.origin,
                    hint="move the tag to a cell tagged block:NAME",
                )
            )

    known = list(step_cells)
    steps = []
    for name in known:
        prev: list[Dependency] = []
        for dep in step_prev[name]:
            if dep.step == name:
                diagnostics.append(
                    D.PREV_SELF(
                        f"step '{name}' names itself in prev:{name}",
                        dep.origin,
                        hint=f"remove prev:{name}",
                    )
                )
            elif dep.step not in step_cells:
                from difflib import get_close_matches  # only for a hint: imported when one is due

                close = get_close_matches(dep.step, known, n=1)
                hint = (
                    f"did you mean prev:{close[0]}?"
                    if close
                    else f"the steps are: {', '.join(known)}"
                )
                diagnostics.append(
                    D.PREV_UNKNOWN(
                        f"prev:{dep.step} names no step of this notebook",
                        dep.origin,
                        hint=hint,
                    )
                )
            elif all(d.step != dep.step for d in prev):
                prev.append(dep)
        steps.append(
            Step(
                name=name,
                cells=tuple(step_cells[name]),
                origin=step_origin[name],
                options=step_options[name],
                prev=tuple(prev),
            )
        )
    return replace(
        pipeline,
        steps=tuple(steps),
        prelude=tuple(imports + functions),
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )
