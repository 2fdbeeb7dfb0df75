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
        [(["imports"], "import math"), (["block:a", "limit:cpu:2"], "x = math.pi")],
    )
    first = _check(notebook, tmp_path / "cache")
    assert first.returncode == 0, first.stderr
    assert "lark imported: True" in first.stdout
    second = _check(notebook, tmp_path / "cache")
    assert second.returncode == 0, second.stderr
    assert "lark imported: False" in second.stdout
    # the same steps, tags and diagnostics
    assert first.stdout.rsplit("lark", 1)[0] == second.stdout.rsplit("lark", 1)[0]

    for damaged in (tmp_path / "cache" / "kalec").glob("tag-meanings-*"):
        damaged.write_bytes(b"not a pickle")
    third = _check(notebook, tmp_path / "cache")
    assert third.returncode == 0, third.stderr
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
