"""The picture of a search, one HTML file with SVG drawn here: the metric by trial (each trial a
dot, the best so far a line) and the metric by each parameter, and the table of trials. Every
text (parameter values, the notebook's name) is escaped."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

from kalec.ir import Pipeline
from kalec.searchspace import Space

_W, _H, _PAD = 420, 240, 40


def _scale(values: list[float], size: float, log: bool = False) -> Any:
    if log:
        values = [math.log10(v) for v in values if v > 0] or [0.0]
    low, high = min(values), max(values)
    span = (high - low) or 1.0

    def to(value: float) -> float:
        if log:
            value = math.log10(value) if value > 0 else low
        return (value - low) / span * size

    return to


def _chart(
    title: str, points: list[tuple[Any, float]], best_line: list[float] | None, x_log: bool = False
) -> str:
    """A scatter of (x, metric); x may be text (placed in the order first seen)."""
    if not points:
        return ""
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x, _ in points)
    axis: list[str] = []
    if numeric:
        xs = [float(x) for x, _ in points]
        fx = _scale(xs, _W - 2 * _PAD, x_log)
        place = lambda x: _PAD + fx(float(x))  # noqa: E731
        axis = [
            f'<text x="{_PAD}" y="{_H - _PAD + 14}" font-size="10">{min(xs):.4g}</text>',
            f'<text x="{_W - _PAD}" y="{_H - _PAD + 14}" font-size="10" '
            f'text-anchor="end">{max(xs):.4g}</text>',
        ]
    else:
        labels = list(dict.fromkeys(str(x) for x, _ in points))
        step = (_W - 2 * _PAD) / max(len(labels), 1)
        place = lambda x: _PAD + step * (labels.index(str(x)) + 0.5)  # noqa: E731
    ys = [y for _, y in points] + (best_line or [])
    fy = _scale(ys, _H - 2 * _PAD)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_W / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>',
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#999"/>',
        f'<text x="4" y="{_PAD}" font-size="10">{max(ys):.4g}</text>',
        f'<text x="4" y="{_H - _PAD}" font-size="10">{min(ys):.4g}</text>',
    ]
    out += axis
    if best_line:
        path = " ".join(
            f"{'M' if i == 0 else 'L'} {place(i):.1f} {_H - _PAD - fy(v):.1f}"
            for i, v in enumerate(best_line)
        )
        out.append(f'<path d="{path}" fill="none" stroke="#e15759" stroke-width="1.5"/>')
    for x, y in points:
        out.append(
            f'<circle cx="{place(x):.1f}" cy="{_H - _PAD - fy(y):.1f}" r="4" fill="#4e79a7">'
            f"<title>{escape(str(x))}: {y:.6g}</title></circle>"
        )
    if not numeric:
        for label in dict.fromkeys(str(x) for x, _ in points):
            out.append(
                f'<text x="{place(label):.1f}" y="{_H - _PAD + 14}" text-anchor="middle" '
                f'font-size="10">{escape(label[:16])}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def write_report(path: Path, study: Any, space: Space, pipeline: Pipeline) -> Path:
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    metric = space.objective.metric
    best: list[float] = []
    for trial in complete:
        value = float(trial.value)
        if not best:
            best.append(value)
        else:
            better = max if space.objective.maximize else min
            best.append(better(best[-1], value))
    charts = [
        _chart(
            f"{metric} by trial (line: the best so far)",
            [(i, float(t.value)) for i, t in enumerate(complete)],
            best,
        )
    ]
    for dim in space.dimensions:
        charts.append(
            _chart(
                f"{metric} by {dim.name}",
                [
                    (t.params.get(dim.name), float(t.value))
                    for t in complete
                    if dim.name in t.params
                ],
                None,
                x_log=dim.log,
            )
        )
    names = [d.name for d in space.dimensions]
    rows = []
    for trial in study.trials:
        attrs = trial.user_attrs
        value = "failed" if trial.value is None else f"{trial.value:.6g}"
        shown = [trial.params.get(n, "") for n in names]
        cells = [
            str(trial.number),
            *(escape(f"{v:.6g}" if isinstance(v, float) else str(v)) for v in shown),
            value,
        ]
        cells += [
            f"{attrs.get('seconds', 0):.1f}",
            f"{attrs.get('ran', 0)}/{attrs.get('reused', 0)}",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = ["trial", *names, metric, "seconds", "steps run/reused"]
    title = f"kalec tune: {Path(pipeline.source).name}"
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:20px}svg{margin:6px;border:1px solid #ddd}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;"
        "text-align:right}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{'maximising' if space.objective.maximize else 'minimising'} {escape(metric)} "
        f"with {escape(space.algorithm)}; "
        f"{len(complete)} of {len(study.trials)} trials gave a value</p>"
        + "".join(charts)
        + "<table><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in header)
        + "</tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path
