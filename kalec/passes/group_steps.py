"""Pass: cells -> steps, following the tags in notebook order.

A cell tagged ``block:``/``step:`` belongs to the steps it names; a code cell without such a tag
continues whatever the code cell before it belonged to (a step, or the imports or functions
prelude); ``pipeline-parameters`` and ``pipeline-metrics`` cells stand alone and do not change
what the next untagged cell continues. Untagged cells before any step tag form a step named
``main``, which makes a notebook without tags a one-step pipeline.
"""

from __future__ import annotations

import difflib
from dataclasses import replace

from kalec.ir import Dependency, Diagnostic, Origin, Pipeline, Role, Severity, Step, StepOptions

IMPLICIT_STEP = "main"


def group_steps(pipeline: Pipeline) -> Pipeline:
    diagnostics: list[Diagnostic] = []
    imports: list[int] = []
    functions: list[int] = []
    step_cells: dict[str, list[int]] = {}
    step_origin: dict[str, Origin] = {}
    step_options: dict[str, StepOptions] = {}
    step_prev: dict[str, list[Dependency]] = {}
    current: Role | tuple[str, ...] | None = None

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
        elif role in (Role.PARAMETERS, Role.METRICS):
            if tags.prev or tags.options != StepOptions():
                diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        f"step tags on a {role.value} cell have no effect",
                        cell.origin,
                    )
                )
            continue
        elif current is None:
            current = (IMPLICIT_STEP,)
            if any(c.tags.role is Role.STEP for c in pipeline.cells):
                diagnostics.append(
                    Diagnostic(
                        Severity.NOTE,
                        f"this cell comes before any step tag; it forms step '{IMPLICIT_STEP}'",
                        cell.origin,
                        hint="tag it block:NAME to give its step a name",
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
                Diagnostic(
                    Severity.ERROR,
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
                    Diagnostic(
                        Severity.ERROR,
                        f"step '{name}' names itself in prev:{name}",
                        dep.origin,
                        hint=f"remove prev:{name}",
                    )
                )
            elif dep.step not in step_cells:
                close = difflib.get_close_matches(dep.step, known, n=1)
                hint = (
                    f"did you mean prev:{close[0]}?"
                    if close
                    else f"the steps are: {', '.join(known)}"
                )
                diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
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
