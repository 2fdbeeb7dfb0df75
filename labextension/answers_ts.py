"""The panel's TypeScript interfaces for kalec's API answers, made from their one declaration.

The answers are declared once, as TypedDicts (``kalec/serve/answers.py`` and the shapes the
compiler and the runner own); this writes them as TypeScript interfaces to
``src/answers.ts``, which the panel imports, so that tsc holds the panel to what the server
answers. A test (``tests/test_answers.py``) fails when the file is not what this would write.

    python labextension/answers_ts.py          # write src/answers.ts
    python labextension/answers_ts.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "src" / "answers.ts"
HEADER = """\
// Made by labextension/answers_ts.py from the answers kalec/serve/answers.py declares; do not
// edit: change the declaration, then run `python labextension/answers_ts.py`.
"""
_SCALARS = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def is_record(hint: Any) -> bool:
    return isinstance(hint, type) and typing.is_typeddict(hint)


def fields(record: type) -> list[tuple[str, Any, bool]]:
    """(name, type hint, required) of a TypedDict's keys, its bases' first."""
    hints = typing.get_type_hints(record)
    required = record.__required_keys__  # type: ignore[attr-defined]
    return [(name, hints[name], name in required) for name in hints]


def typescript_type(hint: Any, found: list[type]) -> str:
    """``hint`` in TypeScript; the records it names are added to ``found``."""
    if hint is Any:
        return "unknown"
    if hint in _SCALARS:
        return _SCALARS[hint]
    if is_record(hint):
        if hint not in found:
            found.append(hint)
        return hint.__name__
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " | ".join(typescript_type(a, found) for a in args)
    if origin is Literal:
        return " | ".join(f"'{a}'" for a in args)
    if origin is list:
        inner = typescript_type(args[0], found)
        return f"({inner})[]" if "|" in inner else f"{inner}[]"
    if origin is dict:
        return f"Record<string, {typescript_type(args[1], found)}>"
    raise TypeError(f"no TypeScript for {hint!r}")


def render(roots: list[type]) -> str:
    """Every record reachable from ``roots``, as exported interfaces, in the order met."""
    found = list(roots)
    blocks = []
    index = 0
    while index < len(found):
        record = found[index]
        index += 1
        lines = [f"export interface {record.__name__} {{"]
        for name, hint, required in fields(record):
            key = name if name.isidentifier() else f"'{name}'"
            lines.append(f"  {key}{'' if required else '?'}: {typescript_type(hint, found)};")
        lines.append("}")
        blocks.append("\n".join(lines))
    return HEADER + "\n" + "\n\n".join(blocks) + "\n"


def answers_text() -> str:
    """The file as it should be: every endpoint's answer, and the error every one may give."""
    from kalec.serve.answers import ErrorAnswer
    from kalec.serve.endpoints import ENDPOINTS

    roots: list[type] = []
    for endpoint in ENDPOINTS:
        if endpoint.answer not in roots:
            roots.append(endpoint.answer)
    return render([*roots, ErrorAnswer])


def main(argv: list[str]) -> int:
    text = answers_text()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python labextension/answers_ts.py")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
