"""The cluster targets, in one registry; each is one module, imported only when it is used.

May import the IR, analysis, packaging and the runtime (which it embeds); not the local runner,
the service or the CLI. A target writes text (``emit(pipeline, options) -> str``: a script, a
YAML document, the IR as JSON), and may also give it in pieces (``pieces``, same arguments),
which the command line writes as they come; one whose optional requirements (kfp) are not installed says
so, with the command that installs them. Running on this machine is ``kalec.local``'s job.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import NamedTuple

from kalec.errors import KalecError


class Target(NamedTuple):
    """One target of ``build``/``emit``: where its module is and what it needs installed."""

    name: str
    summary: str
    module: str
    suffix: str = ""  # file name ending for `kalec build`
    requires: tuple[str, ...] = ()  # modules it needs that kalec does not install by default


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("ir", "the compiled step IR as JSON", "kalec.targets.ir_json", ".ir.json"),
        Target("kfp-py", "a Kubeflow Pipelines v2 DSL script", "kalec.targets.kfp_py", ".kfp.py"),
        Target(
            "yaml",
            "a compiled Kubeflow Pipelines spec, for upload",
            "kalec.targets.kfp_yaml",
            ".pipeline.yaml",
            requires=("kfp",),
        ),
        Target("argo", "an Argo Workflow", "kalec.targets.argo", ".argo.yaml"),
        Target(
            "katib",
            "a Katib Experiment searching the notebook's parameters, each trial a KFP run",
            "kalec.tune.katib",
            ".katib.yaml",
            requires=("kfp",),
        ),
    )
}


KFP_INSTALL_HINT = "pip install 'kalec[kfp]' (in a source checkout: pip install -e '.[kfp]')"


class BackendError(KalecError):
    """The pipeline cannot be written for this target; the message says why and what to do."""


class TargetUnavailable(BackendError):
    """The target is known but needs a package that is not installed."""


def missing_requirements(modules: tuple[str, ...]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def load(name: str) -> ModuleType:
    target = TARGETS[name]
    missing = missing_requirements(target.requires)
    if missing:
        raise TargetUnavailable(
            f"target '{name}' needs {', '.join(missing)}, which is not installed: "
            + KFP_INSTALL_HINT
        )
    return importlib.import_module(target.module)
