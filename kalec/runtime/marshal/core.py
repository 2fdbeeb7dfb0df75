"""Saving a value to a file and loading it back, the type of the value choosing the format.

``resource_save(obj, path)`` writes ``path`` plus the extension of the chosen format and returns
that file's path; ``resource_load(uri)`` takes that file's path, or the same ``path`` without
extension, and picks the loader by the file name. Every write is atomic.

Here: plain JSON values (exactly ``dict`` with ``str`` keys, ``list``, ``str``, ``int``,
``float``, ``bool``, ``None``, nested) as readable ``.json``, and everything else through dill
(``.dill``), which also carries functions, lambdas and classes defined in the notebook. The
library formats (numpy, pandas, scikit-learn, PyTorch, Keras, XGBoost) register themselves from
their own modules, and win over these for their types.
"""

from __future__ import annotations

import glob
import io
import json
import math
import os
import pickle
import types
from typing import Any

from kalec.runtime.marshal.atomic import TEMPORARY_PREFIX, atomic_path
from kalec.runtime.marshal.digest import digesting, saved_digest
from kalec.runtime.marshal.dispatchers import PatternDispatcher, TypeDispatcher, type_name

savers = TypeDispatcher("saver")
loaders = PatternDispatcher("loader")


class MarshalError(Exception):
    """A value cannot be saved or loaded; the message says why and what to do."""


class UnserialisableError(MarshalError):
    """A kind of value that no format can carry to another process."""


# Values no serialiser can carry, and what they are in words.
def _unserialisable_kind(obj: Any) -> str | None:
    if isinstance(obj, types.GeneratorType):
        return "a generator"
    if isinstance(obj, (types.CoroutineType, types.AsyncGeneratorType)):
        return "a coroutine"
    if isinstance(obj, io.IOBase):
        return "an open file"
    if isinstance(obj, types.ModuleType):
        return "a module"
    name = type_name(type(obj))
    if name in ("_thread.lock", "_thread.RLock", "threading.Condition", "threading.Semaphore"):
        return "a lock"
    if name.startswith("socket.") or name == "ssl.SSLSocket":
        return "a socket"
    if name == "sqlite3.Connection" or name.endswith(".Connection") and "sql" in name.lower():
        return "a database connection"
    return None


def resource_save(obj: Any, path: str | os.PathLike[str]) -> str:
    """Save ``obj`` as ``path`` + the extension of its format; return the file written."""
    kind = _unserialisable_kind(obj)
    if kind:
        raise UnserialisableError(f"it is {kind} ({type_name(type(obj))}), which cannot be saved")
    path = os.fspath(path)
    for stale in _files_for(path):  # a value saved before under another format
        os.unlink(stale)
    return savers.dispatch(obj, path)


def resource_save_digest(obj: Any, path: str | os.PathLike[str]) -> tuple[str, str]:
    """``resource_save``, and the SHA-256 of the file written (computed while writing it where
    the format writes through a file handle): what the step cache and ``verify`` compare."""
    final = resource_save(obj, path)
    return final, saved_digest(final)


def _files_for(path: str) -> list[str]:
    return [
        f
        for f in glob.glob(glob.escape(path) + ".*")
        if not os.path.basename(f).startswith(TEMPORARY_PREFIX)
    ]


def resource_load(uri: str | os.PathLike[str]) -> Any:
    """Load a value saved by ``resource_save``, from its file or from the path it was given."""
    uri = os.fspath(uri)
    if not os.path.isfile(uri) and not os.path.isdir(uri):
        found = _files_for(uri)
        if len(found) != 1:
            what = "no saved value" if not found else f"{len(found)} saved values"
            raise MarshalError(f"{what} at {uri}")
        uri = found[0]
    return loaders.dispatch(uri)


# --- plain values: readable JSON, only where it gives back exactly the same value -------------


def _exactly_json(value: Any, depth: int = 0) -> bool:
    if depth > 100:
        return False
    kind = type(value)
    if value is None or kind in (str, int, bool):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_exactly_json(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _exactly_json(v, depth + 1) for k, v in value.items())
    return False


# --- the fallback, registered first so that every other saver wins over it --------------------


@savers.register(object)
def save_dill(obj: Any, path: str) -> str:
    if _exactly_json(obj):
        return save_json(obj, path)
    import dill

    final = path + ".dill"
    with (
        atomic_path(final) as temporary,
        open(temporary, "wb") as handle,
        digesting(handle, final) as writer,
    ):
        try:
            dill.dump(obj, writer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            raise UnserialisableError(
                f"it is a {type_name(type(obj))}, which dill cannot save: {error}"
            ) from error
    return final


@loaders.register(r"\.dill$")
def _load_dill(uri: str) -> Any:
    import dill

    with open(uri, "rb") as handle:
        return dill.load(handle)


def save_json(obj: Any, path: str) -> str:
    final = path + ".json"
    with atomic_path(final) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, ensure_ascii=False)
    return final


@loaders.register(r"\.json$")
def _load_json(uri: str) -> Any:
    with open(uri, encoding="utf-8") as handle:
        return json.load(handle)
