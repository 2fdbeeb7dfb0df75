"""Which packages each step must install, pinned to the compiling environment's versions.

A step needs the distributions of the modules its code imports (prelude, its own cells, the
imports it repeats, and the local modules it imports, which are shipped with it), those of the
steps whose values it loads (a numpy array needs numpy to load, even in a step that never
imports numpy), dill for values saved through it, IPython when it uses IPython syntax, and what
its ``%pip install`` and ``%load_ext`` lines name. Versions are those installed where kalec
compiles, where the notebook was developed; ``--package`` replaces or adds one. Nothing is
imported to find this out.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable

from kalec.ir import InputKind, Pipeline, Step
from kalec.packaging import installed
from kalec.packaging.shipping import LocalModules, magic_needs, step_code, step_modules

# Modules kalec's own runtime needs in a step that passes values.
_RUNTIME_NEEDS = ("dill",)


@functools.cache
def pinned(module: str) -> str | None:
    """``module`` as a pinned requirement (``numpy==2.4.6``); None for the standard library and
    for modules not installed here (a local file beside the notebook, say)."""
    if module in sys.stdlib_module_names or module == "__future__":
        return None
    dist = installed.providing(module)
    return f"{dist.name}=={dist.version}" if dist else None


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


class Packages:
    """The requirements of every step of a pipeline."""

    def __init__(self, pipeline: Pipeline, overrides: Iterable[str] = ()) -> None:
        self.pipeline = pipeline
        self.overrides = {_requirement_name(r): r for r in overrides}
        self.local = LocalModules(pipeline)
        self.steps = {s.name: s for s in pipeline.steps}
        self._own: dict[str, set[str]] = {}
        self._closed: dict[str, frozenset[str]] = {}  # step -> its modules and its producers'

    def _own_modules(self, step: Step) -> set[str]:
        if step.name not in self._own:
            cells = step_code(self.pipeline, step)
            modules = step_modules(self.pipeline, step)
            folders = self.local.folders(step.scope)
            _, external = self.local.closure(modules, folders)
            modules = {m for m in modules | external if not self.local.files_of(m, folders)}
            for code in cells:
                modules.update(magic_needs(code).modules)
            if any("get_ipython()" in c for c in cells):
                modules.add("IPython")
            self._own[step.name] = modules
        return self._own[step.name]

    def _magic_requirements(self, step: Step) -> list[str]:
        """``%pip install x`` lines: x as written, pinned to this environment when it is
        installed here and the line gave no version."""
        found = []
        for code in step_code(self.pipeline, step):
            for requirement in magic_needs(code).requirements:
                name = _requirement_name(requirement)
                dist = installed.named(name)
                if name == requirement.lower().replace("_", "-") and dist:
                    requirement = f"{requirement}=={dist.version}"
                found.append(requirement)
        return found

    def _modules(self, step: Step) -> frozenset[str]:
        """Own modules, plus those of every step whose values this one loads, transitively.

        Each step's set is computed once, from its producers' sets, so a chain of thousands of
        steps costs a pass over the steps, not a walk of every step's ancestors; the walk that
        fills the memo is iterative, as a chain may be longer than Python's stack.
        """
        pending, entered = [step], set()
        while pending:
            current = pending[-1]
            if current.name in self._closed:
                pending.pop()
                continue
            producers = [
                self.steps[i.producer]
                for i in current.inputs
                if i.kind is InputKind.ARTIFACT and i.producer in self.steps
            ]
            missing = [p for p in producers if p.name not in self._closed and p.name not in entered]
            entered.add(current.name)  # a cycle (refused before any backend runs) cannot loop
            if missing:
                pending += missing
                continue
            pending.pop()
            modules = set(self._own_modules(current))
            if current.inputs or current.outputs:
                modules.update(_RUNTIME_NEEDS)
            for producer in producers:
                modules |= self._closed.get(producer.name, frozenset())
            self._closed[current.name] = frozenset(modules)
        return self._closed[step.name]

    def for_step(self, step: Step) -> list[str]:
        requirements: dict[str, str] = {}
        for module in sorted(self._modules(step)):
            requirement = pinned(module)
            if requirement:
                requirements[_requirement_name(requirement)] = requirement
        for requirement in self._magic_requirements(step):
            requirements.setdefault(_requirement_name(requirement), requirement)
        for name in list(requirements):
            if name in self.overrides:
                requirements[name] = self.overrides[name]
        for name, requirement in self.overrides.items():
            requirements.setdefault(name, requirement)
        return sorted(requirements.values(), key=str.lower)
