"""Writes that are all or nothing: a killed step never leaves a half-written value behind.

The value is written to a temporary name in the same folder and renamed into place; a rename
within one file system is atomic, so a reader sees the old state or the whole new file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMPORARY_PREFIX = ".kalec-tmp-"


@contextlib.contextmanager
def atomic_path(
    final: str | os.PathLike[str], directory: bool = False, suffix: str = ""
) -> Iterator[str]:
    """A temporary path to write to; on success it becomes ``final``, on failure it is removed.

    ``suffix`` ends the temporary name, for writers that insist on a file ending (Keras).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        temporary = tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, suffix=suffix, dir=final.parent)
    else:
        handle, temporary = tempfile.mkstemp(
            prefix=TEMPORARY_PREFIX, suffix=suffix, dir=final.parent
        )
        os.close(handle)
    try:
        yield temporary
        if directory and final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
    except BaseException:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        elif os.path.exists(temporary):
            os.unlink(temporary)
        raise
