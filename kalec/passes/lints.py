"""Advice that does not stop a build: what the step cache cannot see, values that two parallel
steps share, ``pip install`` lines, loop closures passed between steps, process state a step
changes for later steps that will never see it, and names read where the data flow cannot see.

Runs last, on the finished data flow. Everything here is a warning or a note, each pointing at
the cell and line, with what to do about it.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.hazards import loop_closures, run_to_run_hazards, seeds_in
from kalec.analysis.installs import magic_needs
from kalec.analysis.parsing import parse
from kalec.analysis.process_state import dynamic_reads, state_changes
from kalec.ir import Diagnostic, Origin, Pipeline
from kalec.ir.dag import ancestry


def _trees(pipeline: Pipeline) -> dict[int, ast.Module]:
    trees = {}
    for cell in pipeline.cells:
        try:
            trees[cell.number] = parse(cell.analyzed)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return trees


def _run_to_run(pipeline: Pipeline, trees: dict[int, ast.Module]) -> list[Diagnostic]:
    seeded: set[str] = set()
    for tree in trees.values():
        seeded |= seeds_in(tree)
    found = []
    for step in pipeline.steps:
        hazards = [
            (n, h) for n in step.cells if n in trees for h in run_to_run_hazards(trees[n], seeded)
        ]
        if not hazards:
            continue
        number, first = hazards[0]
        kinds = ", ".join(dict.fromkeys(h.kind for _, h in hazards))
        found.append(
            D.RUN_TO_RUN_SOURCE(
                f"step '{step.name}' reads {kinds} ({first.text}): run again it would compute "
                "something else, but while its code and inputs are unchanged a local run takes "
                "its values from the step cache",
                Origin(number, first.line),
                hint=f"tag the step cache:disabled, or run with --refresh {step.name} when you "
                "want new values",
            )
        )
    return found


def _changed_in_parallel(pipeline: Pipeline) -> list[Diagnostic]:
    ancestors = ancestry(pipeline)
    readers: dict[tuple[str, str], list[str]] = {}  # (variable, producer) -> steps reading it
    for step in pipeline.steps:
        for variable, producer in step.artifact_inputs():
            readers.setdefault((variable, producer), []).append(step.name)
    found = []
    for step in pipeline.steps:
        received = dict(step.artifact_inputs())
        for number in step.cells:
            facts = pipeline.cell(number).facts
            for variable in facts.mutates if facts else ():
                producer = received.get(variable)
                if producer is None:
                    continue
                parallel = [
                    r
                    for r in readers.get((variable, producer), [])
                    if r != step.name
                    and r not in ancestors[step.name]
                    and step.name not in ancestors[r]
                ]
                if parallel:
                    found.append(
                        D.CHANGED_IN_PARALLEL(
                            f"step '{step.name}' changes {variable} in place, and step "
                            f"'{parallel[0]}', which runs in parallel with it, also reads "
                            f"{variable} from step '{producer}': each gets its own copy, so "
                            f"'{parallel[0]}' never sees this change, whatever the order of the "
                            "notebook's cells",
                            Origin(number),
                            hint=f"change a copy ({variable} = {variable}.copy()), or add "
                            f"prev:{step.name} to step '{parallel[0]}' if it must see the change",
                        )
                    )
    return found


def _pip_installs(pipeline: Pipeline) -> list[Diagnostic]:
    found = []
    for step in pipeline.steps:
        for number in step.cells:
            requirements = magic_needs(pipeline.cell(number).python).requirements
            if requirements:
                found.append(
                    D.PIP_INSTALL_PACKAGE(
                        f"the pip install in step '{step.name}' installs "
                        f"{', '.join(requirements)} where the step runs; for kfp-py, yaml and "
                        "argo these become packages of the step, installed before it starts",
                        Origin(number),
                        hint=None
                        if all("==" in r for r in requirements)
                        else "pin versions (pip install name==1.2) so every run installs the "
                        "same thing",
                    )
                )
    return found


def _loop_closures(pipeline: Pipeline, trees: dict[int, ast.Module]) -> list[Diagnostic]:
    found = []
    for step in pipeline.steps:
        passed = set(step.outputs)
        for number in step.cells:
            if number not in trees:
                continue
            for closure in loop_closures(trees[number]):
                if closure.holder in passed:
                    found.append(
                        D.LOOP_CLOSURE(
                            f"the functions in {closure.holder} read the loop variable "
                            f"{closure.variable} when they are called, not when they were made; "
                            f"step '{step.name}' passes them on, and where they are called "
                            f"{closure.variable} holds whatever value it has there",
                            Origin(number, closure.line),
                            hint=f"bind the value when making the function: lambda "
                            f"{closure.variable}={closure.variable}: ...",
                        )
                    )
    return found


def _process_state(pipeline: Pipeline, trees: dict[int, ast.Module]) -> list[Diagnostic]:
    """Process state a step changes while steps after it (in the notebook's order) run in
    processes of their own: in the notebook they would see the change, in the pipeline not."""
    modules = {name for cell in pipeline.cells if cell.facts for name, _ in cell.facts.imports}
    last_cell = {s.name: max(s.cells) for s in pipeline.steps}
    found = []
    for step in pipeline.steps:
        for number in step.cells:
            later = [s for s, last in last_cell.items() if s != step.name and last > number]
            if number not in trees or not later:
                continue
            seen: set[str] = set()
            for change in state_changes(trees[number], modules):
                if change.kind in seen:
                    continue
                seen.add(change.kind)
                found.append(
                    D.PROCESS_STATE(
                        f"step '{step.name}' changes {change.kind} ({change.text}); in the "
                        f"notebook every later cell sees that, but step '{later[0]}' runs in a "
                        "process of its own and will not, so it may compute or print something "
                        "else than the notebook",
                        Origin(number, change.line),
                        hint="move it to the cell tagged imports or functions, which runs "
                        "first in every step",
                    )
                )
    return found


def _dynamic_reads(pipeline: Pipeline, trees: dict[int, ast.Module]) -> list[Diagnostic]:
    """Names read through globals(), vars(), eval or exec: set in another step, they are not
    passed, since nothing in the code names them."""
    defined_in: dict[str, str] = {}
    for step in pipeline.steps:
        for number in step.cells:
            facts = pipeline.cell(number).facts
            for name in facts.writes if facts else ():
                defined_in.setdefault(name, step.name)
    found = []
    for step in pipeline.steps:
        own = {
            n for c in step.cells if pipeline.cell(c).facts for n in pipeline.cell(c).facts.writes
        }
        others = {n: s for n, s in defined_in.items() if s != step.name and n not in own}
        for number in step.cells:
            for read in dynamic_reads(trees[number]) if number in trees else ():
                names = [n for n in read.names if n in others] if read.names else []
                if read.names and not names:
                    continue
                if not read.names and not others:
                    continue
                what = (
                    f"{', '.join(names)} (set in step '{others[names[0]]}')"
                    if names
                    else "names kalec cannot tell"
                )
                found.append(
                    D.DYNAMIC_READ(
                        f"step '{step.name}' reads {what} through {read.text}; the data flow "
                        "only passes names the code uses directly, so the step will not have "
                        "them",
                        Origin(number, read.line),
                        hint="use the name directly (total instead of globals()['total']), or "
                        "compute it in this step",
                    )
                )
    return found


def lints(pipeline: Pipeline) -> Pipeline:
    trees = _trees(pipeline)
    found = (
        _run_to_run(pipeline, trees)
        + _changed_in_parallel(pipeline)
        + _pip_installs(pipeline)
        + _loop_closures(pipeline, trees)
        + _process_state(pipeline, trees)
        + _dynamic_reads(pipeline, trees)
    )
    if not found:
        return pipeline
    return replace(pipeline, diagnostics=pipeline.diagnostics + tuple(found))
