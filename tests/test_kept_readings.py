"""Readings kept between commands (``kalec.analysis.kept_readings``): a build after an edit sees
the edit, a kept reading is used only while the code that read it is unchanged, and a damaged
or foreign file is read as no file."""

from __future__ import annotations

import importlib
import json
import marshal
from pathlib import Path

import pytest
from helpers import make_notebook, run_kalec

from kalec.analysis import kept_readings

B = "block:"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "kalec"


def inputs(path: Path) -> dict[str, list[str]]:
    """Each step's inputs as ``kalec check --format json`` gives them, from a new process."""
    done = run_kalec("check", str(path), "--format", "json", cwd=path.parent)
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    return {s["name"]: sorted(i["name"] for i in s["inputs"]) for s in steps}


def test_a_build_after_an_edit_reads_the_edited_cell_again(tmp_path: Path, cache: Path) -> None:
    cells = [([B + "a"], "x = 1\nz = 2"), ([B + "b", "prev:a"], "y = x + 1")]
    path = make_notebook(tmp_path / "nb.ipynb", cells)
    assert inputs(path)["b"] == ["x"]
    assert len(list(cache.glob("readings-*"))) == 1
    make_notebook(path, [cells[0], ([B + "b", "prev:a"], "y = z + 1")])
    assert inputs(path)["b"] == ["z"]
    # a function defined elsewhere changes what calling it does: read in the new context
    make_notebook(
        path,
        [
            ([B + "a"], "x = []\ndef add():\n    x.append(1)"),
            ([B + "b", "prev:a"], "add()"),
            ([B + "c", "prev:b"], "print(x)"),
        ],
    )
    assert inputs(path)["c"] == ["x"]


def test_kept_readings_serve_only_the_code_that_read_them(
    tmp_path: Path, cache: Path, monkeypatch
) -> None:
    """Another version of the readers (another stamp) reads again; so does a damaged file."""
    from kalec.analysis import cell_reader
    from kalec.compiler import compile_notebook

    path = make_notebook(tmp_path / "nb.ipynb", [([B + "a"], "x = 1"), ([B + "b"], "y = x")])
    read: list[str] = []
    original = cell_reader.read_cell
    monkeypatch.setattr(
        cell_reader, "read_cell", lambda text, *rest: read.append(text) or original(text, *rest)
    )
    readings = importlib.import_module("kalec.passes.cell_facts").READINGS
    monkeypatch.setattr(readings, "max_bytes", 0)  # nothing remembered in memory between
    readings.clear()

    first = compile_notebook(path)
    assert read == ["x = 1", "y = x"]
    assert compile_notebook(path) == first and read == ["x = 1", "y = x"]  # kept: not read

    stamp = kept_readings._stamp()
    monkeypatch.setattr(kept_readings, "_stamp", lambda: (*stamp, "another version"))
    assert compile_notebook(path) == first and len(read) == 4

    for damaged in (b"", b"not marshal", b"\x00" * 64):
        for file in cache.glob("readings-*"):
            file.write_bytes(damaged)
        assert compile_notebook(path) == first
    assert len(read) == 10
    for file in cache.glob("readings-*"):  # the right stamp, but not readings
        stamp, kept = marshal.loads(file.read_bytes())
        wrong = {kind: dict.fromkeys(values, (1, 2)) for kind, values in kept.items()}
        file.write_bytes(marshal.dumps((stamp, wrong)))
    assert compile_notebook(path) == first and len(read) == 12


def test_a_notebook_given_as_text_keeps_nothing(tmp_path: Path, cache: Path) -> None:
    """A server compiles the text it is posted: nothing is kept for a path it only names."""
    from kalec.compiler import compile_notebook

    path = make_notebook(tmp_path / "nb.ipynb", [([B + "a"], "x = 1")])
    compile_notebook(path, text=path.read_text())
    assert not cache.exists() or not list(cache.glob("readings-*"))


def test_the_files_of_notebooks_compiled_long_ago_go(tmp_path: Path, cache: Path, monkeypatch):
    from kalec import startup_cache
    from kalec.compiler import compile_notebook

    monkeypatch.setattr(startup_cache.READINGS, "keep", 3)
    for n in range(5):
        compile_notebook(make_notebook(tmp_path / f"nb{n}.ipynb", [([B + "a"], f"x = {n}")]))
    assert len(list(cache.glob("readings-*"))) == 3


def test_the_stamp_covers_every_part_of_kalec_the_readers_import() -> None:
    """A kept reading must not outlive a change to the code that made it: every kalec module
    the readers import is among the stamped files (but those that decide no reading: where
    the cache is, the size-bounded memo, the diagnostics' words, the IR's re-exports)."""
    import ast

    import kalec

    root = Path(kalec.__file__).parent
    readers = [*sorted((root / "analysis").glob("*.py"))]
    readers += [root / "passes" / "cell_facts.py", root / "passes" / "free_names.py"]
    imported = set()
    for path in readers:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kalec"):
                for alias in node.names:
                    imported.add(f"{node.module}.{alias.name}")
                    imported.add(node.module)
    files = set()
    for module in imported - {"kalec"}:
        relative = Path(*module.split(".")[1:])
        for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
            if candidate.is_file():
                files.add(candidate)
    stamp = kept_readings._stamp()
    assert stamp is not None
    stamped = {Path(line.split(b"\t")[0].decode()) for line in stamp[2].splitlines()}
    not_deciding = {
        root / "__init__.py",  # kalec's version is in the stamp itself
        root / "startup_cache.py",
        root / "sized_cache.py",
        root / "diagnostics.py",
        root / "ir" / "__init__.py",
        root / "runtime" / "__init__.py",  # the package's face
    }
    assert sorted(map(str, files - stamped - not_deciding)) == []
