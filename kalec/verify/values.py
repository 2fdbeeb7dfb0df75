"""Comparing a value the pipeline passed with the value the notebook had: by what it means, not
by how it happens to sit in memory.

Numbers, numpy arrays and pandas objects compare within a tolerance; containers element by
element; functions by their code; bound methods by function and object. Estimators (anything
with scikit-learn's ``get_params``) compare by their parameters and fitted attributes (public
names ending in ``_``). Objects whose class defines equality use it; where it says "not equal"
(some compare by address, as patsy's ``EvalEnvironment`` does) and where a class defines none,
their public state decides: attributes not starting with ``_``, which leaves out the caches,
identities (``id()`` values) and scratch memory that libraries keep privately and that differ
between any two runs. A comparison that cannot be made raises ``NotComparable``: "not compared",
with the reason, never "differs".
"""

from __future__ import annotations

import math
import types
from typing import Any

_DEPTH = 40


class NotComparable(Exception):
    """The two values cannot be compared; the message says why."""


def short(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(kind: type) -> str:
    """Classes the notebook defines are loaded anew on each side: equal by name."""
    return f"{kind.__module__}.{kind.__qualname__}"


def _both(a: Any, b: Any) -> str:
    return f"{short(a)} in the pipeline, {short(b)} in the notebook"


def compare(a: Any, b: Any, rtol: float, atol: float, depth: int = 0) -> str | None:
    """None when ``a`` (the pipeline's) equals ``b`` (the notebook's); else how they differ.
    Raises ``NotComparable`` when that cannot be told."""
    if depth > _DEPTH:
        return None if a is b else "nested too deeply to compare"
    if type(a) is not type(b) and _type_name(type(a)) != _type_name(type(b)):
        return f"a {type(a).__name__} in the pipeline, a {type(b).__name__} in the notebook"
    if isinstance(a, types.FunctionType):  # each side loaded its own copy: compare the code
        if not _same_code(a.__code__, b.__code__):
            return "another function body"
        return compare(
            (a.__defaults__, a.__kwdefaults__), (b.__defaults__, b.__kwdefaults__), rtol, atol
        )
    if isinstance(a, types.MethodType):
        found = compare(a.__func__, b.__func__, rtol, atol, depth + 1)
        return found or compare(a.__self__, b.__self__, rtol, atol, depth + 1)
    module = type(a).__module__.split(".")[0]
    if module == "numpy" and hasattr(a, "shape"):
        return _arrays(a, b, rtol, atol, depth)
    if module == "pandas":
        return _pandas(a, b, rtol, atol)
    if isinstance(a, float):
        if math.isnan(a) and math.isnan(b) or math.isclose(a, b, rel_tol=rtol, abs_tol=atol):
            return None
        return f"{a!r} in the pipeline, {b!r} in the notebook"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{len(a)} items in the pipeline, {len(b)} in the notebook"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = compare(x, y, rtol, atol, depth + 1)
            if found:
                return f"item {index}: {found}"
        return None
    if isinstance(a, dict):
        return _mappings(a, b, rtol, atol, depth)
    if isinstance(a, (set, frozenset)):
        return None if a == b else _both(a, b)
    if hasattr(a, "get_params") and callable(a.get_params):
        return _estimators(a, b, rtol, atol, depth)
    own_equality = type(a).__eq__ is not object.__eq__
    if own_equality:
        try:
            same = a == b
        except Exception:
            same = None
        if isinstance(same, bool) and same:
            return None
        if isinstance(same, bool) and not _public_state(a):
            return _both(a, b)  # a value type: its equality is what it means
    if _public_state(a) or _public_state(b) or hasattr(a, "__dict__"):
        found = _mappings(_public_state(a), _public_state(b), rtol, atol, depth)
        return None if found is None else f"attribute {found}"
    if own_equality:
        return _both(a, b)
    return _pickled(a, b)


def _public_state(value: Any) -> dict[str, Any]:
    """The attributes a person would look at: not ``_private``, not modules or functions."""
    try:
        state = vars(value)
    except TypeError:
        return {}
    return {
        k: v
        for k, v in state.items()
        if isinstance(k, str)
        and not k.startswith("_")
        and not isinstance(v, (types.ModuleType, types.FunctionType, types.MethodType))
    }


def _mappings(a: dict, b: dict, rtol: float, atol: float, depth: int) -> str | None:
    if a.keys() != b.keys():  # the order of keys, as for ==, does not matter
        missing = [k for k in b if k not in a][:3]
        extra = [k for k in a if k not in b][:3]
        return f"keys only in the notebook: {missing}, only in the pipeline: {extra}"
    for key in a:
        found = compare(a[key], b[key], rtol, atol, depth + 1)
        if found:
            return f"[{short(key, 30)}]: {found}"
    return None


def _estimators(a: Any, b: Any, rtol: float, atol: float, depth: int) -> str | None:
    """Parameters first, then what fitting learnt (public attributes ending in ``_``)."""
    try:
        params_a, params_b = a.get_params(deep=False), b.get_params(deep=False)
    except Exception as error:
        raise NotComparable(f"its get_params() failed: {error}") from None
    found = _mappings(params_a, params_b, rtol, atol, depth)
    if found:
        return f"parameter {found}"
    fitted_a = {k: v for k, v in _public_state(a).items() if k.endswith("_")}
    fitted_b = {k: v for k, v in _public_state(b).items() if k.endswith("_")}
    found = _mappings(fitted_a, fitted_b, rtol, atol, depth)
    return None if found is None else f"fitted attribute {found}"


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars) != (
        b.co_code,
        b.co_names,
        b.co_varnames,
        b.co_freevars,
    ) or len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or x != y and not (x != x and y != y):
            return False
    return True


def _arrays(a: Any, b: Any, rtol: float, atol: float, depth: int) -> str | None:
    import numpy

    if not isinstance(a, numpy.ndarray):  # a numpy scalar
        return compare(a.item(), b.item(), rtol, atol, depth + 1) if a.shape == () else None
    if a.shape != b.shape:
        return f"shape {a.shape} in the pipeline, {b.shape} in the notebook"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} in the pipeline, {b.dtype} in the notebook"
    if a.dtype.hasobject:
        for index, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
            found = compare(x, y, rtol, atol, depth + 1)
            if found:
                return f"element {index}: {found}"
        return None
    if a.dtype.kind in "fc":
        close = numpy.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = numpy.asarray(a == b)
    if bool(numpy.all(close)):
        return None
    where = tuple(int(i) for i in numpy.argwhere(~close)[0])
    return (
        f"{int((~close).sum())} of {a.size} elements differ; first at {where}: "
        f"{a[where]!r} in the pipeline, {b[where]!r} in the notebook"
    )


def _pandas(a: Any, b: Any, rtol: float, atol: float) -> str | None:
    import pandas.testing as testing

    check = {
        "DataFrame": testing.assert_frame_equal,
        "Series": testing.assert_series_equal,
    }.get(type(a).__name__)
    try:
        if check is not None:
            check(a, b, check_exact=False, rtol=rtol, atol=atol)
            return None
        if hasattr(a, "equals"):  # Index, Categorical, extension arrays
            return None if a.equals(b) else _both(a, b)
        same = a == b  # offsets, Timestamp, Timedelta, Period, Interval, dtypes
        if isinstance(same, bool):
            return None if same else _both(a, b)
        return None if repr(a) == repr(b) else _both(a, b)
    except AssertionError as error:
        return " ".join(str(error).split())[:200]
    except Exception as error:
        raise NotComparable(f"pandas could not compare them: {error}") from None


def _pickled(a: Any, b: Any) -> str | None:
    try:
        import dill

        same = dill.dumps(a) == dill.dumps(b)
    except Exception:
        raise NotComparable(
            f"a {type(a).__name__} has no equality, no attributes and cannot be pickled"
        ) from None
    return None if same else f"{_both(a, b)} (compared pickled)"
