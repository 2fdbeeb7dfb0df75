"""Target ``katib``: a Katib ``v1beta1`` Experiment searching the notebook's space (its
``katib_metadata``, as Kale writes it, or ``metadata.kalec.tune``) on a cluster.

Each trial is a Kubernetes Job whose one container starts a run of the compiled pipeline on
Kubeflow Pipelines with the trial's parameter values, waits for it, reads the metrics the
pipeline's steps printed (``kalec-metric NAME=VALUE``) from their logs, and prints them as
``NAME=VALUE`` lines for Katib's StdOut metrics collector. The pipeline travels inside the
trial's script, compressed and base64-encoded: no text of the notebook can reach Katib's
``${trialParameters...}`` substitution.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import yaml

from kalec.cluster_names import pipeline_name
from kalec.ir import Pipeline
from kalec.packaging.step_spec import base_image
from kalec.searchspace import SpaceError, checked, from_katib
from kalec.targets import BackendError
from kalec.targets.options import KfpOptions

KFP_API = "http://ml-pipeline.kubeflow:8888"  # Kubeflow Pipelines' API, inside the cluster
KUBERNETES_API = "https://kubernetes.default.svc"
CONTAINER = "kalec-trial"
TEMPLATE = Path(__file__).parent / "templates" / "katib_trial.py.template"


def katib_name(metric: str) -> str:
    """A metric's name as Katib's collector reads it (letters, digits, '_' and '-')."""
    return "".join(c if c.isalnum() or c in "_-" else "-" for c in metric)


def _encoded(data: object) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def experiment(pipeline: Pipeline, options: KfpOptions | None = None) -> dict:
    from string import Template

    from kalec.targets import kfp_yaml

    if not pipeline.settings.search:
        raise BackendError(
            "katib: the notebook has no search space; add katib_metadata (Kale's panel writes "
            "it) or metadata.kalec.tune, in Katib's Experiment fields"
        )
    try:
        space = checked(from_katib(json.loads(pipeline.settings.search)), pipeline)
    except SpaceError as error:
        raise BackendError(f"katib: {error}") from None
    options = options or KfpOptions()
    compiled = yaml.safe_load(kfp_yaml.emit(pipeline, options))
    packed = base64.b64encode(zlib.compress(json.dumps(compiled).encode(), 9)).decode()
    reported = [space.objective.metric, *space.objective.additional]
    names = {m: katib_name(m) for m in reported}
    declared = {p.name: p.type.value for p in pipeline.params}
    script = Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        pipeline=packed, param_types=_encoded(declared), metrics=_encoded(names)
    )
    spec = space.as_katib()
    spec["objective"]["objectiveMetricName"] = names[space.objective.metric]
    if space.objective.additional:
        spec["objective"]["additionalMetricNames"] = [names[m] for m in space.objective.additional]
    dims = [d.name for d in space.dimensions]
    args = ["--kfp", KFP_API, "--kubernetes", KUBERNETES_API]
    if pipeline.settings.experiment:
        args += ["--experiment", pipeline.settings.experiment]
    for name in dims:
        args += ["--param", f"{name}=${{trialParameters.{name}}}"]
    name = pipeline_name(pipeline.settings.name)[:63].strip("-") or "kalec"
    spec["metricsCollectorSpec"] = {"collector": {"kind": "StdOut"}}
    spec["trialTemplate"] = {
        "retain": True,
        "primaryContainerName": CONTAINER,
        "trialParameters": [
            {"name": d, "reference": d, "description": f"pipeline parameter {d}"} for d in dims
        ],
        "trialSpec": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "metadata": {
                        "annotations": {"sidecar.istio.io/inject": "false"},
                        "labels": {"access-ml-pipeline": "true"},
                    },
                    "spec": {
                        "restartPolicy": "Never",
                        "serviceAccountName": "pipeline-runner",
                        "containers": [
                            {
                                "name": CONTAINER,
                                "image": base_image(pipeline, options.image),
                                "command": ["python3", "-c", script],
                                "args": args,
                            }
                        ],
                    },
                },
            },
        },
    }
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": spec,
    }


def emit(pipeline: Pipeline, options: KfpOptions | None = None) -> str:
    source = Path(pipeline.source).name
    header = f"# A Katib Experiment compiled by kalec from {source}: kubectl apply -f\n"
    return header + yaml.safe_dump(experiment(pipeline, options), sort_keys=False, width=100)
