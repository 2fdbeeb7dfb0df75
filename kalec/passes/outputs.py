"""Pass: each step's outputs are exactly the variables later steps read from it.

Nothing else is saved: a step's temporary variables never cost a write. Metrics are attached to
the step that produces their value, under the name they are reported as (``scope/name`` where
two notebooks of a composition report a name; the variable is the part after the last ``/``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from kalec.ir import InputKind, Pipeline


def outputs(pipeline: Pipeline) -> Pipeline:
    consumed: dict[str, dict[str, None]] = defaultdict(dict)
    for step in pipeline.steps:
        for item in step.inputs:
            if item.kind is InputKind.ARTIFACT and item.producer:
                consumed[item.producer][item.name] = None
    reported: dict[str, list[str]] = defaultdict(list)
    for metric in pipeline.metrics:
        if metric.producer:
            reported[metric.producer].append(metric.reported)
    steps = tuple(
        replace(s, outputs=tuple(consumed.get(s.name, ())), metrics=tuple(reported.get(s.name, ())))
        for s in pipeline.steps
    )
    return replace(pipeline, steps=steps)
