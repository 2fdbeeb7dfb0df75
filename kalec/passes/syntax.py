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
            found.append(D.TOO_DEEP(Origin(cell.number)))
        except (SyntaxError, ValueError) as error:  # ValueError: a NUL byte, in older Pythons
            if not isinstance(error, SyntaxError):
                error = SyntaxError(str(error))
            line = error.lineno or 0
            text = (error.text or "").strip()
            found.append(
                D.SYNTAX_ERROR(Origin(cell.number, line), error=error.msg, text=text)
                if text
                else D.SYNTAX_ERROR_WITHOUT_TEXT(Origin(cell.number, line), error=error.msg)
            )
    if not found:
        return pipeline
    return replace(pipeline, diagnostics=pipeline.diagnostics + tuple(found))
