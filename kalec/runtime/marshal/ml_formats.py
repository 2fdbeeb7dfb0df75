"""Models and tensors in their libraries' own formats: scikit-learn, PyTorch, Keras, XGBoost.

Each library is imported only when a value of its type is saved or a file of its format is
loaded. Where a library's format needs the value's class to be importable (PyTorch modules,
pickled scikit-learn estimators), dill does the pickling, so classes defined in the notebook
travel with the value.
"""

from __future__ import annotations

import sys
from typing import Any

from kalec.runtime.marshal.atomic import atomic_path
from kalec.runtime.marshal.core import loaders, savers

# --- scikit-learn: joblib, which stores the large numpy arrays of a model efficiently ---------


@savers.register("sklearn.*")
def save_sklearn(obj: Any, path: str) -> str:
    import joblib

    final = path + ".joblib"
    with atomic_path(final) as temporary:
        joblib.dump(obj, temporary)
    return final


@loaders.register(r"\.joblib$")
def load_sklearn(uri: str) -> Any:
    import joblib

    return joblib.load(uri)


# --- PyTorch: torch.save; tensors and modules on a GPU move to the CPU to travel ---------------


def _to_cpu(obj: Any) -> Any:
    import torch

    device = getattr(obj, "device", None)
    if isinstance(obj, torch.nn.Module):
        devices = {p.device.type for p in obj.parameters()} | {b.device.type for b in obj.buffers()}
        if devices - {"cpu"}:
            print(
                "kalec: moving a torch module to the CPU to pass it to the next step",
                file=sys.stderr,
            )
            return obj.to("cpu")
    elif device is not None and device.type != "cpu":
        print(
            f"kalec: moving a tensor from {device} to the CPU to pass it to the next step",
            file=sys.stderr,
        )
        return obj.to("cpu")
    return obj


@savers.register("torch.Tensor")
@savers.register("torch.nn.modules.module.Module")
@savers.register("torch.nn.parameter.Parameter")
def save_torch(obj: Any, path: str) -> str:
    import dill
    import torch

    final = path + ".pt"
    with atomic_path(final) as temporary, open(temporary, "wb") as handle:
        torch.save(_to_cpu(obj), handle, pickle_module=dill)
    return final


@loaders.register(r"\.pt$")
def load_torch(uri: str) -> Any:
    import dill
    import torch

    return torch.load(uri, pickle_module=dill, weights_only=False, map_location="cpu")


# --- Keras: its own .keras format --------------------------------------------------------------


@savers.register("keras.*Model")
@savers.register("keras.src.*Model")
@savers.register("keras.src.models.*")
@savers.register("tf_keras.*Model")
def save_keras(obj: Any, path: str) -> str:
    final = path + ".keras"
    with atomic_path(final, suffix=".keras") as temporary:  # Keras insists on the file ending
        obj.save(temporary)
    return final


@loaders.register(r"\.keras$")
def load_keras(uri: str) -> Any:
    import keras

    return keras.models.load_model(uri)


# --- XGBoost: its own JSON model format ----------------------------------------------------------


@savers.register("xgboost.core.Booster")
def save_xgboost_booster(obj: Any, path: str) -> str:
    final = path + ".xgb.json"
    with atomic_path(final, suffix=".json") as temporary:  # the ending picks xgboost's format
        obj.save_model(temporary)
    return final


@loaders.register(r"\.xgb\.json$")
def load_xgboost_booster(uri: str) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(uri)
    return booster


@savers.register("xgboost.sklearn.*")
def save_xgboost_estimator(obj: Any, path: str) -> str:
    """Estimators of xgboost's scikit-learn interface: the model in xgboost's format, the class
    in the file name, so that loading builds the same estimator around it."""
    final = f"{path}.{type(obj).__name__}.xgbmodel.json"
    with atomic_path(final, suffix=".json") as temporary:
        obj.save_model(temporary)
    return final


@loaders.register(r"\.[A-Za-z]+\.xgbmodel\.json$")
def load_xgboost_estimator(uri: str) -> Any:
    import xgboost

    class_name = uri.rsplit(".", 3)[-3]
    estimator = getattr(xgboost, class_name)()
    estimator.load_model(uri)
    return estimator
