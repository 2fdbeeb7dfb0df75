"""The Jinja environment the script-writing targets render their templates with."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from kalec import __version__, startup_cache
from kalec.packaging.runtime_bundle import archive_lines, runtime_archive
from kalec.targets.escaping import py_literal, py_text


@functools.cache
def _environment() -> jinja2.Environment:
    cache = startup_cache.folder()
    environment = jinja2.Environment(
        # compiled templates kept between commands: compiling them is a sixth of a small build
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(cache)) if cache else None,
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # the output is Python source, not HTML
    )
    environment.filters["pyrepr"] = py_literal  # every user text goes through these two
    environment.filters["pytext"] = py_text
    # kalec's own text holding placeholders the engine is meant to substitute (Argo volume paths)
    environment.filters["engine_repr"] = repr
    return environment


def render(template: str, modules: dict[str, Path] | None = None, **context: Any) -> str:
    """Render ``template`` with kalec's version and the embedded archive available to it: the
    runtime, plus ``modules`` (archive path -> file), the notebook's local modules."""
    extra = tuple((name, path.read_bytes()) for name, path in sorted((modules or {}).items()))
    archive, digest = runtime_archive(extra)
    return (
        _environment()
        .get_template(template)
        .render(
            version=__version__, archive=archive_lines(archive), archive_digest=digest, **context
        )
    )
