"""kfp-py for a composition: each referenced notebook a nested ``@dsl.pipeline`` (a sub-DAG in
the KFP UI), whose tasks are its steps and the nested pipelines of the notebooks it references.
The script's lowering holds a ``NotebookPipelines``, given what it made of each step
(``StepTasks``); the root pipeline's body is written here too, as the body of notebook ""."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kalec.cluster_names import pipeline_name
from kalec.ir import Pipeline, Step
from kalec.packaging.step_spec import step_params
from kalec.targets.escaping import py_literal, py_text
from kalec.targets.kfp_names import ANNOTATIONS, HELPERS, KFP_RESERVED, argument, artifact_type
from kalec.targets.nesting import Member, Nesting
from kalec.targets.templating import fill


def _printable(text: str) -> str:
    """A file name as a description kfp can write anywhere in its YAML: no line breaks or
    control characters (a path may hold them)."""
    return "".join(c if c.isprintable() else "?" for c in text)


@dataclass
class StepTasks:
    """What the script's lowering made of each step, by step name: its task's variable, its
    function, the fields it lowered (``arguments`` among them: argument -> parameter, or
    (producer, variable) for a value), its output arguments by variable; and ``settings``, the
    lines that set a step task's options (its task, the tasks it waits for)."""

    tasks: dict[str, str]
    functions: dict[str, str]
    steps: dict[str, dict[str, Any]]
    output_args: dict[str, dict[str, str]]
    settings: Callable[[Step, str, list[str]], list[str]]


@dataclass
class NotebookPipelines:
    """The pipeline functions of a (composed) notebook: ``notebook_functions`` and
    ``notebook_tasks`` name each referenced notebook's function and task (by scope); what
    crosses each border is worked out as its function is written (``notebook_pipeline``)."""

    pipeline: Pipeline
    nesting: Nesting
    made: StepTasks
    notebook_functions: dict[str, str]
    notebook_tasks: dict[str, str]
    # values through the run's workspace: nothing crosses a border but the order of the tasks;
    # each nested pipeline declares the workspace too (kfp checks each one that uses it)
    workspace: bool = False
    pipeline_config: str = ""
    exports: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    # scope -> what its pipeline function takes: parameters, values, the notebook's path
    notebook_params: dict[str, list[str]] = field(default_factory=dict)
    imports: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    notebook_argument: dict[str, str] = field(default_factory=dict)

    def body(self, scope: str, imported: dict[tuple[str, str], str]) -> list[str]:
        """The lines of the pipeline function of notebook ``scope`` ("" the root): a task per
        step of it and per notebook it references; ``imported``: the values its function
        receives (producer, variable) -> argument."""
        nesting = self.nesting

        def value(producer: str, name: str) -> str:
            return self.value_in(scope, (producer, name), imported)

        def task_of(member: Member) -> str:
            return (
                self.made.tasks[member.name] if member.is_step else self.notebook_tasks[member.name]
            )

        lines: list[str] = []
        for member in nesting.members(scope):
            if member.is_step:
                step = self.pipeline.step(member.name)
                fields = self.made.steps[member.name]
                received = fields["reads"]
                arguments = [
                    f"{arg}={value(*v) if isinstance(v, tuple) else v}"
                    for arg, v in fields["arguments"]
                ]
                call = f"{self.made.tasks[member.name]} = {self.made.functions[member.name]}"
                settings = self.made.settings(
                    step,
                    self.made.tasks[member.name],
                    [task_of(m) for m in nesting.after(scope, member, self.fed(scope, received))],
                )
            else:
                inner = member.name
                received = nesting.inputs(inner)
                arguments = [f"{a}={a}" for a in self.notebook_params[inner]]
                arguments += [
                    f"{self.imports[inner][v]}={value(*v)}" for v in received if not self.workspace
                ]
                arguments.append(
                    f"{self.notebook_argument[inner]}={py_literal(nesting.reference[inner].path)}"
                )
                call = f"{self.notebook_tasks[inner]} = {self.notebook_functions[inner]}"
                after = nesting.after(scope, member, self.fed(scope, received))
                settings = [
                    f"{self.notebook_tasks[inner]}.set_display_name("
                    f"{py_literal(inner.rpartition('/')[2])})"
                ]
                if after:
                    settings.append(
                        f"{self.notebook_tasks[inner]}.after({', '.join(map(task_of, after))})"
                    )
            lines.append(f"    {call}({', '.join(arguments)})")
            lines += [f"    {line}" for line in settings]
        return lines

    def fed(self, scope: str, received: list[tuple[str, str]]) -> set[Member]:
        """The tasks whose values a task takes as arguments (kfp orders it after them); none
        through a workspace, where every task waits for its producers with ``after``."""
        return set() if self.workspace else self.nesting.fed_by(scope, received)

    def notebook_pipeline(self, scope: str) -> str:
        """The nested pipeline of referenced notebook ``scope``: a sub-DAG in the KFP UI."""
        nesting = self.nesting
        needed = {s.name: step_params(self.pipeline, s) for s in self.pipeline.steps}
        params = nesting.params(scope, needed)
        declared = {p.name: p for p in self.pipeline.params}
        taken = set(params) | HELPERS | KFP_RESERVED | {"NamedTuple"}
        imports = {v: argument(v[1], taken) for v in nesting.inputs(scope) if not self.workspace}
        # kfp.local hands a nested pipeline its artifacts only when the task also passes it a
        # parameter: each gets the notebook's path, which the UI then shows on the task too
        notebook_arg = argument("notebook", taken)
        self.notebook_params[scope], self.imports[scope] = params, imports
        self.notebook_argument[scope] = notebook_arg
        outputs_taken: set[str] = set()
        self.exports[scope] = {
            v: argument(v[1], outputs_taken) for v in nesting.outputs(scope) if not self.workspace
        }
        signature = [f"{p}: {ANNOTATIONS[declared[p].type]}" for p in params]
        signature += [f"{arg}: Input[{artifact_type(v[1])}]" for v, arg in imports.items()]
        signature.append(f"{notebook_arg}: str")
        fields = ", ".join(
            f"({name!r}, {artifact_type(value[1])})" for value, name in self.exports[scope].items()
        )
        returns = f" -> NamedTuple('Outputs', [{fields}])" if fields else ""
        body = self.body(scope, imports)
        if fields:
            result = ", ".join(
                f"{name}={self.value_in(scope, value, imports)}"
                for value, name in self.exports[scope].items()
            )
            body.append(f"    return NamedTuple('Outputs', [{fields}])({result})")
        reference = nesting.reference[scope]
        return fill(
            "kfp_notebook_pipeline.py.template",
            name=py_literal(pipeline_name(f"{self.pipeline.settings.name}-{scope}")),
            description=py_literal(
                _printable(f"notebook:{scope.rpartition('/')[2]} ({reference.path})")
            ),
            function=self.notebook_functions[scope],
            signature=", ".join(signature),
            returns=returns,
            docstring=py_text(f"Notebook {reference.path}, referenced as {scope}."),
            pipeline_config=self.pipeline_config,
            body="\n".join(body),
        )

    def value_in(
        self, scope: str, value: tuple[str, str], imported: dict[tuple[str, str], str]
    ) -> str:
        """The expression, in notebook ``scope``'s pipeline function, of the value (producer,
        variable): an argument it received, a step's output or a nested pipeline's."""
        if value in imported:
            return imported[value]
        producer, name = value
        holder = self.nesting.member(scope, producer)
        if holder.is_step:
            return f"{self.made.tasks[producer]}.outputs[{self.made.output_args[producer][name]!r}]"
        output = self.exports[holder.name][value]
        return f"{self.notebook_tasks[holder.name]}.outputs[{output!r}]"
