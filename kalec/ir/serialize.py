"""The IR as JSON, for ``kalec emit --target ir`` and for tools that read it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any


def _fields(value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} is not part of the IR")


def json_pieces(value: Any, indent: int | None = 2) -> Iterator[str]:
    """``value`` (IR objects, inside plain data) as JSON, in pieces: dataclasses become objects
    of their fields, enums their values (they are all ``str`` enums), tuples lists; ``None``
    fields are kept. Each object is converted when the encoder reaches it, so a pipeline of
    50,000 cells never exists a second time as dicts and lists, and a caller that writes the
    pieces as they come never holds the whole text."""
    encoder = json.JSONEncoder(indent=indent, ensure_ascii=False, default=_fields)
    return encoder.iterencode(value)
