"""What a step touched while it ran: the files it read and wrote, the folders it listed, the
environment variables it read and the modules it imported.

The local runner's step cache reuses a step's values only while everything the step read is
unchanged. Reading the code finds some of that (literal paths, parameters); the rest is only
known at run time (a path joined from a variable, a file read inside a local module, a folder
listed, ``os.environ['MODE']``, a module found through ``sys.path.insert``). So the step process
records it as it happens, the way build tools that cannot trust declarations do.

How: the Python functions through which code reads and writes files are wrapped: ``open``
(``builtins`` and ``io``: pandas, numpy, pickle, joblib, PIL, torch and ``pathlib`` all open
through it), ``os.open``, ``os.stat`` (so ``os.path.exists``, ``isfile``, ``getsize``,
``Path.exists``, and readers in native code that look at a file first, such as
``read_parquet``), ``os.listdir`` and ``os.scandir`` (so ``glob``, ``Path.iterdir``,
``os.walk``), ``os.rename``/``replace``/``remove``/``unlink``/``rmdir``/``mkdir`` and
``shutil.rmtree``; references to them that modules took at import (``from os import listdir``)
are pointed at the wrappers too. ``os.environ`` becomes a mapping that records each name read
(a digest of its value, never the value), and at the end ``sys.modules`` gives every module
imported and its file. The wrappers live in ``file_hooks``; this module keeps the record.

Recording is cheap: a path is made absolute, stat'ed and put in a dict, once per path. Two
things cannot wait for the end of the step: the content a file had before the step changed it
(hashed at the first write, before the open truncates it) and a folder's listing (taken when
listed). Everything else (content digests, what changed during the run) is worked out by the
runner. What the step reads in native code without looking at the file first, in child
processes, from the network or the clock is not seen: see the README.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
import sys
import sysconfig
import threading
from typing import Any

from kalec.runtime import file_hooks

# Environment variables kalec sets for every step: never a reason to run one again.
_OWN_ENV = ("KALEC_", "PYTHONUNBUFFERED", "MPLBACKEND", "PYTHONPATH")


def _kind(status: os.stat_result | None) -> str:
    if status is None:
        return "missing"
    if stat.S_ISREG(status.st_mode):
        return "file"
    return "dir" if stat.S_ISDIR(status.st_mode) else "other"


def _stat_list(status: os.stat_result) -> list[Any]:
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, _kind(status)]


def stat_of(path: str) -> list[Any] | None:
    """What a later stat must match for the file to be the same: size, times, inode, kind.
    None: the path does not exist. Shared with the runner, which compares the two."""
    try:
        return _stat_list(file_hooks.REAL_STAT(path))
    except (OSError, ValueError):
        return None


def listing_digest(path: str) -> str | None:
    """A digest of a folder's entry names (sorted); None when it cannot be listed."""
    try:
        names = sorted(file_hooks.REAL["listdir"](path))
    except (OSError, ValueError):
        return None
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def text_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def environment_digest(environ: Any = None) -> str:
    """A digest of the whole environment (kalec's own variables left out)."""
    environ = os.environ if environ is None else environ
    shown = sorted((k, v) for k, v in environ.items() if not k.startswith(_OWN_ENV))
    return text_digest(json.dumps(shown))


def ignored_folders(extra: list[str]) -> tuple[str, ...]:
    """Folders whose files are never a step's input: the Python installation and its packages
    (their versions are in the key), system pseudo-files, per-user caches, IPython's profile
    (its history database changes every run), and ``extra`` (kalec's run and cache folders)."""
    return tuple(os.path.normpath(f) + os.sep for f in extra if f) + _installation()


@functools.cache
def _installation() -> tuple[str, ...]:
    folders = ["/dev", "/proc", "/sys"]
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError):
            folders.append(sysconfig.get_paths()[name])
    with contextlib.suppress(Exception):
        import site

        folders += [*site.getsitepackages(), site.getusersitepackages()]
    home = os.path.expanduser("~")
    folders.append(os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"))
    folders.append(os.environ.get("IPYTHONDIR") or os.path.join(home, ".ipython"))
    kalec = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # kalec's own code
    folders.append(kalec)
    return tuple(os.path.normpath(f) + os.sep for f in folders if f)


class Observer:
    """Records what the code run between ``start()`` and ``stop()`` touches."""

    def __init__(self, ignore: list[str]) -> None:
        self.ignored = ignored_folders(ignore)
        self.paths: dict[str, dict[str, Any]] = {}
        self.env: dict[str, str | None] = {}  # name -> digest of the value first read
        self.env_listed = False  # the whole environment was read (iterated, copied)
        self._local = threading.local()  # the observer's own file work records nothing

    def start(self) -> None:
        file_hooks.activate(self)

    def stop(self) -> None:
        file_hooks.deactivate(self)

    # --- recording -----------------------------------------------------------------------

    def env_read(self, key: str, value: str | None) -> None:
        if key not in self.env and not key.startswith(_OWN_ENV):
            self.env[key] = None if value is None else text_digest(value)

    def _absolute(self, path: Any) -> str | None:
        if type(path) is str and (path.endswith(".pyc") or path.startswith(self.ignored)):
            return None  # the installation's files, at the cost of two string tests
        try:
            text = os.fsdecode(os.fspath(path))
        except (TypeError, ValueError):
            return None
        if not text or "\0" in text:
            return None
        if not os.path.isabs(text):
            text = os.path.join(os.getcwd(), text)
        text = os.path.normpath(text)
        if (text + os.sep).startswith(self.ignored) or text.endswith(".pyc"):
            return None
        return text

    def _path(self, raw: Any) -> str | None:
        """The absolute path to record; None for the observer's own work and ignored paths."""
        return None if getattr(self._local, "busy", False) else self._absolute(raw)

    def saw(self, raw: Any, use: str, status: os.stat_result | None | bool = False) -> None:
        """A look at a path: ``exists`` (only whether it is there and what it is), ``stat``,
        ``read`` or ``list``; ``status``: the stat the caller already has (False: none)."""
        path = self._path(raw)
        if path is None:
            return
        entry = self.paths.get(path)
        if entry is None:
            if status is False:
                found = stat_of(path)
            else:
                found = None if status is None else _stat_list(status)  # type: ignore[arg-type]
            entry = self.paths[path] = {"uses": [use], "stat": found}
        elif entry.get("created"):
            return  # the step made it: what it reads there is its own doing
        elif use not in entry["uses"]:
            entry["uses"].append(use)
        if use == "list" and "listing" not in entry and not entry.get("written"):
            entry["listing"] = listing_digest(path)

    def wrote(self, raw: Any, replaces: bool, use: str = "read") -> None:
        """The step writes ``raw``: ``replaces`` when what was there before does not matter
        (a new or truncated file); otherwise its earlier content counts as read."""
        path = self._path(raw)
        if path is None:
            return
        entry = self.paths.get(path)
        if entry is None:
            if replaces:
                self.paths[path] = {"uses": [], "created": True, "written": True}
                return
            entry = self.paths[path] = {"uses": [use], "stat": stat_of(path)}
        if entry.get("written"):
            return
        entry["written"] = True
        if not entry.get("created") and use != "exists":
            # what the step saw, kept before this write changes it
            entry["before_write"] = stat_of(path)
            entry["prior"] = self._digest_now(path)

    def appended(self, raw: Any) -> None:
        """Opened only to append (a log file, often from the prelude, so in every step): the
        step cannot read through it, so its earlier content is no input. What it appends is a
        side effect a cached step does not repeat, as a cached build does not print again."""
        path = self._path(raw)
        if path is not None and path not in self.paths:
            self.paths[path] = {"uses": [], "created": True, "appended": True}

    def _digest_now(self, path: str) -> str | None:
        self._local.busy = True
        try:
            from kalec.runtime.marshal.digest import file_digest

            return file_digest(path) if os.path.isfile(path) else None
        except OSError:
            return None
        finally:
            self._local.busy = False

    # --- the record ------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The record, as JSON data, for the runner. Of a package installed with Python (whose
        version the runner checks) one module is enough; every file of the others counts."""
        modules = []
        installed: set[str] = set()
        for name, module in list(sys.modules.items()):
            top = name.partition(".")[0]
            if top in installed or top in sys.stdlib_module_names:
                continue
            if top in ("kalec", "__main__", "__mp_main__"):
                continue
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file:
                file = os.path.abspath(file)
                if file.startswith(_installation()):
                    installed.add(top)
                modules.append([name, file])
        return {
            "paths": self.paths,
            "env": self.env,
            "env_listed": environment_digest() if self.env_listed else None,
            "modules": modules,
        }

    def write(self, path: str) -> None:
        self._local.busy = True
        try:
            with file_hooks.REAL["open"](path, "w", encoding="utf-8") as handle:
                json.dump(self.report(), handle, ensure_ascii=False)
        finally:
            self._local.busy = False
