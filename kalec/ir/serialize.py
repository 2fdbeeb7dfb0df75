"""The IR as plain JSON data, for ``kalec emit --target ir`` and for tools that read it."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Any

from kalec.ir.model import Pipeline


def to_data(value: Any) -> Any:
    """Dataclasses become dicts, enums their values, tuples lists; ``None`` fields are kept."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


def to_json(pipeline: Pipeline) -> str:
    return json.dumps(to_data(pipeline), indent=2, ensure_ascii=False)
