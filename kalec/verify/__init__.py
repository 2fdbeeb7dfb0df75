"""``kalec verify``: run the notebook top to bottom in a Jupyter kernel and as a pipeline, and
compare every value that crosses a step boundary, every metric, and what every cell printed.

Imports from kalec: analysis, errors, ir, local, runtime. Nothing of the CLI or the service.

The rule of correctness, as a command: a step must receive each value as the notebook's cells
would have it when that step's first cell runs, and each cell must print what it prints in the
notebook. The kernel run (``kernel``) saves, with the marshal the steps use, each passed value
when its producing step's last cell has run and again just before each consuming step's first
cell; the pipeline's values are its own saved files. Equal digests are equal values; otherwise
both are loaded and compared by what they mean (``values``). Printed output is compared cell by
cell, with what differs between any two runs normalised away (``outputs``). Both runs start
their global random generators from the same seed. A difference is reported where it first
appears.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from kalec.ir import Pipeline
from kalec.local.options import RunOptions
from kalec.local.runner import LocalRun
from kalec.runtime.protocol import DISPLAY_FILE, OUTCOME_FILE, StepOutcome
from kalec.verify.kernel import Failed, KernelRun, Probes, VerifyError, run_kernel
from kalec.verify.outputs import CellOutput, compare_cell, printed
from kalec.verify.report import Row, write_report
from kalec.verify.values import NotComparable, compare

SEED = 20240611  # both runs' global random generators start here


@dataclass(frozen=True)
class VerifyOptions:
    """How ``kalec verify`` compares: tolerances, kernel, time limit per cell, parallel jobs."""

    rtol: float = 1e-7
    atol: float = 0.0
    kernel: str | None = None
    timeout: float | None = None  # seconds per cell in the kernel
    jobs: int = 1


def _run_pipeline(pipeline: Pipeline, options: VerifyOptions, err: TextIO) -> LocalRun:
    log = io.StringIO()
    run = LocalRun(
        pipeline, RunOptions(jobs=options.jobs, cache=False, seed=SEED), out=log, err=log
    )
    err.write("kalec: running the pipeline ...\n")
    started = time.perf_counter()
    code = run.execute()
    err.write(
        f"kalec: pipeline {'done' if code == 0 else 'failed'} in "
        f"{time.perf_counter() - started:.1f} s; its run: {run.run_dir}\n"
    )
    if code != 0:
        tail = "\n".join(log.getvalue().splitlines()[-15:])
        raise Failed(f"the pipeline failed, so it cannot equal the notebook:\n{tail}")
    return run


def _load(path: str) -> Any:
    from kalec.runtime.marshal import resource_load

    return resource_load(path)


def _value_row(
    file: str, digest: str, saved: dict[str, Any], options: VerifyOptions
) -> tuple[bool | None, str]:
    """(equal, detail) between the pipeline's saved value and the kernel's; equal None: not
    compared."""
    if saved.get("missing"):
        return False, "not defined at that point of the notebook"
    if "error" in saved:
        return None, f"the notebook's value could not be saved: {saved['error']}"
    if saved.get("digest") == digest:
        return True, "equal (same bytes)"
    try:
        mine, theirs = _load(file), _load(saved["file"])
    except Exception as error:
        return None, f"cannot load both to compare: {type(error).__name__}: {error}"
    try:
        found = compare(mine, theirs, options.rtol, options.atol)
    except NotComparable as reason:
        return None, str(reason)
    except Exception as error:  # a library's comparison that fails on its own objects
        return None, f"comparing them failed: {type(error).__name__}: {error}"
    return (True, "equal (by content)") if found is None else (False, found)


def _rows(
    pipeline: Pipeline, run: LocalRun, kernel: KernelRun, options: VerifyOptions
) -> tuple[list[Row], list[Row]]:
    outcomes = {
        s.name: StepOutcome.read(str(run.step_folder(s.name) / OUTCOME_FILE))
        for s in pipeline.steps
    }
    saved = kernel.saved
    rows: list[Row] = []
    for step in pipeline.steps:
        end = max(step.cells)
        for name in step.outputs:
            consumers = [s for s in pipeline.steps if (name, step.name) in s.artifact_inputs()]
            outcome = outcomes[step.name]
            file, digest = outcome.outputs.get(name), outcome.digests.get(name)
            if file is None or digest is None:
                continue
            at_end = saved.get(("after", end), {}).get("values", {}).get(name, {"missing": True})
            equal_at_end, detail_at_end = _value_row(file, digest, at_end, options)
            if not consumers:
                rows.append(Row(name, step.name, None, equal_at_end, detail_at_end, end))
            for consumer in consumers:
                start = min(consumer.cells)
                before = saved.get(("before", start), {}).get("values", {}).get(name, {})
                equal, detail = _value_row(file, digest, before or {"missing": True}, options)
                rows.append(Row(name, step.name, consumer.name, equal, detail, start, equal_at_end))
    metrics: list[Row] = []
    for step in pipeline.steps:
        end = max(step.cells)
        notebook = saved.get(("after", end), {}).get("metrics", {})
        for name in step.metrics:
            mine, theirs = outcomes[step.name].metrics.get(name), notebook.get(name)
            try:
                found = compare(mine, theirs, options.rtol, options.atol)
                verdict: bool | None = found is None
                detail = "equal" if found is None else found
            except NotComparable as reason:
                verdict, detail = None, str(reason)
            metrics.append(Row(name, step.name, None, verdict, detail, end))
    return rows, metrics


def _cell_outputs(pipeline: Pipeline, run: LocalRun, kernel: KernelRun) -> list[CellOutput]:
    """Each cell the pipeline ran, printed there against printed in the kernel. A cell of the
    prelude (and of several steps) is taken from the first step that ran it, as Jupyter would
    show it once."""
    shown: dict[int, tuple[str, list[dict[str, Any]]]] = {}
    for step in pipeline.steps:
        try:
            text = (run.step_folder(step.name) / DISPLAY_FILE).read_text(encoding="utf-8")
            recorded = {int(k): v for k, v in json.loads(text).items() if isinstance(v, list)}
        except (OSError, ValueError, AttributeError):
            continue
        for cell, outputs in recorded.items():
            shown.setdefault(cell, (step.name, outputs))
    return [
        compare_cell(cell, step, printed(outputs), printed(kernel.outputs[cell]))
        for cell, (step, outputs) in sorted(shown.items())
        if cell in kernel.outputs
    ]


def verify(pipeline: Pipeline, options: VerifyOptions, out: TextIO, err: TextIO) -> int:
    """0 when the pipeline equals the notebook, 1 when not (or when either run failed)."""
    probes = Probes.of(pipeline)
    try:
        run = _run_pipeline(pipeline, options, err)
        with tempfile.TemporaryDirectory(prefix="kalec-verify-") as folder:
            kernel = run_kernel(
                pipeline, probes, Path(folder), options.kernel, options.timeout, SEED, err
            )
            rows, metrics = _rows(pipeline, run, kernel, options)
            cells = _cell_outputs(pipeline, run, kernel)
            return 0 if write_report(pipeline, rows, metrics, cells, out) else 1
    except Failed as failure:
        out.write(f"not equal: {failure}\n")
        return 1


__all__ = ["VerifyError", "VerifyOptions", "compare", "verify"]
