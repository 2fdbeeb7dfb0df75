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

import contextlib
import functools
import importlib.metadata
import re
import sys
from collections.abc import Iterable

from kalec.backends.shipping import LocalModules, imported_modules, magic_needs, step_code
from kalec.ir import InputKind, Pipeline, Step

# Modules kalec's own runtime needs in a step that passes values.
_RUNTIME_NEEDS = ("dill",)


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def pinned(module: str) -> str | None:
    """``module`` as a pinned requirement (``numpy==2.4.6``); None for the standard library and
    for modules not installed here (a local file beside the notebook, say)."""
    if module in sys.stdlib_module_names or module == "__future__":
        return None
    names = _distributions().get(module)
    if not names:
        return None
    name = names[0]
    return f"{name}=={importlib.metadata.version(name)}"


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

    def _own_modules(self, step: Step) -> set[str]:
        if step.name not in self._own:
            cells = step_code(self.pipeline, step)
            modules = imported_modules(cells)
            _, external = self.local.closure(modules)
            modules = {m for m in modules | external if not self.local.files_of(m)}
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
                if name == requirement.lower().replace("_", "-"):
                    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                        requirement = f"{requirement}=={importlib.metadata.version(name)}"
                found.append(requirement)
        return found

    def _modules(self, step: Step) -> set[str]:
        """Own modules, plus those of every step whose values this one loads, transitively
        (walked without recursion: a chain may be thousands of steps long)."""
        modules: set[str] = set()
        seen: set[str] = set()
        pending = [step]
        while pending:
            current = pending.pop()
            if current.name in seen:
                continue
            seen.add(current.name)
            modules |= self._own_modules(current)
            if current.inputs or current.outputs:
                modules.update(_RUNTIME_NEEDS)
            pending += [
                self.steps[i.producer]
                for i in current.inputs
                if i.kind is InputKind.ARTIFACT and i.producer in self.steps
            ]
        return modules

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
