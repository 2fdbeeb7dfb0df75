"""Content digests of saved values, computed while the bytes are written.

The step cache and ``kalec verify`` name a value by the SHA-256 of its saved file. Reading a
200 MB array back only to hash it would cost as much as writing it, so the savers that write
through a file handle write through ``DigestingWriter``, which hashes each chunk in a helper
thread while the next one goes to disk (hashlib releases the GIL on large buffers). Formats that
write by path (joblib, Arrow, Keras) are hashed after writing, which for them is the only way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

_THREAD_FROM = 1 << 20  # a chunk this large moves hashing to a helper thread
_recorded: dict[str, str] = {}  # final path -> digest of what the saver wrote there


class DigestingWriter:
    """A binary file for writing that hashes everything written through it, in order."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.hash = hashlib.sha256()
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None

    def _hash_in_thread(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            self.hash.update(chunk)

    def write(self, data: Any) -> int:
        if self._queue is None and len(data) >= _THREAD_FROM:
            self._queue = queue.Queue(maxsize=4)
            self._thread = threading.Thread(target=self._hash_in_thread, daemon=True)
            self._thread.start()
        if self._queue is not None:
            self._queue.put(bytes(data) if isinstance(data, bytearray) else data)
        else:
            self.hash.update(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()

    def hexdigest(self) -> str:
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None
        return self.hash.hexdigest()


@contextlib.contextmanager
def digesting(handle: BinaryIO, final: str) -> Iterator[DigestingWriter]:
    """Write through the yielded writer; on success the digest is kept for ``final``."""
    writer = DigestingWriter(handle)
    try:
        yield writer
    finally:
        digest = writer.hexdigest()  # also ends the helper thread when the write failed
    record(final, digest)


def record(final: str, digest: str) -> None:
    """Keep the digest of the file a saver wrote at ``final``, for ``saved_digest``."""
    _recorded[os.path.abspath(final)] = digest


def file_digest(path: str) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, in sorted order)."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode("utf-8", "surrogateescape"))
                digest.update(b"\0" + file_digest(full).encode("ascii"))
        return digest.hexdigest()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def saved_digest(final: str) -> str:
    """The digest of a value's saved file: as recorded while writing, or read now."""
    return _recorded.pop(os.path.abspath(final), None) or file_digest(final)
