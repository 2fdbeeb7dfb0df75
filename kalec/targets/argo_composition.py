"""Argo for a composition: each referenced notebook a DAG template, called as a task of the DAG
of the notebook that references it; what crosses its border passes as its input and output
artifacts. The workflow's lowering holds a ``NotebookDags``, given its steps' templates and the
way to make a step's task; the entrypoint's DAG is written here too, as notebook ""."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kalec.ir import Pipeline, Step
from kalec.targets.argo_names import Placeholder, artifact_name, k8s_name, unique
from kalec.targets.nesting import Member, Nesting


class NotebookDags:
    """The DAG templates of a (composed) notebook: ``templates`` names each step's template
    (and task), ``entrypoint`` the root's DAG; ``task(step, scope)`` is the lowering's task of
    a step in the DAG of notebook ``scope``. The names of the referenced notebooks' DAGs and
    of what crosses their borders are planned here, once."""

    def __init__(
        self,
        pipeline: Pipeline,
        nesting: Nesting,
        templates: dict[str, str],
        entrypoint: str,
        task: Callable[[Step, str], dict[str, Any]],
    ) -> None:
        self.pipeline, self.nesting, self.templates = pipeline, nesting, templates
        self.entrypoint, self.task = entrypoint, task
        self.dags: dict[str, str] = {}  # scope -> its DAG template's (and task's) name
        self.dag_inputs: dict[str, dict[tuple[str, str], str]] = {}
        self.dag_outputs: dict[str, dict[tuple[str, str], str]] = {}
        self._plan()

    @property
    def scopes(self) -> list[str]:
        """The referenced notebooks that have a DAG of their own."""
        return list(self.dags)

    def task_name(self, member: Member) -> str:
        return self.templates[member.name] if member.is_step else self.dags[member.name]

    def artifact(self, scope: str, producer: str, name: str) -> Placeholder:
        """Where a task of DAG ``scope`` takes the value ``name`` of step ``producer`` from:
        its DAG's input, a step's output, or a referenced notebook's DAG's output."""
        if (producer, name) in self.dag_inputs.get(scope, {}):
            return Placeholder(
                f"{{{{inputs.artifacts.{self.dag_inputs[scope][(producer, name)]}}}}}"
            )
        holder = self.nesting.member(scope, producer)
        if holder.is_step:
            return Placeholder(
                f"{{{{tasks.{self.templates[producer]}.outputs.artifacts.{artifact_name(name)}}}}}"
            )
        output = self.dag_outputs[holder.name][(producer, name)]
        return Placeholder(f"{{{{tasks.{self.dags[holder.name]}.outputs.artifacts.{output}}}}}")

    def _notebook_task(self, scope: str, inner: str) -> dict[str, Any]:
        task: dict[str, Any] = {"name": self.dags[inner], "template": self.dags[inner]}
        after = self.nesting.after(scope, Member(inner, False), set())
        if after:
            task["dependencies"] = [self.task_name(m) for m in after]
        if self.dag_inputs[inner]:
            task["arguments"] = {
                "artifacts": [
                    {"name": art, "from": self.artifact(scope, *value)}
                    for value, art in self.dag_inputs[inner].items()
                ]
            }
        return task

    def dag(self, scope: str) -> dict[str, Any]:
        """The DAG template of notebook ``scope`` ("" the root: the entrypoint)."""
        tasks = [
            self.task(self.pipeline.step(m.name), scope)
            if m.is_step
            else self._notebook_task(scope, m.name)
            for m in self.nesting.members(scope)
        ]
        template: dict[str, Any] = {"name": self.dags.get(scope, self.entrypoint)}
        if scope and self.dag_inputs[scope]:
            template["inputs"] = {
                "artifacts": [{"name": art} for art in self.dag_inputs[scope].values()]
            }
        if scope and self.dag_outputs[scope]:
            template["outputs"] = {
                "artifacts": [
                    {"name": art, "from": self.artifact(scope, *value)}
                    for value, art in self.dag_outputs[scope].items()
                ]
            }
        template["dag"] = {"tasks": tasks}
        return template

    def _plan(self) -> None:
        """Names of the DAG templates and of what crosses their borders."""
        taken = set(self.templates.values()) | {self.entrypoint}
        for scope in self.nesting.scopes:
            if not self.nesting.members(scope):
                continue
            name = unique(k8s_name(scope + "-notebook"), taken)
            taken.add(name)
            self.dags[scope] = name
            for kind, values in (
                (self.dag_inputs, self.nesting.inputs(scope)),
                (self.dag_outputs, self.nesting.outputs(scope)),
            ):
                names: dict[tuple[str, str], str] = {}
                for value in values:
                    names[value] = unique(artifact_name(value[1]), set(names.values()))
                kind[scope] = names
