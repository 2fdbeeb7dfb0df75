"""Pass: what would make the pipeline impossible to build or run, found before anything runs.

- a notebook with no step at all;
- a cycle among the steps, through ``prev:`` tags or the dependencies data adds;
- step names that differ only in case or in ``-`` against ``_``: cluster targets (Kubernetes
  names, KFP component names) cannot tell them apart;
- a value passed between steps that no serialiser can carry (an open file, a generator, a lock,
  a socket, a database connection), with what to do instead.
"""

from __future__ import annotations

from dataclasses import replace

from kalec import diagnostics as D
from kalec.cluster_names import normalized_name
from kalec.ir import Diagnostic, Origin, Pipeline, Step
from kalec.ir.dag import cycle


def _cycle(pipeline: Pipeline) -> list[Diagnostic]:
    chain = cycle({s.name: [d.step for d in s.dependencies] for s in pipeline.steps})
    if chain is not None:  # [a, b, ..., a]: each step is a dependency of the next one
        links = []
        first_origin: Origin | None = None
        for parent, child in zip(chain, chain[1:], strict=False):
            dep = next(d for d in pipeline.step(child).dependencies if d.step == parent)
            why = f"prev:{parent}" if dep.reason == "prev" else f"reads {dep.variable}"
            links.append(f"'{child}' ({why}, {dep.origin})")
            first_origin = first_origin or dep.origin
        return [D.CYCLE(first_origin, chain=" -> ".join([f"'{chain[0]}'", *links]))]
    return []


def _collisions(steps: tuple[Step, ...]) -> list[Diagnostic]:
    seen: dict[str, Step] = {}
    found = []
    for step in steps:
        key = normalized_name(step.name)
        if key in seen:
            found.append(D.NAME_COLLISION(step.origin, first=seen[key].name, step=step.name))
        else:
            seen[key] = step
    return found


def _unpicklable(pipeline: Pipeline) -> list[Diagnostic]:
    found = []
    for step in pipeline.steps:
        for name in step.outputs:
            binding = None
            for number in step.cells:
                facts = pipeline.cell(number).facts
                if facts and name in facts.writes:
                    binding = (number, dict((n, (k, line)) for n, k, line in facts.unpicklable))
            if binding and name in binding[1]:
                kind, line = binding[1][name]
                readers = [
                    s.name
                    for s in pipeline.steps
                    if any(i.name == name and i.producer == step.name for i in s.inputs)
                ]
                found.append(
                    D.UNSAVEABLE_VALUE(
                        Origin(binding[0], line),
                        step=step.name,
                        name=name,
                        reader=readers[0],
                        kind=kind,
                    )
                )
    return found


def validate(pipeline: Pipeline) -> Pipeline:
    found: list[Diagnostic] = []
    if not pipeline.steps:
        found.append(D.NO_STEPS())
    found += _cycle(pipeline) + _collisions(pipeline.steps) + _unpicklable(pipeline)
    if not found:
        return pipeline
    return replace(pipeline, diagnostics=pipeline.diagnostics + tuple(found))
