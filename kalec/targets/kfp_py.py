"""Target ``kfp-py``: a Kubeflow Pipelines v2 DSL script a person can read, edit and run.

One component per step, named after it; the component's function holds the step's cells as
Python string literals (``code_literal``), so no cell text can break the script or change what
runs, and calls kalec's runtime, which the script carries inside itself. Variables travel as
artifacts, parameters as typed pipeline inputs with the notebook's defaults, metrics as
``Output[Metrics]``; resources, retries, caching and time limits are set on each task, and pod
metadata, secrets and volumes through ``kfp.kubernetes``.
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path
from typing import Any

from kalec.cluster_names import pipeline_name
from kalec.ir import Pipeline, Step
from kalec.packaging.packages import Packages
from kalec.packaging.runtime_bundle import install_source
from kalec.packaging.step_spec import (
    base_image,
    cells_text,
    step_params,
    step_spec,
)
from kalec.targets import BackendError
from kalec.targets.escaping import code_literal, py_literal, py_text
from kalec.targets.identifiers import identifier, spec_literal
from kalec.targets.kfp_composition import NotebookPipelines, StepTasks
from kalec.targets.kfp_names import (
    ANNOTATIONS,
    HELPERS,
    KFP_RESERVED,
    argument,
    artifact_type,
    function_name,
)
from kalec.targets.nesting import Nesting
from kalec.targets.options import KfpOptions
from kalec.targets.templating import fill, render

# Names the script itself defines or imports at module level. The pipeline function's parameters
# are the notebook's parameter names, so anything the pipeline's body refers to (step functions,
# the kubernetes module) must avoid those; and every component's arguments must avoid the
# helpers its body calls. Builtins are kept free so that no step function shadows ``print``.
_MODULE_NAMES = {
    "compiler",
    "dsl",
    "kubernetes",
    "Artifact",
    "Dataset",
    "Model",
    "Input",
    "Metrics",
    "Output",
    "HTML",
    "BASE_IMAGE",
    "PIP_INDEX_URLS",
    "pipeline",
    "pathlib",
    "_kalec_step",
    "_kalec_runtime",
    *dir(builtins),
}
_CPU, _MEMORY = "cpu", "memory"


def _workspace_config(options: KfpOptions) -> str:
    """The pipeline's ``pipeline_config`` argument: the workspace, its size and storage class."""
    kubernetes = ""
    if options.workspace_storage_class:
        patch = {"storageClassName": options.workspace_storage_class}
        kubernetes = f", kubernetes=dsl.KubernetesWorkspaceConfig(pvcSpecPatch={py_literal(patch)})"
    return (
        ", pipeline_config=dsl.PipelineConfig(workspace=dsl.WorkspaceConfig("
        f"size={py_literal(options.workspace_size)}{kubernetes}))"
    )


def _yaml_name(script_name: str) -> str:
    """What the script compiles itself to: x.kfp.py -> x.pipeline.yaml, x.py -> x.yaml."""
    if script_name.endswith(".kfp.py"):
        return script_name.removesuffix(".kfp.py") + ".pipeline.yaml"
    return script_name.removesuffix(".py") + ".yaml"


def _dict_text(pairs: list[tuple[str, str]]) -> str:
    """``{'name': argument, ...}``: names as literals, arguments as the identifiers they are."""
    return "{" + ", ".join(f"{py_literal(k)}: {v}" for k, v in pairs) + "}"


class _Lowering:
    def __init__(self, pipeline: Pipeline, options: KfpOptions) -> None:
        self.pipeline = pipeline
        self.options = options
        self.packages = Packages(pipeline, options.packages)
        self.default_image = base_image(pipeline, options.image)
        self.param_names = {p.name for p in pipeline.params}
        taken = set(_MODULE_NAMES) | self.param_names
        self.functions = {s.name: function_name(s.name, taken) for s in pipeline.steps}
        self.kubernetes = identifier("kubernetes", self.param_names | set(self.functions.values()))
        self.output_args: dict[str, dict[str, str]] = {}  # step -> variable -> argument name
        self.uses_kubernetes = False
        # values through the run's workspace: each at kalec-values/<step function>/<variable>
        self.workspace = options.data == "workspace"

    def step(self, step: Step) -> dict[str, Any]:
        taken: set[str] = HELPERS | KFP_RESERVED
        signature: list[str] = []
        params = [(name, argument(name, taken)) for name in step_params(self.pipeline, step)]
        declared = {p.name: p for p in self.pipeline.params}
        signature += [f"{arg}: {ANNOTATIONS[declared[name].type]}" for name, arg in params]
        reads = step.artifact_inputs()
        workspace_arg = None
        if self.workspace:
            workspace_arg = argument("workspace", taken)
            signature.append(f"{workspace_arg}: str")
            inputs: list[tuple[str, str, str]] = []
            outputs: list[tuple[str, str]] = []
            self.output_args[step.name] = {}
            inputs_text = self._in_workspace([(name, producer) for name, producer in reads])
            outputs_text = self._in_workspace([(name, step.name) for name in step.outputs])
        else:
            inputs = [(name, producer, argument(name, taken)) for name, producer in reads]
            signature += [f"{arg}: Input[{artifact_type(name)}]" for name, _, arg in inputs]
            outputs = [(name, argument(name + "_out", taken)) for name in step.outputs]
            self.output_args[step.name] = dict(outputs)
            signature += [f"{arg}: Output[{artifact_type(name)}]" for name, arg in outputs]
            inputs_text = _dict_text([(name, arg) for name, _, arg in inputs])
            outputs_text = _dict_text(outputs)
        metrics_arg = argument("metrics", taken) if step.metrics else None
        if metrics_arg:
            signature.append(f"{metrics_arg}: Output[Metrics]")
        html_arg = None
        if step.options.report is not False:  # report:disabled: no page of the step's cells
            html_arg = argument("cells_html", taken)
            signature.append(f"{html_arg}: Output[HTML]")

        image = step.options.image or self.default_image
        packages = py_literal(self.packages.for_step(step))
        function = self.functions[step.name]
        return {
            "function_fields": {
                "function": function,
                "signature": ", ".join(signature),
                "name": py_text(step.name),
                "cells_text": cells_text(step),
                "spec": spec_literal(step_spec(self.pipeline, step).as_json()),
                "params": _dict_text([(name, arg) for name, arg in params]),
                "inputs": inputs_text,
                "outputs": outputs_text,
                "metrics": metrics_arg or "None",
                "html": html_arg or "None",
                "workspace": f"\n        workspace={workspace_arg}," if workspace_arg else "",
            },
            "component_fields": {
                "function": function,
                "image": "BASE_IMAGE" if image == self.default_image else py_literal(image),
                "packages": packages,
            },
            "arguments": [(arg, name) for name, arg in params]
            + [(arg, (producer, name)) for name, producer, arg in inputs]
            + ([(workspace_arg, "dsl.WORKSPACE_PATH_PLACEHOLDER")] if workspace_arg else []),
            "reads": [(producer, name) for name, producer in reads],  # what it waits for
        }

    def _in_workspace(self, values: list[tuple[str, str]]) -> str:
        """``{'variable': ('step_function', 'variable'), ...}``: where each value lies in the
        workspace, named by identifiers only (the step's function, the variable)."""
        return _dict_text(
            [
                (name, f"({py_literal(self.functions[holder])}, {py_literal(name)})")
                for name, holder in values
            ]
        )

    def settings(self, step: Step, task: str, after: list[str]) -> list[str]:
        lines = [f"{task}.set_display_name({py_literal(step.name.rpartition('/')[2])})"]
        if after:
            lines.append(f"{task}.after({', '.join(after)})")
        options = step.options
        for resource, quantity in options.limits:
            if resource == _CPU:
                lines.append(f"{task}.set_cpu_limit({py_literal(quantity)})")
            elif resource == _MEMORY:
                lines.append(f"{task}.set_memory_limit({py_literal(quantity)})")
            else:
                lines.append(f"{task}.set_accelerator_type({py_literal(resource)})")
                lines.append(f"{task}.set_accelerator_limit({py_literal(quantity)})")
        if options.retries is not None:
            lines.append(f"{task}.set_retry(num_retries={options.retries})")
        if self.workspace:
            # a cached task would not write its values into this run's workspace
            lines.append(f"{task}.set_caching_options(False)")
        elif options.cache is not None:
            lines.append(f"{task}.set_caching_options({options.cache})")
        k8s, lit = self.kubernetes, py_literal
        kubernetes = []
        if options.timeout_seconds is not None:
            kubernetes.append(f"{k8s}.set_timeout({task}, {options.timeout_seconds})")
        kubernetes += [
            f"{k8s}.add_pod_annotation({task}, {lit(k)}, {lit(v)})" for k, v in options.annotations
        ]
        kubernetes += [
            f"{k8s}.add_pod_label({task}, {lit(k)}, {lit(v)})" for k, v in options.labels
        ]
        kubernetes += [
            f"{k8s}.use_secret_as_env({task}, secret_name={lit(s.name)}, "
            f"secret_key_to_env={lit({s.key: s.env})})"
            for s in options.secrets
        ]
        kubernetes += [
            f"{k8s}.mount_pvc({task}, pvc_name={lit(v.name)}, mount_path={lit(v.mount_path)})"
            for v in self.pipeline.settings.volumes
        ]
        self.uses_kubernetes = self.uses_kubernetes or bool(kubernetes)
        return lines + kubernetes

    def _pipeline_config(self) -> str:
        return _workspace_config(self.options) if self.workspace else ""

    def render(self) -> str:
        taken = self.param_names | set(self.functions.values())
        taken |= {self.kubernetes, "NamedTuple"}
        tasks = {
            s.name: identifier(f"{self.functions[s.name]}_task", taken) for s in self.pipeline.steps
        }
        nesting = Nesting(self.pipeline)
        notebook_functions = {
            scope: function_name(scope.rpartition("/")[2] + "_notebook", taken)
            for scope in nesting.scopes
        }
        notebook_tasks = {
            scope: identifier(f"{function}_task", taken)
            for scope, function in notebook_functions.items()
        }
        steps = {s.name: self.step(s) for s in self.pipeline.steps}
        made = StepTasks(tasks, self.functions, steps, self.output_args, self.settings)
        composition = NotebookPipelines(
            self.pipeline,
            nesting,
            made,
            notebook_functions,
            notebook_tasks,
            self.workspace,
            self._pipeline_config(),
        )
        # a default of None travels as "" (the step turns it back into None): kfp has no
        # value for an unset optional parameter
        signature = ", ".join(
            f"{p.name}: {ANNOTATIONS[p.type]} = "
            f"{py_literal('' if p.default is None else p.default)}"
            for p in self.pipeline.params
        )
        notebooks = "".join(
            composition.notebook_pipeline(scope)
            for scope in sorted(nesting.scopes, key=lambda s: -s.count("/"))
            if nesting.members(scope)
        )
        settings = self.pipeline.settings
        script_name = self.options.script_name
        modules: dict = {}
        for step in self.pipeline.steps:
            modules.update(self.packages.local.for_step(self.pipeline, step)[0])
        source = py_text(Path(self.pipeline.source).name)
        step_functions = "".join(
            "\n\n" + fill("kfp_step_function.py.template", source=source, **step["function_fields"])
            for step in steps.values()
        )
        components = "".join(
            "\n" + fill("kfp_component.py.template", **step["component_fields"]).rstrip("\n")
            for step in steps.values()
        )
        body = composition.body("", {})
        if not self.uses_kubernetes:
            kubernetes_import = ""
        elif self.kubernetes == "kubernetes":
            kubernetes_import = "\nfrom kfp import kubernetes"
        else:
            kubernetes_import = f"\nfrom kfp import kubernetes as {self.kubernetes}"
        title = f"Pipeline {pipeline_name(settings.name)}" + (
            f": {settings.description}" if settings.description else ""
        )
        return render(
            "kfp_pipeline.py.template",
            modules=modules,
            title=py_text(title),
            source=source,
            script_name=py_text(script_name),
            yaml_name=py_text(_yaml_name(script_name)),
            yaml_literal=py_literal(_yaml_name(script_name)),
            kubernetes_import=kubernetes_import,
            base_image=py_literal(self.default_image),
            index_urls=py_literal(list(self.options.index_urls)),
            step_functions=step_functions,
            components=components,
            name=py_literal(pipeline_name(settings.name)),
            description=py_literal(description(self.pipeline)),
            pipeline_config=self._pipeline_config(),
            pipeline_signature=signature,
            pipeline_body="\n".join(body),
            notebook_pipelines=notebooks,
            named_tuple_import="from typing import NamedTuple\n\n" if notebooks else "",
            install_source=code_literal(install_source()),
        )


# kfp 2.17 writes the description and each str parameter's default into comment lines at the
# top of the compiled YAML, as they are: a line break in a default ends the comment (the rest
# would be read as YAML), and a character YAML does not allow makes the file unreadable.
# YAML 1.1's printable set (tab, line breaks, x20-x7e, x85, xa0-ud7ff, ue000-ufffd, astral), as
# the characters outside it: the class written the other way takes the regex compiler 5 ms.
_NOT_IN_YAML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")


def description(pipeline: Pipeline) -> str:
    """The pipeline's description: the notebook's, or where it was compiled from."""
    return pipeline.settings.description or (f"Compiled by kalec from {Path(pipeline.source).name}")


def header_problem(pipeline: Pipeline) -> str | None:
    """What kfp's compiler cannot carry into the compiled YAML's header, in words."""
    character = _NOT_IN_YAML.search(description(pipeline))
    if character:
        where = "description" if pipeline.settings.description else "file name"
        return (
            f"the notebook's {where} holds the character {character.group()!r}, which "
            f"the compiled YAML cannot hold; remove it from the {where}"
        )
    for param in pipeline.params:
        if isinstance(param.default, str):
            found = _NOT_IN_YAML.search(param.default) or _LINE_BREAK.search(param.default)
            if found:
                return (
                    f"the default of parameter {param.name} holds {found.group()!r}, which kfp "
                    "writes unescaped into a comment line of the compiled YAML; give the value "
                    "with -p at run time, or build it from parts in a step"
                )
    return None


def emit(pipeline: Pipeline, options: KfpOptions | None = None) -> str:
    problem = header_problem(pipeline)
    if problem:
        raise BackendError(f"kfp: {problem}")
    return _Lowering(pipeline, options or KfpOptions()).render()
