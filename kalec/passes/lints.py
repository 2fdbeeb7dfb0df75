"""Advice that does not stop a build: what the step cache cannot see, values that two parallel
steps share, ``pip install`` lines, loop closures passed between steps, process state a step
changes for later steps that will never see it, and names read where the data flow cannot see.

Runs last, on the finished data flow. Everything here is a warning or a note, each pointing at
the cell and line, with what to do about it.
"""

from __future__ import annotations

from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.installs import magic_needs
from kalec.ir import CellFacts, Diagnostic, Origin, Pipeline
from kalec.ir.dag import Ancestry, parents


def _facts(pipeline: Pipeline, number: int) -> CellFacts:
    return pipeline.cell(number).facts or CellFacts()


def _run_to_run(pipeline: Pipeline) -> list[Diagnostic]:
    found = []
    for step in pipeline.steps:
        hazards = [(n, h) for n in step.cells for h in _facts(pipeline, n).run_to_run]
        if not hazards:
            continue
        number, (_, line, text) = hazards[0]
        kinds = ", ".join(dict.fromkeys(kind for _, (kind, _, _) in hazards))
        found.append(
            D.RUN_TO_RUN_SOURCE(Origin(number, line), step=step.name, kinds=kinds, text=text)
        )
    return found


def _changed_in_parallel(pipeline: Pipeline) -> list[Diagnostic]:
    ancestry = Ancestry(parents(pipeline))
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
                    and not ancestry.precedes(r, step.name)
                    and not ancestry.precedes(step.name, r)
                ]
                if parallel:
                    found.append(
                        D.CHANGED_IN_PARALLEL(
                            Origin(number),
                            step=step.name,
                            variable=variable,
                            parallel=parallel[0],
                            producer=producer,
                        )
                    )
    return found


def _pip_installs(pipeline: Pipeline) -> list[Diagnostic]:
    found = []
    for step in pipeline.steps:
        for number in step.cells:
            requirements = magic_needs(pipeline.cell(number).python).requirements
            if requirements:
                pinned = all("==" in r for r in requirements)
                kind = D.PIP_INSTALL_PINNED if pinned else D.PIP_INSTALL_PACKAGE
                found.append(
                    kind(Origin(number), step=step.name, requirements=", ".join(requirements))
                )
    return found


def _loop_closures(pipeline: Pipeline) -> list[Diagnostic]:
    found = []
    for step in pipeline.steps:
        passed = set(step.outputs)
        for number in step.cells:
            for holder, variable, line in _facts(pipeline, number).loop_closures:
                if holder in passed:
                    found.append(
                        D.LOOP_CLOSURE(
                            Origin(number, line), holder=holder, variable=variable, step=step.name
                        )
                    )
    return found


def _first_steps_after(
    pipeline: Pipeline, cells: list[tuple[int, str]]
) -> dict[tuple[int, str], str]:
    """For each (cell, its step): the first other step, in the pipeline's order, that ends
    after the cell. Answered together, cells from last to first while the steps ending after
    them are added, keeping the two first in order: a notebook may change process state in
    every one of thousands of cells."""
    order = {s.name: i for i, s in enumerate(pipeline.steps)}
    ending = sorted(((max(s.cells), s.name) for s in pipeline.steps), reverse=True)
    firsts: list[str] = []  # the two earliest in order of the steps added so far
    added = 0
    answers: dict[tuple[int, str], str] = {}
    for number, step in sorted(cells, reverse=True):
        while added < len(ending) and ending[added][0] > number:
            firsts = sorted([*firsts, ending[added][1]], key=order.__getitem__)[:2]
            added += 1
        later = next((s for s in firsts if s != step), None)
        if later is not None:
            answers[number, step] = later
    return answers


def _process_state(pipeline: Pipeline) -> list[Diagnostic]:
    """Process state a step changes while steps after it (in the notebook's order) run in
    processes of their own: in the notebook they would see the change, in the pipeline not."""
    changing = [
        (number, step.name)
        for step in pipeline.steps
        for number in step.cells
        if _facts(pipeline, number).state_changes
    ]
    later_steps = _first_steps_after(pipeline, changing)
    found = []
    for number, step_name in changing:
        later = later_steps.get((number, step_name))
        if later is None:
            continue
        seen: set[str] = set()
        for kind, line, text in _facts(pipeline, number).state_changes:
            if kind in seen:
                continue
            seen.add(kind)
            found.append(
                D.PROCESS_STATE(
                    Origin(number, line), step=step_name, kind=kind, text=text, later=later
                )
            )
    return found


def _dynamic_reads(pipeline: Pipeline) -> list[Diagnostic]:
    """Names read through globals(), vars(), eval or exec: set in another step, they are not
    passed, since nothing in the code names them."""
    defined_in: dict[str, str] = {}
    for step in pipeline.steps:
        for number in step.cells:
            for name in _facts(pipeline, number).writes:
                defined_in.setdefault(name, step.name)
    found = []
    for step in pipeline.steps:
        reads = [(n, r) for n in step.cells for r in _facts(pipeline, n).dynamic_reads]
        if not reads:
            continue
        own = {name for n in step.cells for name in _facts(pipeline, n).writes}
        # every name a step writes is in defined_in: other steps set names exactly when
        # defined_in holds more names than this step writes
        others_set_names = len(defined_in) > len(own)
        for number, (read_names, line, text) in reads:
            names = [n for n in read_names if n in defined_in and n not in own]
            if read_names and not names:
                continue
            if not read_names and not others_set_names:
                continue
            what = (
                f"{', '.join(names)} (set in step '{defined_in[names[0]]}')"
                if names
                else "names kalec cannot tell"
            )
            found.append(D.DYNAMIC_READ(Origin(number, line), step=step.name, what=what, text=text))
    return found


def _unseen_channels(pipeline: Pipeline) -> list[Diagnostic]:
    """Steps whose child processes or native code this machine cannot observe: the step cache
    cannot vouch for them, so a local run does not reuse them (unless tagged cache:enabled)."""
    reaching = [
        (step, number, channel)
        for step in pipeline.steps
        if step.options.cache is None
        for number in (*step.prelude, *step.cells)
        for channel in _facts(pipeline, number).channels[:1]
    ]
    if not reaching:
        return []
    from kalec.runtime.syscalls import unavailable

    reason = unavailable()
    if reason is None:
        return []
    found, said = [], set()
    for step, number, (kind, line, text) in reaching:
        if step.name in said:
            continue
        said.add(step.name)
        found.append(
            D.UNSEEN_CHANNEL(
                Origin(number, line), step=step.name, kind=kind, text=text, reason=reason
            )
        )
    return found


def lints(pipeline: Pipeline) -> Pipeline:
    found = (
        _run_to_run(pipeline)
        + _changed_in_parallel(pipeline)
        + _pip_installs(pipeline)
        + _loop_closures(pipeline)
        + _process_state(pipeline)
        + _dynamic_reads(pipeline)
        + _unseen_channels(pipeline)
    )
    if not found:
        return pipeline
    return replace(pipeline, diagnostics=pipeline.diagnostics + tuple(found))
