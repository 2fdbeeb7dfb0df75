"""Step and variable names as Python code accepts them, and a step's spec as a Python literal."""

from __future__ import annotations

import keyword
import re
from typing import Any

from kalec.targets.escaping import code_literal, py_literal


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

    lines = [
        "{",
        f"{pad}    'step': {py_literal(spec['step'])},",
        f"{pad}    'source': {py_literal(spec['source'])},",
    ]
    lines += cells("prelude")
    lines.append(f"{pad}    'imports': {py_literal(spec['imports'])},")
    lines += cells("cells")
    lines.append(f"{pad}    'metrics': {py_literal(spec['metrics'])},")
    lines.append(f"{pad}    'whole_number_params': {py_literal(spec['whole_number_params'])},")
    lines.append(f"{pad}    'none_if_empty_params': {py_literal(spec['none_if_empty_params'])},")
    lines.append(f"{pad}}}")
    return "\n".join(lines)
