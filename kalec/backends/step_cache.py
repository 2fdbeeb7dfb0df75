"""The local runner's step cache: a step whose inputs are all unchanged is not run again.

A step's key is the SHA-256 of everything that can change what it computes: its code and the
prelude's, the import statements it repeats, the parameter values it reads, the digest of each
value it loads (the producing step hashed the file while writing it), the content of the files
its code names by literal path and of the local modules it imports, the versions of Python, of
kalec's step runtime and of the packages the step imports. An entry keeps the step's values, its
metrics, its printed output and what its cells showed.

Layout (``.kalec/cache`` beside the runs)::

    objects/ab/abcdef...npy      every value once, named by its content digest
    steps/<key>.json             one entry per step key: values by digest, metrics, output

Values are hard links (a copy across file systems), so a cache hit costs no copy and two steps or
two runs that produce the same array share one file. Entries are written whole and renamed into
place, after the step succeeded: a run killed mid-step leaves only finished steps' entries.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import itertools
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec import __version__
from kalec.analysis.files import looks_like_path, path_literals
from kalec.analysis.parsing import parse
from kalec.backends.packages import Packages
from kalec.backends.runtime_bundle import runtime_archive
from kalec.backends.shipping import LocalModules
from kalec.backends.step_spec import step_spec
from kalec.ir import Pipeline, Step
from kalec.runtime.marshal.digest import file_digest

FORMAT = 1  # of keys and entries: a change makes every old entry a miss
_DIRECTORY_FILES_HASHED = 2000  # a folder with more files is keyed by names, sizes and times
MAX_FILES = 50_000  # a folder named in a step with more files makes the step uncacheable
_SYSTEM_FOLDERS = ("/dev/", "/proc/", "/sys/", "/dev", "/proc", "/sys")
_DIGESTS_FILE, _DIGESTS_KEPT = "file-digests.json", 10_000


class TooLarge(Exception):
    """A folder a step names holds too many files to check on every run."""


@dataclass
class Entry:
    """A cached step: its values (variable -> (digest, file ending)), metrics and output."""

    key: str
    outputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long the step took when it ran
    log: str | None = None  # digest of its printed output
    display: str | None = None  # digest of what its cells showed
    files: dict[str, str] = field(default_factory=dict)  # file it wrote -> digest


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


class StepCache:
    """Entries and values under ``root``; every method tolerates a damaged or missing file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._file_digests: dict[str, str] = {}  # "path\0size\0mtime\0inode" -> digest
        self._digests_changed = False
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads((root / _DIGESTS_FILE).read_text(encoding="utf-8"))
            self._file_digests = {str(k): str(v) for k, v in data.items()}

    def object_path(self, digest: str, ending: str) -> Path:
        return self.root / "objects" / digest[:2] / (digest + ending)

    def _entry_path(self, key: str) -> Path:
        return self.root / "steps" / f"{key}.json"

    # --- keys ------------------------------------------------------------------------------

    def key(
        self,
        pipeline: Pipeline,
        step: Step,
        params: dict[str, Any],
        inputs: dict[str, str],
        packages: Packages,
        modules: LocalModules,
    ) -> str:
        """The step's key; ``inputs``: variable -> digest of the value it loads."""
        folder = Path(pipeline.source).resolve().parent
        local, _ = modules.for_step(pipeline, step)
        parts = {
            "format": FORMAT,
            "kalec": __version__,
            "runtime": runtime_archive()[1],
            "python": sys.version,
            "spec": step_spec(pipeline, step),
            "params": params,
            "inputs": inputs,
            "files": {p: self.path_digest(folder / p) for p in read_paths(pipeline, step, params)},
            "modules": {name: self.path_digest(path) for name, path in sorted(local.items())},
            "packages": packages.for_step(step),
        }
        text = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def path_digest(self, path: Path) -> str | None:
        """The content of a file a step reads, a folder, or a glob's matches; None: missing.

        Raises ``TooLarge`` for a folder (or glob) of more than ``MAX_FILES`` files: a string
        such as ``'/'`` or ``'~/data/'`` in a cell must not make every run walk a disk.
        """
        text = os.fspath(path)
        if text.startswith(_SYSTEM_FOLDERS):
            return "system"  # /dev/zero, /proc/...: never read, never a reason to run again
        if not os.path.lexists(text):
            found = glob.iglob(text) if glob.has_magic(text) else iter(())
            matches = sorted(itertools.islice(found, MAX_FILES + 1))  # '/*/*/*' stops early
            if not matches:
                return None
            if len(matches) > MAX_FILES:
                raise TooLarge(text)
            return _combine((m, self.path_digest(Path(m))) for m in matches)
        if os.path.isdir(text):
            return self._folder_digest(text)
        return self._file_digest(text)

    def _file_digest(self, path: str) -> str:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return "special"  # a pipe, a device: reading it could block or never end
        memo = f"{path}\0{status.st_size}\0{status.st_mtime_ns}\0{status.st_ino}"
        if memo not in self._file_digests:
            self._file_digests[memo] = file_digest(path)
            self._digests_changed = True
        return self._file_digests[memo]

    def _folder_digest(self, path: str) -> str:
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in (".kalec", "__pycache__", ".git"))
            found += [os.path.join(root, name) for name in sorted(files)]
            if len(found) > MAX_FILES:
                raise TooLarge(path)
        if len(found) > _DIRECTORY_FILES_HASHED:
            stats = ((f, os.lstat(f)) for f in found)
            return _combine((f, f"{s.st_size}:{s.st_mtime_ns}") for f, s in stats)
        return _combine((os.path.relpath(f, path), self._file_digest(f)) for f in found)

    def save_file_digests(self) -> None:
        """Keep the digests of the files read this run, by path, size, time and inode: the
        next run hashes only what changed (a 10 GB data file is read once, not every run)."""
        if not self._digests_changed:
            return
        with contextlib.suppress(OSError, TypeError, ValueError):
            self.root.mkdir(parents=True, exist_ok=True)
            recent = dict(list(self._file_digests.items())[-_DIGESTS_KEPT:])
            handle, temporary = tempfile.mkstemp(prefix=".kalec-tmp-", dir=self.root)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(recent, out)
            os.replace(temporary, self.root / _DIGESTS_FILE)

    # --- entries ---------------------------------------------------------------------------

    def lookup(self, key: str) -> Entry | None:
        """The entry of ``key`` whose every value is still stored; None otherwise."""
        path = self._entry_path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entry = Entry(
                key=key,
                outputs={k: (v[0], v[1]) for k, v in data["outputs"].items()},
                metrics=dict(data.get("metrics", {})),
                seconds=float(data.get("seconds", 0.0)),
                log=data.get("log"),
                display=data.get("display"),
                files={str(k): str(v) for k, v in data.get("files", {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        stored = [self.object_path(*value) for value in entry.outputs.values()]
        stored += [self.object_path(digest, "") for digest in entry.files.values()]
        if not all(path.exists() for path in stored):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: ``kalec clean`` removes the least recent first
        return entry

    def restore(self, entry: Entry, files: dict[str, Path]) -> dict[str, str]:
        """Put the entry's values at ``files`` (variable -> path without ending); the files."""
        restored = {}
        for name, (digest, ending) in entry.outputs.items():
            target = Path(os.fspath(files[name]) + ending)
            link_into(self.object_path(digest, ending), target)
            restored[name] = str(target)
        return restored

    def restore_files(self, entry: Entry, folder: Path) -> list[str]:
        """Put back the files the step wrote where they differ from what it wrote (copies: the
        user's files may be rewritten in place, which must never reach the cache)."""
        restored = []
        for name, digest in entry.files.items():
            target = folder / name
            with contextlib.suppress(OSError):
                if target.is_file() and self._file_digest(str(target)) == digest:
                    continue
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".kalec-tmp-{target.name}")
            shutil.copyfile(self.object_path(digest, ""), temporary)
            os.replace(temporary, target)
            restored.append(name)
        return restored

    def restore_text(self, digest: str | None, target: Path) -> bool:
        if digest is None:
            return False
        try:
            link_into(self.object_path(digest, ""), target)
        except OSError:
            return False
        return True

    def store(
        self,
        key: str,
        files: dict[str, tuple[str, str, str]],
        metrics: dict[str, Any],
        seconds: float,
        log: Path | None,
        display: Path | None,
        written: dict[str, Path] | None = None,
    ) -> None:
        """Keep a step that succeeded; ``files``: variable -> (file, its digest, file ending);
        ``written``: the files its code writes by literal path (as written -> where).

        Never fails the run: a full disk only means no entry.
        """
        with contextlib.suppress(OSError, TypeError, ValueError):
            outputs = {}
            for name, (file, digest, ending) in files.items():
                self._keep(Path(file), self.object_path(digest, ending))
                outputs[name] = [digest, ending]
            texts = {}
            for label, path in (("log", log), ("display", display)):
                if path is not None and path.is_file():
                    digest = file_digest(str(path))
                    self._keep(path, self.object_path(digest, ""))
                    texts[label] = digest
            products = {}
            for name, path in (written or {}).items():
                if path.is_file():
                    digest = file_digest(str(path))
                    self._keep(path, self.object_path(digest, ""), copy=True)
                    products[name] = digest
            entry = {
                "outputs": outputs,
                "metrics": metrics,
                "seconds": seconds,
                "files": products,
                **texts,
            }
            entry["created"] = time.time()
            target = self._entry_path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".kalec-tmp-", dir=target.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(entry, out, default=repr)
            os.replace(temporary, target)

    def _keep(self, source: Path, target: Path, copy: bool = False) -> None:
        """Store ``source`` as object ``target`` unless an equal one is there already; a copy
        for the user's files, which may later be rewritten in place."""
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".kalec-tmp-{os.getpid()}-{target.name}"
        if source.is_dir():
            shutil.copytree(source, temporary, copy_function=_link_or_copy)
        elif copy:
            shutil.copyfile(source, temporary)
        else:
            _link_or_copy(str(source), str(temporary))
        os.replace(temporary, target)


def _combine(items: Any) -> str:
    digest = hashlib.sha256()
    for name, value in items:
        digest.update(f"{name}\0{value}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def written_paths(pipeline: Pipeline, step: Step) -> list[str]:
    """Literal paths of files the step's code writes (outputs a later run needs back)."""
    paths: dict[str, None] = {}
    for number in pipeline.prelude + step.cells:
        facts = pipeline.cell(number).facts
        for path in facts.file_writes if facts else ():
            if not glob.has_magic(path):
                paths[os.path.expanduser(path)] = None
    return list(paths)


def read_paths(pipeline: Pipeline, step: Step, params: dict[str, Any]) -> list[str]:
    """Paths the step may read: those its code (and the prelude's) reads by literal path, any
    string in that code that looks like a path, and parameter values that look like one
    (``pd.read_csv(DATA)`` with ``DATA = 'data/train.csv'``). Those that do not exist are
    keyed as missing, so creating one later runs the step again."""
    reads: dict[str, None] = {}
    mentioned: dict[str, None] = {}
    for number in pipeline.prelude + step.cells:
        cell = pipeline.cell(number)
        facts = cell.facts
        for path in facts.file_reads if facts else ():
            reads[os.path.expanduser(path)] = None
        try:
            tree = parse(cell.analyzed)
        except SyntaxError:
            continue
        for path in path_literals(tree):
            mentioned[os.path.expanduser(path)] = None
    for value in params.values():
        if looks_like_path(value):
            mentioned[os.path.expanduser(value)] = None
    # a file the step only writes is its product, not its input: keying it would make the
    # second run differ from the first, which found no such file yet
    own = set(written_paths(pipeline, step))
    return list(reads) + [p for p in mentioned if p not in reads and p not in own]
