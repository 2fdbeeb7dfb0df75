"""The Jinja environment the script-writing backends render their templates with."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from kalec import __version__
from kalec.backends.runtime_bundle import archive_lines, runtime_archive


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # the output is Python source, not HTML
    )
    environment.filters["pyrepr"] = repr
    return environment


def render(template: str, **context: Any) -> str:
    """Render ``template`` with the embedded runtime and kalec's version available to it."""
    archive, digest = runtime_archive()
    return (
        _environment()
        .get_template(template)
        .render(version=__version__, archive=archive_lines(), archive_digest=digest, **context)
    )
