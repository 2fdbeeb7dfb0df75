"""A least-recently-used cache bounded by the bytes it holds, not by how many entries.

A cache bounded by count is unbounded in memory: a server that keeps its last 64 compiles can
be made to hold 64 bodies of 20 MB each. Each entry here is weighed when it is stored (a caller
knows best what its values cost: a syntax tree takes about a hundred bytes per character of
source), and the least recently used go until the total fits. Thread-safe: a server's threads
share one cache.
"""

from __future__ import annotations

import _thread  # its lock alone: importing threading costs a small build's start
import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


class SizedCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = _thread.allocate_lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return default
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        """Keep ``value`` (weighing ``size`` bytes) unless it alone is over the limit."""
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def discard(self, key: Hashable) -> None:
        """Forget ``key``'s value (one that is no longer true), if it is kept."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


def sized(max_bytes: int, weigh: Callable[..., int]) -> Callable[[Callable[..., T]], Any]:
    """A memoising decorator keyed by the positional arguments (hashable), each result weighed
    by ``weigh(*args, result)``; the cache is the wrapper's ``cache`` attribute."""

    def wrap(function: Callable[..., T]) -> Callable[..., T]:
        cache = SizedCache(max_bytes)
        code = function.__code__  # the defaults of the trailing arguments, in order
        defaults = (None,) * (code.co_argcount - len(function.__defaults__ or ())) + tuple(
            function.__defaults__ or ()
        )

        @functools.wraps(function)
        def cached(*args: Any) -> T:
            if len(args) < len(defaults):  # the defaults of the arguments left out
                args = args + defaults[len(args) :]
            found = cache.get(args, _MISSING)
            if found is not _MISSING:
                return found
            value = function(*args)
            cache.put(args, value, weigh(*args, value))
            return value

        cached.cache = cache  # type: ignore[attr-defined]
        return cached

    return wrap
