"""Where the step graph's boxes, arrows and arrow labels go: the layout ``kalec graph`` draws as
SVG and the JupyterLab panel shows.

Boxes sit in rows, a step below every step it depends on (``kalec.ir.dag`` generations), each
row ordered to keep arrows short. An arrow is a cubic curve from the bottom of its source box to
the top of its target. Its label (what travels along it) goes in the gap under the source's
row, beside the curve, at the first of several heights and on the first side where it overlaps
no label placed before it; when none is free the gap grows by one label's height and the gap is
placed again. So labels never overlap, however many arrows fan out of one step, and a gap is as
tall as its labels need.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kalec.ir import InputKind, Pipeline
from kalec.ir.dag import generations
from kalec.ir.places import place

CHAR = 7.2  # average width of a character of the 12 px sans-serif font, in pixels
LABEL_CHAR = CHAR * 11 / 12  # ... of the 11 px font of labels
BOX_H, ROW_GAP, COL_GAP, MARGIN = 44, 70, 36, 24
LABEL_H, LABEL_MAX = 14, 40  # a label's height, and the characters it shows
_PAD = 4  # between a label and the curve, and around a gap's labels
_MAX_GAP = 4000  # a gap never grows past this (a label that cannot fit is then left where it is)


@dataclass(frozen=True)
class Box:
    """A step's box in the picture: its row and horizontal place."""

    name: str
    cells: tuple[int, ...]
    row: int
    x: float = 0.0
    width: float = 0.0

    @property
    def caption(self) -> str:
        numbers = ", ".join(str(n) for n in self.cells)
        return ("cell " if len(self.cells) == 1 else "cells ") + numbers


@dataclass(frozen=True)
class Arrow:
    """An edge of the picture, with what it carries from one step to the next."""

    source: str
    target: str
    travels: tuple[str, ...]  # variables and files, as people read them

    @property
    def label(self) -> str:
        return ", ".join(self.travels)


@dataclass(frozen=True)
class Label:
    """Where an arrow's label is drawn: its box (left, top) and width, in pixels."""

    arrow: int  # index in the arrows
    text: str
    x: float
    y: float
    width: float

    def overlaps(self, other: Label) -> bool:
        return (
            self.x < other.x + other.width + _PAD
            and other.x < self.x + self.width + _PAD
            and self.y < other.y + LABEL_H
            and other.y < self.y + LABEL_H
        )


@dataclass(frozen=True)
class Layout:
    boxes: list[Box]
    arrows: list[Arrow]
    labels: list[Label]
    tops: list[float]  # each row's top
    width: float
    height: float

    def curve(self, arrow: Arrow) -> tuple[float, ...]:
        """(x1, y1, cx1, cy1, cx2, cy2, x2, y2): the arrow's cubic curve."""
        where = {b.name: b for b in self.boxes}
        return _curve(where[arrow.source], where[arrow.target], self.tops)


def short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "\u2026"


def describe_arrows(pipeline: Pipeline) -> list[Arrow]:
    from kalec.analysis.symbols import describe

    arrows = []
    for step in pipeline.steps:
        for dependency in step.dependencies:
            travels = tuple(
                dict.fromkeys(
                    describe(i.name)
                    for i in step.inputs
                    if i.producer == dependency.step
                    and i.kind in (InputKind.ARTIFACT, InputKind.FILE)
                )
            )
            arrows.append(Arrow(dependency.step, step.name, travels))
    return arrows


def boxes_in_rows(pipeline: Pipeline, arrows: list[Arrow]) -> list[Box]:
    """Boxes placed in rows (a step below every step it depends on), each row centred."""
    # cells as their own notebook numbers them (a composition's steps may come from several)
    cells = {s.name: tuple(place(pipeline, n)[1] for n in s.cells) for s in pipeline.steps}
    order = {s.name: i for i, s in enumerate(pipeline.steps)}
    # a composition: a referenced notebook's steps side by side, so that a box holds them
    tops = list(dict.fromkeys(s.name.partition("/")[0] for s in pipeline.steps))
    group = {s.name: tops.index(s.name.partition("/")[0]) for s in pipeline.steps}
    parents: dict[str, list[str]] = {s.name: [] for s in pipeline.steps}
    for arrow in arrows:
        parents[arrow.target].append(arrow.source)
    rows: list[list[Box]] = []
    slot: dict[str, float] = {}
    for row, generation in enumerate(generations(parents)):

        def key(name: str) -> tuple[int, float, int]:  # notebook, under its parents, then order
            above = [slot[p] for p in parents[name] if p in slot]
            middle = sum(above) / len(above) if above else float("inf")
            return (group[name], middle, order[name])

        placed, x = [], float(MARGIN)
        for position, name in enumerate(sorted(generation, key=key)):
            slot[name] = position
            width = max(len(name), len(Box(name, cells[name], row).caption)) * CHAR + 24
            placed.append(Box(name, cells[name], row, x, width))
            x += width + COL_GAP
        rows.append(placed)
    widest = max((r[-1].x + r[-1].width for r in rows if r), default=0.0)
    return [  # each row centred under the widest
        replace(box, x=box.x + (widest - (row[-1].x + row[-1].width)) / 2)
        for row in rows
        for box in row
    ]


def layout(pipeline: Pipeline, above: float = 0.0) -> Layout:
    """The whole picture; ``above``: room to leave over the first row (captions of boxes that
    group a composed notebook's steps)."""
    arrows = describe_arrows(pipeline)
    boxes = boxes_in_rows(pipeline, arrows)
    rows = max((b.row for b in boxes), default=-1) + 1
    gaps = [float(ROW_GAP)] * max(rows - 1, 0)
    where = {b.name: b for b in boxes}
    while True:
        tops = _tops(gaps, rows, above)
        labels, crowded = _place_labels(arrows, where, tops, gaps, reserve=above)
        if crowded is None or gaps[crowded] >= _MAX_GAP:
            break
        gaps[crowded] += LABEL_H + _PAD
    width = max([b.x + b.width for b in boxes] + [lb.x + lb.width for lb in labels] + [0.0])
    height = (tops[-1] + BOX_H if tops else 0.0) + MARGIN
    return Layout(boxes, arrows, labels, tops, width + MARGIN, height)


def _tops(gaps: list[float], rows: int, above: float) -> list[float]:
    tops, y = [], MARGIN + above
    for row in range(rows):
        tops.append(y)
        y += BOX_H + (gaps[row] if row < len(gaps) else 0)
    return tops


def _curve(source: Box, target: Box, tops: list[float]) -> tuple[float, ...]:
    x1, y1 = source.x + source.width / 2, tops[source.row] + BOX_H
    x2, y2 = target.x + target.width / 2, tops[target.row]
    bend = (y2 - y1) / 2
    return (x1, y1, x1, y1 + bend, x2, y2 - bend, x2, y2)


def _x_at(curve: tuple[float, ...], y: float) -> float:
    """The curve's x where it reaches height ``y`` (its y grows with t: found by bisection)."""
    x1, y1, cx1, cy1, cx2, cy2, x2, y2 = curve

    def point(t: float) -> tuple[float, float]:
        u = 1 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        return a * x1 + b * cx1 + c * cx2 + d * x2, a * y1 + b * cy1 + c * cy2 + d * y2

    low, high = 0.0, 1.0
    for _ in range(40):
        middle = (low + high) / 2
        if point(middle)[1] < y:
            low = middle
        else:
            high = middle
    return point((low + high) / 2)[0]


def _place_labels(
    arrows: list[Arrow],
    where: dict[str, Box],
    tops: list[float],
    gaps: list[float],
    reserve: float = 0.0,
) -> tuple[list[Label], int | None]:
    """Each labelled arrow's label in the gap under its source's row, above the ``reserve``
    pixels at the gap's foot (where the caption of a composed notebook's box goes); the first
    gap where one found no free place (None: all placed)."""
    placed: list[Label] = []
    by_gap: dict[int, list[Label]] = {}
    order = sorted(
        (i for i, a in enumerate(arrows) if a.travels),
        key=lambda i: (
            where[arrows[i].source].row,
            where[arrows[i].source].x,
            where[arrows[i].target].x,
        ),
    )
    for index in order:
        arrow = arrows[index]
        source, target = where[arrow.source], where[arrow.target]
        gap = source.row
        if gap >= len(gaps):
            continue
        text = short(arrow.label)
        width = len(text) * LABEL_CHAR
        curve = _curve(source, target, tops)
        top = tops[gap] + BOX_H + _PAD
        levels = max(int((gaps[gap] - reserve - 2 * _PAD) // (LABEL_H + _PAD)), 1)
        middle = levels // 2
        heights = sorted(range(levels), key=lambda k: (abs(k - middle), k))
        found = None
        for level in heights:
            y = top + level * (LABEL_H + _PAD)
            x = _x_at(curve, y + LABEL_H / 2)
            for left in (x + 6, x - 6 - width):
                candidate = Label(index, text, max(left, 2.0), y, width)
                if not any(candidate.overlaps(other) for other in by_gap.get(gap, [])):
                    found = candidate
                    break
            if found:
                break
        if found is None:
            return placed, gap
        placed.append(found)
        by_gap.setdefault(gap, []).append(found)
    return placed, None
