"""Giving memory back to the system after a large request.

A notebook of several megabytes is read, parsed, compiled and written out in a request: its
peak is a few hundred megabytes of short-lived objects, which the C allocator keeps for reuse
after they are freed. A server lives for days beside JupyterLab and the user's kernels, so
after a request that large its freed memory is handed back (glibc's ``malloc_trim``; nothing is
done where the C library has none).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

LARGE_BODY = 1 << 20  # bytes: below this, what a request frees is small and soon reused


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def after(body_bytes: int | None) -> None:
    """Called when a request has been answered: hands freed memory back after a large one."""
    if body_bytes is None or body_bytes < LARGE_BODY:
        return
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
