"""The passes, in the order they run. Each is a function ``Pipeline -> Pipeline`` in its own file.

Imports from kalec: analysis, cluster_names, diagnostics, ir, runtime, sized_cache.

``run_passes`` stops after the first pass that reports an error: later passes may rely on what
earlier ones established (valid syntax, known step names), and the user gets the first real
problem rather than its echoes.
"""

from __future__ import annotations

from collections.abc import Callable

from kalec.ir import Pipeline
from kalec.passes.cell_facts import cell_facts
from kalec.passes.data_flow import data_flow
from kalec.passes.free_names import free_names
from kalec.passes.group_steps import group_steps
from kalec.passes.lints import lints
from kalec.passes.metrics import metrics
from kalec.passes.outputs import outputs
from kalec.passes.parameters import parameters
from kalec.passes.preludes import preludes
from kalec.passes.syntax import check_syntax
from kalec.passes.validate import validate

Pass = Callable[[Pipeline], Pipeline]

PASSES: tuple[Pass, ...] = (
    check_syntax,
    group_steps,
    preludes,
    parameters,
    metrics,
    cell_facts,
    free_names,
    data_flow,
    outputs,
    validate,
    lints,
)


def run_passes(
    pipeline: Pipeline,
    passes: tuple[Pass, ...] = PASSES,
    between: Callable[[], object] | None = None,
) -> Pipeline:
    """Each pass in turn, until one reports an error; ``between`` is called after each."""
    for run in passes:
        if pipeline.has_errors:
            break
        pipeline = run(pipeline)
        if between is not None:
            between()
    return pipeline
