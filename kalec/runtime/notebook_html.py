"""A notebook's cells and outputs as one self-contained HTML page.

Used for the local run's page (every cell of the run's notebook) and, inside each cluster step,
for the page the pipeline UI shows for that step. Standard library only: it ships into steps.
Everything from the notebook is escaped; HTML a cell displayed (a DataFrame's table) is shown in
a sandboxed frame, where no script of it can run; images are only ever ``<img>`` sources.
"""

from __future__ import annotations

import base64
import binascii
import html
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
h1{font-size:1.3em} .cell{margin:1em 0;border-left:4px solid #ddd;padding-left:.8em}
.label{font-size:.8em;color:#666;margin-bottom:.2em} .skipped{opacity:.5}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap;margin:.2em 0}
pre.source{background:#eef3f8} pre.stderr{background:#fdeeee} pre.error{background:#fbdada}
iframe{width:100%;border:1px solid #ddd;min-height:6em} img{max-width:100%}
"""
_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _image(mime: str, data: Any) -> str:
    text = _text(data)
    if mime == "image/svg+xml":
        text = base64.b64encode(text.encode("utf-8")).decode("ascii")
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return ""
    return f'<img alt="figure" src="data:{mime};base64,{"".join(text.split())}">'


def _bundle(data: dict[str, Any]) -> str:
    for mime in _IMAGES:
        if mime in data:
            shown = _image(mime, data[mime])
            if shown:
                return shown
    if "text/html" in data:
        page = html.escape(_text(data["text/html"]), quote=True)
        return f'<iframe sandbox="" srcdoc="{page}"></iframe>'
    return f"<pre>{html.escape(_text(data.get('text/plain', '')))}</pre>"


def output_html(output: dict[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        return f'<pre class="{name}">{html.escape(_text(output.get("text", "")))}</pre>'
    if kind in ("display_data", "execute_result"):
        return _bundle(output.get("data") or {})
    if kind == "error":
        lines = "\n".join(_text(t) for t in output.get("traceback") or [])
        return f'<pre class="error">{html.escape(lines)}</pre>'
    return ""


def page(title: str, cells: list[dict[str, Any]]) -> str:
    """``cells``: {"label", "source", "outputs", "kind" ("code" or "markdown"), "skipped"}."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for cell in cells:
        classes = "cell skipped" if cell.get("skipped") else "cell"
        parts.append(f'<div class="{classes}">')
        parts.append(f'<div class="label">{html.escape(cell.get("label", ""))}</div>')
        source_class = "source" if cell.get("kind", "code") == "code" else "markdown"
        parts.append(f'<pre class="{source_class}">{html.escape(cell.get("source", ""))}</pre>')
        parts += [output_html(o) for o in cell.get("outputs") or [] if isinstance(o, dict)]
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
