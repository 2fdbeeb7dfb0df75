"""Target ``kfp-py``: a Kubeflow Pipelines v2 DSL script a person can read, edit and run.

One component per step, named after it; the component's function holds the step's cells as
Python string literals (``code_literal``), so no cell text can break the script or change what
runs, and calls kalec's runtime, which the script carries inside itself. Variables travel as
artifacts, parameters as typed pipeline inputs with the notebook's defaults, metrics as
``Output[Metrics]``; resources, retries, caching and time limits are set on each task, and pod
metadata, secrets and volumes through ``kfp.kubernetes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec.backends.packages import Packages
from kalec.backends.python_names import identifier, spec_literal
from kalec.backends.step_spec import (
    artifact_inputs,
    base_image,
    cells_text,
    step_params,
    step_spec,
)
from kalec.backends.templating import render
from kalec.ir import ParamType, Pipeline, Step

# Names the script itself uses at module level: no step function may take them.
_MODULE_NAMES = {
    "compiler",
    "dsl",
    "kubernetes",
    "Artifact",
    "Input",
    "Metrics",
    "Output",
    "BASE_IMAGE",
    "pipeline",
    "pathlib",
    "_kalec_step",
    "_kalec_runtime",
}
_ANNOTATIONS = {
    ParamType.INT: "int",
    ParamType.FLOAT: "float",
    ParamType.STR: "str",
    ParamType.BOOL: "bool",
    ParamType.LIST: "list",
    ParamType.DICT: "dict",
}
_CPU, _MEMORY = "cpu", "memory"


@dataclass
class KfpOptions:
    """Choices the command line can make for the KFP targets."""

    image: str | None = None  # default base image of every step
    packages: list[str] = field(default_factory=list)  # requirement overrides
    script_name: str = "pipeline.py"

    @classmethod
    def from_args(cls, args: Any) -> KfpOptions:
        if isinstance(args, cls):
            return args
        output = getattr(args, "output", None)
        notebook = Path(getattr(args, "notebook", "pipeline.ipynb"))
        script = Path(output).name if output else notebook.stem + ".py"
        return cls(
            image=getattr(args, "image", None),
            packages=list(getattr(args, "package", None) or []),
            script_name=script,
        )


def kfp_name(name: str) -> str:
    """KFP pipeline names: lower-case letters, digits and '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "pipeline"


def _dict_text(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{k!r}: {v}" for k, v in pairs) + "}"


class _Lowering:
    def __init__(self, pipeline: Pipeline, options: KfpOptions) -> None:
        self.pipeline = pipeline
        self.options = options
        self.packages = Packages(pipeline, options.packages)
        self.default_image = base_image(pipeline, options.image)
        taken = set(_MODULE_NAMES)
        self.functions = {s.name: identifier(s.name, taken) for s in pipeline.steps}
        self.output_args: dict[str, dict[str, str]] = {}  # step -> variable -> argument name

    def step(self, step: Step, tasks: dict[str, str]) -> dict[str, Any]:
        taken: set[str] = set()
        signature: list[str] = []
        params = [(name, identifier(name, taken)) for name in step_params(self.pipeline, step)]
        types = {p.name: _ANNOTATIONS[p.type] for p in self.pipeline.params}
        signature += [f"{arg}: {types[name]}" for name, arg in params]
        inputs = [
            (name, producer, identifier(name.lstrip("_") or "value", taken))
            for name, producer in artifact_inputs(step)
        ]
        signature += [f"{arg}: Input[Artifact]" for _, _, arg in inputs]
        outputs = [
            (name, identifier((name.lstrip("_") or "value") + "_out", taken))
            for name in step.outputs
        ]
        self.output_args[step.name] = dict(outputs)
        signature += [f"{arg}: Output[Artifact]" for _, arg in outputs]
        metrics_arg = identifier("metrics", taken) if step.metrics else None
        if metrics_arg:
            signature.append(f"{metrics_arg}: Output[Metrics]")

        task = tasks[step.name]
        arguments = [f"{arg}={name}" for name, arg in params]
        arguments += [
            f"{arg}={tasks[producer]}.outputs[{self.output_args[producer][name]!r}]"
            for name, producer, arg in inputs
        ]
        image = step.options.image or self.default_image
        return {
            "name": step.name,
            "function": self.functions[step.name],
            "cells_text": cells_text(step),
            "signature": ", ".join(signature),
            "spec": spec_literal(step_spec(self.pipeline, step)),
            "params": _dict_text([(name, arg) for name, arg in params]),
            "inputs": _dict_text([(name, arg) for name, _, arg in inputs]),
            "outputs": _dict_text(outputs),
            "metrics": metrics_arg or "None",
            "image": "BASE_IMAGE" if image == self.default_image else repr(image),
            "packages": self.packages.for_step(step),
            "task": task,
            "arguments": ", ".join(arguments),
            "settings": self.settings(step, task, tasks, {producer for _, producer, _ in inputs}),
        }

    def settings(self, step: Step, task: str, tasks: dict[str, str], fed_by: set[str]) -> list[str]:
        lines = [f"{task}.set_display_name({step.name!r})"]
        after = [tasks[name] for name in step.upstream if name not in fed_by]
        if after:
            lines.append(f"{task}.after({', '.join(after)})")
        options = step.options
        for resource, quantity in options.limits:
            if resource == _CPU:
                lines.append(f"{task}.set_cpu_limit({quantity!r})")
            elif resource == _MEMORY:
                lines.append(f"{task}.set_memory_limit({quantity!r})")
            else:
                lines.append(f"{task}.set_accelerator_type({resource!r})")
                lines.append(f"{task}.set_accelerator_limit({quantity!r})")
        if options.retries is not None:
            lines.append(f"{task}.set_retry(num_retries={options.retries})")
        if options.cache is not None:
            lines.append(f"{task}.set_caching_options({options.cache})")
        kubernetes = []
        if options.timeout_seconds is not None:
            kubernetes.append(f"kubernetes.set_timeout({task}, {options.timeout_seconds})")
        kubernetes += [
            f"kubernetes.add_pod_annotation({task}, {k!r}, {v!r})" for k, v in options.annotations
        ]
        kubernetes += [f"kubernetes.add_pod_label({task}, {k!r}, {v!r})" for k, v in options.labels]
        kubernetes += [
            f"kubernetes.use_secret_as_env({task}, secret_name={s.name!r}, "
            f"secret_key_to_env={{{s.key!r}: {s.env!r}}})"
            for s in options.secrets
        ]
        kubernetes += [
            f"kubernetes.mount_pvc({task}, pvc_name={v.name!r}, mount_path={v.mount_path!r})"
            for v in self.pipeline.settings.volumes
        ]
        return lines + kubernetes

    def render(self) -> str:
        taken = {p.name for p in self.pipeline.params}
        tasks = {
            s.name: identifier(f"{self.functions[s.name]}_task", taken) for s in self.pipeline.steps
        }
        steps = [self.step(s, tasks) for s in self.pipeline.steps]
        signature = ", ".join(
            f"{p.name}: {_ANNOTATIONS[p.type]} = {p.default!r}" for p in self.pipeline.params
        )
        settings = self.pipeline.settings
        script_name = self.options.script_name
        return render(
            "kfp_pipeline.py.jinja",
            title=f"Pipeline {kfp_name(settings.name)}"
            + (f": {settings.description}" if settings.description else ""),
            source=Path(self.pipeline.source).name,
            script_name=script_name,
            yaml_name=Path(script_name).stem + ".yaml",
            uses_kubernetes=any(
                line.startswith("kubernetes.") for step in steps for line in step["settings"]
            ),
            base_image=self.default_image,
            steps=steps,
            name=kfp_name(settings.name),
            description=settings.description
            or f"Compiled by kalec from {Path(self.pipeline.source).name}",
            pipeline_signature=signature,
        )


def emit(pipeline: Pipeline, options: Any = None) -> str:
    return _Lowering(pipeline, KfpOptions.from_args(options)).render()
