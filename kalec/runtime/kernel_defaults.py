"""Defaults a library takes in a Jupyter kernel and not in a plain Python process, set as the
kernel has them, so that a step prints what the notebook's cell prints.

pandas decides at import whether it runs in a terminal (no ``get_ipython`` there): in a
terminal it fits a frame's columns to the terminal's width (``display.max_columns`` 0, eliding
the middle columns with ``...``); in a Jupyter kernel it shows up to 20 columns and wraps them.
A step is a plain process, and the fork server may have imported pandas before the step began:
the option is set on the module already imported, or right after pandas' own import.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from typing import Any


def _pandas(module: Any) -> None:
    try:
        if module.get_option("display.max_columns") == 0:
            module.set_option("display.max_columns", 20)
    except Exception:  # an unusual pandas: leave it as it is
        pass


_ADJUST: dict[str, Callable[[Any], None]] = {"pandas": _pandas}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of the modules in ``_ADJUST`` so that their
    adjustment runs once their own code has run."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in _ADJUST:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader.exec_module = _then(spec.loader.exec_module, _ADJUST[name])
                return spec
        return None


def _then(run: Callable[[Any], None], adjust: Callable[[Any], None]) -> Callable[[Any], None]:
    def exec_module(module: Any) -> None:
        run(module)
        adjust(module)

    return exec_module


def apply() -> None:
    """Set the kernel's defaults on libraries imported already, and on import for the rest."""
    pending = False
    for name, adjust in _ADJUST.items():
        if name in sys.modules:
            adjust(sys.modules[name])
        else:
            pending = True
    if pending and not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
