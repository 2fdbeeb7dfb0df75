"""The step graph's ancestry: one implementation for every part that asks "what comes before,
what comes after". Works on any order of steps (a cycle, refused by validation, ends the walk).
"""

from __future__ import annotations

from collections.abc import Iterable

from kalec.ir.model import Pipeline


def parents(pipeline: Pipeline) -> dict[str, set[str]]:
    return {s.name: set(s.upstream) for s in pipeline.steps}


def children(pipeline: Pipeline) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {s.name: set() for s in pipeline.steps}
    for step in pipeline.steps:
        for parent in step.upstream:
            found.setdefault(parent, set()).add(step.name)
    return found


def _reach(start: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    pending = list(start)
    while pending:
        name = pending.pop()
        for other in edges.get(name, ()):
            if other not in seen:
                seen.add(other)
                pending.append(other)
    return seen


def ancestors(pipeline: Pipeline, names: Iterable[str]) -> set[str]:
    """Every step that must finish before any of ``names`` starts (``names`` not included,
    unless one is another's ancestor)."""
    return _reach(names, parents(pipeline))


def descendants(pipeline: Pipeline, names: Iterable[str]) -> set[str]:
    """Every step that runs after one of ``names`` (``names`` not included, unless one is
    another's descendant)."""
    return _reach(names, children(pipeline))


def ancestry(pipeline: Pipeline) -> dict[str, set[str]]:
    """Each step's ancestors."""
    edges = parents(pipeline)
    return {s.name: _reach([s.name], edges) for s in pipeline.steps}
