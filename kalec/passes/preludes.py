"""Pass: in a composition, the preludes of one chain of notebooks must agree.

A step of a referenced notebook runs the imports and functions cells of the notebooks above it
(those before the reference) and then its own. When two of those notebooks define one name
differently (``def clean()`` twice, ``import numpy as np`` and ``import jax.numpy as np``), the
step sees the last definition, while root steps after the reference run only the root's: the
pipeline and the program it stands for could disagree with nobody told. Such a pair is refused,
naming both cells. Definitions that read the same (one import in every notebook) are fine.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.parsing import parse
from kalec.ir import Diagnostic, Origin, Pipeline
from kalec.ir.places import cell_name

_NESTED = (ast.If, ast.Try, ast.With)


def _shape(value: object) -> object:
    """What a node says, without its places: its type and each field, recursively (what
    ``ast.dump`` prints, as a tuple; ``ast.dump`` leaves a reference cycle at every call)."""
    if isinstance(value, ast.AST):
        return (type(value).__name__, *(_shape(getattr(value, f, None)) for f in value._fields))
    if isinstance(value, list):
        return tuple(_shape(item) for item in value)
    return value


def _definitions(code: str) -> dict[str, tuple[int, object]]:
    """name -> (line, how it is defined) for what a prelude cell binds at its top level."""
    try:
        tree = parse(code)
    except SyntaxError:
        return {}
    found: dict[str, tuple[int, object]] = {}
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, _NESTED):
            for field in ("body", "orelse", "finalbody"):
                pending += getattr(node, field, [])
            pending += [n for h in getattr(node, "handlers", []) for n in h.body]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            for alias in node.names:
                bound = (alias.asname or alias.name).split(".")[0]
                found[bound] = (node.lineno, f"import {module}:{alias.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = (node.lineno, _shape(node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = (node.lineno, _shape(node.value))
    return found


def preludes(pipeline: Pipeline) -> Pipeline:
    if not pipeline.notebooks:
        return pipeline
    diagnostics: list[Diagnostic] = []
    said: set[tuple[int, int, str]] = set()
    for prelude in dict.fromkeys(s.prelude for s in pipeline.steps):
        seen: dict[str, tuple[int, str, object]] = {}  # name -> (cell, scope, definition)
        for number in prelude:
            cell = pipeline.cell(number)
            for name, (line, definition) in _definitions(cell.analyzed).items():
                earlier = seen.get(name)
                differs = earlier and earlier[1] != cell.scope and earlier[2] != definition
                if differs and (earlier[0], number, name) not in said:
                    said.add((earlier[0], number, name))
                    diagnostics.append(
                        D.PRELUDES_DISAGREE(
                            Origin(number, line),
                            name=name,
                            cell=cell_name(pipeline, earlier[0]),
                        )
                    )
                seen[name] = (number, cell.scope, definition)
    return replace(pipeline, diagnostics=pipeline.diagnostics + tuple(diagnostics))
