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
imported and its file. An audit hook would see the same events, but Python calls a hook for
every audit event of the process, ``id()`` included: measured here, that alone cost 3 % of a
real notebook's run, and the wrappers a fraction of it.

Recording is cheap: a path is made absolute, stat'ed and put in a dict, once per path. Two
things cannot wait for the end of the step: the content a file had before the step changed it
(hashed at the first write, before the open truncates it) and a folder's listing (taken when
listed). Everything else (content digests, what changed during the run) is worked out by the
runner. What the step reads in native code without looking at the file first, in child
processes, from the network or the clock is not seen: see the README.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import sysconfig
import threading
from typing import Any

_REAL = {
    "open": builtins.open,
    "os.open": os.open,
    "stat": os.stat,
    "listdir": os.listdir,
    "scandir": os.scandir,
    "rename": os.rename,
    "replace": os.replace,
    "remove": os.remove,
    "unlink": os.unlink,
    "rmdir": os.rmdir,
    "mkdir": os.mkdir,
    "rmtree": shutil.rmtree,
}
_REAL_STAT = os.stat
_WRITING = os.O_WRONLY | os.O_RDWR
_IMPORT_MACHINERY = (
    "<frozen importlib",
    "/importlib/",
    "pkg_resources",
    "importlib_metadata",
    "/pkgutil.py",
    "/site.py",
    "/zipimport.py",
)
# Environment variables kalec sets for every step: never a reason to run one again.
_OWN_ENV = ("KALEC_", "PYTHONUNBUFFERED", "MPLBACKEND", "PYTHONPATH")
# Modules whose references to the real functions stay: those the wrappers replace in, and the
# import system's own.
_LEAVE = ("builtins", "io", "_io", "os", "posix", "sys", "zipimport", __name__)

_ACTIVE: Observer | None = None  # the observer recording now, if any
_INSTALLED = False


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
        return _stat_list(_REAL_STAT(path))
    except (OSError, ValueError):
        return None


def listing_digest(path: str) -> str | None:
    """A digest of a folder's entry names (sorted); None when it cannot be listed."""
    try:
        names = sorted(_REAL["listdir"](path))
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


# --- the wrappers (module-level, so that a value holding one pickles by reference) -----------


@functools.wraps(builtins.open)
def observed_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    observer = _ACTIVE
    if observer is not None and not isinstance(file, int) and isinstance(mode, str):
        if "w" in mode or "x" in mode:
            observer.wrote(file, replaces=True)
        elif "+" in mode:  # read and change in place: what was there counts
            observer.wrote(file, replaces=False)
        elif "a" in mode:
            observer.appended(file)
        else:
            observer.saw(file, "read")
    return _REAL["open"](file, mode, *args, **kwargs)


@functools.wraps(os.open)
def observed_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
    observer = _ACTIVE
    if observer is not None and kwargs.get("dir_fd") is None and not isinstance(path, int):
        if flags & os.O_APPEND and not flags & os.O_RDWR:
            observer.appended(path)
        elif flags & _WRITING:
            observer.wrote(path, bool(flags & (os.O_TRUNC | os.O_EXCL)))
        else:
            observer.saw(path, "read")
    return _REAL["os.open"](path, flags, *args, **kwargs)


@functools.wraps(os.stat)
def observed_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
    observer = _ACTIVE
    if observer is None or isinstance(path, int) or kwargs.get("dir_fd") is not None:
        return _REAL_STAT(path, *args, **kwargs)
    try:
        result = _REAL_STAT(path, *args, **kwargs)
    except OSError:
        observer.saw(path, "exists", None)
        raise
    observer.saw(path, "stat", result)
    return result


def _listing(real: Any) -> Any:
    @functools.wraps(real)
    def observed_listing(path: Any = None, *args: Any, **kwargs: Any) -> Any:
        observer = _ACTIVE
        if observer is not None and not isinstance(path, int) and not _from_import_machinery():
            observer.saw("." if path is None else path, "list")
        return real(path, *args, **kwargs) if path is not None else real(*args, **kwargs)

    return observed_listing


def _moving(real: Any) -> Any:
    @functools.wraps(real)
    def observed_move(source: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        observer = _ACTIVE
        if observer is not None and not kwargs.get("src_dir_fd") and not kwargs.get("dst_dir_fd"):
            observer.wrote(source, replaces=False)
            observer.wrote(target, replaces=True)
        return real(source, target, *args, **kwargs)

    return observed_move


def _removing(real: Any) -> Any:
    @functools.wraps(real)
    def observed_remove(path: Any, *args: Any, **kwargs: Any) -> Any:
        observer = _ACTIVE
        if observer is not None and kwargs.get("dir_fd") is None and not isinstance(path, int):
            observer.wrote(path, replaces=False, use="exists")
        return real(path, *args, **kwargs)

    return observed_remove


@functools.wraps(os.mkdir)
def observed_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
    observer = _ACTIVE
    if observer is not None and kwargs.get("dir_fd") is None:
        observer.wrote(path, replaces=True)
    return _REAL["mkdir"](path, *args, **kwargs)


_WRAPPERS = {
    "open": observed_open,
    "os.open": observed_os_open,
    "stat": observed_stat,
    "listdir": _listing(os.listdir),
    "scandir": _listing(os.scandir),
    "rename": _moving(os.rename),
    "replace": _moving(os.replace),
    "remove": _removing(os.remove),
    "unlink": _removing(os.unlink),
    "rmdir": _removing(os.rmdir),
    "mkdir": observed_mkdir,
    "rmtree": _removing(shutil.rmtree),
}


def install() -> None:
    """Put the wrappers in place (once per process; they record only while an observer is
    started). The fork server calls it after its imports, so that the scan for references
    modules took at import is done once, not in every step."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    builtins.open = io.open = _WRAPPERS["open"]  # type: ignore[assignment]
    os.open = _WRAPPERS["os.open"]  # type: ignore[assignment]
    for name in ("stat", "listdir", "scandir", "rename", "replace", "remove", "unlink"):
        setattr(os, name, _WRAPPERS[name])
    os.rmdir, os.mkdir = _WRAPPERS["rmdir"], _WRAPPERS["mkdir"]  # type: ignore[assignment]
    shutil.rmtree = _WRAPPERS["rmtree"]  # type: ignore[assignment]
    _point_captured_references()
    _record_environment()


def _point_captured_references() -> None:
    """Modules that took a function at import (``from os import listdir``, tarfile's
    ``bltn_open = open``, numpy's ``io_open``) get the wrapper in its place."""
    replacement = {id(_REAL[name]): _WRAPPERS[name] for name in _REAL}
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        name = getattr(module, "__name__", "")
        if not isinstance(namespace, dict) or not isinstance(name, str):
            continue
        if name in _LEAVE or name.startswith(("importlib", "_frozen_importlib")):
            continue
        for key, value in list(namespace.items()):
            wrapper = replacement.get(id(value))
            if wrapper is not None and any(value is real for real in _REAL.values()):
                namespace[key] = wrapper


def _record_environment() -> None:
    base = type(os.environ)

    class RecordingEnviron(base):  # type: ignore[valid-type, misc]
        """``os.environ`` that notes each name read while a step runs."""

        def __getitem__(self, key: str) -> str:
            try:
                value = base.__getitem__(self, key)
            except KeyError:
                if _ACTIVE is not None:
                    _ACTIVE.env_read(key, None)
                raise
            if _ACTIVE is not None:
                _ACTIVE.env_read(key, value)
            return value

        def __iter__(self) -> Any:
            if _ACTIVE is not None:
                _ACTIVE.env_listed = True
            return base.__iter__(self)

    current = os.environ
    os.environ = RecordingEnviron(  # noqa: B003 - the same data, read through a recorder
        current._data,  # type: ignore[attr-defined]
        current.encodekey,  # type: ignore[attr-defined]
        current.decodekey,  # type: ignore[attr-defined]
        current.encodevalue,  # type: ignore[attr-defined]
        current.decodevalue,  # type: ignore[attr-defined]
    )


def _from_import_machinery() -> bool:
    """True when a listing is the import system's (a path entry scanned for modules or for
    distributions), not the step's own: the notebook's folder is on ``sys.path``."""
    frame = sys._getframe(2)
    for _ in range(16):
        if frame is None:
            return False
        name = frame.f_code.co_filename
        if any(m in name for m in _IMPORT_MACHINERY):
            return True
        frame = frame.f_back
    return False


class Observer:
    """Records what the code run between ``start()`` and ``stop()`` touches."""

    def __init__(self, ignore: list[str]) -> None:
        self.ignored = ignored_folders(ignore)
        self.paths: dict[str, dict[str, Any]] = {}
        self.env: dict[str, str | None] = {}  # name -> digest of the value first read
        self.env_listed = False  # the whole environment was read (iterated, copied)
        self._local = threading.local()  # the observer's own file work records nothing

    def start(self) -> None:
        global _ACTIVE
        install()
        _ACTIVE = self

    def stop(self) -> None:
        global _ACTIVE
        if _ACTIVE is self:
            _ACTIVE = None

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
            with _REAL["open"](path, "w", encoding="utf-8") as handle:
                json.dump(self.report(), handle, ensure_ascii=False)
        finally:
            self._local.busy = False
