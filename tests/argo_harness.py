"""Checking Argo Workflows without a cluster: their schema, and their wiring when executed.

``schema_errors()``: Argo's published Workflow schema, as two installed packages generated from
it carry it: hera's models (as a JSON schema) and the Argo project's own Python SDK
(``argo-workflows``, whose models read the Workflow with their types checked). Both are strict
(no property the schema does not define), so a misspelt field fails too, and both run wherever
the tests run: nothing is looked for outside the repository.

``execute()`` runs a Workflow the way its YAML says Argo would, on this machine: DAG tasks in
dependency order, workflow parameters substituted into task arguments and template inputs,
each template's ``script.source`` run with ``python`` and the template's environment, input
artifacts copied to the paths the template declares, output artifacts and output parameters
read from the paths it declares. Container paths (artifact paths, volume mounts) are mapped into
a temporary folder, as a container's file system would be. It proves the YAML's own wiring:
not Argo's controller, executor or artifact repository.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _hera() -> jsonschema.protocols.Validator:
    from hera.workflows.models import Workflow

    return jsonschema.Draft202012Validator(_strict(Workflow.model_json_schema(by_alias=True)))


def _hera_errors(workflow: dict) -> list[str]:
    return [
        f"hera: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in _hera().iter_errors(workflow)
    ]


def _unknown_fields(value: Any, path: str) -> list[str]:
    """Fields of the SDK's models that its schema does not define (it keeps them aside)."""
    from argo_workflows.model_utils import OpenApiModel

    found = []
    if isinstance(value, OpenApiModel):
        for key, item in value._data_store.items():
            if key not in value.attribute_map:
                found.append(f"{path}/{key}: not a field of {type(value).__name__}")
            found += _unknown_fields(item, f"{path}/{value.attribute_map.get(key, key)}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found += _unknown_fields(item, f"{path}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _unknown_fields(item, f"{path}/{key}")
    return found


def _argo_sdk_errors(workflow: dict) -> list[str]:
    from argo_workflows.api_client import ApiClient
    from argo_workflows.configuration import Configuration
    from argo_workflows.exceptions import OpenApiException
    from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow import (
        IoArgoprojWorkflowV1alpha1Workflow,
    )

    class Answer:  # what the SDK's client reads a server's answer from
        data = json.dumps(workflow)

    client = ApiClient(Configuration(discard_unknown_keys=False))
    try:
        model = client.deserialize(Answer, (IoArgoprojWorkflowV1alpha1Workflow,), True)
    except (OpenApiException, TypeError, ValueError) as error:
        return [f"argo-workflows: {str(error)[:300]}"]
    return [f"argo-workflows: {e}" for e in _unknown_fields(model, "")]


def schema_errors(workflow: dict) -> list[str]:
    return _hera_errors(workflow) + _argo_sdk_errors(workflow)


def _substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        key = match.group(1).strip()
        if key not in values:
            raise KeyError(f"unresolved placeholder {{{{{key}}}}}")
        return values[key]

    return re.sub(r"\{\{([^{}]+)\}\}", replace, text)


def _order(tasks: list[dict]) -> list[dict]:
    done: list[str] = []
    pending = list(tasks)
    while pending:
        ready = [t for t in pending if set(t.get("dependencies", [])) <= set(done)]
        if not ready:
            raise ValueError("the DAG has a cycle or a dependency on a missing task")
        for task in ready:
            done.append(task["name"])
            pending.remove(task)
    by_name = {t["name"]: t for t in tasks}
    return [by_name[n] for n in done]


def execute(workflow: dict, root: Path, secrets: dict[str, str] | None = None) -> tuple[int, str]:
    """(exit code of the first failing task or 0, everything the tasks printed)."""
    root.mkdir(parents=True, exist_ok=True)
    spec = workflow["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    dag = templates[spec["entrypoint"]]["dag"]
    values = {
        f"workflow.parameters.{p['name']}": p["value"]
        for p in spec.get("arguments", {}).get("parameters", [])
    }
    values["workflow.uid"] = "test-uid"
    store = root / "artifact-store"
    container = root / "container"  # where the container's absolute paths lie
    printed = []

    def inside(path: str) -> Path:
        return container / path.lstrip("/")

    def artifact(scope: Path, given: dict[str, Path], reference: str) -> Path:
        """The stored artifact an argument's ``from`` names, in the DAG being run."""
        found = re.fullmatch(r"\{\{inputs\.artifacts\.([^}]+)\}\}", reference)
        if found:
            return given[found.group(1)]
        producer, name = re.fullmatch(
            r"\{\{tasks\.([^.]+)\.outputs\.artifacts\.([^}]+)\}\}", reference
        ).groups()
        return scope / producer / name

    def run_dag(dag: dict, scope: Path, given: dict[str, Path]) -> int:
        """Run a DAG's tasks; a task whose template is a DAG runs it in a store of its own."""
        for task in _order(dag["tasks"]):
            template = templates[task["template"]]
            arguments = task.get("arguments", {})
            if "dag" in template:
                declared = {a["name"] for a in template.get("inputs", {}).get("artifacts", [])}
                passed = {
                    a["name"]: artifact(scope, given, a["from"])
                    for a in arguments.get("artifacts", [])
                }
                assert set(passed) == declared, (task["name"], passed, declared)
                inner = scope / task["name"] / "dag"
                code = run_dag(template["dag"], inner, passed)
                if code:
                    return code
                for output in template.get("outputs", {}).get("artifacts", []):
                    found = artifact(inner, passed, output["from"])
                    target = scope / task["name"] / output["name"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    (shutil.copytree if found.is_dir() else shutil.copy2)(found, target)
                continue
            code = run_script(task, template, arguments, scope, given)
            if code:
                return code
        return 0

    def run_script(
        task: dict, template: dict, arguments: dict, scope: Path, given: dict[str, Path]
    ) -> int:
        script = template["script"]
        inputs = {
            f"inputs.parameters.{p['name']}": _substitute(p["value"], values)
            for p in arguments.get("parameters", [])
        }
        declared = {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        assert {k.split(".")[-1] for k in inputs} == declared, (task["name"], inputs, declared)
        for folder in (container / "tmp",):  # a fresh container: nothing left by earlier tasks
            shutil.rmtree(folder, ignore_errors=True)
        paths = {a["name"]: a["path"] for a in template.get("inputs", {}).get("artifacts", [])}
        for argument in arguments.get("artifacts", []):
            shutil.copytree(
                artifact(scope, given, argument["from"]), inside(paths[argument["name"]])
            )
        env = dict(os.environ)
        for item in script.get("env", []):
            if "value" in item:
                env[item["name"]] = _substitute(item["value"], inputs)
            else:
                env[item["name"]] = (secrets or {}).get(
                    item["valueFrom"]["secretKeyRef"]["key"], ""
                )
        source = _substitute(script["source"], {"workflow.uid": values["workflow.uid"]})
        for mount in script.get("volumeMounts", []):  # mounted volumes live under the root too
            inside(mount["mountPath"]).mkdir(parents=True, exist_ok=True)
        for path in set(re.findall(r"'(/[^']+)'", source)):
            if path.startswith(("/tmp/kalec", "/kalec-data")):
                source = source.replace(f"'{path}'", repr(str(inside(path))))
        program = root / f"{task['name']}.py"
        program.write_text(source, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(program)], capture_output=True, text=True, env=env, cwd=root
        )
        printed.append(done.stdout + done.stderr)
        if done.returncode != 0:
            return done.returncode
        for output in template.get("outputs", {}).get("artifacts", []):
            source, target = inside(output["path"]), scope / task["name"] / output["name"]
            if source.is_dir():
                shutil.copytree(source, target)
            elif source.is_file() or not output.get("optional"):  # a missing one fails here
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        for parameter in template.get("outputs", {}).get("parameters", []):
            value = inside(parameter["valueFrom"]["path"]).read_text()
            printed.append(f"output parameter {task['name']}.{parameter['name']} = {value}")
        return 0

    code = run_dag(dag, store, {})
    return code, "\n".join(printed)
