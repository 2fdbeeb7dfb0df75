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


# Python's encoder in C: what ``json.dumps`` uses without indentation. Dataclasses become objects
# of their fields (``default``), enums their values (they are all ``str`` enums), tuples lists;
# ``None`` fields are kept.
_ONE_LINE = json.JSONEncoder(ensure_ascii=False, default=_fields)


def json_pieces(value: dict[str, Any]) -> Iterator[str]:
    """``value`` (a mapping of IR objects and plain data) as JSON, in pieces: one key a line,
    and each item of a list on a line of its own, each encoded in one go by the C encoder.
    An item is converted when its turn comes, so a pipeline of 50,000 cells never exists a
    second time as dicts and lists, and a caller that writes the pieces as they come never
    holds the whole text."""
    encode = _ONE_LINE.encode
    yield "{"
    for index, (key, item) in enumerate(value.items()):
        yield ("\n  " if index == 0 else ",\n  ") + encode(key) + ": "
        if isinstance(item, (list, tuple)) and item:
            yield "[\n    " + encode(item[0])
            for element in item[1:]:
                yield ",\n    " + encode(element)
            yield "\n  ]"
        else:
            yield encode(item)
    yield "\n}"
