"""Choosing a function by a string pattern or by an object's type.

``TypeDispatcher`` also accepts a type's dotted name or a glob of it (``"numpy.*"``), so that a
saver for a library can be registered without importing the library: it is imported only when a
value of its type shows up. Later registrations win over earlier ones, so a user's own function
replaces kalec's for the same pattern or type.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any


class DispatchError(LookupError):
    """No registered function matches."""


class PatternDispatcher:
    """Functions registered by a regular expression, chosen by matching a string (a file name)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: list[tuple[re.Pattern[str], Callable[..., Any]]] = []

    def register(self, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        compiled = re.compile(pattern)

        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            self._entries.append((compiled, function))
            return function

        return decorate

    def lookup(self, key: str) -> Callable[..., Any]:
        for pattern, function in reversed(self._entries):
            if pattern.search(key):
                return function
        raise DispatchError(f"{self.name}: nothing registered matches {key!r}")

    def dispatch(self, key: str, *args: Any, **kwargs: Any) -> Any:
        return self.lookup(key)(key, *args, **kwargs)


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class TypeDispatcher:
    """Functions registered by type (or dotted type name, or glob), chosen by an object's type.

    The object's own class is tried first, then its bases in method resolution order, so a
    function registered for a base class serves its subclasses unless one is registered for them.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: list[tuple[type | str, Callable[..., Any]]] = []

    def register(self, kind: type | str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            self._entries.append((kind, function))
            return function

        return decorate

    def lookup(self, obj: Any) -> Callable[..., Any]:
        for cls in type(obj).__mro__:
            dotted = type_name(cls)
            for kind, function in reversed(self._entries):
                if kind is cls or (isinstance(kind, str) and fnmatch.fnmatchcase(dotted, kind)):
                    return function
        raise DispatchError(f"{self.name}: nothing registered for {type_name(type(obj))}")

    def dispatch(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        return self.lookup(obj)(obj, *args, **kwargs)
