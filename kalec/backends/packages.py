"""Which packages each step must install, pinned to the compiling environment's versions.

A step needs the distributions of the modules its code imports (prelude, its own cells, the
imports it repeats), those of the steps whose values it loads (a numpy array needs numpy to load,
even in a step that never imports numpy), dill for values saved through it, and IPython when it
uses IPython syntax. Versions are those installed where kalec compiles, where the notebook was
developed; ``--package`` replaces or adds one. Nothing is imported to find this out.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from collections.abc import Iterable

from kalec.ir import InputKind, Pipeline, Step

# Modules kalec's own runtime needs in a step that passes values.
_RUNTIME_NEEDS = ("dill",)


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def imported_modules(code: Iterable[str]) -> set[str]:
    """Top-level names of absolute imports in the code."""
    modules: set[str] = set()
    for text in code:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


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
        self._own: dict[str, set[str]] = {}

    def _own_modules(self, step: Step) -> set[str]:
        if step.name not in self._own:
            cells = [self.pipeline.cell(n).python for n in self.pipeline.prelude + step.cells]
            cells += [
                i.statement for i in step.inputs if i.kind is InputKind.IMPORT and i.statement
            ]
            modules = imported_modules(cells)
            if any("get_ipython()" in c for c in cells):
                modules.add("IPython")
            self._own[step.name] = modules
        return self._own[step.name]

    def _modules(self, step: Step, seen: set[str]) -> set[str]:
        """Own modules, plus those of every step whose values this one loads, transitively."""
        seen.add(step.name)
        modules = set(self._own_modules(step))
        if step.inputs or step.outputs:
            modules.update(_RUNTIME_NEEDS)
        for item in step.inputs:
            if item.kind is InputKind.ARTIFACT and item.producer and item.producer not in seen:
                modules |= self._modules(self.pipeline.step(item.producer), seen)
        return modules

    def for_step(self, step: Step) -> list[str]:
        requirements: dict[str, str] = {}
        for module in sorted(self._modules(step, set())):
            requirement = pinned(module)
            if requirement:
                requirements[_requirement_name(requirement)] = requirement
        for name in list(requirements):
            if name in self.overrides:
                requirements[name] = self.overrides[name]
        for name, requirement in self.overrides.items():
            requirements.setdefault(name, requirement)
        return sorted(requirements.values(), key=str.lower)
