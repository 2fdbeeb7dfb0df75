"""What the runtime needs to run one step (``kalec.runtime.protocol.StepSpec``): shared by every
backend, which embeds it as JSON (the cluster targets) or writes it into the step's request
(the local runner)."""

from __future__ import annotations

import os
import posixpath
import sys
from typing import Any

from kalec.ir import NATIVE_CHANNEL, InputKind, Pipeline, Step
from kalec.ir.places import enclosing, notebook_path, place
from kalec.runtime.protocol import NativeCall, SpecCell, StepSpec


def step_spec(pipeline: Pipeline, step: Step) -> StepSpec:
    """What ``kalec.runtime.step.run_step`` runs for ``step``."""
    params = step_params(pipeline, step)
    return StepSpec(
        step=step.name,
        source=os.path.basename(pipeline.source),
        prelude=tuple(_cell(pipeline, n) for n in step.prelude),
        imports=tuple(i.statement for i in step.inputs if i.kind is InputKind.IMPORT),
        cells=tuple(_cell(pipeline, n) for n in step.cells),
        metrics=tuple(step.metrics),
        whole_number_params=tuple(
            p.name
            for p in pipeline.params
            if p.name in params
            and _only_whole_numbers(p.default)
            and isinstance(p.default, (list, dict))
        ),
        # default None: pipelines carry such a parameter as a string, empty standing for None
        none_if_empty_params=tuple(
            p.name for p in pipeline.params if p.name in params and p.default is None
        ),
        # a referenced notebook's step: its folders on sys.path, nearest first
        paths=tuple(_folders(pipeline, step.scope)) if step.scope else (),
        # observed from its first cell: these read or write files in native code
        native_io=native_calls(pipeline, step),
    )


def native_calls(pipeline: Pipeline, step: Step) -> tuple[NativeCall, ...]:
    """The calls of the step's code (prelude included) that open files in native code, the
    first five."""
    found = []
    for number in (*step.prelude, *step.cells):
        facts = pipeline.cell(number).facts
        for kind, _, text in facts.channels if facts else ():
            if kind == NATIVE_CHANNEL:
                found.append(NativeCall(number, text))
    return tuple(found[:5])


def _cell(pipeline: Pipeline, number: int) -> SpecCell:
    """A cell as the runtime runs it; in a composition with the name tracebacks show
    ("train.ipynb, cell 3") when it is not the root notebook's."""
    code = pipeline.cell(number).python
    if not pipeline.places:
        return SpecCell(number, code)
    scope, own = place(pipeline, number)
    if scope:
        return SpecCell(
            number, code, f"{posixpath.basename(notebook_path(pipeline, scope))}, cell {own}"
        )
    return SpecCell(number, code, f"{os.path.basename(pipeline.source)}, cell {own}")


def _folders(pipeline: Pipeline, scope: str) -> list[str]:
    """The folders of notebook ``scope`` and of those above it, from the root's folder."""
    root = posixpath.dirname(pipeline.source) or "."
    found = [
        posixpath.relpath(posixpath.dirname(notebook_path(pipeline, s)) or ".", root)
        for s in enclosing(scope)
    ]
    return [f for f in dict.fromkeys(found) if f != "."]


def _only_whole_numbers(value: Any) -> bool:
    """True when every number inside a list or dict parameter's default is an int."""
    if isinstance(value, float):
        return False
    if isinstance(value, list):
        return all(_only_whole_numbers(v) for v in value)
    if isinstance(value, dict):
        return all(_only_whole_numbers(v) for v in value.values())
    return True


def step_params(pipeline: Pipeline, step: Step) -> list[str]:
    """The pipeline parameters a step needs: those it reads, and those its prelude reads."""
    names = [i.name for i in step.inputs if i.kind is InputKind.PARAM]
    prelude = set(step.prelude)
    names += [f.name for f in pipeline.prelude_reads if f.origin.cell in prelude]
    return list(dict.fromkeys(names))


def cells_text(step: Step) -> str:
    """ "cell 4" or "cells 5, 6": where a step's code comes from, for the reader of a script."""
    numbers = ", ".join(str(n) for n in step.cells)
    return ("cell " if len(step.cells) == 1 else "cells ") + numbers


def base_image(pipeline: Pipeline, override: str | None) -> str:
    """The image of steps without an ``image:`` tag: the command line's, the notebook's, or
    python:X.Y of the Python compiling (the packages are pinned for that Python)."""
    return (
        override
        or pipeline.settings.image
        or f"python:{sys.version_info.major}.{sys.version_info.minor}"
    )
