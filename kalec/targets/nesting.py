"""A composition as the cluster targets lay it out: each referenced notebook a sub-DAG.

Both ``kfp-py`` (a nested ``@dsl.pipeline``) and ``argo`` (a DAG template) make one task per
reference, counted recursively, whose body holds that notebook's steps and the tasks of the
notebooks it references in turn. What crosses the border of a sub-DAG is what its steps read
from outside (its inputs) and what steps outside read from it (its outputs); an order without
data between a step inside and a step outside becomes an order between the tasks that hold them
at the level where both are seen. A pipeline without references is one body: the root's.
"""

from __future__ import annotations

from typing import NamedTuple

from kalec.ir import Pipeline, Step

Value = tuple[str, str]  # (producing step, variable)


def _inside(scope: str, step: str) -> bool:
    """Whether ``step`` belongs to notebook ``scope`` or to one it references, at any depth."""
    return not scope or step.startswith(scope + "/")


class Member(NamedTuple):
    """A task of a body: a step of that notebook, or the sub-DAG of a notebook it references."""

    name: str  # the step's name, or the referenced notebook's scope
    is_step: bool


class Nesting:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.scopes = [n.scope for n in pipeline.notebooks]
        self.reference = {n.scope: n for n in pipeline.notebooks}

    def member(self, scope: str, step: str) -> Member:
        """The task of body ``scope`` that holds ``step`` (which is inside ``scope``)."""
        rest = step[len(scope) + 1 :] if scope else step
        head, _, tail = rest.partition("/")
        if not tail:
            return Member(step, True)
        return Member(f"{scope}/{head}" if scope else head, False)

    def members(self, scope: str) -> list[Member]:
        """The tasks of body ``scope``, in notebook order."""
        found: dict[Member, None] = {}
        for step in self.pipeline.steps:
            if _inside(scope, step.name) and step.name != scope:
                found[self.member(scope, step.name)] = None
        return list(found)

    def steps_in(self, scope: str) -> list[Step]:
        return [s for s in self.pipeline.steps if _inside(scope, s.name)]

    def inputs(self, scope: str) -> list[Value]:
        """Values steps inside ``scope`` read from steps outside it."""
        found: dict[Value, None] = {}
        for step in self.steps_in(scope):
            for name, producer in step.artifact_inputs():
                if not _inside(scope, producer):
                    found[(producer, name)] = None
        return list(found)

    def outputs(self, scope: str) -> list[Value]:
        """Values steps inside ``scope`` make that steps outside it read."""
        found: dict[Value, None] = {}
        for step in self.pipeline.steps:
            if _inside(scope, step.name):
                continue
            for name, producer in step.artifact_inputs():
                if _inside(scope, producer):
                    found[(producer, name)] = None
        return list(found)

    def after(self, scope: str, member: Member, fed: set[Member]) -> list[Member]:
        """The tasks of body ``scope`` that ``member`` must follow without taking data from
        them (``fed``: those it takes data from)."""
        inside = [member.name] if member.is_step else [s.name for s in self.steps_in(member.name)]
        found: dict[Member, None] = {}
        for name in inside:
            for upstream in self.pipeline.step(name).upstream:
                if not _inside(scope, upstream) or upstream in inside:
                    continue
                other = self.member(scope, upstream)
                if other != member and other not in fed:
                    found[other] = None
        return list(found)

    def fed_by(self, scope: str, values: list[Value]) -> set[Member]:
        """The tasks of body ``scope`` that produce ``values`` (those made inside it)."""
        return {self.member(scope, p) for p, _ in values if _inside(scope, p)}

    def params(self, scope: str, needed: dict[str, list[str]]) -> list[str]:
        """The pipeline parameters the steps inside ``scope`` need, in declaration order
        (``needed``: step -> its parameters)."""
        wanted = {p for s in self.steps_in(scope) for p in needed[s.name]}
        return [p.name for p in self.pipeline.params if p.name in wanted]
