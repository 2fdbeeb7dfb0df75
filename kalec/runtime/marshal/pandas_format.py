"""pandas frames in Arrow's columnar format when it carries them exactly, else pickle.

Arrow IPC files are written with pyarrow and read back memory-mapped: measured here on a
1,000,000-row frame of mixed types, faster than both pickle and Parquet. Arrow is used only for
frames it gives back identical: string column names, and columns of numbers, booleans, strings,
dates, durations or categories. Anything else (Python objects in a column, multi-level column
labels, ``attrs``, subclasses, Series) is pickled, which keeps it as it was; without pyarrow,
everything is.
"""

from __future__ import annotations

import importlib.util
import pickle
from typing import Any

from kalec.runtime.marshal.atomic import atomic_path
from kalec.runtime.marshal.core import loaders, save_dill, savers
from kalec.runtime.marshal.digest import digesting

_ARROW_KINDS = set(
    "biufcmM"
)  # numpy kinds: bool, ints, unsigned, float, complex?, timedelta, datetime


def _arrow_exact(frame: Any) -> bool:
    import pandas

    if type(frame) is not pandas.DataFrame or frame.attrs or not frame.columns.is_unique:
        return False
    if isinstance(frame.columns, pandas.MultiIndex) or not all(
        isinstance(c, str) for c in frame.columns
    ):
        return False
    if not isinstance(frame.index, pandas.RangeIndex) and not _arrow_column(frame.index.dtype):
        return False
    return all(_arrow_column(dtype) for dtype in frame.dtypes)


def _arrow_column(dtype: Any) -> bool:
    import pandas

    if isinstance(dtype, pandas.CategoricalDtype):
        return _arrow_column(dtype.categories.dtype)
    if isinstance(dtype, (pandas.StringDtype, pandas.ArrowDtype)):
        return True
    if isinstance(dtype, pandas.api.extensions.ExtensionDtype):
        return dtype.kind in "biuf" or isinstance(dtype, pandas.DatetimeTZDtype)
    return dtype.kind in _ARROW_KINDS and dtype.kind != "c"


@savers.register("pandas.*")
def save_pandas(obj: Any, path: str) -> str:
    if importlib.util.find_spec("pyarrow") is not None and _arrow_exact(obj):
        import pyarrow

        table = pyarrow.Table.from_pandas(obj, preserve_index=None)
        final = path + ".arrow"
        with (
            atomic_path(final) as temporary,
            pyarrow.OSFile(temporary, "wb") as sink,
            pyarrow.ipc.new_file(sink, table.schema) as writer,
        ):
            writer.write_table(table)
        return final
    final = path + ".pd.pkl"
    try:
        with (
            atomic_path(final) as temporary,
            open(temporary, "wb") as handle,
            digesting(handle, final) as writer,
        ):
            pickle.dump(obj, writer, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError):
        return save_dill(obj, path)  # holds objects of classes defined in the notebook
    return final


@loaders.register(r"\.arrow$")
def load_arrow(uri: str) -> Any:
    import pyarrow

    with pyarrow.memory_map(uri) as source:
        return pyarrow.ipc.open_file(source).read_all().to_pandas()


@loaders.register(r"\.pd\.pkl$")
def load_pandas_pickle(uri: str) -> Any:
    with open(uri, "rb") as handle:
        return pickle.load(handle)
