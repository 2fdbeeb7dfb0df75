"""Digests of files, remembered between runs by what ``stat`` says of them.

A 10 GB data file is hashed once, not on every run: its digest is kept with the file's path,
size, modification and change times, inode and device. The change time (``ctime``) is set by
the kernel on every write, ``os.utime``, ``cp -p`` or checkout and cannot be set back, so a file
rewritten with its old size and an old ``mtime`` still looks changed. A digest taken within two
seconds of the file's last change is not kept ("racy", as git calls it: a write in the same
clock tick would leave the stat as it was): it is taken again next time.

Objects of the step cache are kalec's own, read-only files that are hard-linked into runs,
which changes their ``ctime``; they are remembered without it (a write through a link still
changes ``mtime``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import itertools
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from kalec.runtime.marshal.digest import file_digest

RACY_SECONDS = 2.0
_MEMO_FILE, _MEMO_KEPT = "file-digests.json", 20_000
_FOLDER_FILES_HASHED = 2000  # a folder with more files is keyed by names, sizes and times
MAX_FILES = 50_000  # a folder a step names with more files makes the step uncacheable
SYSTEM_FOLDERS = ("/dev/", "/proc/", "/sys/", "/dev", "/proc", "/sys")


class TooLarge(Exception):
    """A folder a step names holds too many files to check on every run."""


def combine(items: Any) -> str:
    """One digest of (name, value) pairs, in the order given."""
    digest = hashlib.sha256()
    for name, value in items:
        digest.update(f"{name}\0{value}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class DigestMemo:
    """File digests by stat, kept in ``root/file-digests.json`` between runs."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._memo: dict[str, str] = {}
        self._changed = False
        if root is not None:
            with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
                data = json.loads((root / _MEMO_FILE).read_text(encoding="utf-8"))
                self._memo = {str(k): str(v) for k, v in data.items()}

    def file(self, path: str, with_ctime: bool = True) -> str:
        """The digest of the regular file ``path`` ("special" for a pipe or a device).
        Raises ``OSError`` when it cannot be read."""
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return "special"  # a pipe, a device: reading it could block or never end
        memo = (
            f"{path}\0{status.st_size}\0{status.st_mtime_ns}\0"
            f"{status.st_ctime_ns if with_ctime else '-'}\0{status.st_ino}\0{status.st_dev}"
        )
        known = self._memo.get(memo)
        if known is not None:
            return known
        digest = file_digest(path)
        last_change = max(status.st_mtime_ns, status.st_ctime_ns if with_ctime else 0) / 1e9
        if time.time() - last_change > RACY_SECONDS:
            self._memo[memo] = digest
            self._changed = True
        return digest

    def path(self, path: Path) -> str | None:
        """The content of a path a step's code names: a file, a folder, or a glob's matches;
        None when missing. Raises ``TooLarge`` for a folder (or glob) of more than
        ``MAX_FILES`` files: a string such as ``'/'`` in a cell must not make every run walk a
        disk."""
        text = os.fspath(path)
        if text.startswith(SYSTEM_FOLDERS):
            return "system"  # /dev/zero, /proc/...: never read, never a reason to run again
        if not os.path.lexists(text):
            found = glob.iglob(text) if glob.has_magic(text) else iter(())
            matches = sorted(itertools.islice(found, MAX_FILES + 1))  # '/*/*/*' stops early
            if not matches:
                return None
            if len(matches) > MAX_FILES:
                raise TooLarge(text)
            return combine((m, self.path(Path(m))) for m in matches)
        if os.path.isdir(text):
            return self._folder(text)
        return self.file(text)

    def _folder(self, path: str) -> str:
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in (".kalec", "__pycache__", ".git"))
            found += [os.path.join(root, name) for name in sorted(files)]
            if len(found) > MAX_FILES:
                raise TooLarge(path)
        if len(found) > _FOLDER_FILES_HASHED:
            stats = ((f, os.lstat(f)) for f in found)
            return combine(
                (f, f"{s.st_size}:{s.st_mtime_ns}:{s.st_ctime_ns}:{s.st_ino}") for f, s in stats
            )
        return combine((os.path.relpath(f, path), self.file(f)) for f in found)

    def save(self) -> None:
        """Keep the digests taken this run (the most recent ``_MEMO_KEPT``)."""
        if not self._changed or self.root is None:
            return
        with contextlib.suppress(OSError, TypeError, ValueError):
            self.root.mkdir(parents=True, exist_ok=True)
            recent = dict(list(self._memo.items())[-_MEMO_KEPT:])
            handle, temporary = tempfile.mkstemp(prefix=".kalec-tmp-", dir=self.root)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(recent, out)
            os.replace(temporary, self.root / _MEMO_FILE)
            self._changed = False
