"""The command line: help everywhere, exit codes scripts can rely on, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_kalec

B = "block:"


@pytest.mark.parametrize("command", [[], ["build"], ["emit"], ["run"], ["check"]])
def test_help_everywhere(command: list[str]) -> None:
    done = run_kalec(*command, "--help")
    assert done.returncode == 0
    assert "usage: kalec" in done.stdout


def test_no_command_is_a_usage_error() -> None:
    assert run_kalec().returncode == 2


def test_the_command_as_a_real_process(notebook) -> None:
    """The other tests call the command in this process; this one starts it as users do."""
    import shutil
    import subprocess

    installed = shutil.which("kalec")
    assert installed, "pip install puts a kalec command on PATH"
    version = subprocess.run([installed, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("kalec ")
    path = notebook([([B + "a"], "x = missing")])
    done = run_kalec("check", str(path), in_process=False)
    assert done.returncode == 2 and "error K605" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["build", "missing.ipynb", "--target", "ir"],
        ["run", "--local", "missing.ipynb"],
        ["check", "missing.ipynb"],
    ],
)
def test_missing_notebook_exits_2_naming_the_file(args: list[str], tmp_path: Path) -> None:
    done = run_kalec(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "missing.ipynb: error K100: no such file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("content", ["not json", "{}", '{"nbformat": 2, "cells": []}', "[1, 2]"])
def test_a_file_that_is_not_a_notebook_exits_2(content: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    done = run_kalec("check", str(path))
    assert done.returncode == 2
    assert "broken.ipynb: error K100:" in done.stderr and "Traceback" not in done.stderr


def test_unknown_targets_list_the_ones_there_are(notebook) -> None:
    path = notebook([([B + "a"], "x = 1")])
    done = run_kalec("emit", str(path), "--target", "nope")
    assert done.returncode == 2 and "unknown target 'nope'" in done.stderr
    assert "kfp-py, yaml, argo" in done.stderr
    done = run_kalec("build", str(path), "--target", "local")  # runs, writes nothing
    assert done.returncode == 2 and "unknown target 'local'" in done.stderr


def test_emit_ir_prints_the_compiled_pipeline_as_json(notebook) -> None:
    path = notebook(
        [
            (["pipeline-parameters"], "N = 3"),
            ([B + "a", "limit:cpu:2"], "x = N"),
            ([B + "b", "prev:a"], "print(x)"),
        ]
    )
    done = run_kalec("emit", str(path), "--target", "ir")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["name"] for s in data["steps"]] == ["a", "b"]
    assert data["steps"][1]["inputs"][0] == {
        "name": "x",
        "kind": "artifact",
        "origin": {"cell": 3, "line": 1},
        "producer": "a",
        "statement": None,
    }
    assert data["steps"][0]["options"]["limits"] == [["cpu", "2"]]
    assert data["params"][0]["type"] == "int"


def test_build_writes_beside_the_notebook_or_to_o(notebook, tmp_path: Path) -> None:
    path = notebook([([B + "a"], "x = 1")])
    done = run_kalec("build", str(path), "--target", "ir")
    assert done.returncode == 0 and (tmp_path / "nb.ir.json").is_file()
    done = run_kalec("build", str(path), "--target", "ir", "-o", str(tmp_path / "sub" / "p.json"))
    assert done.returncode == 0 and (tmp_path / "sub" / "p.json").is_file()


def test_check_shows_steps_inputs_producers_and_added_dependencies(notebook) -> None:
    path = notebook(
        [
            (["pipeline-parameters"], "N = 3"),
            ([B + "a"], "x = N"),
            ([B + "b"], "y = x"),
            (["pipeline-metrics"], "y"),
            (["hide-me"], "z = 1"),
        ]
    )
    done = run_kalec("check", str(path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "step b" in out and "x <- a" in out and "N <- parameter" in out
    assert "[added: reads x]" in out
    assert "metrics: y (from b)" in out
    assert "added the dependency prev:a" in done.stderr  # the note, shown by check
    assert "tag 'hide-me' is not a kalec tag" in done.stderr


def test_diagnostics_print_like_a_compiler(notebook) -> None:
    path = notebook(["# title", ([B + "a"], "x = 1\ny = nope")])
    done = run_kalec("build", str(path), "--target", "ir")
    assert done.returncode == 2
    assert f"{path}: cell 2, line 2: error K605: name 'nope' is not defined" in done.stderr
    assert "hint:" in done.stderr


def test_user_code_failure_is_exit_1(notebook) -> None:
    path = notebook([([B + "a"], "raise ValueError('boom')")])
    done = run_kalec("run", "--local", str(path), "--run-dir", str(path.parent / "r"))
    assert done.returncode == 1
    assert "ValueError: boom" in done.stderr


def test_every_diagnostic_has_a_code_from_the_catalogue(notebook) -> None:
    from kalec.compiler import compile_notebook
    from kalec.diagnostics import CATALOGUE

    path = notebook(
        [
            (["imports"], "import os"),
            ([], "print('busy')"),
            (["hide-input", "blok:x"], "y = 1"),
            ([B + "a"], "x = missing"),
        ]
    )
    pipeline = compile_notebook(path)
    assert pipeline.diagnostics
    for diagnostic in pipeline.diagnostics:
        kind = CATALOGUE[diagnostic.code]
        assert kind.severity is diagnostic.severity


def test_check_as_json_and_ignore(notebook) -> None:
    path = notebook(
        [
            (["imports"], "import os"),
            ([], "print('busy')"),
            (["pipeline-parameters"], "N = 3"),
            ([B + "a"], "x = N"),
            ([B + "b"], "print(x)"),
        ]
    )
    done = run_kalec("check", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] and [s["name"] for s in data["steps"]] == ["a", "b"]
    assert data["steps"][1]["inputs"][0]["producer"] == "a"
    assert data["parameters"] == [{"name": "N", "type": "int", "default": 3, "cell": 3, "line": 1}]
    codes = [d["code"] for d in data["diagnostics"]]
    assert codes == ["K303", "K609"]
    busy = data["diagnostics"][0]
    assert (busy["severity"], busy["cell"], busy["line"]) == ("warning", 2, 1)
    done = run_kalec("check", str(path), "--format", "json", "--ignore", "K303")
    assert [d["code"] for d in json.loads(done.stdout)["diagnostics"]] == ["K609"]
    done = run_kalec("check", str(path), "--ignore", "K303")
    assert "K303" not in done.stderr and "K609" in done.stderr
    done = run_kalec("check", str(path), "--ignore", "K605")
    assert done.returncode == 2 and "errors cannot be ignored" in done.stderr
    done = run_kalec("check", str(path), "--ignore", "K999")
    assert done.returncode == 2 and "no such code" in done.stderr


def test_check_as_json_reports_refusals_with_exit_2(notebook, tmp_path: Path) -> None:
    done = run_kalec("check", str(notebook([([B + "a"], "x = missing")])), "--format", "json")
    assert done.returncode == 2
    data = json.loads(done.stdout)
    assert not data["ok"] and data["diagnostics"][0]["code"] == "K605"
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{")
    done = run_kalec("check", str(broken), "--format", "json")
    assert done.returncode == 2 and json.loads(done.stdout)["diagnostics"][0]["code"] == "K100"


def test_the_diagnostics_page_lists_every_code() -> None:
    from kalec.diagnostics import catalogue_markdown

    page = (Path(__file__).parent.parent / "docs" / "diagnostics.md").read_text()
    assert page == catalogue_markdown(), "regenerate: python -m kalec.diagnostics > docs/..."


# What compiling to a script must not load once the user's start-up cache is warm: each costs
# milliseconds of a command that takes well under a tenth of a second (bench/compile_vs_kale.py).
NOT_ON_THE_COMPILE_PATH = (
    "jinja2", "lark", "yaml", "kfp", "nbformat", "IPython", "tarfile", "gzip", "shutil",
    "tempfile", "subprocess", "email", "http", "xml", "urllib.request", "flask", "hashlib",
    "_hashlib", "threading",
)  # fmt: skip
# ... nor, once an earlier build kept the notebook's readings, the readers of code
NOT_ON_A_WARM_COMPILE_PATH = (
    "pyflakes",
    "kalec.analysis.cell_reader",
    "kalec.analysis.undefined_names",
)


def test_compiling_to_a_script_imports_only_what_it_needs(notebook, tmp_path: Path) -> None:
    import subprocess
    import sys

    path = notebook(
        [
            (["imports"], "import math"),
            (["pipeline-parameters"], "SCALE = 2"),
            ([B + "a"], "x = math.sqrt(SCALE)"),
            ([B + "b", "prev:a"], "print(x)"),
        ]
    )
    probe = (
        "import json, sys\nfrom kalec.cli import main\n"
        f"code = main(['build', {str(path)!r}, '--target', 'kfp-py', '--force'])\n"
        "print(json.dumps([code, sorted(sys.modules)]))"
    )
    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _ in range(2):  # the first run fills the start-up cache (tag meanings, the runtime)
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
        )
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr
    loaded = sorted(m for m in NOT_ON_THE_COMPILE_PATH + NOT_ON_A_WARM_COMPILE_PATH if m in modules)
    assert loaded == [], f"the kfp-py build imported {loaded}"


def test_the_version_is_said_without_loading_the_commands() -> None:
    import subprocess
    import sys

    probe = (
        "import contextlib, io, json, sys\nfrom kalec.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n    code = main(['--version'])\n"
        "print(json.dumps([code, out.getvalue(), [m for m in sys.modules if m.startswith("
        "'kalec.')]]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    code, said, modules = json.loads(done.stdout)
    assert code == 0 and said.startswith("kalec ")
    assert sorted(modules) == ["kalec.cli", "kalec.cli.common", "kalec.errors"]  # main's own


def test_the_ir_is_written_as_it_is_made_and_is_the_same_text(notebook, tmp_path: Path) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "y = x + 1")])
    output = tmp_path / "out.ir.json"
    assert run_kalec("build", str(path), "--target", "ir", "-o", str(output)).returncode == 0
    printed = run_kalec("emit", str(path), "--target", "ir")
    assert printed.returncode == 0
    assert output.read_text(encoding="utf-8") == printed.stdout
    data = json.loads(printed.stdout)
    assert data["kalec_ir"] == 1 and [s["name"] for s in data["steps"]] == ["a", "b"]
