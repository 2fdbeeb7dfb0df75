"""The IR as plain JSON-ready data, for ``kalec emit --target ir`` and for tools that read it."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any


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
