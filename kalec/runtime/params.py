"""Parameter values given as text (command line, Argo parameters) -> the declared type."""

from __future__ import annotations

import json
import math
from typing import Any

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def parse_value(text: str, kind: str) -> Any:
    """``text`` as a value of ``kind`` (int, float, bool, str, list, dict); ValueError if not.

    One reading for every place a value arrives as text: ``-p``, a request, a cluster's
    parameter, a search space's list. A whole number may be written as one (``3.0``); a float
    must be finite."""
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            number = float(text)
            if not number.is_integer():
                raise
            return int(number)
    if kind == "float":
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in _TRUE + _FALSE:
            raise ValueError(text)
        return lowered in _TRUE
    if kind == "str":
        return text
    value = json.loads(text)
    if type(value).__name__ != kind:
        raise ValueError(text)
    return value


def format_value(value: Any) -> str:
    """The text ``parse_value`` reads back as ``value`` (None: empty, as steps read it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value) if not isinstance(value, float) else repr(value)
