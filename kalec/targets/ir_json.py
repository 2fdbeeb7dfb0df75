"""Target ``ir``: the compiled pipeline as JSON, to inspect or to feed other tools."""

from __future__ import annotations

import json

from kalec.ir import Pipeline
from kalec.ir.serialize import to_data
from kalec.targets.options import IrOptions

FORMAT_VERSION = 1  # ``kalec_ir``: which shape of the IR the file holds; also marks it kalec's


def emit(pipeline: Pipeline, options: IrOptions | None = None) -> str:
    data = {"kalec_ir": FORMAT_VERSION, **to_data(pipeline)}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
