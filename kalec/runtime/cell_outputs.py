"""What a step's cells show, kept per cell in the notebook's own output format.

Jupyter shows a cell's printed text, the value of its last line, everything passed to
``display()`` and every figure it drew. A step records the same (nbformat 4 output records:
``stream``, ``execute_result``, ``display_data``, ``error``) while it still prints to its
terminal, so that the run can be assembled into an executed notebook and an HTML page, and a
cached step can show again what it showed. Figures follow Jupyter's inline backend: ``plt.show()``
shows and closes the open figures, and those left open at the end of a cell are shown then.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

MAX_TEXT = 8 * 2**20  # characters of printed text kept per step; the terminal gets it all
MAX_RICH = 64 * 2**20  # bytes of rich data (images, HTML) kept per step
_RICH_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("text/latex", "_repr_latex_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("application/json", "_repr_json_"),
)


class Recorder:
    """The outputs of each cell of one step, in the order they happened."""

    def __init__(self) -> None:
        self.cells: dict[int, list[dict[str, Any]]] = {}
        self.cell: int | None = None
        self.text_left = MAX_TEXT
        self.rich_left = MAX_RICH

    def begin(self, cell: int) -> None:
        self.cell = cell
        self.cells.setdefault(cell, [])

    def _add(self, record: dict[str, Any]) -> None:
        if self.cell is not None:
            self.cells[self.cell].append(record)

    def stream(self, name: str, text: str) -> None:
        if self.cell is None or not text or self.text_left <= 0:
            return
        if len(text) > self.text_left:
            text = text[: self.text_left] + "\n[output truncated by kalec]\n"
        self.text_left -= len(text)
        records = self.cells[self.cell]
        if records and records[-1]["output_type"] == "stream" and records[-1]["name"] == name:
            records[-1]["text"] += text
        else:
            records.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, data: dict[str, Any], result: bool = False) -> None:
        size = sum(len(v) if isinstance(v, str) else 0 for v in data.values())
        if size > self.rich_left:
            data = {k: v for k, v in data.items() if k == "text/plain"}
        self.rich_left -= size
        record: dict[str, Any] = {"output_type": "display_data", "data": data, "metadata": {}}
        if result:
            record.update(output_type="execute_result", execution_count=None)
        self._add(record)

    def error(self, error: BaseException, traceback_lines: list[str]) -> None:
        self._add(
            {
                "output_type": "error",
                "ename": type(error).__name__,
                "evalue": str(error),
                "traceback": traceback_lines,
            }
        )

    def end_cell(self) -> None:
        """Show the figures the cell left open, as Jupyter's inline backend does."""
        show_figures()

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({str(k): v for k, v in self.cells.items()}, handle, ensure_ascii=False)


RECORDER: Recorder | None = None


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Record what the code run inside shows, while it still reaches the terminal."""
    global RECORDER
    saved = RECORDER, sys.stdout, sys.stderr
    RECORDER = recorder
    sys.stdout, sys.stderr = Tee(sys.stdout, "stdout"), Tee(sys.stderr, "stderr")
    try:
        yield recorder
    finally:
        RECORDER, sys.stdout, sys.stderr = saved


class Tee(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` of a step: writes go to the terminal and the record.

    A text stream itself (libraries check ``isinstance(sys.stdout, io.TextIOBase)``) that hands
    everything but ``write`` to the stream it wraps: its file descriptor, encoding, buffer.
    """

    def __init__(self, stream: TextIO, name: str) -> None:
        super().__init__()
        self._stream, self._name = stream, name

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if RECORDER is not None and isinstance(text, str):
            RECORDER.stream(self._name, text)
        return written if written is not None else len(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)

    @property
    def buffer(self) -> Any:
        return self._stream.buffer

    def __getattr__(self, attribute: str) -> Any:  # name, line_buffering, reconfigure ...
        return getattr(self._stream, attribute)


def unrecorded(stream: TextIO) -> TextIO:
    """The terminal behind a recording ``Tee``: for text that is recorded in another form."""
    return stream._stream if isinstance(stream, Tee) else stream


def plain_text(value: Any) -> str:
    """The ``text/plain`` of a value, laid out as Jupyter lays it out: IPython's pretty printer
    at 79 columns (``<__main__.Counter at 0x...>`` for an object without a repr of its own)."""
    try:
        from IPython.lib.pretty import pretty
    except ImportError:
        import pprint

        text = repr(value)
        return text if "\n" in text or len(text) <= 79 else pprint.pformat(value)
    return pretty(value, max_width=79, max_seq_length=1000)


def mime_bundle(value: Any) -> dict[str, Any]:
    """Every form of ``value`` Jupyter would show: plain text, and its ``_repr_*_`` forms."""
    data: dict[str, Any] = {"text/plain": plain_text(value)}
    if isinstance(value, type):
        return data  # a class: its _repr_html_ is a function needing an instance
    figure = _figure_png(value)
    if figure is not None:
        data["image/png"] = figure
        return data
    for mime, method in _RICH_METHODS:
        function = getattr(value, method, None)
        if not callable(function):
            continue
        try:
            form = function()
        except Exception:
            continue
        if isinstance(form, tuple):  # (data, metadata)
            form = form[0]
        if form is None:
            continue
        if isinstance(form, bytes):
            form = base64.b64encode(form).decode("ascii")
        data[mime] = form
    return data


def display(*values: Any, **_: Any) -> None:
    """``display()`` in a step: each value's plain text on the terminal, every form recorded."""
    for value in values:
        bundle = mime_bundle(value)
        _terminal_text(bundle)
        if RECORDER is not None:
            RECORDER.rich(bundle)


def publish(data: dict[str, Any], metadata: Any = None, **_: Any) -> None:
    """IPython's display publisher in a step (``IPython.display.display``, ``HTML(...)``)."""
    _terminal_text(data)
    if RECORDER is not None:
        RECORDER.rich({k: _jsonable(v) for k, v in data.items()})


def result(value: Any) -> None:
    """A cell's last expression: printed and recorded as Jupyter's ``Out[n]``."""
    bundle = mime_bundle(value)
    _terminal_text(bundle)
    if RECORDER is not None:
        RECORDER.rich(bundle, result=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value if isinstance(value, (str, dict, list)) else str(value)


def _terminal_text(bundle: dict[str, Any]) -> None:
    stream = unrecorded(sys.stdout)
    text = bundle.get("text/plain")
    if text is not None:
        stream.write(str(text) + "\n")
        stream.flush()


def _figure_png(value: Any) -> str | None:
    if type(value).__module__ != "matplotlib.figure" or not hasattr(value, "savefig"):
        return None
    buffer = io.BytesIO()
    try:
        value.savefig(buffer, format="png", bbox_inches="tight")
    except Exception:
        return None
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def show_figures() -> None:
    """Show every open pyplot figure, then close it: ``plt.show()`` and the end of a cell."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for number in pyplot.get_fignums():
        figure = pyplot.figure(number)
        png = _figure_png(figure)
        if png is not None and RECORDER is not None:
            RECORDER.rich({"text/plain": plain_text(figure), "image/png": png})
    pyplot.close("all")
