"""The wrapped file functions through which a step's reads and writes are observed.

``install`` puts them in place, once per process (the fork server does it after its imports,
so that the scan for references modules took at import is done once, not in every step); they
record into the observer that ``activate`` names, and do nothing more than the real function
while none is. An audit hook would see the same events, but Python calls a hook for every
audit event of the process, ``id()`` included: measured here, that alone cost 3 % of a real
notebook's run, and the wrappers a fraction of it.
"""

from __future__ import annotations

import builtins
import functools
import io
import os
import shutil
import sys
from typing import Any

REAL = {
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
REAL_STAT = os.stat
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
# Modules whose references to the real functions stay: those the wrappers replace in, and the
# import system's own.
_LEAVE = (
    "builtins",
    "io",
    "_io",
    "os",
    "posix",
    "sys",
    "zipimport",
    __name__,
    "kalec.runtime.observe",
    "kalec.runtime.channels",
    "kalec.runtime.syscalls",
)

_ACTIVE: Any = None  # the observer recording now, if any (an ``observe.Observer``)
_INSTALLED = False


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
    return REAL["open"](file, mode, *args, **kwargs)


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
    return REAL["os.open"](path, flags, *args, **kwargs)


@functools.wraps(os.stat)
def observed_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
    observer = _ACTIVE
    if observer is None or isinstance(path, int) or kwargs.get("dir_fd") is not None:
        return REAL_STAT(path, *args, **kwargs)
    try:
        result = REAL_STAT(path, *args, **kwargs)
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
    return REAL["mkdir"](path, *args, **kwargs)


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
    point_references({REAL[name]: _WRAPPERS[name] for name in REAL})


def point_references(replacement: dict[Any, Any], leave: tuple[str, ...] = ()) -> None:
    """Modules that took a function at import (``from os import listdir``, tarfile's
    ``bltn_open = open``, numpy's ``io_open``) get its wrapper in its place (``replacement``:
    real function -> wrapper; ``leave``: modules that keep theirs, besides the wrappers' own)."""
    by_id = {id(real): (real, wrapper) for real, wrapper in replacement.items()}
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        name = getattr(module, "__name__", "")
        if not isinstance(namespace, dict) or not isinstance(name, str):
            continue
        if name in _LEAVE or name in leave or name.startswith(("importlib", "_frozen_importlib")):
            continue
        for key, value in list(namespace.items()):
            found = by_id.get(id(value))
            if found is not None and value is found[0]:
                namespace[key] = found[1]


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

        def __setitem__(self, key: str, value: str) -> None:
            if _ACTIVE is not None:
                _ACTIVE.env_changed(key)
            base.__setitem__(self, key, value)

        def __delitem__(self, key: str) -> None:
            if _ACTIVE is not None:
                _ACTIVE.env_changed(key)
            base.__delitem__(self, key)

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


def activate(observer: Any) -> None:
    """Record into ``observer`` from now on (installing the wrappers first if need be)."""
    global _ACTIVE
    install()
    _ACTIVE = observer


def deactivate(observer: Any) -> None:
    global _ACTIVE
    if _ACTIVE is observer:
        _ACTIVE = None
