"""Target ``argo``: an Argo ``Workflow`` (argoproj.io/v1alpha1) ready for ``argo submit``.

One DAG task per step, one ``script`` template per step. A template's script is Python: the
step's cells verbatim (as in ``kfp-py``), kalec's runtime embedded, the packages the step needs
installed at start. Values move as Argo artifacts through the cluster's artifact repository
(``--argo-data artifacts``, the default) or through a volume every step mounts
(``--argo-data volume``: a claim made for each run, or ``--argo-volume-claim`` for an existing
one). Parameters are the workflow's ``arguments.parameters``, given to each step as environment
variables and read with their declared types; metrics become output parameters, which the
Argo UI shows with each step.

Argo substitutes ``{{...}}`` anywhere in a template. In the scripts, user text spells braces as
escapes (``kalec.targets.escaping``); in YAML values there is no such escape, so user text
holding ``{{`` (a description, a label, a parameter's default) is refused with the place it
came from. The only placeholders in the workflow are kalec's own (``Placeholder``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from kalec.cluster_names import pipeline_name
from kalec.ir import Pipeline, Step
from kalec.packaging.packages import Packages
from kalec.packaging.step_spec import (
    base_image,
    cells_text,
    step_params,
    step_spec,
)
from kalec.runtime.params import format_value
from kalec.targets import BackendError
from kalec.targets.argo_composition import NotebookDags
from kalec.targets.argo_names import Placeholder, artifact_name, k8s_name, unique
from kalec.targets.escaping import placeholder_free, py_literal, py_text
from kalec.targets.identifiers import spec_literal
from kalec.targets.nesting import Member, Nesting
from kalec.targets.options import ArgoOptions
from kalec.targets.templating import render

DATA_ROOT = "/tmp/kalec"  # inside a step's container: where its inputs and outputs lie
HTML_PAGE = f"{DATA_ROOT}/page/cells.html"
HTML_ARTIFACT = "kalec-cells-html"  # no variable's artifact name has this form (hyphens)
VOLUME_MOUNT = "/kalec-data"
VOLUME_NAME = "kalec-data"


class ArgoError(BackendError):
    """The pipeline cannot be expressed as an Argo workflow (names Kubernetes cannot hold)."""


def _user_placeholders(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(place, text) of every string in the workflow that is not kalec's and holds ``{{``."""
    if isinstance(node, dict):
        return [
            found
            for key, value in node.items()
            for found in _user_placeholders(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(node, list):
        return [
            found
            for i, value in enumerate(node)
            for found in _user_placeholders(value, f"{path}[{i}]")
        ]
    if isinstance(node, str) and not isinstance(node, Placeholder) and not placeholder_free(node):
        return [(path, node)]
    return []


def _literal_block(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style=style)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter where PyYAML was built with it: the pure-Python one spends most of a
    large workflow's time scanning each step's script, and grows faster than the steps."""


_Dumper.add_representer(str, _literal_block)
_Dumper.add_representer(Placeholder, _literal_block)


class _Lowering:
    def __init__(self, pipeline: Pipeline, options: ArgoOptions) -> None:
        self.pipeline = pipeline
        self.options = options
        self.packages = Packages(pipeline, options.packages)
        self.image = base_image(pipeline, options.image)
        self.volume = options.data == "volume"
        self.templates = self._template_names()
        self.entrypoint = unique("pipeline", set(self.templates.values()))
        self.param_types = {p.name: p.type.value for p in pipeline.params}
        self.nesting = Nesting(pipeline)
        self.notebooks = NotebookDags(
            pipeline, self.nesting, self.templates, self.entrypoint, self.task
        )

    def _template_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for step in self.pipeline.steps:
            name = k8s_name(step.name)
            if name in names.values():
                other = next(s for s, n in names.items() if n == name)
                raise ArgoError(
                    f"steps '{other}' and '{step.name}' both become '{name}' in Argo; rename one"
                )
            names[step.name] = name
        return names

    def _folder(self, kind: str, step: str, name: str) -> str:
        if self.volume:
            return Placeholder(
                f"{VOLUME_MOUNT}/{{{{workflow.uid}}}}/{self.templates[step]}/{artifact_name(name)}"
            )
        return f"{DATA_ROOT}/{kind}/{artifact_name(name)}"

    def template(self, step: Step) -> dict[str, Any]:
        params = step_params(self.pipeline, step)
        inputs = step.artifact_inputs()
        input_folders = {n: self._folder("in", producer, n) for n, producer in inputs}
        output_folders = {n: self._folder("out", step.name, n) for n in step.outputs}
        metrics_folder = f"{DATA_ROOT}/metrics"
        packages = self.packages.for_step(step)
        source = render(
            "argo_step.py.template",
            modules=self.packages.local.for_step(self.pipeline, step)[0],
            step=py_text(step.name),
            source=py_text(Path(self.pipeline.source).name),
            cells_text=cells_text(step),
            spec=spec_literal(step_spec(self.pipeline, step).as_json(), indent=0),
            param_types=py_literal({n: self.param_types[n] for n in params}),
            # kalec's own text holding the engine's placeholders (the volume's folders)
            inputs=repr(input_folders),
            outputs=repr(output_folders),
            metrics_folder=py_literal(metrics_folder),
            metric_files=py_literal({m: artifact_name(m) for m in step.metrics}),
            html=py_literal(None if self.volume or not self._page(step) else HTML_PAGE),
            packages=py_literal(packages),
            index_urls=py_literal(list(self.options.index_urls)),
        )
        if "{{" in source.replace("{{workflow.uid}}", ""):
            raise AssertionError("a step's script holds an Argo placeholder it should not")
        source = Placeholder(source)
        env = [
            {"name": f"KALEC_PARAM_{n}", "value": Placeholder(f"{{{{inputs.parameters.{n}}}}}")}
            for n in params
        ]
        options = step.options
        env += [
            {"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.name, "key": s.key}}}
            for s in options.secrets
        ]
        script: dict[str, Any] = {"image": options.image or self.image, "command": ["python"]}
        if env:
            script["env"] = env
        if options.limits:
            script["resources"] = {"limits": {k: v for k, v in options.limits}}
        mounts = [
            {"name": v.name, "mountPath": v.mount_path} for v in self.pipeline.settings.volumes
        ]
        if self.volume:
            mounts.append({"name": VOLUME_NAME, "mountPath": VOLUME_MOUNT})
        if mounts:
            script["volumeMounts"] = mounts
        script["source"] = source
        template: dict[str, Any] = {"name": self.templates[step.name]}
        if options.annotations or options.labels:
            template["metadata"] = {}
            if options.annotations:
                template["metadata"]["annotations"] = dict(options.annotations)
            if options.labels:
                template["metadata"]["labels"] = dict(options.labels)
        template_inputs: dict[str, Any] = {}
        if params:
            template_inputs["parameters"] = [{"name": n} for n in params]
        if inputs and not self.volume:
            template_inputs["artifacts"] = [
                {"name": artifact_name(n), "path": input_folders[n]} for n, _ in inputs
            ]
        if template_inputs:
            template["inputs"] = template_inputs
        outputs: dict[str, Any] = {}
        if not self.volume:
            outputs["artifacts"] = [
                {"name": artifact_name(n), "path": output_folders[n]} for n in step.outputs
            ]
            # the step's cells and what they showed, one HTML file, kept even when it fails
            outputs["artifacts"] += [
                {
                    "name": HTML_ARTIFACT,
                    "path": HTML_PAGE,
                    "optional": True,
                    "archive": {"none": {}},
                }
            ][: self._page(step)]
        if step.metrics:
            outputs["parameters"] = [
                {
                    "name": artifact_name(m),
                    "valueFrom": {"path": f"{metrics_folder}/{artifact_name(m)}"},
                }
                for m in step.metrics
            ]
        if outputs:
            template["outputs"] = outputs
        if options.retries is not None:
            template["retryStrategy"] = {"limit": str(options.retries)}
        if options.timeout_seconds is not None:
            template["activeDeadlineSeconds"] = str(options.timeout_seconds)  # IntOrString
        template["script"] = script
        return template

    @staticmethod
    def _page(step: Step) -> int:
        """1 when the step's cells become an HTML page (not under ``report:disabled``)."""
        return int(step.options.report is not False)

    def task(self, step: Step, scope: str = "") -> dict[str, Any]:
        task: dict[str, Any] = {
            "name": self.templates[step.name],
            "template": self.templates[step.name],
        }
        member = Member(step.name, True)
        after = self.nesting.after(scope, member, set())
        if after:
            task["dependencies"] = [self.notebooks.task_name(m) for m in after]
        arguments: dict[str, Any] = {}
        params = step_params(self.pipeline, step)
        if params:
            arguments["parameters"] = [
                {"name": n, "value": Placeholder(f"{{{{workflow.parameters.{n}}}}}")}
                for n in params
            ]
        inputs = step.artifact_inputs()
        if inputs and not self.volume:
            arguments["artifacts"] = [
                {"name": artifact_name(n), "from": self.notebooks.artifact(scope, p, n)}
                for n, p in inputs
            ]
        if arguments:
            task["arguments"] = arguments
        return task

    def workflow(self) -> dict[str, Any]:
        settings = self.pipeline.settings
        spec: dict[str, Any] = {"entrypoint": self.entrypoint}
        if self.pipeline.params:
            spec["arguments"] = {
                "parameters": [
                    {"name": p.name, "value": format_value(p.default)} for p in self.pipeline.params
                ]
            }
        volumes = [
            {"name": v.name, "persistentVolumeClaim": {"claimName": v.name}}
            for v in settings.volumes
        ]
        if self.volume and self.options.volume_claim:
            volumes.append(
                {
                    "name": VOLUME_NAME,
                    "persistentVolumeClaim": {"claimName": self.options.volume_claim},
                }
            )
        elif self.volume:
            spec["volumeClaimTemplates"] = [
                {
                    "metadata": {"name": VOLUME_NAME},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": self.options.volume_size}},
                    },
                }
            ]
        if volumes:
            spec["volumes"] = volumes
        notebooks = self.notebooks
        dags = [notebooks.dag("")] + [notebooks.dag(scope) for scope in notebooks.scopes]
        spec["templates"] = dags + [self.template(s) for s in self.pipeline.steps]
        metadata: dict[str, Any] = {
            "generateName": pipeline_name(settings.name)[:56] + "-",
            "labels": {"kalec/pipeline": k8s_name(settings.name)},
        }
        if settings.description:
            metadata["annotations"] = {"workflows.argoproj.io/description": settings.description}
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": metadata,
            "spec": spec,
        }


def workflow(pipeline: Pipeline, options: ArgoOptions | None = None) -> dict[str, Any]:
    """The Workflow as data; ``ArgoError`` when user text would be read as a placeholder."""
    document = _Lowering(pipeline, options or ArgoOptions()).workflow()
    found = _user_placeholders(document)
    if found:
        place, text = found[0]
        raise ArgoError(
            f"{_where(place, document)} holds {text!r}, and Argo would substitute its "
            "'{{...}}' as a placeholder; remove the double braces there (the kfp-py and yaml "
            "targets carry such text as it is)"
        )
    return document


def _where(place: str, document: dict[str, Any]) -> str:
    """The notebook's words for a place in the workflow that holds user text."""
    parameter = re.fullmatch(r"spec\.arguments\.parameters\[(\d+)\]\.value", place)
    if parameter:
        name = document["spec"]["arguments"]["parameters"][int(parameter.group(1))]["name"]
        return f"the default of parameter {name}"
    for key, words in (
        ("metadata.annotations", "the notebook's description"),
        ("annotations", "an annotation: tag"),
        ("labels", "a label: tag"),
        ("image", "an image (image: tag, --image or the notebook's image setting)"),
        ("volume", "a volume of the notebook's settings"),
        ("secretKeyRef", "a secret: tag"),
    ):
        if key in place:
            return words
    return f"the workflow's {place}"


def emit(pipeline: Pipeline, options: ArgoOptions | None = None) -> str:
    header = (
        f"# Argo Workflow compiled by kalec from {py_text(Path(pipeline.source).name)}.\n"
        "# Submit it with: argo submit FILE  (or kubectl create -f FILE)\n"
    )
    body = yaml.dump(
        workflow(pipeline, options), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return header + body
