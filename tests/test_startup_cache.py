"""The user's cache folder: what is costly to build is kept there, never trusted blindly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import make_notebook

from kalec import startup_cache

CHECK = (
    "import sys\nfrom kalec.cli import main\ncode = main(['check', sys.argv[1]])\n"
    "print('lark imported:', 'lark' in sys.modules)\nsys.exit(code)"
)


def _check(notebook: Path, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    env.pop("KALEC_NO_STARTUP_CACHE", None)
    return subprocess.run(
        [sys.executable, "-c", CHECK, str(notebook)], capture_output=True, text=True, env=env
    )


def test_known_tags_are_read_from_the_cache_without_the_parser(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        [
            (["imports"], "import math"),
            (["block:a", "limit:cpu:2", "image:python:3.11", "retry:2"], "x = math.pi"),
            (
                ["block:b", "prev:a", "annotation:example.com/owner:data team", "label:tier:gold"],
                "y = x",
            ),
            (["block:c", "prev:b", "secret:db:password:DB_PASSWORD", "timeout:1h30m"], "z = y"),
            (["block:d", "prev:c", "cache:disabled", "retry:two"], "w = z"),  # an error too
        ],
    )
    first = _check(notebook, tmp_path / "cache")
    assert first.returncode == 2 and "retry:two" in first.stderr, first.stderr
    assert "lark imported: True" in first.stdout
    second = _check(notebook, tmp_path / "cache")
    assert second.returncode == 2 and second.stderr == first.stderr
    assert "lark imported: False" in second.stdout
    # the same steps, tags and diagnostics
    assert first.stdout.rsplit("lark", 1)[0] == second.stdout.rsplit("lark", 1)[0]

    for damaged in (tmp_path / "cache" / "kalec").glob("tag-meanings-*"):
        damaged.write_bytes(b"not what marshal wrote")
    third = _check(notebook, tmp_path / "cache")
    assert third.returncode == 2 and third.stderr == first.stderr
    assert "lark imported: True" in third.stdout


def test_a_cache_folder_others_can_write_to_is_not_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("KALEC_NO_STARTUP_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert startup_cache.folder() == tmp_path / "kalec"
    (tmp_path / "kalec").chmod(0o777)
    assert startup_cache.folder() is None
    (tmp_path / "kalec").chmod(0o700)
    monkeypatch.setenv("KALEC_NO_STARTUP_CACHE", "1")
    assert startup_cache.folder() is None


def test_an_entry_made_from_files_is_made_again_when_a_file_changes(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KALEC_NO_STARTUP_CACHE", raising=False)
    source = tmp_path / "runtime.py"
    source.write_text("VALUE = 1\n")
    made: list[bytes] = []

    def make() -> bytes:
        made.append(source.read_bytes())
        return b"from " + source.read_bytes()

    assert startup_cache.made_from("entry.txt", [source], make) == b"from VALUE = 1\n"
    assert startup_cache.made_from("entry.txt", [source], make) == b"from VALUE = 1\n"
    assert len(made) == 1  # the second time, from the cache
    source.write_text("VALUE = 2\n")  # same size: a new modification time
    os.utime(source, ns=(10**18, 10**18))
    assert startup_cache.made_from("entry.txt", [source], make) == b"from VALUE = 2\n"
    source.write_text("VALUE = 33\n")
    os.utime(source, ns=(10**18, 10**18))  # the same time: another size
    assert startup_cache.made_from("entry.txt", [source], make) == b"from VALUE = 33\n"
    assert len(made) == 3
    source.unlink()  # a file gone: made each time, nothing kept
    assert startup_cache.made_from("entry.txt", [source], lambda: b"anew") == b"anew"


def test_the_embedded_runtime_is_the_runtime_on_disk(tmp_path: Path, monkeypatch) -> None:
    """The archive the scripts embed comes from the start-up cache: it must hold the files
    of the runtime as they are now."""
    import base64
    import gzip
    import io
    import tarfile

    from kalec.packaging import runtime_bundle

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KALEC_NO_STARTUP_CACHE", raising=False)
    runtime_bundle.runtime_archive.cache.clear()
    runtime_bundle.runtime_archive()  # kept in the cache
    runtime_bundle.runtime_archive.cache.clear()
    text, digest = runtime_bundle.runtime_archive()  # read from the cache
    data = gzip.decompress(base64.b64decode(text))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        packed = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    for path in runtime_bundle._runtime_paths():
        name = f"kalec/runtime/{path.relative_to(runtime_bundle.RUNTIME).as_posix()}"
        assert packed[name] == path.read_bytes(), name
    assert len(digest) == 12


DATACLASSES = """
import builtins, dataclasses, sys
compiled = []
real_compile = builtins.compile
def counting(source, filename, *args, **kwargs):
    if filename == "<string>":
        compiled.append(1)
    return real_compile(source, filename, *args, **kwargs)
builtins.compile = counting
from kalec.startup_cache import compiled_dataclasses
with compiled_dataclasses():
    @dataclasses.dataclass(frozen=True, order=True)
    class Place:
        '''a test record'''
        cell: int
        line: int = 0
        tags: tuple = dataclasses.field(default_factory=tuple)
a, b = Place(1, 2), Place(1, 2, ("x",))
try:
    a.cell = 3
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(repr(a), a == Place(1, 2), a < b, hash(a) == hash(Place(1, 2)), frozen,
      dataclasses.replace(a, line=5), len(compiled))
"""


def test_dataclass_methods_are_compiled_once_and_behave_the_same(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    env.pop("KALEC_NO_STARTUP_CACHE", None)

    def define() -> tuple[str, int]:
        done = subprocess.run(
            [sys.executable, "-c", DATACLASSES], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        shown, _, count = done.stdout.strip().rpartition(" ")
        return shown, int(count)

    first, compiled_first = define()
    again, compiled_again = define()
    assert (
        first
        == again
        == ("Place(cell=1, line=2, tags=()) True True True True Place(cell=1, line=5, tags=())")
    )
    if sys.version_info < (3, 13):  # where dataclasses compiles a text for each method
        assert compiled_first > 0 and compiled_again == 0
    for kept in (tmp_path / "kalec").glob("dataclass-methods-*"):
        kept.write_bytes(b"not what marshal wrote")
    damaged, _ = define()
    assert damaged == first


def test_a_family_of_cache_files_keeps_its_newest(tmp_path: Path) -> None:
    """One file per input (a notebook, a set of local modules, a version of the tag language):
    past the family's limit the oldest go, and files of other families stay."""
    from kalec.startup_cache import Family

    for n in range(6):
        file = tmp_path / f"archive-{n}.txt"
        file.write_text(str(n))
        os.utime(file, ns=(n * 10**9, n * 10**9))
    (tmp_path / "tag-meanings-0.marshal").write_text("")
    Family("archive-", 4).forget_oldest(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "archive-2.txt",
        "archive-3.txt",
        "archive-4.txt",
        "archive-5.txt",
        "tag-meanings-0.marshal",
    ]


def test_archives_with_local_modules_are_a_bounded_family(tmp_path: Path, monkeypatch) -> None:
    from kalec import startup_cache
    from kalec.packaging import runtime_bundle

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(startup_cache.ARCHIVES, "keep", 2)
    for n in range(4):
        runtime_bundle.runtime_archive(((f"helpers{n}.py", b"x = 1\n"),))
    assert len(list((tmp_path / "kalec").glob("archive-*"))) == 2
