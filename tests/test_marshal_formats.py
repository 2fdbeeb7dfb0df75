"""Round trips through each library's format: pandas through Arrow or pickle, large numpy
arrays memory-mapped, scikit-learn, PyTorch, XGBoost and Keras models, and values no format
can carry."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import round_trip

from kalec.runtime.marshal import (
    MarshalError,
    UnserialisableError,
    numpy_format,
    resource_load,
    resource_save,
)

ARROW_FRAMES = {
    "mixed": pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, np.nan, 2.0],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "t": pd.to_datetime(["2026-01-01", None, "2026-03-01"]),
            "d": pd.to_timedelta([1, 2, 3], unit="s"),
            "c": pd.Categorical(["x", "y", "x"]),
        }
    ),
    "nullable_and_tz": pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "z": pd.date_range("2026-01-01", periods=3, tz="Europe/Paris"),
        }
    ),
    "named_index": pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(["r1", "r2"], name="row")),
    "date_index": pd.DataFrame(
        {"v": [1, 2]}, index=pd.DatetimeIndex(["2026-01-01", "2026-01-02"], name="day")
    ),
    "empty": pd.DataFrame({"a": pd.Series([], dtype="int64")}),
}
PICKLE_FRAMES = {
    "objects": pd.DataFrame({"o": [{"k": 1}, [1, 2], "text"]}),
    "int_labels": pd.DataFrame({0: [1, 2], 1: [3, 4]}),
    "multi_columns": pd.DataFrame(
        [[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    ),
    "multi_index": pd.DataFrame(
        {"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])
    ),
    "complex": pd.DataFrame({"c": [1 + 2j, 3j]}),
}


@pytest.mark.parametrize("name", sorted(ARROW_FRAMES))
def test_frames_arrow_carries_exactly_go_through_arrow(name: str, tmp_path: Path) -> None:
    frame = ARROW_FRAMES[name]
    written, back = round_trip(frame, tmp_path)
    assert written.endswith(".arrow")
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


@pytest.mark.parametrize("name", sorted(PICKLE_FRAMES))
def test_other_frames_are_pickled_and_keep_everything(name: str, tmp_path: Path) -> None:
    frame = PICKLE_FRAMES[name]
    written, back = round_trip(frame, tmp_path)
    assert written.endswith(".pd.pkl")
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


NUMBER_FRAMES = {
    "floats": pd.DataFrame(np.arange(24.0).reshape(6, 4), columns=list("abcd")),
    "sized": pd.DataFrame(
        {
            "i8": np.arange(5, dtype="int8"),
            "u64": np.arange(5, dtype="uint64"),
            "f32": np.ones(5, dtype="float32"),
            "b": np.array([True, False, True, True, False]),
        }
    ),
    "named": pd.DataFrame({"a": [1.0, 2.0]}).rename_axis("cols", axis=1).rename_axis("rows"),
    "sliced": pd.DataFrame({"a": np.arange(10.0)}).iloc[3:9:2],
    "no_rows": pd.DataFrame({"a": np.array([], dtype="float64")}),
}


@pytest.mark.parametrize("name", sorted(NUMBER_FRAMES))
def test_frames_of_plain_numbers_load_batch_by_batch_as_pyarrow_would_make_them(
    name: str, tmp_path: Path, monkeypatch
) -> None:
    """A frame of plain numbers is read a batch at a time into its columns (never the file's
    data twice); what comes back is what pyarrow's own conversion makes, and writable."""
    import pyarrow

    from kalec.runtime.marshal import pandas_format

    monkeypatch.setattr(pandas_format, "BATCH_BYTES", 8)  # a batch a row, even here
    frame = NUMBER_FRAMES[name]
    written, back = round_trip(frame, tmp_path)
    with pyarrow.OSFile(written) as source:
        reader = pyarrow.ipc.open_file(source)
        assert reader.num_record_batches > 1 or len(frame) < 2
        assert pandas_format._numbers_by_batch(reader) is not None  # the batch path took it
        converted = reader.read_all().to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    pd.testing.assert_frame_equal(back, converted, check_exact=True)
    assert back.columns.dtype == converted.columns.dtype and back.index.equals(converted.index)
    if len(back):
        back.iloc[0, 0] = back.iloc[-1, 0]  # the step may change what it received
        back.loc[back.index[0], back.columns[0]] = back.iloc[-1, 0]


def test_a_frame_with_a_missing_value_is_not_read_as_plain_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({"f": [0.5, np.nan], "i": pd.array([1, None], dtype="Int64")})
    written, back = round_trip(frame, tmp_path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_frame_attrs_and_series_keep_their_details(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1]})
    frame.attrs["source"] = "sensor"
    _, back = round_trip(frame, tmp_path)
    assert back.attrs == {"source": "sensor"}
    series = pd.Series([1.5, 2.5], index=["x", "y"], name="s")
    _, back = round_trip(series, tmp_path)
    pd.testing.assert_series_equal(back, series)


def test_large_arrays_load_memory_mapped_as_plain_writable_arrays(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(numpy_format, "MEMORY_MAP_FROM", 1024)
    array = np.arange(10_000, dtype=np.float64)
    written, back = round_trip(array, tmp_path)
    assert type(back) is np.ndarray and np.array_equal(back, array)
    assert isinstance(back.base, np.memmap)  # mapped, not read in full
    back[0] = -1.0  # copy-on-write: the step may change it, the file stays as saved
    assert resource_load(written)[0] == 0.0


def test_scikit_learn_models(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.random.default_rng(0).normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    written, back = round_trip(model, tmp_path)
    assert written.endswith(".joblib")
    assert np.array_equal(back.predict_proba(x), model.predict_proba(x))


def test_torch_tensors_and_notebook_defined_modules(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")  # installed in CI from the CPU wheel
    tensor = torch.arange(6, dtype=torch.float16).reshape(2, 3)
    written, back = round_trip(tensor, tmp_path)
    assert written.endswith(".pt") and back.dtype == torch.float16 and torch.equal(back, tensor)
    namespace = {"__name__": "__main__", "torch": torch}
    exec(
        "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.layer = torch.nn.Linear(3, 1)\n    def forward(self, x):\n"
        "        return self.layer(x) * 2\nnet = Net()",
        namespace,
    )
    _, back = round_trip(namespace["net"], tmp_path)
    probe = torch.ones(1, 3)
    assert torch.equal(back(probe), namespace["net"](probe))


def test_xgboost_boosters_and_estimators(tmp_path: Path) -> None:
    xgboost = pytest.importorskip("xgboost")
    x = np.random.default_rng(1).normal(size=(50, 4))
    y = (x[:, 1] > 0).astype(int)
    classifier = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    written, back = round_trip(classifier, tmp_path)
    assert written.endswith(".XGBClassifier.xgbmodel.json") and type(back) is xgboost.XGBClassifier
    assert np.array_equal(back.predict(x), classifier.predict(x))
    booster = classifier.get_booster()
    written, back = round_trip(booster, tmp_path)
    assert written.endswith(".xgb.json")
    matrix = xgboost.DMatrix(x)
    assert np.array_equal(back.predict(matrix), booster.predict(matrix))


def _keras_backend() -> str | None:
    """A backend Keras 3 can run on here: whichever of them is installed."""
    import importlib.util

    return next(
        (name for name in ("torch", "jax", "tensorflow") if importlib.util.find_spec(name)), None
    )


def test_keras_models(tmp_path: Path, monkeypatch) -> None:
    backend = _keras_backend()
    if backend is None:
        pytest.skip("Keras 3 needs PyTorch, JAX or TensorFlow, and none is installed")
    monkeypatch.setenv("KERAS_BACKEND", backend)
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    written, back = round_trip(model, tmp_path)
    assert written.endswith(".keras")
    probe = np.ones((1, 3))
    assert np.allclose(back.predict(probe, verbose=0), model.predict(probe, verbose=0))


def test_sockets_and_database_connections_say_what_they_are(tmp_path: Path) -> None:
    with socket.socket() as sock, pytest.raises(UnserialisableError, match="a socket"):
        resource_save(sock, tmp_path / "v")
    connection = sqlite3.connect(":memory:")
    with pytest.raises(UnserialisableError, match="a database connection"):
        resource_save(connection, tmp_path / "v")
    connection.close()


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)


def test_seed_style_registration_replaces_kalecs_own_functions(tmp_path: Path) -> None:
    """As the seed documents it: a `.npy` loader registered by pattern, a `numpy.*` saver by
    type. Run in a fresh interpreter so the registrations stay out of the other tests."""
    done = _python(
        "import numpy as np\n"
        "from kalec.runtime.marshal import loaders, resource_load, resource_save, savers\n"
        "@savers.register('numpy.*')\n"
        "def save(obj, path):\n"
        "    np.save(path + '.npy', obj * 10)\n"
        "    return path + '.npy'\n"
        "@loaders.register(r'.*\\.npy')\n"
        "def load(uri):\n"
        "    return np.load(uri) + 1\n"
        "resource_save(np.arange(3), 'v')\n"
        "print(resource_load('v').tolist())\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 11, 21]"


def test_optional_libraries_load_only_for_their_values(tmp_path: Path) -> None:
    done = _python(
        "import sys\n"
        "from kalec.runtime.marshal import resource_load, resource_save\n"
        "resource_save({'a': [1, 2]}, 'v'); resource_load('v')\n"
        "resource_save((1, 2), 'w'); resource_load('w')\n"
        "heavy = ['numpy', 'pandas', 'pyarrow', 'sklearn', 'torch', 'keras', 'xgboost', 'joblib']\n"
        "print([m for m in heavy if m in sys.modules])\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_step_killed_while_saving_leaves_no_value_to_read(tmp_path: Path) -> None:
    """Killed mid-write (800 MB take a while to write), a value is either absent or whole."""
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import numpy as np, sys\n"
            "from kalec.runtime.marshal import resource_save\n"
            "a = np.ones(800 * 10**6 // 8)\n"
            "print('saving', flush=True)\n"
            "resource_save(a, 'big')\n",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "saving"
    time.sleep(0.02)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    if (tmp_path / "big.npy").exists():  # the write won the race: then it is complete
        assert resource_load(tmp_path / "big").shape == (100_000_000,)
    else:
        with pytest.raises(MarshalError, match="no saved value"):
            resource_load(tmp_path / "big")
        assert list(tmp_path.glob(".kalec-tmp-*"))  # what was killed is only a temporary file
