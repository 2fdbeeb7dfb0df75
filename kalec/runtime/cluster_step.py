"""A step inside a cluster's container (KFP, Argo): ``run_step`` with each value in a folder of
its own, the place of a failure in the step's log, and the page of its cells for the UI."""

from __future__ import annotations

import os
import sys
from typing import Any

from kalec.runtime import cell_outputs
from kalec.runtime.protocol import StepOutcome, StepSpec
from kalec.runtime.step import StepFailure, run_step


def run_in_folders(
    spec: dict[str, Any],
    params: dict[str, Any],
    inputs: dict[str, str],
    outputs: dict[str, str],
    html: str | None = None,
) -> StepOutcome:
    """``run_step`` for cluster steps, where each value is a folder (an artifact, a volume path);
    ``spec``: the step's ``StepSpec`` as JSON, as the generated script carries it.

    A value is saved inside its folder as ``value.<format>``; a failure becomes a
    ``RuntimeError`` whose message starts with the notebook cell and line, so the pipeline UI's
    log of the step says where the notebook went wrong. ``html``: where to write the page of the
    step's cells and what they showed (the pipeline UI's view of the step), failed or not.
    """
    step = StepSpec.from_json(spec)
    recorder = cell_outputs.Recorder()
    try:
        with cell_outputs.recording(recorder):
            return _run_in_folders(step, params, inputs, outputs)
    finally:
        if html:
            _write_page(step, recorder, html)


def _write_page(spec: StepSpec, recorder: cell_outputs.Recorder, path: str) -> None:
    from kalec.runtime.notebook_html import page

    cells = [
        {
            "label": f"cell {c.cell}" + (" (prelude)" if c in spec.prelude else ""),
            "source": c.code,
            "outputs": recorder.cells.get(c.cell, []),
        }
        for c in spec.prelude + spec.cells
    ]
    title = f"step {spec.step} of {spec.source}"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(page(title, cells))
    except OSError as error:
        sys.stderr.write(f"kalec: cannot write the step's page {path}: {error}\n")


def _run_in_folders(
    spec: StepSpec,
    params: dict[str, Any],
    inputs: dict[str, str],
    outputs: dict[str, str],
) -> StepOutcome:
    loads = {name: os.path.join(folder, "value") for name, folder in inputs.items()}
    saves = {}
    for name, folder in outputs.items():
        os.makedirs(folder, exist_ok=True)
        saves[name] = os.path.join(folder, "value")
    try:
        return run_step(spec, params, loads, saves)
    except StepFailure as failure:
        where = spec.source
        if failure.cell:
            where += f": cell {failure.cell}" + (f", line {failure.line}" if failure.line else "")
        raise RuntimeError(f"{where}: step {spec.step!r} failed: {failure}") from None
