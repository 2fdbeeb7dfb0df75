"""The step graph of a compiled pipeline, drawn: SVG (laid out here), Graphviz DOT, Mermaid.

One box per step (its name and cells), one arrow per dependency, labelled with the variables
and files that travel along it (an arrow without a label is an order a ``prev:`` tag asked for).
The SVG needs no system package: the graph's generations (``kalec.ir.dag``) give the rows, and
the boxes of a row are ordered to keep arrows short. Every text from the notebook (step names,
variable names, file paths, the pipeline's name) is escaped for the format it goes into.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from html import escape

from kalec.analysis.symbols import describe
from kalec.ir import InputKind, Pipeline
from kalec.ir.dag import generations
from kalec.ir.places import place

FORMATS = ("svg", "dot", "mermaid")
MARKERS = {  # the first line of each format: how kalec knows a file is one it wrote
    "svg": "<!-- kalec graph -->",
    "dot": "// kalec graph",
    "mermaid": "%% kalec graph",
}
_CHAR = 7.2  # average width of a character of the 12 px sans-serif font, in pixels
_BOX_H, _ROW_GAP, _COL_GAP, _MARGIN = 44, 70, 36, 24
_LABEL_MAX = 40


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


def _arrows(pipeline: Pipeline) -> list[Arrow]:
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


def layout(pipeline: Pipeline) -> tuple[list[Box], list[Arrow]]:
    """Boxes placed in rows (a step below every step it depends on) and the arrows."""
    arrows = _arrows(pipeline)
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

        placed, x = [], float(_MARGIN)
        for position, name in enumerate(sorted(generation, key=key)):
            slot[name] = position
            width = max(len(name), len(Box(name, cells[name], row).caption)) * _CHAR + 24
            placed.append(Box(name, cells[name], row, x, width))
            x += width + _COL_GAP
        rows.append(placed)
    widest = max((r[-1].x + r[-1].width for r in rows if r), default=0.0)
    boxes = [  # each row centred under the widest
        replace(box, x=box.x + (widest - (row[-1].x + row[-1].width)) / 2)
        for row in rows
        for box in row
    ]
    return boxes, arrows


def _notebook_labels(pipeline: Pipeline) -> dict[str, str]:
    """scope -> the caption of its box: ``notebook:train (models/train.ipynb)``."""
    return {
        n.scope: f"notebook:{n.scope.rpartition('/')[2]} ({n.path})" for n in pipeline.notebooks
    }


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "\u2026"


def to_svg(pipeline: Pipeline) -> str:
    boxes, arrows = layout(pipeline)
    where = {b.name: b for b in boxes}
    rows = max((b.row for b in boxes), default=-1) + 1
    width = max((b.x + b.width for b in boxes), default=0.0) + _MARGIN
    notebooks = _notebook_labels(pipeline)
    above = 32 if notebooks else 0  # room for the caption of a notebook's box
    height = _MARGIN * 2 + above + rows * _BOX_H + max(rows - 1, 0) * _ROW_GAP

    def top(row: int) -> float:
        return _MARGIN + above + row * (_BOX_H + _ROW_GAP)

    title = escape(pipeline.settings.name or "pipeline")
    out = [
        MARKERS["svg"],
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        f"<title>{title}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for scope in sorted(notebooks, key=lambda s: s.count("/")):  # outer boxes first
        inside = [b for b in boxes if b.name.startswith(scope + "/")]
        if not inside:
            continue
        pad = max(4, 16 - 6 * scope.count("/"))
        left = min(b.x for b in inside) - pad
        right = max(b.x + b.width for b in inside) + pad
        upper = min(top(b.row) for b in inside) - pad - 14
        lower = max(top(b.row) for b in inside) + _BOX_H + pad
        out.append(
            f'<g class="notebook" data-notebook="{escape(scope)}">'
            f'<rect x="{left:.1f}" y="{upper:.1f}" width="{right - left:.1f}" '
            f'height="{lower - upper:.1f}" rx="8" fill="none" stroke="#8a6d3b" '
            'stroke-dasharray="5 3"/>'
            f'<text x="{left + 6:.1f}" y="{upper + 12:.1f}" fill="#8a6d3b" font-size="11">'
            f"{escape(_short(notebooks[scope]))}</text></g>"
        )
    for arrow in arrows:
        source, target = where[arrow.source], where[arrow.target]
        x1, y1 = source.x + source.width / 2, top(source.row) + _BOX_H
        x2, y2 = target.x + target.width / 2, top(target.row)
        bend = (y2 - y1) / 2
        out.append(
            f'<g class="arrow"><title>{escape(arrow.source)} \u2192 {escape(arrow.target)}'
            f"{': ' + escape(arrow.label) if arrow.label else ''}</title>"
            f'<path d="M {x1:.1f} {y1:.1f} C {x1:.1f} {y1 + bend:.1f} {x2:.1f} {y2 - bend:.1f} '
            f'{x2:.1f} {y2:.1f}" fill="none" stroke="#555" marker-end="url(#arrow)"/>'
        )
        if arrow.label:
            out.append(
                f'<text x="{(x1 + x2) / 2 + 6:.1f}" y="{(y1 + y2) / 2 + 4:.1f}" fill="#333" '
                f'font-size="11">{escape(_short(arrow.label))}</text>'
            )
        out.append("</g>")
    for box in boxes:
        y = top(box.row)
        out.append(
            f'<g class="step" data-step="{escape(box.name)}">'
            f'<rect x="{box.x:.1f}" y="{y:.1f}" width="{box.width:.1f}" height="{_BOX_H}" '
            'rx="6" fill="#eef4fb" stroke="#3b6ea5"/>'
            f'<text x="{box.x + box.width / 2:.1f}" y="{y + 18:.1f}" text-anchor="middle" '
            f'font-weight="bold">{escape(box.name)}</text>'
            f'<text x="{box.x + box.width / 2:.1f}" y="{y + 34:.1f}" text-anchor="middle" '
            f'fill="#555" font-size="11">{escape(box.caption)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _dot_string(text: str) -> str:
    """A DOT quoted string showing ``text``: quotes and backslashes escaped, a line break as
    ``\\n`` (JSON writes them so; Graphviz reads them so in labels)."""
    return json.dumps(text, ensure_ascii=False)


def to_dot(pipeline: Pipeline) -> str:
    boxes, arrows = layout(pipeline)
    out = [
        MARKERS["dot"],
        "digraph pipeline {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef4fb", fontname="sans-serif"];',
    ]
    labels = _notebook_labels(pipeline)

    def nodes(scope: str, indent: str) -> None:
        for box in boxes:
            if box.name.rpartition("/")[0] == scope:
                label = _dot_string(box.name + chr(10) + box.caption)
                out.append(f"{indent}{_dot_string(box.name)} [label={label}];")
        for inner in labels:
            if inner.rpartition("/")[0] == scope:
                out.append(f"{indent}subgraph {_dot_string('cluster_' + inner)} {{")
                out.append(f"{indent}  label={_dot_string(labels[inner])}; style=dashed;")
                nodes(inner, indent + "  ")
                out.append(f"{indent}}}")

    nodes("", "  ")
    for arrow in arrows:
        label = f" [label={_dot_string(arrow.label)}]" if arrow.label else ""
        out.append(f"  {_dot_string(arrow.source)} -> {_dot_string(arrow.target)}{label};")
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    """Text for a quoted Mermaid label: every character that means something there is written
    as an entity code (``#quot;``), so no label can close its quotes or carry markup."""
    special = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}
    special |= {"|": "#124;", "`": "#96;", "\n": " ", "\r": " "}
    return "".join(special.get(c, c) for c in text)


def to_mermaid(pipeline: Pipeline) -> str:
    boxes, arrows = layout(pipeline)
    ids = {b.name: f"s{i}" for i, b in enumerate(boxes)}
    out = [MARKERS["mermaid"], "flowchart TD"]
    labels = _notebook_labels(pipeline)
    groups = {scope: f"n{i}" for i, scope in enumerate(labels)}

    def nodes(scope: str, indent: str) -> None:
        for box in boxes:
            if box.name.rpartition("/")[0] == scope:
                text = f"{_mermaid_text(box.name)}<br/>{_mermaid_text(box.caption)}"
                out.append(f'{indent}{ids[box.name]}["{text}"]')
        for inner in labels:
            if inner.rpartition("/")[0] == scope:
                out.append(f'{indent}subgraph {groups[inner]}["{_mermaid_text(labels[inner])}"]')
                nodes(inner, indent + "  ")
                out.append(f"{indent}end")

    nodes("", "  ")
    for arrow in arrows:
        label = f'|"{_mermaid_text(arrow.label)}"|' if arrow.label else ""
        out.append(f"  {ids[arrow.source]} -->{label} {ids[arrow.target]}")
    return "\n".join(out) + "\n"


RENDERERS = {"svg": to_svg, "dot": to_dot, "mermaid": to_mermaid}
