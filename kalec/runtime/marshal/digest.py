"""Content digests of saved values and of files, computed while the bytes are written.

The step cache and ``kalec verify`` name a value by the digest of its saved file, and the cache
checks each stored value against its digest before using it. Hashing costs real time on big
values, so: BLAKE3 (several times faster than SHA-256, and multi-threaded for whole files) where
the ``blake3`` package is installed, as it is wherever kalec is; SHA-256 in a cluster step whose
image has only kalec's runtime (there nothing compares digests). The two never meet: the runner
and its steps share one environment. Savers that write through a file handle write through
``DigestingWriter``, which hashes each chunk in a helper thread while the next one goes to disk
(both hash functions release the GIL on large buffers); formats that write by path (joblib,
Arrow, Keras) are hashed after writing, which for them is the only way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

try:
    from blake3 import blake3 as _blake3
except ImportError:  # a cluster step's image: kalec's runtime alone
    _blake3 = None

ALGORITHM = "blake3" if _blake3 is not None else "sha256"
_THREAD_FROM = 1 << 20  # a chunk this large moves hashing to a helper thread
_MMAP_FROM = 1 << 24  # a file this large is hashed memory-mapped, on every core
_recorded: dict[str, str] = {}  # final path -> digest of what the saver wrote there


def new_hash() -> Any:
    """A fresh hash object of ``ALGORITHM`` (``update``, ``hexdigest``)."""
    return _blake3() if _blake3 is not None else hashlib.sha256()


class DigestingWriter:
    """A binary file for writing that hashes everything written through it, in order. A large
    piece is hashed in a helper thread while it is written, and both end before ``write``
    returns: the caller may reuse its buffer at once (pyarrow and pickle hand over views of
    memory that is theirs)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.hash = new_hash()

    @property
    def closed(self) -> bool:  # pyarrow asks before it writes
        return bool(self.handle.closed)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.handle.tell()

    def write(self, data: Any) -> int:
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        if size < _THREAD_FROM:
            self.hash.update(data)
            return self.handle.write(data)
        hasher = threading.Thread(target=self.hash.update, args=(data,), daemon=True)
        hasher.start()
        try:
            return self.handle.write(data)
        finally:
            hasher.join()

    def flush(self) -> None:
        self.handle.flush()

    def hexdigest(self) -> str:
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
    """The digest of a file, or of a folder's files (names and contents, in sorted order)."""
    if os.path.isdir(path):
        digest = new_hash()
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode("utf-8", "surrogateescape"))
                digest.update(b"\0" + file_digest(full).encode("ascii"))
        return digest.hexdigest()
    if _blake3 is not None and os.path.getsize(path) >= _MMAP_FROM:
        with contextlib.suppress(OSError, ValueError):
            return _blake3(max_threads=_blake3.AUTO).update_mmap(path).hexdigest()
    digest = new_hash()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def saved_digest(final: str) -> str:
    """The digest of a value's saved file: as recorded while writing, or read now."""
    return _recorded.pop(os.path.abspath(final), None) or file_digest(final)
