"""The one place where user text becomes part of generated code: one function per context.

Text from a notebook (cells, names, descriptions, file names, tag values, defaults, image names,
command-line values) reaches three kinds of place in what kalec writes:

- a Python expression (``py_literal``, ``code_literal`` for cell code): the text comes back
  exactly when Python reads the expression;
- Python prose, inside a docstring or after ``#`` (``py_text``): one line that cannot end the
  docstring, start a line of code or hold a quote, and reads back exactly as a string escape;
- YAML scalars: PyYAML's emitter quotes and escapes them itself.

In all three, a pair of braces is a placeholder for the engines that run the steps: the KFP
launcher substitutes ``{{$.inputs...}}`` in a component's command and Argo substitutes
``{{...}}`` anywhere in a template. Python text spells such braces as ``\\x7b``/``\\x7d``
escapes, which only Python reads; a YAML value cannot be escaped that way, so the Argo backend
refuses user text holding ``{{`` (see ``placeholder_free``).
"""

from __future__ import annotations

import math
from typing import Any

PLACEHOLDER_OPEN = "{{"


def _holds_placeholder_braces(text: str) -> bool:
    return "{{" in text or "}}" in text


def _brace_escaped(python_source: str) -> str:
    """Braces of a string literal's source as hex escapes (valid only inside a non-raw literal)."""
    return python_source.replace("{", "\\x7b").replace("}", "\\x7d")


def _is_plain(char: str) -> bool:
    return char.isprintable()  # a lone surrogate is not printable either


def py_literal(value: Any) -> str:
    """A Python expression that evaluates to ``value`` (None, bool, int, float, str, and lists,
    tuples and dicts of those), with no placeholder braces in its text."""
    if isinstance(value, str):
        text = repr(value)
        return _brace_escaped(text) if _holds_placeholder_braces(value) else text
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return f"float({repr(value)!r})"  # float('inf'), float('nan'): `inf` is not a name
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        items = ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no literal for a {type(value).__name__}")


def py_text(text: str) -> str:
    """``text`` for a docstring or a comment: one line, every character that could end the
    docstring, break the line, or form a placeholder written as a string escape."""
    braces = _holds_placeholder_braces(text)
    if not braces and text.isprintable() and not any(c in text for c in "\\\"'"):
        return text  # nothing to escape: most names and descriptions
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char in "\"'":
            out.append("\\" + char)
        elif braces and char in "{}":
            out.append("\\x7b" if char == "{" else "\\x7d")
        elif _is_plain(char):
            out.append(char)
        else:
            out.append(ascii(char)[1:-1])  # \n, \x00, \u2028, \ud800 ...
    return "".join(out)


def code_literal(text: str) -> str:
    """A Python expression evaluating to exactly the cell code ``text``, as readable as it allows.

    Plain cell code becomes a raw triple-quoted string that shows the cell as written; text a
    raw string cannot hold exactly (its own quotes, a trailing backslash, carriage returns,
    control characters, lone surrogates) falls back to ``py_literal``, which always can, as it
    does for text with placeholder braces.
    """
    if _holds_placeholder_braces(text):
        return py_literal(text)
    if text.replace("\n", "").replace("\t", "").isprintable():  # no lone surrogate is
        for quote in ('"""', "'''"):
            if quote not in text and not text.endswith((quote[0], "\\")):
                return f"r{quote}{text}{quote}"
    return repr(text)


def placeholder_free(text: str) -> bool:
    """True when ``text`` can stand in a template of a placeholder-substituting engine."""
    return PLACEHOLDER_OPEN not in text
