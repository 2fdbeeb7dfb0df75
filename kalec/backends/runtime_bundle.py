"""kalec's step runtime as a deterministic archive, to embed into cluster steps.

The archive holds ``kalec/runtime`` (and an empty ``kalec/__init__.py``), gzip'd tar, base64:
a step unpacks it and imports ``kalec.runtime.step``, so its image needs no kalec install. Fixed
file times and order make the same kalec produce the same bytes, so that compiling a notebook
twice gives the same pipeline.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import io
import tarfile
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent.parent / "runtime"


@functools.cache
def runtime_archive() -> tuple[str, str]:
    """(base64 text of the archive, short digest naming this version of it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))

        add("kalec/__init__.py", b'"""kalec\'s step runtime, unpacked inside a step."""\n')
        for path in sorted(RUNTIME.rglob("*.py")):
            add(f"kalec/runtime/{path.relative_to(RUNTIME).as_posix()}", path.read_bytes())
    data = gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
    return base64.b64encode(data).decode("ascii"), hashlib.sha256(data).hexdigest()[:12]


def archive_lines(width: int = 88) -> list[str]:
    text, _ = runtime_archive()
    return [text[i : i + width] for i in range(0, len(text), width)]
