"""What the runtime needs to run one step, as plain JSON data: shared by every backend."""

from __future__ import annotations

import os
import sys
from typing import Any

from kalec.ir import InputKind, Pipeline, Step


def step_spec(pipeline: Pipeline, step: Step) -> dict[str, Any]:
    """The argument ``spec`` of ``kalec.runtime.step.run_step`` for ``step``."""
    params = step_params(pipeline, step)
    return {
        "step": step.name,
        "source": os.path.basename(pipeline.source),
        "prelude": [{"cell": n, "code": pipeline.cell(n).python} for n in pipeline.prelude],
        "imports": [i.statement for i in step.inputs if i.kind is InputKind.IMPORT],
        "cells": [{"cell": n, "code": pipeline.cell(n).python} for n in step.cells],
        "metrics": list(step.metrics),
        "whole_number_params": [
            p.name
            for p in pipeline.params
            if p.name in params
            and _only_whole_numbers(p.default)
            and isinstance(p.default, (list, dict))
        ],
        # default None: pipelines carry such a parameter as a string, empty standing for None
        "none_if_empty_params": [
            p.name for p in pipeline.params if p.name in params and p.default is None
        ],
    }


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
    """The pipeline parameters a step needs: those it reads, and those the prelude reads."""
    names = [i.name for i in step.inputs if i.kind is InputKind.PARAM]
    names += [f.name for f in pipeline.prelude_reads]
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
