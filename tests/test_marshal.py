"""The marshal: round trips, dispatch, user registration, atomic writes, unsaveable values."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import round_trip

from kalec.runtime.marshal import (
    PatternDispatcher,
    TypeDispatcher,
    UnserialisableError,
    loaders,
    resource_load,
    resource_save,
    savers,
)
from kalec.runtime.marshal.atomic import atomic_path


@pytest.mark.parametrize(
    "value", [1, 2.5, "text ✓", True, None, [1, [2, {"a": None}]], {"k": [1.5, "x"]}]
)
def test_plain_values_are_readable_json(value, tmp_path: Path) -> None:
    written, back = round_trip(value, tmp_path)
    assert written.endswith(".json")
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize(
    "value", [(1, 2), {1: "a"}, {"a", "b"}, float("nan"), b"bytes", 3 + 4j, [(1, 2)], {"k": (1,)}]
)
def test_values_json_would_change_keep_their_type(value, tmp_path: Path) -> None:
    written, back = round_trip(value, tmp_path)
    assert written.endswith(".dill")
    assert type(back) is type(value)
    if isinstance(value, float):  # nan equals nothing: compare how it prints
        assert repr(back) == repr(value)
    else:  # equal, not alike in print: a set's order follows its strings' hashes
        assert back == value


def test_numpy_arrays_keep_dtype_and_shape(tmp_path: Path) -> None:
    for array in [
        np.arange(12, dtype=np.int16).reshape(3, 4),
        np.zeros((2, 0)),
        np.array(["a", "bc"]),
        np.asfortranarray(np.ones((3, 2), dtype=np.float32)),
    ]:
        written, back = round_trip(array, tmp_path)
        assert written.endswith(".npy")
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


def test_numpy_subclasses_and_object_arrays_keep_their_class(tmp_path: Path) -> None:
    masked = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    _, back = round_trip(masked, tmp_path)
    assert type(back) is np.ma.MaskedArray and back.mask.tolist() == [False, True, False]
    _, back = round_trip(np.array([{"a": 1}, None], dtype=object), tmp_path)
    assert back[0] == {"a": 1}


def test_pandas_frames_keep_index_and_dtypes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "i": [1, 2],
            "f": [0.5, None],
            "s": ["x", "y"],
            "c": pd.Categorical(["u", "v"]),
            "t": pd.to_datetime(["2026-01-01", "2026-02-01"]),
        },
        index=pd.Index(["r1", "r2"], name="row"),
    )
    _, back = round_trip(frame, tmp_path)
    pd.testing.assert_frame_equal(back, frame)
    series = pd.Series([1, 2], index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]))
    _, back = round_trip(series, tmp_path)
    pd.testing.assert_series_equal(back, series)


def test_functions_lambdas_and_classes_travel_by_value(tmp_path: Path) -> None:
    namespace: dict = {"__name__": "__main__"}
    exec(
        "class P:\n    def __init__(self, v):\n        self.v = v\nsq = lambda x: x * x\n"
        "def twice(f, v):\n    return f(f(v))",
        namespace,
    )
    for name in ("P", "sq", "twice"):
        resource_save(namespace[name], tmp_path / name)
    sq, twice, klass = (resource_load(tmp_path / n) for n in ("sq", "twice", "P"))
    assert twice(sq, 3) == 81
    assert klass(5).v == 5


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: (i for i in range(3)), "a generator"),
        (lambda p: open(p / "f.txt", "w"), "an open file"),  # noqa: SIM115
        (lambda p: threading.Lock(), "a lock"),
        (lambda p: os, "a module"),
    ],
)
def test_unsaveable_values_say_what_they_are(make, kind, tmp_path: Path) -> None:
    with pytest.raises(UnserialisableError, match=kind):
        resource_save(make(tmp_path), tmp_path / "v")
    assert not list(tmp_path.glob("v.*"))


def test_saving_again_replaces_a_value_of_another_format(tmp_path: Path) -> None:
    resource_save([1], tmp_path / "v")
    resource_save(np.ones(2), tmp_path / "v")
    assert [p.name for p in tmp_path.glob("v.*")] == ["v.npy"]
    assert resource_load(tmp_path / "v").tolist() == [1.0, 1.0]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "value.bin") as temporary:
        Path(temporary).write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_user_registration_by_pattern_and_type(tmp_path: Path) -> None:
    class Celsius(float):
        pass

    @savers.register(Celsius)
    def save_celsius(obj, path):
        Path(path + ".celsius").write_text(str(float(obj)))
        return path + ".celsius"

    @loaders.register(r"\.celsius$")
    def load_celsius(uri):
        return Celsius(Path(uri).read_text())

    written, back = round_trip(Celsius(21.5), tmp_path)
    assert written.endswith(".celsius") and type(back) is Celsius and back == 21.5


def test_dispatchers_pick_the_most_specific_and_latest() -> None:
    by_type = TypeDispatcher("t")
    by_type.register(object)(lambda o: "object")
    by_type.register("numpy.*")(lambda o: "numpy glob")
    by_type.register(int)(lambda o: "int")
    assert by_type.dispatch(True) == "int"  # bool's base int beats object
    assert by_type.dispatch(np.float64(1)) == "numpy glob"
    assert by_type.dispatch("s") == "object"
    by_pattern = PatternDispatcher("p")
    by_pattern.register(r"\.npy$")(lambda uri: "first")
    by_pattern.register(r"\.npy$")(lambda uri: "override")
    assert by_pattern.dispatch("a.npy") == "override"
