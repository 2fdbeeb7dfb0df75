"""The ways a step can touch files that Python's file functions do not show: child processes and
native code. Each is noticed just before it is used, and from then on observed at the
system-call level (``syscalls``), or, where that cannot be done, recorded as unseen, so that
the runner does not reuse the step on trust.

Noticed here:

- a child process, by any door: ``subprocess`` (and ``os.popen``, IPython's ``!cmd`` and
  ``%%bash``), ``multiprocessing`` and joblib's loky workers (``_posixsubprocess.fork_exec``),
  ``os.fork``/``os.forkpty`` (``pty``, pexpect), ``os.system``, ``os.posix_spawn[p]`` and
  ``os.exec*``;
- native code that opens files itself: ``sqlite3.connect`` on a file, ``ctypes`` loading a
  library, a library known to read files in C imported during the step (HDF5, netCDF, OpenCV,
  Arrow datasets, TensorFlow, ...), and calls of such libraries that the compiler found in the
  step's code (``StepSpec.native_io``: the step is observed from its first cell).

The wrappers are put in place once per process (the fork server does it after its imports) and
do nothing but call the real function while no step is being observed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

from kalec.runtime import syscalls

# Libraries that open files in native code: importing one during a step starts the observer.
NATIVE_IO = frozenset(
    """
    sqlite3 _sqlite3 h5py netCDF4 tables cv2 tensorflow polars duckdb lightgbm catboost xgboost
    safetensors tokenizers soundfile lmdb rasterio fiona osgeo pyreadstat sentencepiece faiss
    onnxruntime pyarrow.dataset
    """.split()
)

_ACTIVE: Channels | None = None
_INSTALLED = False
REAL: dict[str, Callable[..., Any]] = {}


class Channels:
    """One step's view of its channels: whether it is already observed at the system-call
    level, and where to send a listener (``control``: to the supervising parent; None when
    there is none)."""

    def __init__(self, observer: Any, control: socket.socket | None, reason: str | None) -> None:
        self.observer = observer
        self.control = control
        self.reason = reason  # why the system-call observer is not there, if it is not
        self.observed = False  # the step is under the filter

    def reach(self, call: str, detail: str, process: bool = True, cell: int | None = None) -> None:
        """The step is about to reach files through ``detail`` (a child process when
        ``process``, else native code; ``call``: the door, for messages): observe it. ``cell``:
        the cell it is in, when the caller knows (else the innermost cell running)."""
        if process:
            self.observer.env_listed = True  # a child sees the whole environment
        if self.observed:
            return
        if self.control is not None:
            try:
                listener = syscalls.install()
            except OSError as error:
                self.reason = f"the system-call observer could not start: {error.strerror}"
            else:
                try:
                    socket.send_fds(self.control, [b"listener"], [listener])
                    self.observed = True
                    return
                except OSError as error:
                    self.reason = f"the system-call observer could not start: {error}"
                finally:
                    os.close(listener)
        kind = "a child process" if process else "native code"
        why = self.reason or "it cannot be observed here"
        self.observer.cannot_see(kind, detail, why, cell)


def start(channels: Channels) -> None:
    global _ACTIVE
    install()
    _ACTIVE = channels


def stop(channels: Channels) -> None:
    global _ACTIVE
    if _ACTIVE is channels:
        _ACTIVE = None


def _reach(call: str, detail: Callable[[], str], process: bool = True) -> None:
    channels = _ACTIVE
    if channels is not None:
        try:
            text = detail()
        except Exception:  # noqa: BLE001 - a description must never break the call
            text = call
        channels.reach(call, text[:200], process)


def _words(argv: Any) -> str:
    if isinstance(argv, (str, bytes)):
        return os.fsdecode(argv)
    with contextlib.suppress(TypeError):
        return " ".join(os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in argv)
    return repr(argv)


# --- the wrappers (module-level: a value holding one pickles by reference) -----------------


def observed_system(command: Any) -> int:
    _reach("os.system", lambda: _words(command))
    return REAL["os.system"](command)


def observed_fork() -> int:
    _reach("os.fork", lambda: "a forked copy of the step")
    return REAL["os.fork"]()


def observed_forkpty() -> tuple[int, int]:
    _reach("os.forkpty", lambda: "a forked copy of the step on a terminal")
    return REAL["os.forkpty"]()


def observed_posix_spawn(path: Any, argv: Any, *args: Any, **kwargs: Any) -> int:
    _reach("os.posix_spawn", lambda: _words(argv))
    return REAL["os.posix_spawn"](path, argv, *args, **kwargs)


def observed_posix_spawnp(path: Any, argv: Any, *args: Any, **kwargs: Any) -> int:
    _reach("os.posix_spawnp", lambda: _words(argv))
    return REAL["os.posix_spawnp"](path, argv, *args, **kwargs)


def observed_execv(path: Any, argv: Any) -> None:
    _reach("os.exec", lambda: _words(argv))
    REAL["os.execv"](path, argv)


def observed_execve(path: Any, argv: Any, env: Any) -> None:
    _reach("os.exec", lambda: _words(argv))
    REAL["os.execve"](path, argv, env)


def observed_fork_exec(args: Any, *rest: Any, **kwargs: Any) -> int:
    _reach("subprocess", lambda: _words(args))
    return REAL["fork_exec"](args, *rest, **kwargs)


def observed_connect(database: Any, *args: Any, **kwargs: Any) -> Any:
    if _on_disk(database, kwargs.get("uri", False) or (len(args) > 5 and args[5])):
        _reach(
            "sqlite3.connect", lambda: f"sqlite3.connect({os.fsdecode(database)!r})", process=False
        )
    return REAL["sqlite3.connect"](database, *args, **kwargs)


def _on_disk(database: Any, uri: bool) -> bool:
    """False for an in-memory database (no file to read)."""
    try:
        text = os.fsdecode(os.fspath(database))
    except TypeError:
        return True
    return text not in ("", ":memory:") and not (uri and "mode=memory" in text)


_RTLD_NOLOAD = getattr(os, "RTLD_NOLOAD", 4)


def observed_dlopen(self: Any, name: Any, mode: int = 0, *args: Any, **kwargs: Any) -> None:
    if name is not None and not mode & _RTLD_NOLOAD:  # NOLOAD: one already loaded, by name
        _reach("ctypes", lambda: f"native library {os.fsdecode(name)}", process=False)
    REAL["ctypes.CDLL"](self, name, mode, *args, **kwargs)


class _NativeImports:
    """A finder that finds nothing: it notices a library of ``NATIVE_IO`` being imported."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if _ACTIVE is not None and (name in NATIVE_IO or name.partition(".")[0] in NATIVE_IO):
            _reach("import", lambda: f"{name}, which reads files in native code", process=False)
        return None


_OS_WRAPPERS = {
    "system": observed_system,
    "fork": observed_fork,
    "forkpty": observed_forkpty,
    "posix_spawn": observed_posix_spawn,
    "posix_spawnp": observed_posix_spawnp,
    "execv": observed_execv,
    "execve": observed_execve,
}


def install() -> None:
    """Put the wrappers in place, once per process."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    for name, wrapper in _OS_WRAPPERS.items():
        real = getattr(os, name, None)
        if real is not None:
            REAL[f"os.{name}"] = real
            setattr(os, name, wrapper)
    with contextlib.suppress(ImportError):
        import _posixsubprocess

        REAL["fork_exec"] = _posixsubprocess.fork_exec
        _posixsubprocess.fork_exec = observed_fork_exec  # type: ignore[assignment]
    if "sqlite3" in sys.modules or "_sqlite3" in sys.modules:
        _wrap_sqlite()
    _wrap_ctypes()
    sys.meta_path.insert(0, _NativeImports)  # type: ignore[arg-type]
    from kalec.runtime import file_hooks

    file_hooks.point_references(
        {REAL[k]: w for k, w in _wrappers().items() if k in REAL}, leave=("_posixsubprocess",)
    )


def _wrappers() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {f"os.{k}": w for k, w in _OS_WRAPPERS.items()}
    found["fork_exec"] = observed_fork_exec
    found["sqlite3.connect"] = observed_connect
    return found


def _wrap_sqlite() -> None:
    import sqlite3
    import sqlite3.dbapi2

    REAL["sqlite3.connect"] = sqlite3.connect
    sqlite3.connect = sqlite3.dbapi2.connect = observed_connect  # type: ignore[assignment]


def _wrap_ctypes() -> None:
    import ctypes

    REAL["ctypes.CDLL"] = ctypes.CDLL.__init__
    ctypes.CDLL.__init__ = observed_dlopen  # type: ignore[method-assign]
