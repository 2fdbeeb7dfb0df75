"""numpy arrays as ``.npy``: numpy's own format, at the speed of the disk.

Large arrays load memory-mapped (copy-on-write), so a step that reads part of a big array pays
only for that part, and changes stay in the step. Subclasses (masked arrays, matrices) and
arrays of Python objects go through dill, which keeps them what they are.
"""

from __future__ import annotations

from typing import Any

from kalec.runtime.marshal.atomic import atomic_path
from kalec.runtime.marshal.core import loaders, save_dill, savers

MEMORY_MAP_FROM = 64 * 2**20  # bytes: smaller arrays are read at once


@savers.register("numpy.ndarray")
def save_numpy(obj: Any, path: str) -> str:
    import numpy

    if type(obj) is not numpy.ndarray or obj.dtype.hasobject:
        return save_dill(obj, path)
    final = path + ".npy"
    with atomic_path(final) as temporary, open(temporary, "wb") as handle:
        numpy.save(handle, obj, allow_pickle=False)
    return final


@loaders.register(r"\.npy$")
def load_numpy(uri: str) -> Any:
    import os

    import numpy

    if os.path.getsize(uri) >= MEMORY_MAP_FROM:
        return numpy.load(uri, mmap_mode="c", allow_pickle=False).view(numpy.ndarray)
    return numpy.load(uri, allow_pickle=False)
