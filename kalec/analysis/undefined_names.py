"""The names a piece of notebook code uses before binding them, found by pyflakes.

pyflakes reads the code (a step's cells in notebook order, or the prelude) as one module and
reports every name used without a binding before it, including names that functions, lambdas
and methods defined in it read as globals. pyflakes resolves a function's globals at the end of
the module, as Python does for a function defined and called later; a function called before
the code binds a name it reads (a helper defined and called in one cell, the name imported
again further down) reads it from where the notebook had it at the call: such a name is free
at the call (``_called_early``). The ``free_names`` pass places what is found; this module is
imported only when a reading is not already kept (pyflakes is a tenth of a small build's start).
"""

from __future__ import annotations

import ast
import bisect

from pyflakes import checker, messages

from kalec.analysis.effects import function_effects
from kalec.analysis.parsing import walk
from kalec.analysis.symbols import BUILTIN_NAMES

# (name, index of the cell among the code's, line in that cell, read at the top level)
Found = tuple[tuple[str, int, int, bool], ...]


class _Checker(checker.Checker):
    """pyflakes, with some builtins taken away: those the notebook binds as its own values."""

    def __init__(self, tree: ast.Module, not_builtins: frozenset[str]) -> None:
        self.not_builtins = not_builtins  # set first: pyflakes checks inside its __init__
        super().__init__(tree, builtins=BUILTIN_NAMES)

    def release(self) -> None:
        """Break the checker's cycles (it keeps its own bound methods; a used binding points
        back to its scope), so that it, its scopes and the tree they hold are freed at once,
        not left to the garbage collector: on a notebook of thousands of steps those were most
        of what each collection went through. Only ``messages`` is read afterwards."""
        self.__dict__.pop("_nodeHandlers", None)
        for scope in [*self.deadScopes, *self.scopeStack]:
            scope.clear()
        self.deadScopes.clear()

    def addBinding(self, node, value):  # noqa: N802 - pyflakes' name
        if node is None and isinstance(value, checker.Builtin):
            # the builtins, into the fresh module scope: what pyflakes' own addBinding does
            # there, without its checks for redefinitions (a tenth of a small step's compile)
            if value.name not in self.not_builtins:
                self.scope[value.name] = value
            return
        super().addBinding(node, value)


def undefined_names(texts: tuple[str, ...], rebound: frozenset[str]) -> Found:
    """The names the code of ``texts`` (cells, in order, read as one module) uses before
    binding them, with the cell (its index among ``texts``) and line of the first use, and
    whether a use at the top level is among them; ``rebound``: builtins the notebook binds
    itself, which count as names like others."""
    starts: list[int] = []
    line = 1
    for text in texts:
        starts.append(line)
        line += text.count("\n") + 1
    tree = ast.parse("\n".join(texts))
    deferred_lines: set[int] = set()  # lines inside function, lambda and class-method bodies
    for node in walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
            deferred_lines.update(range(body[0].lineno, (node.end_lineno or body[0].lineno) + 1))
    found: dict[str, tuple[str, int, int, bool]] = {}

    def place_of(lineno: int) -> tuple[int, int]:
        index = bisect.bisect_right(starts, lineno) - 1
        return index, lineno - starts[index] + 1

    for name, lineno in _called_early(tree):
        found.setdefault(name, (name, *place_of(lineno), True))
    check = _Checker(tree, rebound)
    check.release()
    for message in check.messages:
        # after `from m import *`, pyflakes says "may be undefined" instead: still a free name
        if not isinstance(message, (messages.UndefinedName, messages.ImportStarUsage)):
            continue
        name = message.message_args[0]
        place = place_of(message.lineno)
        top_level = message.lineno not in deferred_lines
        earlier = found.get(name)
        if earlier is None or place < earlier[1:3]:
            found[name] = (name, *place, top_level or (earlier is not None and earlier[3]))
    return tuple(sorted(found.values(), key=lambda f: f[1:3]))


def _top_level(tree: ast.Module) -> list[ast.AST]:
    """The nodes that run when the module runs: all but the bodies of functions and classes
    (their decorators, defaults and bases run, and are kept)."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending += [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]
        elif isinstance(node, ast.ClassDef):
            pending += [*node.decorator_list, *node.bases]
        elif not isinstance(node, ast.Lambda):
            pending += [c for c in ast.iter_child_nodes(node) if c is not None]
    return found


def _called_early(tree: ast.Module) -> list[tuple[str, int]]:
    """(name, line of the call) for each global a function of the code reads when called at
    the top level before the code binds that name there (pyflakes takes the later binding)."""
    functions = {
        node.name: function_effects(node).reads
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    if not functions:
        return []
    nodes = _top_level(tree)
    bound: dict[str, int] = {}  # name -> first line the top level binds it
    for node in nodes:
        names: list[str] = []
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names = [node.id]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        for name in names:
            bound[name] = min(bound.get(name, node.lineno), node.lineno)  # type: ignore[attr-defined]
    found = []
    for node in nodes:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        called = node.func.id
        if called not in functions or bound.get(called, 0) > node.lineno:
            continue
        reads: set[str] = set()
        pending, seen = [called], set()
        while pending:  # what the function reads, and the functions it calls in turn
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            reads |= functions[current]
            pending += [r for r in functions[current] if r in functions]
        found += [(name, node.lineno) for name in reads if bound.get(name, 0) > node.lineno]
    return sorted(found, key=lambda f: f[1])
