"""``kalec graph``: the step graph as SVG, DOT and Mermaid, with every notebook text escaped."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import ROOT
from helpers import run_kalec

from kalec.compiler import compile_notebook
from kalec.graph import to_dot, to_mermaid, to_svg

QUICKSTART = ROOT / "examples" / "quickstart.ipynb"
SVG = "{http://www.w3.org/2000/svg}"
ODD = 'a"<b>&|#`c.csv'  # a file name holding what each format gives a meaning to


def test_svg_has_a_box_per_step_and_arrows_labelled_with_what_travels() -> None:
    svg = ET.fromstring(to_svg(compile_notebook(QUICKSTART)))
    steps = [g.get("data-step") for g in svg.iter(f"{SVG}g") if g.get("class") == "step"]
    assert steps == ["make-data", "fit", "baseline", "evaluate"]
    arrows = [g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g") if g.get("class") == "arrow"]
    assert arrows == [
        "make-data \u2192 fit: xs, ys",
        "make-data \u2192 baseline: ys",
        "fit \u2192 evaluate: slope, intercept",
        "baseline \u2192 evaluate: baseline",
    ]
    boxes = {
        g.get("data-step"): g.find(f"{SVG}rect")
        for g in svg.iter(f"{SVG}g")
        if g.get("class") == "step"
    }
    rows = {name: float(rect.get("y")) for name, rect in boxes.items()}
    assert rows["make-data"] < rows["fit"] == rows["baseline"] < rows["evaluate"]


def test_dot_and_mermaid_carry_the_same_graph() -> None:
    pipeline = compile_notebook(QUICKSTART)
    dot = to_dot(pipeline)
    assert '"make-data" -> "fit" [label="xs, ys"];' in dot
    assert '"fit" [label="fit\\ncell 7"];' in dot
    mermaid = to_mermaid(pipeline).splitlines()
    assert mermaid[1] == "flowchart TD"
    assert '  s0 -->|"xs, ys"| s1' in mermaid
    assert '  s3["evaluate<br/>cell 10"]' in mermaid


def test_notebook_text_is_escaped_in_every_format(notebook) -> None:
    path = notebook(
        [
            (["block:write"], f"open({ODD!r}, 'w').write('1')"),
            (["block:read", "prev:write"], f"n = len(open({ODD!r}).read())"),
            (["block:after", "prev:read"], "m = 1"),  # an order only: no label
        ]
    )
    pipeline = compile_notebook(path)
    svg = ET.fromstring(to_svg(pipeline))
    titles = [g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g") if g.get("class") == "arrow"]
    assert titles == [f"write \u2192 read: file {ODD}", "read \u2192 after"]
    dot = to_dot(pipeline)
    assert f'"write" -> "read" [label={json.dumps("file " + ODD)}];' in dot
    assert '"read" -> "after";' in dot
    edge = next(line for line in to_mermaid(pipeline).splitlines() if "s0 -->" in line)
    label = edge.split('|"', 1)[1].rsplit('"|', 1)[0]
    assert not set(label) & set('"<>|`')
    assert label == "file a#quot;#lt;b#gt;#amp;#124;#35;#96;c.csv"


def test_the_command_writes_a_file_and_never_replaces_one_it_did_not_write(
    notebook, tmp_path: Path
) -> None:
    path = notebook([(["block:a"], "x = 1"), (["block:b"], "y = x + 1")])
    out = tmp_path / "graph.dot"
    done = run_kalec("graph", str(path), "--format", "dot", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("// kalec graph")
    again = run_kalec("graph", str(path), "--format", "dot", "-o", str(out))
    assert again.returncode == 0, again.stderr

    mine = tmp_path / "mine.svg"
    mine.write_text("<svg>my drawing</svg>")
    refused = run_kalec("graph", str(path), "-o", str(mine))
    assert refused.returncode == 2
    assert "kalec did not write it" in refused.stderr
    assert mine.read_text() == "<svg>my drawing</svg>"
    forced = run_kalec("graph", str(path), "-o", str(mine), "--force")
    assert forced.returncode == 0
    ET.parse(mine)

    broken = notebook([(["block:a", "prev:nowhere"], "x = 1")], name="broken.ipynb")
    failed = run_kalec("graph", str(broken))
    assert failed.returncode == 2
    assert "broken.ipynb: cell 1" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_edge_labels_never_overlap_a_fan_out_of_eight_and_its_fan_in(notebook) -> None:
    """Kale's titanic notebook fans five arrows out of one step and five into another; here
    eight, each label long enough to collide with its neighbours if placed at the middle."""
    from kalec.graph_layout import LABEL_CHAR, LABEL_H

    names = [f"feature_matrix_for_model_{n}" for n in range(8)]
    cells = [(["block:featureengineering"], "\n".join(f"{v} = [{n}]" for n, v in enumerate(names)))]
    cells += [([f"block:model{n}"], f"score_of_model_{n} = len({v})") for n, v in enumerate(names)]
    cells.append(
        (["block:results"], "print(" + " + ".join(f"score_of_model_{n}" for n in range(8)) + ")")
    )
    svg = ET.fromstring(to_svg(compile_notebook(notebook(cells))))
    labels = [
        (float(t.get("x")), float(t.get("y")) - 11, len(t.text) * LABEL_CHAR, LABEL_H)
        for t in svg.iter(f"{SVG}text")
        if t.get("class") == "label"
    ]
    assert len(labels) == 16
    boxes = [
        (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
        for g in svg.iter(f"{SVG}g")
        if g.get("class") == "step"
        for r in g.iter(f"{SVG}rect")
    ]

    def overlap(a: tuple, b: tuple) -> bool:
        return (
            a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
        )

    for index, label in enumerate(labels):
        assert not any(overlap(label, other) for other in labels[index + 1 :]), label
        assert not any(overlap(label, box) for box in boxes), label
    width = float(svg.get("width"))
    assert all(x >= 0 and x + w <= width for x, _, w, _ in labels)
