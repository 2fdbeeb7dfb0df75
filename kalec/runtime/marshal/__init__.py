"""Values between steps: ``resource_save``/``resource_load`` and the dispatchers behind them.

Register your own format the way kalec registers its own::

    from kalec.runtime.marshal import loaders, savers

    @savers.register("mylib.Model")      # a type, a dotted type name, or a glob of one
    def save_model(obj, path):
        obj.write(path + ".mdl")
        return path + ".mdl"

    @loaders.register(r"\\.mdl$")         # a regular expression on the file name
    def load_model(uri):
        return mylib.Model.read(uri)
"""

# the library formats register themselves on import, after the fallbacks of core
from kalec.runtime.marshal import ml_formats, numpy_format, pandas_format  # noqa: F401
from kalec.runtime.marshal.core import (
    MarshalError,
    UnserialisableError,
    loaders,
    resource_load,
    resource_save,
    resource_save_digest,
    savers,
)
from kalec.runtime.marshal.dispatchers import DispatchError, PatternDispatcher, TypeDispatcher

__all__ = [
    "DispatchError",
    "MarshalError",
    "PatternDispatcher",
    "TypeDispatcher",
    "UnserialisableError",
    "loaders",
    "resource_load",
    "resource_save",
    "resource_save_digest",
    "savers",
]
