"""The step graph of a compiled pipeline, drawn: SVG (laid out here), Graphviz DOT, Mermaid.

One box per step (its name and cells), one arrow per dependency, labelled with the variables
and files that travel along it (an arrow without a label is an order a ``prev:`` tag asked for).
The SVG needs no system package: the graph's generations (``kalec.ir.dag``) give the rows, and
the boxes of a row are ordered to keep arrows short. Every text from the notebook (step names,
variable names, file paths, the pipeline's name) is escaped for the format it goes into.
"""

from __future__ import annotations

import json
from html import escape

from kalec import graph_layout
from kalec.graph_layout import BOX_H, LABEL_H, Arrow, Box, boxes_in_rows, describe_arrows
from kalec.ir import Pipeline

FORMATS = ("svg", "dot", "mermaid")
MARKERS = {  # the first line of each format: how kalec knows a file is one it wrote
    "svg": "<!-- kalec graph -->",
    "dot": "// kalec graph",
    "mermaid": "%% kalec graph",
}


def layout(pipeline: Pipeline) -> tuple[list[Box], list[Arrow]]:
    """Boxes placed in rows (a step below every step it depends on) and the arrows."""
    arrows = describe_arrows(pipeline)
    return boxes_in_rows(pipeline, arrows), arrows


def _notebook_labels(pipeline: Pipeline) -> dict[str, str]:
    """scope -> the caption of its box: ``notebook:train (models/train.ipynb)``."""
    return {
        n.scope: f"notebook:{n.scope.rpartition('/')[2]} ({n.path})" for n in pipeline.notebooks
    }


def to_svg(pipeline: Pipeline) -> str:
    notebooks = _notebook_labels(pipeline)
    drawn = graph_layout.layout(pipeline, above=32 if notebooks else 0)
    boxes, tops = drawn.boxes, drawn.tops
    width, height = drawn.width, drawn.height
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
        upper = min(tops[b.row] for b in inside) - pad - 14
        lower = max(tops[b.row] for b in inside) + BOX_H + pad
        out.append(
            f'<g class="notebook" data-notebook="{escape(scope)}">'
            f'<rect x="{left:.1f}" y="{upper:.1f}" width="{right - left:.1f}" '
            f'height="{lower - upper:.1f}" rx="8" fill="none" stroke="#8a6d3b" '
            'stroke-dasharray="5 3"/>'
            f'<text x="{left + 6:.1f}" y="{upper + 12:.1f}" fill="#8a6d3b" font-size="11">'
            f"{escape(graph_layout.short(notebooks[scope]))}</text></g>"
        )
    labels = {label.arrow: label for label in drawn.labels}
    for index, arrow in enumerate(drawn.arrows):
        x1, y1, cx1, cy1, cx2, cy2, x2, y2 = drawn.curve(arrow)
        out.append(
            f'<g class="arrow" data-from="{escape(arrow.source)}" data-to="{escape(arrow.target)}">'
            f"<title>{escape(arrow.source)} \u2192 {escape(arrow.target)}"
            f"{': ' + escape(arrow.label) if arrow.label else ''}</title>"
            f'<path d="M {x1:.1f} {y1:.1f} C {cx1:.1f} {cy1:.1f} {cx2:.1f} {cy2:.1f} '
            f'{x2:.1f} {y2:.1f}" fill="none" stroke="#555" marker-end="url(#arrow)"/>'
        )
        label = labels.get(index)
        if label is not None:
            out.append(
                f'<rect class="label-back" x="{label.x - 2:.1f}" y="{label.y:.1f}" '
                f'width="{label.width + 4:.1f}" height="{LABEL_H}" rx="3" fill="#fff" '
                'fill-opacity="0.85"/>'
                f'<text class="label" x="{label.x:.1f}" y="{label.y + 11:.1f}" fill="#333" '
                f'font-size="11">{escape(label.text)}</text>'
            )
        out.append("</g>")
    for box in boxes:
        y = tops[box.row]
        cells = " ".join(str(n) for n in box.cells)
        out.append(
            f'<g class="step" data-step="{escape(box.name)}" data-cells="{cells}">'
            f'<rect x="{box.x:.1f}" y="{y:.1f}" width="{box.width:.1f}" height="{BOX_H}" '
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
