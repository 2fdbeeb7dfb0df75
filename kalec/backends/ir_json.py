"""Target ``ir``: the compiled pipeline as JSON, to inspect or to feed other tools."""

from __future__ import annotations

from typing import Any

from kalec.ir import Pipeline
from kalec.ir.serialize import to_json


def emit(pipeline: Pipeline, options: Any = None) -> str:
    return to_json(pipeline) + "\n"
