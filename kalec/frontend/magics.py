"""IPython syntax in cells (``%magic``, ``%%cell magic``, ``!shell``) made runnable and analysable.

Two texts come out of a cell:

- ``python``: what runs in a step. IPython's own input transformer turns the special lines into
  calls on ``get_ipython()``, exactly as a kernel would, so every magic keeps its meaning.
- ``analyzed``: what the passes read. The same text, except that the body of a cell magic that
  runs Python (``%%capture``, ``%%time``) is analysed as the Python it is, the variable that
  ``%%capture NAME`` creates is seen as assigned, and the names that ``!cmd {expr}`` or
  ``$name`` pull from the namespace are seen as read.

IPython is imported only for cells that need it: it costs a fifth of a second.
"""

from __future__ import annotations

import ast
import re

from kalec.analysis.reserved import TIMEIT_SCOPE

# Quick test for lines that may hold IPython syntax; cells without any skip IPython entirely.
_SPECIAL = re.compile(r"^\s*(%|!)|^[^#\n]*=\s*(%|!)[A-Za-z_.]|\?\s*$", re.MULTILINE)
# Cell magics whose body is Python run in the user's namespace.
_PYTHON_BODY_MAGICS = {"capture", "time", "prun"}
# Cell magics whose body is Python run in a namespace of their own: names are read, none defined.
_PYTHON_READ_ONLY_MAGICS = {"timeit"}
_EXPANSION = re.compile(r"\{([^{}]+)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class MagicError(Exception):
    """The cell's IPython syntax could not be turned into Python."""


def has_ipython_syntax(source: str) -> bool:
    return bool(_SPECIAL.search(source))


def _transformer():  # imported late: IPython is slow to import and most cells do not need it
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError as error:  # pragma: no cover - IPython is a dependency
        raise MagicError(
            "this cell uses IPython syntax (% or !) and IPython is not installed"
        ) from error
    return TransformerManager()


def to_python(source: str) -> str:
    """The cell as plain Python (with ``get_ipython()`` calls where it had IPython syntax)."""
    if not has_ipython_syntax(source):
        return source
    try:
        return _transformer().transform_cell(source)
    except Exception as error:  # IPython raises assorted errors on malformed magic lines
        raise MagicError(f"IPython could not read this cell's magic lines: {error}") from error


def _expansion_reads(text: str) -> list[str]:
    """Expressions that IPython substitutes into a shell or magic line: ``{expr}`` and ``$name``."""
    reads = []
    for braced, dollar in _EXPANSION.findall(text):
        expression = braced or dollar
        try:
            ast.parse(expression, mode="eval")
        except SyntaxError:
            continue
        reads.append(expression)
    return reads


def _call_args(node: ast.Call) -> list[str] | None:
    if all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
        return [a.value for a in node.args]
    return None


def _ipython_call(node: ast.AST) -> tuple[str, list[str]] | None:
    """``get_ipython().METHOD('a', 'b')`` -> (METHOD, ['a', 'b'])."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Name)
        and node.func.value.func.id == "get_ipython"
    ):
        args = _call_args(node)
        if args is not None:
            return node.func.attr, args
    return None


def to_analyzed(python: str) -> str:
    """The text the passes analyse, for a cell already turned into Python by ``to_python``."""
    if "get_ipython()" not in python:
        return python
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return python  # the syntax check reports it
    lines = python.splitlines()
    for node in ast.walk(tree):
        call = _ipython_call(node)
        if call is None:
            continue
        method, args = call
        if method == "run_cell_magic" and len(args) == 3:
            name, line, body = args
            if name in _PYTHON_BODY_MAGICS | _PYTHON_READ_ONLY_MAGICS:
                inner = to_analyzed(to_python(body))
                if name in _PYTHON_READ_ONLY_MAGICS:
                    inner = _reads_only(inner)
                words = line.split()
                if name == "capture" and words and words[0].isidentifier():
                    inner += f"\n{words[0]} = None"
                # a cell magic is the whole cell; its body's line i is the cell's line i + 1
                return "pass\n" + inner
            reads = _expansion_reads(line)
            if name == "writefile" and line.split():  # the cell writes that file
                reads.append(f"open({line.split()[-1]!r}, 'w')")
        elif method in ("system", "getoutput", "run_line_magic"):
            reads = _expansion_reads(" ".join(args))
            if method == "run_line_magic" and args[0] in ("time", "prun") and len(args) == 2:
                reads.append(to_analyzed(to_python(args[1])).replace("\n", "; "))
        else:
            continue
        if reads and node.lineno == node.end_lineno:
            # on the magic's own line, so that every later line keeps its number
            lines[node.lineno - 1] += "".join(f"; {_as_statement(r)}" for r in reads)
    return "\n".join(lines)


def _as_statement(code: str) -> str:
    """An expression in parentheses (``$x.y`` reads ``x``), a statement as it is
    (``%time import decimal``, ``%time y = f(x)``)."""
    try:
        ast.parse(code, mode="eval")
    except SyntaxError:
        return code
    return f"({code})"


def _reads_only(python: str) -> str:
    """Code that reads what ``python`` reads and binds nothing: it runs in a function's scope."""
    body = "\n".join("    " + line for line in python.splitlines()) or "    pass"
    return f"def {TIMEIT_SCOPE}():\n{body}"
