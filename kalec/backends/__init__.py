"""One registry of targets; each target is one module, imported only when it is used.

A target either writes text (``emit(pipeline, options) -> str``: a script, a YAML document, the
IR as JSON) or runs the pipeline (``run(pipeline, options) -> int``). Targets whose backend has
not landed yet are listed, so that asking for them says so instead of "unknown target".
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    module: str | None  # None: not available yet
    suffix: str = ""  # file name ending for `kalec build`
    runs: bool = False  # runs the pipeline instead of writing it


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("ir", "the compiled step IR as JSON", "kalec.backends.ir_json", ".ir.json"),
        Target("kfp-py", "a Kubeflow Pipelines v2 DSL script", None, ".py"),
        Target("yaml", "a compiled Kubeflow Pipelines spec, for upload", None, ".yaml"),
        Target("argo", "an Argo Workflow", None, ".argo.yaml"),
        Target("local", "run every step on this machine", "kalec.backends.local", runs=True),
    )
}


class TargetUnavailable(Exception):
    """The target is known but its backend is not part of this kalec yet."""


def load(name: str) -> ModuleType:
    target = TARGETS[name]
    if target.module is None:
        raise TargetUnavailable(
            f"target '{name}' ({target.summary}) is not available yet in this version of kalec; "
            f"available: {', '.join(t.name for t in TARGETS.values() if t.module)}"
        )
    return importlib.import_module(target.module)
