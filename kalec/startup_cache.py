"""kalec's folder in the user's cache (``$XDG_CACHE_HOME/kalec``, else ``~/.cache/kalec``).

It holds what makes kalec start fast and is safe to rebuild: the tag parser's tables, the
meanings of tags met before, the methods compiled for the IR's dataclasses
(``compiled_dataclasses``), the runtime archive the script targets embed, the readings of
notebooks' code (``kalec.analysis.kept_readings``) (not to be confused with the step cache of
local runs, ``kalec.local.memory``). Files made one per input are a ``Family``, of which only
the newest are kept. Files there are loaded with pickle and marshal, so the folder is used only
when it belongs to the user and nobody else can write to it; otherwise kalec works without a
cache. ``KALEC_NO_STARTUP_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def folder() -> Path | None:
    """The cache folder, created if missing; None when there is none kalec can trust."""
    if os.environ.get("KALEC_NO_STARTUP_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "kalec"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to expand "~" to
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return path


def read(name: str) -> bytes | None:
    """The bytes kept under ``name``; None when there is no cache or no such entry."""
    cache = folder()
    if cache is None:
        return None
    try:
        return (cache / name).read_bytes()
    except OSError:
        return None


def stamps(paths: list[Path]) -> bytes:
    """Each file's path, size and modification time: what Python's own bytecode cache checks,
    so that finding an entry made from these files reads and hashes none of them."""
    lines = []
    for path in paths:
        info = path.stat()
        lines.append(f"{path}\t{info.st_size}\t{info.st_mtime_ns}")
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def made_from(
    name: str, paths: list[Path], make: Callable[[], bytes], family: Family | None = None
) -> bytes:
    """The bytes ``make()`` gives, kept under ``name`` for as long as ``paths`` are unchanged
    (``stamps``); without a cache, or a file gone, made each time. ``family``: the files
    ``name`` is one of, of which only the newest are kept."""
    try:
        key = stamps(paths)
    except OSError:
        return make()
    kept = read(name)
    if kept is not None:
        header, separator, data = kept.partition(b"\0")
        if separator and header == key:
            return data
    data = make()
    write(name, key + b"\0" + data, family)
    return data


def write(name: str, data: bytes, family: Family | None = None) -> None:
    """Keep ``data`` under ``name`` (nothing when there is no cache); with ``family``, forget
    the oldest of its files past its limit."""
    cache = folder()
    if cache is not None:
        write_atomically(cache / name, data)
        if family is not None:
            family.forget_oldest(cache)


class Family:
    """Files of the cache that one kind of entry makes, one per input (a notebook's readings,
    a set of local modules' archive, a kalec version's tag meanings): without a limit, every
    notebook in a temporary folder and every upgrade would leave one for good. (A plain
    class: this module is read before the dataclasses' compiled methods are.)"""

    __slots__ = ("keep", "prefix")

    def __init__(self, prefix: str, keep: int) -> None:
        self.prefix = prefix  # what their names start with
        self.keep = keep  # how many of them, the newest, stay

    def forget_oldest(self, cache: Path) -> None:
        with contextlib.suppress(OSError):
            files = [e for e in os.scandir(cache) if e.name.startswith(self.prefix)]
            if len(files) <= self.keep:
                return
            files.sort(key=lambda e: e.stat().st_mtime_ns)
            for entry in files[: len(files) - self.keep]:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


READINGS = Family("readings-", 256)  # kalec.analysis.kept_readings
ARCHIVES = Family("archive-", 64)  # the runtime with a notebook's local modules
TAG_MEANINGS = Family("tag-meanings-", 8)  # one per version of the tag language


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one; a
    failure (read-only, full disk) leaves no file and is ignored: the cache is optional."""
    import tempfile

    with contextlib.suppress(OSError):
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except OSError:
            os.unlink(temporary)


_DATACLASS_CODE = "dataclass-methods-{tag}{purpose}.marshal"


@contextlib.contextmanager
def compiled_dataclasses(purpose: str = "") -> Iterator[None]:
    """While active, a dataclass being defined takes the methods ``dataclasses`` generates for
    it from code compiled by an earlier run (kept here by Python version), instead of
    compiling their text again: the IR's two dozen frozen dataclasses cost a fifth of a small
    build's start to compile, and none of it to load. The methods are the same: the same text
    compiled the same way, run the same way. Only where ``dataclasses`` builds methods as
    CPython 3.10 to 3.12 do (``_create_fn``); elsewhere, and without a cache, nothing changes.
    ``purpose`` (a command's name) keeps the methods it defines apart from those of other
    commands, so that each loads only its own (loading them all took a third as long as
    compiling its own).
    """
    import dataclasses
    import marshal
    import sys

    create = getattr(dataclasses, "_create_fn", None)
    code = getattr(create, "__code__", None)
    if (
        code is None
        or code.co_varnames[:3] != ("name", "args", "body")
        or code.co_kwonlyargcount != 3
        or folder() is None
    ):
        yield
        return
    name = _DATACLASS_CODE.format(
        tag=sys.implementation.cache_tag, purpose=f"-{purpose}" if purpose else ""
    )
    try:
        known = marshal.loads(read(name) or marshal.dumps({}))
        if not isinstance(known, dict):
            known = {}
    except (ValueError, EOFError, TypeError):
        known = {}
    added: dict[str, Any] = {}

    def create_fn(
        fn_name, args, body, *, globals=None, locals=None, return_type=dataclasses.MISSING
    ):  # as dataclasses' own, but compiling each text once
        if locals is None:
            locals = {}
        return_annotation = ""
        if return_type is not dataclasses.MISSING:
            locals["_return_type"] = return_type
            return_annotation = "->_return_type"
        args = ",".join(args)
        body = "\n".join(f"  {b}" for b in body)
        text = f" def {fn_name}({args}){return_annotation}:\n{body}"
        text = f"def __create_fn__({', '.join(locals.keys())}):\n{text}\n return {fn_name}"
        compiled = known.get(text) or added.get(text)
        if compiled is None:
            compiled = added[text] = compile(text, "<string>", "exec", dont_inherit=True)
        namespace: dict[str, Any] = {}
        exec(compiled, globals, namespace)
        return namespace["__create_fn__"](**locals)

    dataclasses._create_fn = create_fn
    try:
        yield
    finally:
        dataclasses._create_fn = create
        if added and len(known) < 5000:  # bounded: texts of earlier versions are not dropped
            write(name, marshal.dumps({**known, **added}))
