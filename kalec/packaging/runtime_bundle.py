"""kalec's step runtime, and the notebook's local modules, as a deterministic archive to embed
into cluster steps.

The archive holds ``kalec/runtime`` (and an empty ``kalec/__init__.py``) and the local modules
the steps import (``helpers.py``, ``mypackage/...``), gzip'd tar, base64: a step unpacks it,
puts it on ``sys.path`` and imports ``kalec.runtime.step``, so its image needs neither kalec nor
the notebook's folder. Fixed file times and order make the same input give the same bytes, so
that compiling a notebook twice gives the same pipeline.
"""

from __future__ import annotations

import ast
import functools
import io
import os
from pathlib import Path

from kalec import startup_cache
from kalec.sized_cache import sized

RUNTIME = Path(__file__).resolve().parent.parent / "runtime"
# the local runner's own: the fork server and the observation of what a step reads
LOCAL_ONLY = ("zygote.py", "observe.py", "file_hooks.py", "channels.py", "syscalls.py")


@functools.cache
def _runtime_paths() -> tuple[Path, ...]:
    """The runtime's source files, in a fixed order (``os.walk``: a tenth of ``rglob``'s cost,
    which a small build paid to check its kept archive)."""
    found = []
    for folder, _, names in os.walk(RUNTIME):
        found += [Path(folder, n) for n in names if n.endswith(".py") and n not in LOCAL_ONLY]
    return tuple(sorted(found))


def _runtime_files() -> tuple[tuple[str, bytes], ...]:
    files = [("kalec/__init__.py", b'"""kalec\'s step runtime, unpacked inside a step."""\n')]
    files += [
        (f"kalec/runtime/{path.relative_to(RUNTIME).as_posix()}", path.read_bytes())
        for path in _runtime_paths()
    ]
    return tuple(files)


@sized(16 * 2**20, lambda extra, archive: len(archive[0]) + sum(len(b) for _, b in extra))
def runtime_archive(extra: tuple[tuple[str, bytes], ...] = ()) -> tuple[str, str]:
    """(base64 text of the archive, short digest naming its content); ``extra`` adds files
    (archive path, bytes): the local modules. Kept in the start-up cache while the runtime's
    files are unchanged (making the archive, tar and gzip at level 9, is a tenth of a small
    build); the local modules, when there are any, are part of the entry's name."""
    name = "archive.txt"
    if extra:
        import hashlib  # only here: loading OpenSSL is a twentieth of a small build

        key = hashlib.sha256()
        for path, data in sorted(extra):
            key.update(path.encode("utf-8", "surrogatepass") + b"\0")
            key.update(hashlib.sha256(data).digest())
        name = f"archive-{key.hexdigest()[:24]}.txt"

    def make() -> bytes:
        text, digest = _make_archive(_runtime_files() + tuple(sorted(extra)))
        return f"{digest}\n{text}".encode("ascii")

    family = startup_cache.ARCHIVES if extra else None
    kept = startup_cache.made_from(name, list(_runtime_paths()), make, family)
    digest, _, text = kept.decode("ascii", "replace").partition("\n")
    if len(digest) != 12 or not text:  # damaged: made again, not kept
        digest, _, text = make().decode("ascii").partition("\n")
    return text, digest


def _make_archive(files: tuple[tuple[str, bytes], ...]) -> tuple[str, str]:
    import base64  # with the rest: only when the start-up cache has no archive
    import gzip
    import hashlib
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    data = gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
    return base64.b64encode(data).decode("ascii"), hashlib.sha256(data).hexdigest()[:12]


def archive_lines(text: str, width: int = 88) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


@functools.cache
def install_source() -> str:
    """The code of ``kalec/runtime/install.py`` without its docstrings: KFP steps run it with
    ``python3 -c`` before kfp's executor starts (the runtime archive is not unpacked yet), and
    it is written into every step's command. Kept in the start-up cache while the file is
    unchanged."""
    path = RUNTIME / "install.py"
    return startup_cache.made_from(
        "install-source.py", [path], lambda: _without_docstrings(path).encode("utf-8")
    ).decode("utf-8")


def _without_docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body.pop(0)
    return ast.unparse(tree) + "\n"
