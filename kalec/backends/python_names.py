"""Step and variable names as Python code accepts them, and cell code as Python literals."""

from __future__ import annotations

import keyword
import re


def identifier(name: str, taken: set[str] | None = None) -> str:
    """A valid, non-keyword Python identifier for ``name``, unique among ``taken``."""
    text = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not text or text[0].isdigit():
        text = "step_" + text
    if keyword.iskeyword(text) or keyword.issoftkeyword(text):
        text += "_"
    if taken is not None:
        base, n = text, 2
        while text in taken:
            text, n = f"{base}_{n}", n + 1
        taken.add(text)
    return text


def code_literal(text: str) -> str:
    """A Python expression evaluating to exactly ``text``, as readable as the text allows.

    Plain cell code becomes a raw triple-quoted string that shows the cell as written; text a
    raw string cannot hold exactly (its own quotes, a trailing backslash, carriage returns,
    control characters, lone surrogates) falls back to ``repr``, which always can.
    """
    readable = all(
        c in "\n\t" or (c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF) for c in text
    )
    if readable:
        for quote in ('"""', "'''"):
            if quote not in text and not text.endswith((quote[0], "\\")):
                return f"r{quote}{text}{quote}"
    return repr(text)
