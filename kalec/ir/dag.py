"""The step graph's order: ancestors, descendants, generations and cycles, in one place.

Every part that asks "what runs before what" asks here: the data flow while it adds
dependencies, the lints, validation, the picture of the graph, the local runner's plan. A graph
is a mapping of each step to its parents (the steps it runs after). Ancestry is kept as one int
per step used as a bit set (bit i: the i-th step), built in one topological pass: a chain of
10,000 steps holds about 6 MB, where a set of names per step held gigabytes. A graph with a
cycle (validation reports it) is walked step by step instead.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence

from kalec.ir.model import Pipeline


def parents(pipeline: Pipeline) -> dict[str, list[str]]:
    """Each step's parents: the steps its dependencies name."""
    return {s.name: list(s.upstream) for s in pipeline.steps}


class Ancestry:
    """Which steps run before which, through the parents given."""

    def __init__(self, graph: Mapping[str, Sequence[str]]) -> None:
        self.graph = {s: [p for p in ps if p in graph] for s, ps in graph.items()}
        self.bit = {step: 1 << i for i, step in enumerate(self.graph)}
        self.names = list(self.graph)
        self.masks: dict[str, int] = {}
        self.order: list[str] | None = None
        self._descendants: dict[str, int] | None = None
        try:
            self.order = list(graphlib.TopologicalSorter(self.graph).static_order())
        except graphlib.CycleError:
            for step in self.graph:
                self.masks[step] = self._walk(step, self.graph)
            return
        for step in self.order:
            mask = 0
            for parent in self.graph[step]:
                mask |= self.bit[parent] | self.masks[parent]
            self.masks[step] = mask

    def _walk(self, step: str, edges: Mapping[str, Sequence[str]]) -> int:
        mask, stack = 0, list(edges[step])
        while stack:
            other = stack.pop()
            if not mask & self.bit[other]:
                mask |= self.bit[other]
                stack.extend(edges[other])
        return mask

    def _names(self, mask: int) -> set[str]:
        return {name for name in self.names if mask & self.bit[name]}

    def precedes(self, earlier: str, step: str) -> bool:
        """True when ``earlier`` is an ancestor of ``step``."""
        return bool(self.masks.get(step, 0) & self.bit.get(earlier, 0))

    def ancestors(self, step: str) -> set[str]:
        return self._names(self.masks.get(step, 0))

    def descendants(self, step: str) -> set[str]:
        self._fill_descendants()
        assert self._descendants is not None
        return self._names(self._descendants.get(step, 0))

    def ordered_with(self, step: str) -> int:
        """The steps in an order with ``step`` (its ancestors, its descendants, itself), as a
        bit set; any other step may run before or after it."""
        self._fill_descendants()
        assert self._descendants is not None
        return self.bit.get(step, 0) | self.masks.get(step, 0) | self._descendants.get(step, 0)

    def _fill_descendants(self) -> None:
        if self._descendants is not None:
            return
        children: dict[str, list[str]] = {name: [] for name in self.graph}
        for name, ps in self.graph.items():
            for parent in ps:
                children[parent].append(name)
        if self.order is None:
            self._descendants = {name: self._walk(name, children) for name in self.graph}
            return
        self._descendants = {}
        for name in reversed(self.order):
            mask = 0
            for child in children[name]:
                mask |= self.bit[child] | self._descendants[child]
            self._descendants[name] = mask


def ancestors(pipeline: Pipeline, names: Iterable[str]) -> set[str]:
    """Every step that must finish before any of ``names`` starts (``names`` themselves only
    when one is another's ancestor)."""
    ancestry = Ancestry(parents(pipeline))
    return set().union(*(ancestry.ancestors(n) for n in names))


def descendants(pipeline: Pipeline, names: Iterable[str]) -> set[str]:
    """Every step that runs after one of ``names`` (``names`` themselves only when one is
    another's descendant)."""
    ancestry = Ancestry(parents(pipeline))
    return set().union(*(ancestry.descendants(n) for n in names))


def generations(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Rows of steps: each step in the first row below all its parents, in the graph's order
    within a row. A cycle's steps are left out."""
    known = {s: [p for p in ps if p in graph] for s, ps in graph.items()}
    waiting = {s: len(set(ps)) for s, ps in known.items()}
    children: dict[str, list[str]] = {s: [] for s in known}
    for step, ps in known.items():
        for parent in set(ps):
            children[parent].append(step)
    position = {s: i for i, s in enumerate(known)}
    row = [s for s, count in waiting.items() if count == 0]
    rows: list[list[str]] = []
    while row:
        rows.append(row)
        following = []
        for step in row:
            for child in children[step]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    following.append(child)
        row = sorted(following, key=position.__getitem__)
    return rows


def cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of the graph as ``[a, b, ..., a]``, each step a parent of the next; None when
    there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None
