"""The step cache: entries that let a step's values be reused, and the objects they name.

Layout (``.kalec/cache`` beside the runs)::

    objects/ab/abcdef...npy        every value, log and written file once, named by its digest
    steps/<static key>/<id>.json   entries of one static key: one per distinct set of reads
    last/<id>.json                 the last key of each step of each notebook (to say why a
                                   key is new)

An entry holds the step's values (digest, file ending, size), metrics, seconds, the digests of
its printed output and of what its cells showed, and its manifest: what it was seen to read
(checked before use) and the final state of what it wrote (put back on a hit). A step's static
key can have several entries (ccache's manifests in direct mode): ``if os.path.exists(p):
load(p) else: make and save p`` reads different things on its first and second run, and both
stay valid.

Objects are read-only, and are checked against their size and digest before use (``stat``
first, ``DigestMemo``): a truncated or rewritten object is never served, and its entry is
dropped. Values are hard-linked into run folders (no copy), files the user may rewrite in place
are copied (a reflink where the file system has them). Writes are whole files renamed into
place, after the step succeeded: a run killed mid-step leaves only finished steps' entries.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec.local.memory.digests import DigestMemo
from kalec.local.memory.key import StaticKey
from kalec.local.memory.manifest import Manifest, Places, mismatch

ENTRIES_PER_KEY = 8  # of one static key: the most recently used are kept
# Files a step writes are copied into the cache to be put back on a hit, up to these sizes; a
# larger one is checked in place instead (a hit only while it is still as the step left it).
COPY_FILE_LIMIT = 256 * 2**20
COPY_STEP_LIMIT = 2**30
_FICLONE = 0x40049409  # Linux: share the blocks of a file (btrfs, xfs): a copy at no cost
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass
class Stored:
    """A file kept as an object: its digest, file ending and size."""

    digest: str
    ending: str = ""
    size: int = -1

    def as_json(self) -> list[Any]:
        return [self.digest, self.ending, self.size]

    @classmethod
    def from_json(cls, data: Any) -> Stored:
        digest, ending, *rest = data
        return cls(str(digest), str(ending), int(rest[0]) if rest else -1)


@dataclass
class Entry:
    """A cached step."""

    key: str
    file: Path
    outputs: dict[str, Stored] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long the step took when it ran
    log: Stored | None = None  # its printed output
    display: Stored | None = None  # what its cells showed
    manifest: Manifest = field(default_factory=Manifest)

    def objects(self) -> list[Stored]:
        found = list(self.outputs.values())
        found += [t for t in (self.log, self.display) if t is not None]
        found += [Stored(w["digest"], "", int(w.get("size", -1))) for w in self._written()]
        return found

    def _written(self) -> list[dict[str, Any]]:
        return [w for w in self.manifest.writes.values() if "digest" in w and w.get("copied")]


@dataclass
class Found:
    """The result of looking a key up: an entry to reuse, or why there is none."""

    entry: Entry | None
    reason: str | None = None  # why no entry of the key could be used


def link_into(source: Path, target: Path) -> None:
    """``target`` becomes ``source``'s content: a hard link, or a copy across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(source), str(target))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def copy_file(source: str, target: str) -> None:
    """A copy of ``source`` that shares nothing with it from now on: a reflink where the file
    system makes them (no bytes copied), else the bytes."""
    with open(source, "rb") as reading, open(target, "wb") as writing:
        try:
            fcntl.ioctl(writing.fileno(), _FICLONE, reading.fileno())
            return
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
                raise
        shutil.copyfileobj(reading, writing, 1 << 22)


def intact(path: Path, stored: Stored, memo: DigestMemo) -> bool:
    """True when ``path`` holds what ``stored`` says: its size, then its digest (a stat
    first: an object is hashed again only when its size or times changed)."""
    try:
        if path.is_dir():
            from kalec.runtime.marshal.digest import file_digest

            return file_digest(str(path)) == stored.digest
        if stored.size >= 0 and path.stat().st_size != stored.size:
            return False
        return memo.file(str(path), with_ctime=False) == stored.digest
    except OSError:
        return False


def _read_only(path: Path) -> None:
    if path.is_dir():
        for root, _, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, name), READ_ONLY)
    else:
        with contextlib.suppress(OSError):
            os.chmod(path, READ_ONLY)


class StepCache:
    """Entries and objects under ``root``; every method tolerates a damaged or missing file."""

    def __init__(self, root: Path, memo: DigestMemo) -> None:
        self.root = root
        self.memo = memo

    def object_path(self, digest: str, ending: str = "") -> Path:
        return self.root / "objects" / digest[:2] / (digest + ending)

    # --- finding --------------------------------------------------------------------------

    def _entries(self, key: str) -> list[Path]:
        folder = self.root / "steps" / key
        try:
            files = [(f.stat().st_mtime, f) for f in folder.glob("*.json")]
        except OSError:
            return []
        return [f for _, f in sorted(files, reverse=True)]

    def _load(self, key: str, file: Path) -> Entry | None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            return Entry(
                key=key,
                file=file,
                outputs={k: Stored.from_json(v) for k, v in data["outputs"].items()},
                metrics=dict(data.get("metrics", {})),
                seconds=float(data.get("seconds", 0.0)),
                log=Stored.from_json(data["log"]) if data.get("log") else None,
                display=Stored.from_json(data["display"]) if data.get("display") else None,
                manifest=Manifest.from_json(data.get("manifest") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    def find(self, key: str, places: Places) -> Found:
        """The most recent entry of ``key`` whose observed reads all still hold and whose
        objects are intact; else why not (the newest entry's reason)."""
        reason = None
        for file in self._entries(key):
            entry = self._load(key, file)
            if entry is None:
                self._drop(file)
                continue
            problem = (
                mismatch(entry.manifest, places, self.memo)
                or self._damage(entry)
                or self._moved_in_place(entry, places)
            )
            if problem is None:
                with contextlib.suppress(OSError):
                    os.utime(file)  # recently used: kept, and ``kalec clean`` removes it last
                return Found(entry)
            reason = reason or problem
        return Found(None, reason)

    def _damage(self, entry: Entry) -> str | None:
        """Why the entry's objects cannot be used (missing, truncated, changed); the entry and
        the damaged object are removed, so that the next run stores them anew."""
        for stored in entry.objects():
            path = self.object_path(stored.digest, stored.ending)
            if not intact(path, stored, self.memo):
                self._drop(entry.file)
                if path.exists():
                    with contextlib.suppress(OSError):
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                    return f"a stored value was damaged ({path.name}); it was removed"
                return f"a stored value is missing ({path.name})"
        return None

    def _moved_in_place(self, entry: Entry, places: Places) -> str | None:
        """Files the step wrote that were too large to copy must still be as it left them."""
        for kept, state in entry.manifest.writes.items():
            if "digest" in state and not state.get("copied"):
                try:
                    same = self.memo.file(places.real(kept)) == state["digest"]
                except OSError:
                    same = False
                if not same:
                    return f"{kept}, which it wrote, has changed (too large to keep a copy of)"
        return None

    def _drop(self, file: Path) -> None:
        with contextlib.suppress(OSError):
            file.unlink()

    # --- using -------------------------------------------------------------------------------

    def restore(self, entry: Entry, files: dict[str, Path]) -> dict[str, str]:
        """Link the entry's values to ``files`` (variable -> path without ending)."""
        restored = {}
        for name, stored in entry.outputs.items():
            target = Path(os.fspath(files[name]) + stored.ending)
            link_into(self.object_path(stored.digest, stored.ending), target)
            restored[name] = str(target)
        return restored

    def restore_text(self, stored: Stored | None, target: Path) -> None:
        if stored is not None:
            with contextlib.suppress(OSError):
                link_into(self.object_path(stored.digest), target)

    def restore_writes(self, manifest: Manifest, places: Places) -> list[str]:
        """Put back what the step wrote, where it differs now: removed paths first, then
        folders, then files (copies: the user's files may be rewritten in place). The paths
        put back."""
        changed = []
        writes = manifest.writes
        gone = sorted((k for k, w in writes.items() if w.get("gone")), key=len, reverse=True)
        for kept in gone:
            path = Path(places.real(kept))
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
                changed.append(kept)
            elif path.exists() or path.is_symlink():
                path.unlink()
                changed.append(kept)
        for kept in sorted((k for k, w in writes.items() if w.get("dir")), key=len):
            path = Path(places.real(kept))
            if not path.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                changed.append(kept)
        for kept, state in writes.items():
            if "digest" not in state or not state.get("copied"):
                continue
            path = Path(places.real(kept))
            with contextlib.suppress(OSError):
                if path.is_file() and self.memo.file(str(path)) == state["digest"]:
                    continue
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".kalec-tmp-{path.name}")
            copy_file(str(self.object_path(state["digest"])), str(temporary))
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
            changed.append(kept)
        return changed

    # --- storing ------------------------------------------------------------------------------

    def store(
        self,
        key: StaticKey,
        outputs: dict[str, tuple[str, str, str]],
        metrics: dict[str, Any],
        seconds: float,
        log: Path | None,
        display: Path | None,
        manifest: Manifest,
        places: Places,
    ) -> None:
        """Keep a step that succeeded; ``outputs``: variable -> (file, digest, file ending).

        Never fails the run: a full disk only means no entry.
        """
        with contextlib.suppress(OSError, TypeError, ValueError):
            values = {}
            for name, (file, digest, ending) in outputs.items():
                path = Path(file)
                size = -1 if path.is_dir() else path.stat().st_size
                self._keep(path, self.object_path(digest, ending))
                values[name] = Stored(digest, ending, size).as_json()
            texts = {}
            for label, path in (("log", log), ("display", display)):
                if path is not None and path.is_file():
                    digest = self.memo.file(str(path), with_ctime=False)
                    self._keep(path, self.object_path(digest))
                    texts[label] = Stored(digest, "", path.stat().st_size).as_json()
            writes, copied = {}, 0
            for kept, state in manifest.writes.items():
                state = dict(state)
                size = int(state.get("size", 0))
                if (
                    "digest" in state
                    and size <= COPY_FILE_LIMIT
                    and copied + size <= COPY_STEP_LIMIT
                ):
                    real = Path(places.real(kept))
                    self._keep(real, self.object_path(state["digest"]), copy=True)
                    state["copied"], copied = True, copied + size
                writes[kept] = state
            manifest = Manifest.from_json({"reads": manifest.reads(), "writes": writes})
            entry = {
                "outputs": values,
                "metrics": metrics,
                "seconds": seconds,
                "manifest": manifest.as_json(),
                "created": time.time(),
                **texts,
            }
            identity = hashlib.sha256(
                json.dumps(manifest.reads(), sort_keys=True).encode("utf-8", "surrogatepass")
            ).hexdigest()[:24]
            folder = self.root / "steps" / key.digest
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".kalec-tmp-", dir=folder)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(entry, out, default=repr)
            os.replace(temporary, folder / f"{identity}.json")
            for old in self._entries(key.digest)[ENTRIES_PER_KEY:]:
                self._drop(old)

    def _keep(self, source: Path, target: Path, copy: bool = False) -> None:
        """Store ``source`` as object ``target`` (read-only) unless an intact one is there; a
        copy for the user's files, which may later be rewritten in place."""
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".kalec-tmp-{os.getpid()}-{target.name}"
        if source.is_dir():
            shutil.copytree(source, temporary, copy_function=_link_or_copy)
        elif copy:
            copy_file(str(source), str(temporary))
        else:
            _link_or_copy(str(source), str(temporary))
        _read_only(temporary)
        os.replace(temporary, target)

    # --- why a key is new ------------------------------------------------------------------------

    def _last_file(self, notebook: str, step: str) -> Path:
        name = hashlib.sha256(f"{notebook}\0{step}".encode("utf-8", "surrogatepass")).hexdigest()
        return self.root / "last" / f"{name[:32]}.json"

    def last_parts(self, notebook: str, step: str) -> dict[str, Any] | None:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self._last_file(notebook, step).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else None
        return None

    def keep_parts(self, notebook: str, step: str, key: StaticKey) -> None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            target = self._last_file(notebook, step)
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".kalec-tmp-", dir=target.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(key.parts, out, default=repr)
            os.replace(temporary, target)
