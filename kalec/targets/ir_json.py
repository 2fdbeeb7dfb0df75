"""Target ``ir``: the compiled pipeline as JSON, to inspect or to feed other tools."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from kalec.ir import Pipeline
from kalec.ir.serialize import json_pieces
from kalec.targets.options import IrOptions

FORMAT_VERSION = 1  # ``kalec_ir``: which shape of the IR the file holds; also marks it kalec's


def pieces(pipeline: Pipeline, options: IrOptions | None = None) -> Iterator[str]:
    """The JSON text in pieces, to write as they come."""
    fields = {f.name: getattr(pipeline, f.name) for f in dataclasses.fields(pipeline)}
    yield from json_pieces({"kalec_ir": FORMAT_VERSION, **fields})
    yield "\n"


def emit(pipeline: Pipeline, options: IrOptions | None = None) -> str:
    return "".join(pieces(pipeline, options))
