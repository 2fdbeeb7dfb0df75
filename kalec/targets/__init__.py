"""The cluster targets, in one registry; each is one module, imported only when it is used.

Imports from kalec: kalec, cluster_names, errors, ir, packaging, runtime, searchspace. Not
the local runner, the service or the CLI; the runtime is what a script embeds.

A target is a module that follows ``TargetModule``: it writes text (``emit(pipeline, options) ->
str``: a script, a YAML document, an Experiment, the IR as JSON) with the options of its own
type (``Target.options``: ``kalec.targets.options``), and may also give it in pieces
(``pieces``, same arguments), which the command line writes as they come. One whose optional
requirements (kfp) are not installed says so, with the command that installs them. Running on
this machine is ``kalec.local``'s job.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from kalec.errors import KalecError
from kalec.targets.options import ArgoOptions, IrOptions, KfpOptions

if TYPE_CHECKING:
    from kalec.ir import Pipeline


class TargetModule(Protocol):
    """What a target's module offers: the text of the pipeline for the target (a script, a
    document), made from the pipeline and the target's options; ``pieces`` (optional, same
    arguments) gives the text as it is made, for a caller that writes as it comes."""

    def emit(self, pipeline: Pipeline, options: Any = None) -> str: ...


class Target(NamedTuple):
    """One target of ``build``/``emit``: its module, its options' type, the file name ending it
    is built to, and what it needs installed."""

    name: str
    summary: str
    module: str  # a module of this package
    options: type
    suffix: str = ""  # file name ending for `kalec build`
    requires: tuple[str, ...] = ()  # modules it needs that kalec does not install by default


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("ir", "the compiled step IR as JSON", "ir_json", IrOptions, ".ir.json"),
        Target("kfp-py", "a Kubeflow Pipelines v2 DSL script", "kfp_py", KfpOptions, ".kfp.py"),
        Target(
            "yaml",
            "a compiled Kubeflow Pipelines spec, for upload",
            "kfp_yaml",
            KfpOptions,
            ".pipeline.yaml",
            requires=("kfp",),
        ),
        Target("argo", "an Argo Workflow", "argo", ArgoOptions, ".argo.yaml"),
        Target(
            "katib",
            "a Katib Experiment searching the notebook's parameters, each trial a KFP run",
            "katib",
            KfpOptions,
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


def load(name: str) -> TargetModule:
    """The module of target ``name``; ``TargetUnavailable`` naming what to install."""
    target = TARGETS[name]
    missing = missing_requirements(target.requires)
    if missing:
        raise TargetUnavailable(
            f"target '{name}' needs {', '.join(missing)}, which is not installed: "
            + KFP_INSTALL_HINT
        )
    return cast(TargetModule, importlib.import_module(f"{__name__}.{target.module}"))


def text_pieces(target: TargetModule, pipeline: Pipeline, options: Any) -> Iterable[str]:
    """The target's text in pieces as they are made, where it gives it so (the IR of a large
    notebook is a hundred megabytes); else made now, whole."""
    pieces = getattr(target, "pieces", None)
    return pieces(pipeline, options) if pieces is not None else [target.emit(pipeline, options)]
