"""Pass: every kept cell must be valid Python (after IPython syntax is turned into Python).

Caught here, a syntax error names its cell and line at compile time instead of failing a step
halfway through a pipeline run.
"""

from __future__ import annotations

from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.parsing import depth, parse
from kalec.ir import Origin, Pipeline

# Deeper syntax trees than this are refused: the passes walk trees recursively, as pyflakes does,
# and no notebook written by a person nests expressions hundreds of levels deep.
MAX_DEPTH = 300


def check_syntax(pipeline: Pipeline) -> Pipeline:
    found = []
    for cell in pipeline.cells:
        try:
            tree = parse(cell.analyzed)
            if depth(tree) > MAX_DEPTH:
                raise RecursionError
        except (RecursionError, MemoryError):
            found.append(
                D.TOO_DEEP(
                    "the cell is too deeply nested or too long an expression for Python's parser",
                    Origin(cell.number),
                    hint="split the expression into several statements",
                )
            )
        except (SyntaxError, ValueError) as error:  # ValueError: a NUL byte, in older Pythons
            if not isinstance(error, SyntaxError):
                error = SyntaxError(str(error))
            line = error.lineno or 0
            text = (error.text or "").strip()
            found.append(
                D.SYNTAX_ERROR(
                    f"syntax error: {error.msg}" + (f": {text}" if text else ""),
                    Origin(cell.number, line),
                    hint="fix the cell, or tag it 'skip' to leave it out of the pipeline",
                )
            )
    if not found:
        return pipeline
    return replace(pipeline, diagnostics=pipeline.diagnostics + tuple(found))
