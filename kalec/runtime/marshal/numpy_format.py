"""numpy arrays as ``.npy``: numpy's own format, at the speed of the disk.

Large arrays load memory-mapped (copy-on-write), so a step that reads part of a big array pays
only for that part, and changes stay in the step. Subclasses (masked arrays, matrices) and
arrays of Python objects go through dill, which keeps them what they are.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from kalec.runtime.marshal.atomic import atomic_path
from kalec.runtime.marshal.core import loaders, save_dill, savers
from kalec.runtime.marshal.digest import digesting, new_hash, record

MEMORY_MAP_FROM = 64 * 2**20  # bytes: smaller arrays are read at once


@savers.register("numpy.ndarray")
def save_numpy(obj: Any, path: str) -> str:
    import numpy

    if type(obj) is not numpy.ndarray or obj.dtype.hasobject:
        return save_dill(obj, path)
    final = path + ".npy"
    if _save_contiguous(numpy, obj, final):
        return final
    with (
        atomic_path(final) as temporary,
        open(temporary, "wb") as handle,
        digesting(handle, final) as writer,
    ):
        numpy.save(writer, obj, allow_pickle=False)
    return final


@loaders.register(r"\.npy$")
def load_numpy(uri: str) -> Any:
    import os

    import numpy

    if os.path.getsize(uri) >= MEMORY_MAP_FROM:
        return numpy.load(uri, mmap_mode="c", allow_pickle=False).view(numpy.ndarray)
    return numpy.load(uri, allow_pickle=False)


def _save_contiguous(numpy: Any, obj: Any, final: str) -> bool:
    """Save a contiguous array as ``numpy.save`` would (the same bytes), hashing its memory in a
    helper thread while ``tofile`` writes it: the digest adds almost nothing to the write.
    False (nothing written) for arrays whose memory cannot be read as bytes."""
    from numpy.lib import format as npy

    data = obj if obj.flags.c_contiguous else obj.T if obj.flags.f_contiguous else None
    if data is None:
        return False
    try:
        memory = memoryview(data).cast("B")
        header = io.BytesIO()
        npy.write_array_header_1_0(header, npy.header_data_from_array_1_0(obj))
    except (TypeError, ValueError):  # datetimes, huge structured headers: numpy.save's way
        return False
    digest = new_hash()
    digest.update(header.getvalue())
    hasher = threading.Thread(target=digest.update, args=(memory,), daemon=True)
    try:
        with atomic_path(final) as temporary, open(temporary, "wb") as handle:
            hasher.start()
            handle.write(header.getvalue())
            data.tofile(handle)
    finally:
        if hasher.ident is not None:  # started: its reads of the array must end first
            hasher.join()
    record(final, digest.hexdigest())
    return True
