"""Inside the Jupyter kernel that ``kalec verify`` drives: save chosen globals as a step would.

Between two cells of the notebook, verify runs the constant line
``__import__('kalec.runtime.verify_probe', fromlist=['save']).save(globals(), N)``; the names
to save and where come from request file N in the folder ``KALEC_VERIFY_DIR`` names, written by
kalec (the notebook's text never enters the code the kernel runs). Values are saved with the
marshal the steps use, so their digests compare with the pipeline's directly.
"""

from __future__ import annotations

import json
import os
from typing import Any

from kalec.runtime import global_state
from kalec.runtime.marshal import resource_save_digest
from kalec.runtime.step import metric_value


def save(namespace: dict[str, Any], number: int) -> None:
    folder = os.environ["KALEC_VERIFY_DIR"]
    with open(os.path.join(folder, f"request-{number}.json"), encoding="utf-8") as handle:
        request = json.load(handle)
    saved: dict[str, Any] = {"values": {}, "metrics": {}}
    for index, name in enumerate(request.get("values", [])):
        if name in global_state.STATES:
            value = global_state.capture(name)
        elif name in namespace:
            value = namespace[name]
        else:
            saved["values"][name] = {"missing": True}
            continue
        try:
            file, digest = resource_save_digest(value, os.path.join(folder, f"{number}-{index}"))
            saved["values"][name] = {"file": file, "digest": digest}
        except Exception as error:  # what cannot be saved is reported, never ends the kernel
            saved["values"][name] = {"error": f"{type(error).__name__}: {error}"}
    for name in request.get("metrics", []):
        saved["metrics"][name] = metric_value(namespace.get(name.rpartition("/")[2]))
    with open(os.path.join(folder, f"saved-{number}.json"), "w", encoding="utf-8") as handle:
        json.dump(saved, handle)


def seed(number: int) -> None:
    """Before the first cell: the global generators start where each pipeline step's do."""
    global_state.seed_all(number)
