"""What a step touched while it ran: the files it read and wrote, the folders it listed, the
environment variables it read and the modules it imported.

The local runner's step cache reuses a step's values only while everything the step read is
unchanged. Reading the code finds some of that (literal paths, parameters); the rest is only
known at run time (a path joined from a variable, a file read inside a local module, a folder
listed, ``os.environ['MODE']``, a module found through ``sys.path.insert``). So the step process
records it as it happens, the way build tools that cannot trust declarations do:

- an audit hook (``sys.addaudithook``) sees every ``open`` (by the flags: read, create, or
  change in place), ``os.listdir``/``os.scandir`` (and so ``glob``, ``Path.iterdir``,
  ``os.walk``), ``os.rename``, ``os.remove``, ``os.mkdir``, ``shutil.rmtree``, ``os.chdir`` and
  ``sqlite3.connect``;
- ``os.stat`` is wrapped, so ``os.path.exists``, ``isfile``, ``getsize`` and ``Path.exists``
  count too (and readers in native code that look at a file first, such as ``read_parquet``);
- ``os.environ`` becomes a mapping that records each name read (a digest of its value, never
  the value);
- at the end, ``sys.modules`` gives every module imported and its file.

Recording is cheap: a path is made absolute, stat'ed and put in a dict, once per path. Two
things cannot wait for the end of the step: the content a file had before the step changed it
(hashed at the first write, before the open truncates it) and a folder's listing (taken when
listed). Everything else (content digests, what changed during the run) is worked out by the
runner from this record. What the step reads in native code without looking at the file first,
in child processes, from the network or the clock is not seen: see the README.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import sysconfig
import threading
from typing import Any

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


def _kind(status: os.stat_result | None) -> str:
    if status is None:
        return "missing"
    if stat.S_ISREG(status.st_mode):
        return "file"
    return "dir" if stat.S_ISDIR(status.st_mode) else "other"


def stat_of(path: str) -> list[Any] | None:
    """What a later stat must match for the file to be the same: size, times, inode, kind.
    None: the path does not exist. Shared with the runner, which compares the two."""
    try:
        status = _REAL_STAT(path)
    except (OSError, ValueError):
        return None
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, _kind(status)]


def listing_digest(path: str) -> str | None:
    """A digest of a folder's entry names (sorted); None when it cannot be listed."""
    try:
        names = sorted(os.listdir(path))
    except (OSError, ValueError):
        return None
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def text_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def ignored_folders(extra: list[str]) -> tuple[str, ...]:
    """Folders whose files are never a step's input: the Python installation and its packages
    (their versions are in the key), system pseudo-files, per-user caches, IPython's profile
    (its history database changes every run), and kalec's own run and cache folders."""
    folders = [*extra, "/dev", "/proc", "/sys"]
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
        self.active = False
        self.cwd = os.getcwd()
        self._local = threading.local()  # the hook's own file work must not record itself
        self._installed = False

    # --- installing ----------------------------------------------------------------------

    def install(self) -> None:
        """Hook in (once per process; an audit hook cannot be removed, ``stop`` silences it)."""
        if self._installed:
            return
        self._installed = True
        sys.addaudithook(self._hook)
        observer = self

        def observed_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            try:
                result = _REAL_STAT(path, *args, **kwargs)
            except OSError:
                if observer.active and not isinstance(path, int) and "dir_fd" not in kwargs:
                    observer._see(path, "exists", None)
                raise
            if observer.active and not isinstance(path, int) and "dir_fd" not in kwargs:
                observer._see(path, "stat", result)
            return result

        os.stat = observed_stat  # type: ignore[assignment]
        base = type(os.environ)

        class RecordingEnviron(base):  # type: ignore[valid-type, misc]
            """``os.environ`` that notes each name read while the step runs."""

            def __getitem__(self, key: str) -> str:
                try:
                    value = base.__getitem__(self, key)
                except KeyError:
                    observer._env(key, None)
                    raise
                observer._env(key, value)
                return value

            def __iter__(self) -> Any:
                if observer.active:
                    observer.env_listed = True
                return base.__iter__(self)

        current = os.environ
        os.environ = RecordingEnviron(  # noqa: B003 - the same data, read through a recorder
            current._data,  # type: ignore[attr-defined]
            current.encodekey,  # type: ignore[attr-defined]
            current.decodekey,  # type: ignore[attr-defined]
            current.encodevalue,  # type: ignore[attr-defined]
            current.decodevalue,  # type: ignore[attr-defined]
        )

    def start(self) -> None:
        self.cwd = os.getcwd()
        self.active = True

    def stop(self) -> None:
        self.active = False

    # --- recording -----------------------------------------------------------------------

    def _env(self, key: str, value: str | None) -> None:
        if self.active and key not in self.env and not key.startswith(_OWN_ENV):
            self.env[key] = None if value is None else text_digest(value)

    def _absolute(self, path: Any) -> str | None:
        try:
            text = os.fsdecode(os.fspath(path))
        except (TypeError, ValueError):
            return None
        if not text or "\0" in text:
            return None
        if not os.path.isabs(text):
            text = os.path.join(self.cwd, text)
        text = os.path.normpath(text)
        if (text + os.sep).startswith(self.ignored) or text.endswith(".pyc"):
            return None
        return text

    def _busy(self) -> bool:
        return getattr(self._local, "busy", False)

    def _see(self, raw: Any, use: str, status: os.stat_result | None | bool = False) -> None:
        """A look at a path: ``exists`` (only whether it is there and what it is), ``stat``,
        ``read`` or ``list``; ``status``: the stat the caller already has (False: none)."""
        if self._busy():
            return
        path = self._absolute(raw)
        if path is None:
            return
        entry = self.paths.get(path)
        if entry is None:
            if status is False:
                found = stat_of(path)
            elif status is None:
                found = None
            else:
                found = [
                    status.st_size,
                    status.st_mtime_ns,
                    status.st_ctime_ns,
                    status.st_ino,
                    _kind(status),
                ]
            entry = self.paths[path] = {"uses": [use], "stat": found}
        elif entry.get("created"):
            return  # the step made it: what it reads there is its own doing
        elif use not in entry["uses"]:
            entry["uses"].append(use)
        if use == "list" and "listing" not in entry and not entry.get("written"):
            self._local.busy = True
            try:
                entry["listing"] = listing_digest(path)
            finally:
                self._local.busy = False

    def _write(self, raw: Any, replaces: bool, use: str = "read") -> None:
        """The step writes ``raw``: ``replaces`` when what was there before does not matter
        (a new or truncated file); otherwise its earlier content counts as read."""
        if self._busy():
            return
        path = self._absolute(raw)
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

    def _digest_now(self, path: str) -> str | None:
        self._local.busy = True
        try:
            from kalec.runtime.marshal.digest import file_digest

            return file_digest(path) if os.path.isfile(path) else None
        except OSError:
            return None
        finally:
            self._local.busy = False

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "open":
            path, _, flags = args
            if isinstance(path, int) or flags is None:
                return
            if flags & _WRITING:
                self._write(path, bool(flags & (os.O_TRUNC | os.O_EXCL)))
            else:
                self._see(path, "read")
        elif event in ("os.listdir", "os.scandir"):
            path = args[0]
            if path is None:
                path = "."
            if not isinstance(path, int) and not _from_import_machinery():
                self._see(path, "list")
        elif event == "os.rename":
            source, target, source_fd, target_fd = args
            if source_fd in (None, -1) and target_fd in (None, -1):
                self._write(source, replaces=False)
                self._write(target, replaces=True)
        elif event in ("os.remove", "os.rmdir"):
            path, directory_fd = args
            if directory_fd in (None, -1):
                self._write(path, replaces=False, use="exists")
        elif event == "shutil.rmtree":
            self._write(args[0], replaces=False, use="exists")
        elif event == "os.mkdir":
            path, _, directory_fd = args
            if directory_fd in (None, -1):
                self._write(path, replaces=True)
        elif event == "os.chdir":
            with contextlib.suppress(TypeError, ValueError):
                target = os.fsdecode(os.fspath(args[0]))
                self.cwd = os.path.normpath(os.path.join(self.cwd, target))
        elif event == "sqlite3.connect":
            database = args[0]
            if isinstance(database, (str, bytes, os.PathLike)) and database not in (
                ":memory:",
                "",
            ):
                self._write(database, replaces=False)

    # --- the record ------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The record, as JSON data, for the runner."""
        modules = []
        for name, module in list(sys.modules.items()):
            top = name.partition(".")[0]
            if top in sys.stdlib_module_names or top in ("kalec", "__main__", "__mp_main__"):
                continue
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file:
                modules.append([name, os.path.abspath(file)])
        return {
            "paths": self.paths,
            "env": self.env,
            "env_listed": environment_digest() if self.env_listed else None,
            "modules": modules,
        }

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.report(), handle, ensure_ascii=False)


def environment_digest(environ: Any = None) -> str:
    """The digest ``report`` gives of the whole environment, for a later comparison."""
    environ = os.environ if environ is None else environ
    shown = sorted((k, v) for k, v in environ.items() if not k.startswith(_OWN_ENV))
    return text_digest(json.dumps(shown))


def _from_import_machinery() -> bool:
    """True when the listing is the import system's (a path entry scanned for modules), not the
    step's own: the notebook's folder is on ``sys.path`` and listed on every new import."""
    frame = sys._getframe(2)
    for _ in range(16):
        if frame is None:
            return False
        name = frame.f_code.co_filename
        if name.startswith("<frozen importlib") or any(m in name for m in _IMPORT_MACHINERY):
            return True
        frame = frame.f_back
    return False
