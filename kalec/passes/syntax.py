"""Pass: every kept cell must be valid Python (after IPython syntax is turned into Python).

Caught here, a syntax error names its cell and line at compile time instead of failing a step
halfway through a pipeline run.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import replace

from kalec.ir import Diagnostic, Origin, Pipeline, Severity


def check_syntax(pipeline: Pipeline) -> Pipeline:
    found = []
    for cell in pipeline.cells:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "\d" in a plain string
                ast.parse(cell.analyzed)
        except SyntaxError as error:
            line = error.lineno or 0
            text = (error.text or "").strip()
            found.append(
                Diagnostic(
                    Severity.ERROR,
                    f"syntax error: {error.msg}" + (f": {text}" if text else ""),
                    Origin(cell.number, line),
                    hint="fix the cell, or tag it 'skip' to leave it out of the pipeline",
                )
            )
    if not found:
        return pipeline
    return replace(pipeline, diagnostics=pipeline.diagnostics + tuple(found))
