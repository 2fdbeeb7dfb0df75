"""State of the Python process that a cell changes without naming a variable, and names a cell
reads without naming them: read from the syntax tree, for the lints of ``kalec check``.

In a kernel every cell shares one process: ``os.environ['MODE'] = 'fast'`` (or ``%env``),
``np.set_printoptions(precision=2)``, ``pd.set_option(...)``, ``plt.style.use(...)``,
``warnings.filterwarnings(...)``, ``sys.path.insert(...)``, ``os.chdir(...)`` or
``mymodule.SCALE = 3`` in one cell change what every later cell does. Each step runs in a
process of its own, so a later step never sees such a change, and no value carries it. The same
holds for names read through ``globals()``, ``vars()``, ``eval`` or ``exec``: the data flow
cannot see them, so no step passes them.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from kalec.analysis.magic_effects import LINE_MAGICS, call_effect
from kalec.analysis.parsing import children, walk
from kalec.analysis.symbols import dotted_name

# Calls that change process-wide state, by the dotted name as written, and what they change.
_STATE_CALLS = {
    "os.putenv": "the environment",
    "os.unsetenv": "the environment",
    "os.chdir": "the working folder",
    "np.set_printoptions": "how numpy prints",
    "numpy.set_printoptions": "how numpy prints",
    "np.seterr": "numpy's error handling",
    "numpy.seterr": "numpy's error handling",
    "pd.set_option": "pandas options",
    "pandas.set_option": "pandas options",
    "pd.reset_option": "pandas options",
    "pandas.reset_option": "pandas options",
    "plt.style.use": "matplotlib's style",
    "matplotlib.style.use": "matplotlib's style",
    "mpl.style.use": "matplotlib's style",
    "plt.rc": "matplotlib's settings",
    "mpl.rc": "matplotlib's settings",
    "matplotlib.rc": "matplotlib's settings",
    "matplotlib.use": "matplotlib's backend",
    "mpl.use": "matplotlib's backend",
    "sns.set": "seaborn's theme",
    "sns.set_theme": "seaborn's theme",
    "sns.set_style": "seaborn's theme",
    "sns.set_context": "seaborn's theme",
    "sns.set_palette": "seaborn's theme",
    "seaborn.set_theme": "seaborn's theme",
    "warnings.filterwarnings": "warning filters",
    "warnings.simplefilter": "warning filters",
    "warnings.resetwarnings": "warning filters",
    "logging.basicConfig": "logging",
    "sys.setrecursionlimit": "the recursion limit",
    "torch.set_default_dtype": "torch's defaults",
    "torch.set_printoptions": "how torch prints",
    "torch.set_num_threads": "torch's threads",
}
# Mappings and lists of process state, changed by item assignment or their methods.
_STATE_OBJECTS = {
    "os.environ": "the environment",
    "environ": "the environment",
    "sys.path": "the module search path",
    "plt.rcParams": "matplotlib's settings",
    "mpl.rcParams": "matplotlib's settings",
    "matplotlib.rcParams": "matplotlib's settings",
    "pd.options": "pandas options",
    "pandas.options": "pandas options",
}
# What, of the process state the code and the magics change, changes what a later import finds
# (the early imports of the fork server stop before it): the rest changes how things print.
AFFECTS_IMPORTS = frozenset(
    {"the environment", "the module search path", "the working folder", "matplotlib's backend"}
    | {effect.state for effect in LINE_MAGICS.values() if effect.imports and effect.state}
)


def affects_imports(kind: str) -> bool:
    """Whether a change of ``kind`` (a ``StateChange``'s) may change what an import finds."""
    return kind in AFFECTS_IMPORTS or kind.startswith("module ")


_CHANGING_METHODS = frozenset(
    "update setdefault pop popitem clear insert append extend remove __setitem__".split()
)
_DYNAMIC_READS = ("globals", "vars", "locals")


class StateChange(NamedTuple):
    """A change to the process (environment, print options, patched modules) that later
    steps do not see."""

    kind: str  # "the environment", "how numpy prints", "module helpers"
    line: int
    text: str  # the code as written, shortened


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def _object_kind(node: ast.expr, modules: set[str]) -> str | None:
    """What process state ``node`` (the target of an assignment, or the object of a method)
    is part of, if any."""
    name = dotted_name(node) or ""
    for prefix, kind in _STATE_OBJECTS.items():
        if name == prefix or name.startswith(prefix + "."):
            return kind
    if isinstance(node, ast.Attribute):
        root = _root(node)
        if isinstance(root, ast.Name) and root.id in modules:
            return f"module {root.id}"
    return None


def imported_names(tree: ast.Module) -> set[str]:
    """Names the cell binds with an import statement that runs with it (not in a function or
    class body): what ``state_changes`` counts as modules, gathered over the notebook."""
    found = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(a.asname or a.name.split(".")[0] for a in node.names if a.name != "*")
        elif not isinstance(node, ast.expr):  # blocks: if, for, try and its handlers, match
            pending += children(node)
    return found


def state_changes(tree: ast.Module, modules: set[str]) -> list[StateChange]:
    """Changes to process state in the statements that run with the cell (not inside functions
    it only defines); ``modules``: names the notebook binds by importing a module."""
    found = []
    pending: list[ast.AST] = list(tree.body)
    index = 0
    while index < len(pending):  # breadth first, as the lines of a statement are found
        node = pending[index]
        index += 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        kind = None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)):
                    kind = kind or _object_kind(
                        target if isinstance(target, ast.Attribute) else target.value, modules
                    )
            if kind is None and isinstance(node, ast.Assign):
                names = [dotted_name(t) for t in node.targets]
                if "sys.path" in names:
                    kind = "the module search path"
        elif isinstance(node, ast.Call):
            name = dotted_name(node.func) or ""
            kind = _STATE_CALLS.get(name)
            effect = call_effect(node)
            if effect is not None:  # %env, %cd, %precision ...: the magic catalogue says
                kind = effect.state
            if (
                kind is None
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _CHANGING_METHODS
            ):
                kind = _object_kind(node.func.value, set())
            if kind is None and name == "setattr" and node.args:
                target = node.args[0]
                if isinstance(target, ast.Name) and target.id in modules:
                    kind = f"module {target.id}"
        if kind is not None and hasattr(node, "lineno"):
            found.append(StateChange(kind, node.lineno, ast.unparse(node).splitlines()[0][:60]))
            continue
        pending += children(node)
    return sorted(found, key=lambda change: change.line)


class DynamicRead(NamedTuple):
    """A read of globals by name at run time, which the data flow cannot follow."""

    names: tuple[str, ...]  # the names read, where the code spells them; () when it does not
    line: int
    text: str


def dynamic_reads(tree: ast.Module) -> list[DynamicRead]:
    """Reads of global names that the data flow cannot see: ``globals()['x']``,
    ``globals().get('x')``, ``vars()[name]``, ``eval('x + 1')``, ``exec(code)``."""
    found = []
    for node in walk(tree):
        if isinstance(node, ast.Subscript) and _namespace_call(node.value):
            key = node.slice
            names = (key.value,) if _is_text(key) else ()
            found.append(DynamicRead(names, node.lineno, ast.unparse(node)[:60]))
        elif isinstance(node, ast.Call):
            function = node.func
            if (
                isinstance(function, ast.Attribute)
                and function.attr in ("get", "__getitem__")
                and _namespace_call(function.value)
            ):
                names = (node.args[0].value,) if node.args and _is_text(node.args[0]) else ()
                found.append(DynamicRead(names, node.lineno, ast.unparse(node)[:60]))
            elif isinstance(function, ast.Name) and function.id in ("eval", "exec") and node.args:
                code = node.args[0]
                names: tuple[str, ...] = ()
                if _is_text(code):
                    try:
                        parsed = ast.parse(
                            code.value, mode="eval" if function.id == "eval" else "exec"
                        )
                    except SyntaxError:
                        continue
                    names = tuple(
                        dict.fromkeys(
                            n.id
                            for n in ast.walk(parsed)
                            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                        )
                    )
                    if not names:
                        continue
                found.append(DynamicRead(names, node.lineno, ast.unparse(node)[:60]))
    return found


def _namespace_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _DYNAMIC_READS
        and not node.args
    )


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)
