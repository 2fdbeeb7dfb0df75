"""Target ``yaml``: the compiled KFP pipeline spec, for upload in the KFP UI or with ``deploy``.

It is exactly what running the ``kfp-py`` script writes: the script is rendered, loaded as a
module from a temporary file (kfp reads each component's source from its file) and compiled
with kfp's own compiler, in this process. Loading the script defines functions; it runs no cell.
"""

from __future__ import annotations

import importlib.util
import linecache
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from kalec.ir import Pipeline
from kalec.targets import kfp_py
from kalec.targets.options import KfpOptions


def load_script(path: Path) -> Any:
    """Import a generated ``kfp-py`` script as a fresh module."""
    name = f"kalec_kfp_script_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def compile_script(path: Path, package_path: Path) -> None:
    from kfp import compiler

    compiler.Compiler().compile(load_script(path).pipeline, package_path=str(package_path))


def emit(pipeline: Pipeline, options: KfpOptions | None = None) -> str:
    kfp_options = options or KfpOptions()
    return compile_text(kfp_py.emit(pipeline, kfp_options), kfp_options.script_name)


def compile_text(script: str, script_name: str) -> str:
    """The YAML kfp's compiler makes of a ``kfp-py`` script's text (written to a temporary file
    named ``script_name``: kfp reads each component's source from its file). A server runs this
    in a worker process of its own (``kalec.serve.kfp_compiles``)."""
    with tempfile.TemporaryDirectory(prefix="kalec-kfp-") as folder:
        path = Path(folder) / script_name
        path.write_text(script, encoding="utf-8")
        target = path.with_suffix(".yaml")
        try:
            compile_script(path, target)
            return target.read_text(encoding="utf-8")
        finally:
            # kfp read the script's source through linecache, which would keep every temporary
            # script for the life of the process (a server compiles many)
            linecache.cache.pop(str(path), None)
