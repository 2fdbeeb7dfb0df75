"""The script templates the script-writing targets fill in.

A template is a text file of Python under ``templates/`` with ``$name`` fields
(``string.Template``; ``$$`` is a dollar sign). Every field is filled with text the target has
already made safe for its place (``escaping``: ``py_literal``, ``py_text``, ``code_literal``),
and a filled-in value is never read again for fields, so text from a notebook cannot reach the
template language. Repeated parts (a function per step) are templates of their own, filled once
per step and joined by the target.

The standard library's templates, not a template engine: filling three small files is a few
microseconds, while importing an engine cost a sixth of a whole ``kalec build`` (issue 25).
"""

from __future__ import annotations

import functools
from pathlib import Path
from string import Template

from kalec import __version__
from kalec.packaging.runtime_bundle import archive_lines, runtime_archive

_FOLDER = Path(__file__).parent / "templates"


@functools.cache
def _template(name: str) -> Template:
    return Template((_FOLDER / name).read_text(encoding="utf-8"))


def fill(template: str, /, **fields: str) -> str:
    """Template file ``template`` with its fields; a field left out is a KeyError, not a gap."""
    return _template(template).substitute(fields)


def render(template: str, /, modules: dict[str, Path] | None = None, **fields: str) -> str:
    """Fill a script template that carries kalec's runtime: ``$version`` and
    ``$runtime_unpack`` (the function unpacking the embedded archive of the runtime, plus
    ``modules``, archive path -> file: the notebook's local modules) are provided here."""
    extra = tuple((path, file.read_bytes()) for path, file in sorted((modules or {}).items()))
    archive, digest = runtime_archive(extra)
    unpack = fill(
        "runtime_unpack.py.template",
        version=__version__,
        archive="\n".join(f'        "{line}"' for line in archive_lines(archive)),
        archive_digest=digest,
    )
    return fill(template, version=__version__, runtime_unpack=unpack, **fields)
