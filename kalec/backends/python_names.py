"""Step and variable names as Python code accepts them, and cell code as Python literals."""

from __future__ import annotations

import keyword
import re
from typing import Any


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
    control characters, lone surrogates) falls back to ``repr``, which always can. The result
    never contains ``{{`` or ``}}``: Argo and the KFP launcher substitute such placeholders in a
    step's command, so there every brace is spelled as an escape only Python reads.
    """
    if "{{" in text or "}}" in text:
        return repr(text).replace("{", "\\x7b").replace("}", "\\x7d")
    readable = all(
        c in "\n\t" or (c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF) for c in text
    )
    if readable:
        for quote in ('"""', "'''"):
            if quote not in text and not text.endswith((quote[0], "\\")):
                return f"r{quote}{text}{quote}"
    return repr(text)


def spec_literal(spec: dict[str, Any], indent: int = 8) -> str:
    """The step spec as a Python dict literal: structure indented, each cell's code verbatim.

    Only the lines that hold the structure are indented; a code literal's own lines are never
    touched, since any change to them would change what the step runs.
    """
    pad = " " * indent

    def cells(key: str) -> list[str]:
        out = [f"{pad}    {key!r}: ["]
        for cell in spec[key]:
            out.append(
                f"{pad}        {{'cell': {cell['cell']}, 'code': {code_literal(cell['code'])}}},"
            )
        out.append(f"{pad}    ],")
        return out

    lines = ["{", f"{pad}    'step': {spec['step']!r},", f"{pad}    'source': {spec['source']!r},"]
    lines += cells("prelude")
    lines.append(f"{pad}    'imports': {spec['imports']!r},")
    lines += cells("cells")
    lines.append(f"{pad}    'metrics': {spec['metrics']!r},")
    lines.append(f"{pad}    'whole_number_params': {spec['whole_number_params']!r},")
    lines.append(f"{pad}}}")
    return "\n".join(lines)
