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
runner.

Child processes and native code that opens files itself are seen at the system-call level by
the step's parent process (``syscalls``), which records into an ``Observer`` of its own; the two
records are merged (``merge``) into one. A channel that cannot be observed is recorded as
``unseen``, and the runner does not reuse the step. The network and the clock are not seen:
see the README.

A path the step found missing and then made is its product, not its input, when the look was
made by library code on the way to the write (``os.makedirs``, ``savefig``): the step's own
code asking ``os.path.exists(p)`` may branch on the answer, so that look stays an input.
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
import time
from dataclasses import replace
from typing import Any

from kalec.runtime import file_hooks
from kalec.runtime.protocol import Observation, PathSeen, UnseenChannel

# Environment variables kalec sets for every step: never a reason to run one again.
_OWN_ENV = ("KALEC_", "PYTHONUNBUFFERED", "MPLBACKEND", "PYTHONPATH")
# A shell's bookkeeping, different for every command it starts: never what a step computes from.
_SHELL_ONLY = frozenset({"_", "OLDPWD", "SHLVL"})
# Stdlib modules that only answer questions about a path (``os.path.exists``, ``Path.is_dir``):
# a look made through them is the caller's.
_QUERY_HELPERS = (
    "genericpath.py", "posixpath.py", "ntpath.py", "pathlib.py", "<frozen genericpath>",
    "<frozen posixpath>", "<frozen ntpath>",
)  # fmt: skip
# What every program reads and no step makes: the system's programs, libraries and settings.
SYSTEM_FOLDERS = (
    "/usr/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/bin/", "/sbin/", "/etc/", "/run/",
    "/var/lib/", "/var/cache/", "/snap/", "/nix/store/",
)  # fmt: skip


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


def environment_digests(environ: Any = None) -> dict[str, str]:
    """Each environment variable's digest (kalec's own variables left out): what the runner
    gives a step, against which what the step read of it is kept."""
    environ = os.environ if environ is None else environ
    return {
        k: text_digest(v)
        for k, v in environ.items()
        if not k.startswith(_OWN_ENV) and k not in _SHELL_ONLY
    }


def environment_digest(digests: dict[str, str]) -> str:
    """One digest of a whole environment, from ``environment_digests``."""
    return text_digest(json.dumps(sorted(digests.items())))


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


def _made(t: int | None = None) -> PathSeen:
    """What is known of a path the step made (created, or replaced without reading it)."""
    return PathSeen(created=True, written=True, t=t or time.monotonic_ns())


def _only_looked_on_the_way(seen: PathSeen) -> bool:
    """True when all the step did with the path before replacing it was a library's look
    (whether it is there, its size): on the way to a write, not a read the result could
    depend on."""
    return bool(seen.uses) and set(seen.uses) <= {"exists", "stat"} and not seen.own


@functools.cache
def _kalec_folder() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@functools.cache
def _system_folders() -> tuple[str, ...]:
    """The system's folders, and the Python installation's whole prefix, unless the notebook
    lies inside one of them (then only what is not its folder)."""
    here = os.getcwd() + os.sep
    prefixes = {
        os.path.normpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)
    }
    return tuple(f for f in (*SYSTEM_FOLDERS, *sorted(prefixes)) if not here.startswith(f))


def warm() -> None:
    """Work out the folders never recorded, once, in the fork server: its steps and their
    supervising parents need not each do it again (a few milliseconds a step)."""
    _installation()
    _system_folders()
    _kalec_folder()


def merge(first: Observation, second: Observation) -> Observation:
    """One record of two made while the same step ran: the step's own (Python's file functions)
    and its system-call observer's (child processes, native code). A path both saw is taken
    from the one that saw it first (its first look decides what the step learnt); what the
    later one adds (a write, another use) is added."""
    paths = dict(first.paths)
    for path, theirs in second.paths.items():
        ours = paths.get(path)
        paths[path] = theirs if ours is None else _merged(ours, theirs)
    return Observation(
        paths=paths,
        env={**second.env, **first.env},
        env_all=first.env_all or second.env_all,
        modules=first.modules,
        unseen=[*first.unseen, *second.unseen],
        programs=[*first.programs, *second.programs],
    )


def _merged(a: PathSeen, b: PathSeen) -> PathSeen:
    early, late = (a, b) if a.t <= b.t else (b, a)
    if early.created:
        if early.appended and late.written and not late.appended:
            return replace(late)  # appended, then written over: the write decides
        return replace(early)
    merged = replace(early, uses=list(dict.fromkeys([*early.uses, *late.uses])))
    if late.written and not early.written:
        if late.created and _only_looked_on_the_way(early):
            return _made(early.t)
        merged.written = True
        if late.prior_seen:
            merged.prior_seen, merged.prior = True, late.prior
            merged.before_write = late.before_write
        elif late.created:  # made over what was there: no earlier content to keep
            merged.prior_seen, merged.prior, merged.before_write = True, None, None
    if not merged.listed and late.listed:
        merged.listed, merged.listing = True, late.listing
    return merged


class Observer:
    """Records what the code run between ``start()`` and ``stop()`` touches."""

    def __init__(
        self, ignore: list[str], system: bool = False, given: dict[str, str] | None = None
    ) -> None:
        """``ignore``: kalec's own folders; ``system``: also the system's (for child processes,
        which read their programs and libraries there); ``given``: the environment the runner
        gave the step (``environment_digests``; None: this process's own). A variable is kept
        as the runner gave it: modules imported before the step (the fork server's) may have
        set some (scikit-learn sets ``KMP_DUPLICATE_LIB_OK``), the same way every time."""
        self.ignored = ignored_folders(ignore) + (_system_folders() if system else ())
        self.paths: dict[str, PathSeen] = {}
        self.env: dict[str, str | None] = {}  # name -> digest of the value first read
        self.env_set: set[str] = set()  # names the step set before reading them
        self.env_listed = False  # the whole environment was read (iterated, copied)
        self.given = environment_digests() if given is None else given
        self.env_received = environment_digest(self.given)  # the environment the step was given
        self.unseen: list[UnseenChannel] = []  # channels used that could not be observed
        self.programs: list[str] = []  # what child processes ran, for messages
        self.cells: dict[str, int] = {}  # code file name -> notebook cell (``step._Cells``)
        self._local = threading.local()  # the observer's own file work records nothing

    def start(self) -> None:
        file_hooks.activate(self)

    def stop(self) -> None:
        file_hooks.deactivate(self)

    # --- recording -----------------------------------------------------------------------

    def env_read(self, key: str, value: str | None) -> None:
        if key not in self.env and key not in self.env_set and not key.startswith(_OWN_ENV):
            self.env[key] = self.given.get(key)

    def env_changed(self, key: str) -> None:
        """The step set or removed ``key``: what it reads there afterwards is its own doing."""
        if key not in self.env:
            self.env_set.add(key)

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
        seen = self.paths.get(path)
        if seen is None:
            if status is False:
                found = stat_of(path)
            else:
                found = None if status is None else _stat_list(status)  # type: ignore[arg-type]
            seen = self.paths[path] = PathSeen([use], found, time.monotonic_ns())
            if use in ("exists", "stat") and self._asked_by_own_code():
                seen.own = True
        elif seen.created:
            return  # the step made it: what it reads there is its own doing
        elif use not in seen.uses:
            seen.uses.append(use)
        if use == "list" and not seen.listed and not seen.written:
            seen.listed, seen.listing = True, listing_digest(path)

    def wrote(self, raw: Any, replaces: bool, use: str = "read") -> None:
        """The step writes ``raw``: ``replaces`` when what was there before does not matter
        (a new or truncated file); otherwise its earlier content counts as read."""
        path = self._path(raw)
        if path is None:
            return
        seen = self.paths.get(path)
        if seen is None:
            if replaces:
                self.paths[path] = _made()
                return
            seen = self.paths[path] = PathSeen([use], stat_of(path), time.monotonic_ns())
        if seen.written:
            return
        if replaces and _only_looked_on_the_way(seen):
            self.paths[path] = _made(seen.t)  # library code looked before writing
            return
        seen.written = True
        if not seen.created and use != "exists":
            # what the step saw, kept before this write changes it
            seen.before_write = stat_of(path)
            seen.prior_seen, seen.prior = True, self._digest_now(path)

    def appended(self, raw: Any) -> None:
        """Opened only to append (a log file, often from the prelude, so in every step): the
        step cannot read through it, so its earlier content is no input. What it appends is a
        side effect a cached step does not repeat, as a cached build does not print again."""
        path = self._path(raw)
        if path is not None and path not in self.paths:
            self.paths[path] = PathSeen(created=True, appended=True, t=time.monotonic_ns())

    def ran(self, program: str, argv: list[str]) -> None:
        """A child process started ``program`` (seen by the system-call observer)."""
        self.env_listed = True  # it got the whole environment
        text = " ".join(argv) or program
        if len(self.programs) < 20 and text not in self.programs:
            self.programs.append(text)

    def cannot_see(self, kind: str, detail: str, why: str, cell: int | None = None) -> None:
        """The step reached files through a channel that could not be observed: ``kind`` (a
        child process, native code), ``detail`` (the command or call), ``why`` not seen."""
        if len(self.unseen) < 20:
            line = None
            if cell is None:
                cell, line = self._place()
            self.unseen.append(UnseenChannel(kind, detail, why, cell, line))

    def _frames(self) -> Any:
        frame = sys._getframe(2)
        while frame is not None:
            yield frame
            frame = frame.f_back

    def _place(self) -> tuple[int | None, int | None]:
        """The notebook cell and line of the innermost cell frame calling now."""
        for frame in self._frames():
            cell = self.cells.get(frame.f_code.co_filename)
            if cell is not None:
                return cell, frame.f_lineno
        return None, None

    def _asked_by_own_code(self) -> bool:
        """True when the look comes from the notebook's code (a cell, or a module of the user's
        own) rather than from a library on its way somewhere: the first frame that is not
        kalec's and not a stdlib helper that only answers questions about paths."""
        kalec = _kalec_folder()
        for frame in self._frames():
            name = frame.f_code.co_filename
            if name.startswith(kalec) or name.endswith(_QUERY_HELPERS) or "/pathlib/" in name:
                continue
            return not (name.startswith(_installation()) or name.startswith("<frozen"))
        return False

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

    def report(self, with_modules: bool = True) -> Observation:
        """The record, for the runner. Of a package installed with Python (whose version the
        runner checks) one module is enough; every file of the others counts."""
        modules = []
        installed: set[str] = set()
        for name, module in list(sys.modules.items()) if with_modules else ():
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
                modules.append((name, file))
        return Observation(
            paths=self.paths,
            env=self.env,
            env_all=self.env_received if self.env_listed else None,
            modules=modules,
            unseen=self.unseen,
            programs=self.programs,
        )

    def write(self, path: str) -> None:
        write_record(path, self.report())


def write_record(path: str, record: Observation) -> None:
    """Write a record whole (a temporary file renamed into place), past the wrappers."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with file_hooks.REAL["open"](temporary, "w", encoding="utf-8") as handle:
        json.dump(record.as_json(), handle, ensure_ascii=False)
    file_hooks.REAL["replace"](temporary, path)
