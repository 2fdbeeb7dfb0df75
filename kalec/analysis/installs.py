"""What a cell's IPython lines ask to install: ``%pip install``, ``!pip install``, ``%load_ext``.

Read from the text IPython's transformer made of those lines (the frontend turns them into
``get_ipython()`` calls), never by running them. The targets pin them for cluster
steps; the lints tell the user so.
"""

from __future__ import annotations

import ast
import shlex
from typing import NamedTuple

from kalec import cluster_names
from kalec.analysis.parsing import parse

# pip options followed by a value that is not a requirement
_OPTIONS_WITH_VALUE = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--platform", "--python-version", "--implementation", "--abi", "--src", "--cache-dir",
    "--log", "--proxy", "--retries", "--timeout", "--exists-action", "--trusted-host",
    "--progress-bar", "--upgrade-strategy", "--no-binary", "--only-binary", "--config-settings",
}  # fmt: skip


def _pip_requirements(command: str) -> list[str]:
    """The requirements of a ``pip install ...`` command line; options and files left out."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    if "install" not in words:
        return []
    found: list[str] = []
    skip = False
    for word in words[words.index("install") + 1 :]:
        if skip:
            skip = False
        elif word in _OPTIONS_WITH_VALUE:
            skip = True
        elif word.startswith("-") or any(c in word for c in "{}$&|;<>`"):
            continue
        elif cluster_names.requirement_problem(word) is None:
            found.append(word)
    return found


class MagicNeeds(NamedTuple):
    """Packages a cell's IPython lines ask for: requirements to install, modules to pin."""

    requirements: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()


def magic_needs(python: str) -> MagicNeeds:
    """What ``%pip install``, ``!pip install`` and ``%load_ext`` lines ask for.

    Reads the text IPython's transformer made of them: ``get_ipython().run_line_magic('pip',
    'install x')``, ``get_ipython().system('pip install x')``, ``...('load_ext', 'watermark')``.
    """
    if "get_ipython()" not in python:
        return MagicNeeds()
    try:
        tree = parse(python)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return MagicNeeds()
    requirements: list[str] = []
    modules: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if not texts or not all(isinstance(t, str) for t in texts):
            continue
        if node.func.attr == "run_line_magic" and len(texts) == 2:
            magic, line = texts
            if magic in ("pip", "conda"):
                requirements += _pip_requirements(f"pip {line}")
            elif magic == "load_ext" and line.strip():
                modules.append(line.split()[0].split(".")[0])
        elif node.func.attr in ("system", "getoutput") and "pip" in texts[0]:
            requirements += _pip_requirements(texts[0])
    return MagicNeeds(tuple(dict.fromkeys(requirements)), tuple(dict.fromkeys(modules)))
