"""What each IPython magic does to the process it runs in: one catalogue, read by the fork
server's choice of early imports (``kalec.local.preimports``) and by the process-state lint
(K905, ``process_state``).

A magic can change what later cells compute or print without naming a variable (``%env``,
``%cd``, ``%precision``), and some of those change what a later ``import`` finds (``%env``,
``%cd``, ``%autoreload``, ``%pip install``). Most change neither (``%matplotlib inline``,
``%load_ext watermark``, ``%watermark``, ``%time``). A magic the catalogue does not know is taken
to change what imports find (the early imports stop before it), but is not said to change state:
nothing is known of it. A shell command (``!cmd``, ``%%bash``) runs in a process of its own and
changes nothing of the step's, but may install packages.

Cells reach the analysis with their magics already turned into ``get_ipython()`` calls
(``kalec.frontend.magics``): ``run_line_magic('env', 'MODE=fast')``,
``run_cell_magic('capture', '', body)``, ``system('pip install x')``.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from kalec.analysis.symbols import dotted_name


class MagicEffect(NamedTuple):
    """What a magic changes: ``state``, in words, what later cells would see differently (None:
    nothing); ``imports``: whether it may change what a later import finds."""

    state: str | None = None
    imports: bool = False


NO_EFFECT = MagicEffect()
UNKNOWN = MagicEffect(imports=True)
SHELL = MagicEffect(imports=True)  # its own process; it may install packages

LINE_MAGICS: dict[str, MagicEffect] = {
    # how figures and results show, timing, reports: nothing later cells or imports see
    **dict.fromkeys(
        "matplotlib config time timeit prun who whos who_ls pwd history lsmagic pinfo pinfo2 "
        "pdoc psource pfile page magic quickref watermark load_ext reload_ext xmode "
        "colors doctest_mode alias_magic alias unalias store logstart logstop logon logoff "
        "notebook save pastebin tb debug pdb recall rerun macro pycat bookmark dhist dirs "
        "popd pushd conda_info".split(),
        NO_EFFECT,
    ),
    "precision": MagicEffect("how IPython shows numbers"),
    "reset": MagicEffect("the notebook's names"),
    "reset_selective": MagicEffect("the notebook's names"),
    "env": MagicEffect("the environment", imports=True),  # when it sets (%env NAME=VALUE)
    "set_env": MagicEffect("the environment", imports=True),
    "cd": MagicEffect("the working folder", imports=True),
    "autoreload": MagicEffect("how modules are reloaded", imports=True),
    "aimport": MagicEffect("how modules are reloaded", imports=True),
    "pip": MagicEffect("the installed packages", imports=True),
    "conda": MagicEffect("the installed packages", imports=True),
    "mamba": MagicEffect("the installed packages", imports=True),
    "micromamba": MagicEffect("the installed packages", imports=True),
    "uv": MagicEffect("the installed packages", imports=True),
    "run": MagicEffect("whatever the script it runs changes", imports=True),
    "load": MagicEffect("the cell's code", imports=True),
    "sx": SHELL,
    "system": SHELL,
}
# Cell magics whose body is the notebook's Python: their effects are the body's.
PYTHON_BODY_MAGICS = frozenset({"capture", "time", "timeit", "prun"})


def line_magic_effect(name: str, line: str) -> MagicEffect:
    """The effect of ``%name line``."""
    if name in ("env", "set_env"):  # %env alone lists, %env NAME shows: only setting changes
        words = line.split(None, 1)
        if not words or ("=" not in words[0] and len(words) < 2):
            return NO_EFFECT
    if name in ("pip", "conda", "mamba", "micromamba", "uv"):
        words = line.split()
        if words[:1] in (["list"], ["show"], ["freeze"], ["--version"]):
            return NO_EFFECT
    return LINE_MAGICS.get(name, UNKNOWN)


def ipython_call(node: ast.AST) -> tuple[str, list[str]] | None:
    """``get_ipython().METHOD('a', 'b')`` -> (METHOD, ['a', 'b']) (non-text arguments as '')."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    receiver = node.func.value
    if not (isinstance(receiver, ast.Call) and dotted_name(receiver.func) == "get_ipython"):
        return None
    args = [
        a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else ""
        for a in node.args
    ]
    return node.func.attr, args


def call_effect(node: ast.AST) -> MagicEffect | None:
    """The effect of IPython syntax at ``node``; None when ``node`` is no IPython call. A cell
    magic with a Python body has no effect of its own: its body's statements are read apart
    (``python_body``)."""
    found = ipython_call(node)
    if found is None:
        return None
    method, args = found
    if method == "run_line_magic" and args:
        return line_magic_effect(args[0], args[1] if len(args) > 1 else "")
    if method == "run_cell_magic" and args and args[0] in PYTHON_BODY_MAGICS:
        return NO_EFFECT
    if method in ("system", "getoutput"):
        return SHELL
    return UNKNOWN  # another cell magic (%%bash, %%writefile, ...), or anything else IPython runs


def python_body(node: ast.AST) -> str | None:
    """The Python that ``%%capture``, ``%%time``, ``%time CODE``, ... at ``node`` run in the
    notebook's namespace; None for anything else."""
    found = ipython_call(node)
    if found is None:
        return None
    method, args = found
    if method == "run_cell_magic" and len(args) == 3 and args[0] in PYTHON_BODY_MAGICS:
        return args[2]
    if method == "run_line_magic" and len(args) == 2 and args[0] in ("time", "prun"):
        return args[1]
    return None
