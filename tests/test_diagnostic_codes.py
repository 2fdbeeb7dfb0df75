"""Every diagnostic code, produced by the smallest notebook that gives it: the catalogue holds
no code that nothing can produce, and each code keeps meaning what ``docs/diagnostics.md``
says. ``kalec check --format json`` (``kalec emit`` for what only a build says) is asked, and the
code must come with the cell it names."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import make_notebook, run_kalec

import kalec
from kalec import diagnostics as D
from kalec.diagnostics import CATALOGUE

PACKAGE = Path(kalec.__file__).parent

B = "block:"
M = "markdown"


def kubeflow(settings: dict[str, Any]) -> dict[str, Any]:
    return {"kubeflow_notebook": settings}


def own(settings: dict[str, Any]) -> dict[str, Any]:
    return {"kalec": settings}


OTHER = {"notebook_path": "other.ipynb"}
REF = (["notebook:o"], "", OTHER)  # a cell standing for other.ipynb

# code -> (cells, notebook metadata, the cell the diagnostic names: None for the notebook)
SMALLEST: dict[str, tuple[list[Any], dict[str, Any], int | None]] = {
    "K100": ([], {}, None),  # written as something that is not a notebook, below
    "K101": ([([B + "a"], "x = 1")], kubeflow({"pvc_size": "1Gi"}), None),
    "K102": ([([B + "a"], "x = 1")], own({"colour": "blue"}), None),
    "K103": ([([B + "a"], "x = 1")], own({"volumes": [{"name": "data"}]}), None),
    "K104": (
        [([B + "a"], "x = 1")],
        own({"volumes": [{"name": "Data", "mount_point": "relative"}]}),
        None,
    ),
    "K105": ([([B + "a"], "x = 1")], own({"image": "My Image"}), None),
    "K106": ([([B + "a"], "if True:\n\t!ls\n    x = 1\n")], {}, 1),
    "K110": ([(["notebook:o"], ""), ([B + "a"], "x = 1")], {}, 1),
    "K111": ([(["notebook:o"], "", {"notebook_path": "gone.ipynb"})], {}, 1),
    "K112": ([(["notebook:o"], "", {"notebook_path": "nb.ipynb"}), ([B + "a"], "x = 1")], {}, 1),
    "K113": ([(["notebook:o"], "x = 1", OTHER)], {}, 1),
    "K114": ([REF, (["notebook:o"], "", OTHER)], {}, 2),
    "K115": ([(["notebook:o", "limit:cpu:1"], "", OTHER)], {}, 1),
    "K116": ([(["notebook:o"], "", {"notebook_path": "deep1.ipynb"})], {}, 1),
    "K201": ([([B + "a", "limit:gpu"], "x = 1")], {}, 1),
    "K202": ([(["blok:a"], "x = 1")], {}, 1),
    "K203": ([([B + "a", "hide-input"], "x = 1")], {}, 1),
    "K204": ([(["imports", B + "a"], "import os")], {}, 1),
    "K301": ([(["pipeline-parameters", "limit:cpu:2"], "N = 1"), ([B + "a"], "x = N")], {}, 1),
    "K302": ([([], "x = 1"), ([B + "b"], "y = x")], {}, 1),
    "K303": ([(["imports"], "import os"), ([], "print('hello')"), ([B + "a"], "x = 1")], {}, 2),
    "K304": ([(["functions", "prev:a"], "def f():\n    return 1"), ([B + "a"], "x = f()")], {}, 1),
    "K305": ([([B + "a", "prev:a"], "x = 1")], {}, 1),
    "K306": ([([B + "a", "prev:loda"], "x = 1")], {}, 1),
    "K307": ([REF, ([], "z = 1")], {}, 2),
    "K308": ([([B + "o"], "x = 1"), REF], {}, 2),
    "K401": ([([B + "a"], "x = (1,")], {}, 1),
    "K402": ([([B + "a"], "x = " + "-" * 400 + "1")], {}, 1),
    "K501": ([(["pipeline-parameters"], "print(1)"), ([B + "a"], "x = 1")], {}, 1),
    "K502": ([(["pipeline-parameters"], "a, b = 1, 2"), ([B + "a"], "x = a")], {}, 1),
    "K503": ([(["pipeline-parameters"], "Output = 1"), ([B + "a"], "x = Output")], {}, 1),
    "K504": ([(["pipeline-parameters"], "_seed = 1"), ([B + "a"], "x = _seed")], {}, 1),
    "K505": ([(["pipeline-parameters"], "N = len('ab')"), ([B + "a"], "x = N")], {}, 1),
    "K506": ([(["pipeline-parameters"], "A = 1e999"), ([B + "a"], "x = A")], {}, 1),
    "K507": ([(["pipeline-parameters"], "A = (1, 2)"), ([B + "a"], "x = A")], {}, 1),
    "K508": ([(["pipeline-parameters"], "N = 1\nN = 2"), ([B + "a"], "x = N")], {}, 1),
    "K511": (
        [([B + "a"], "accuracy = 0.5"), (["pipeline-metrics"], "accuracy * 100")],
        {},
        2,
    ),
    "K601": ([(["functions"], "y = x + 1"), ([B + "a"], "x = 1")], {}, 1),
    "K602": (
        [
            ([B + "a"], "import numpy as np\nnp.random.seed(0)"),
            ([B + "b", "prev:a"], "u = np.random.rand()"),
            ([B + "a"], "v = np.random.rand()"),
        ],
        {},
        2,
    ),
    "K603": (
        [([B + "a"], "w = 1"), ([B + "b", "prev:a"], "print(w)"), ([B + "a"], "w = 2")],
        {},
        2,
    ),
    "K604": ([([B + "a"], "print(later)"), ([B + "b"], "later = 1")], {}, 1),
    "K605": ([([B + "a"], "y = missing + 1")], {}, 1),
    "K606": ([([B + "a"], "def f():\n    return missing")], {}, 1),
    "K607": (
        [([B + "a"], "t = 1\ndel t"), ([B + "b", "prev:a"], "print(t)")],
        {},
        2,
    ),
    "K608": ([([B + "a"], "x = 1"), (["pipeline-metrics"], "accuracy")], {}, 2),
    "K609": ([([B + "a"], "x = 1"), ([B + "b"], "y = x")], {}, 2),
    "K610": (
        [([B + "one"], "X = 1"), ([B + "two"], "X = 2"), ([B + "summary"], "print(X)")],
        {},
        3,
    ),
    "K611": ([REF, ([B + "a"], "y = helper()")], {}, 2),
    "K612": ([(["functions"], "def f():\n    return 1"), REF], {}, 1),
    "K701": ([(["imports"], "import os")], {}, None),
    "K702": ([([B + "a", "prev:b"], "x = 1"), ([B + "b", "prev:a"], "y = 1")], {}, 2),
    "K703": ([([B + "train_model"], "x = 1"), ([B + "train-model"], "y = 1")], {}, 2),
    "K704": ([([B + "a"], "f = open('nb.ipynb')"), ([B + "b", "prev:a"], "f.read()")], {}, 1),
    "K801": ([([B + "a"], "import pandas as pd\ndf = pd.read_csv('data.csv')")], {}, 1),
    "K901": ([(["imports"], "import time"), ([B + "a"], "now = time.time()")], {}, 2),
    "K902": (
        [
            ([B + "a"], "items = [1]"),
            ([B + "c", "prev:a"], "print(items)"),
            ([B + "b", "prev:a"], "items.append(2)"),
        ],
        {},
        3,
    ),
    "K903": ([([B + "a"], "!pip install xgboost\nx = 1")], {}, 1),
    "K904": (
        [
            ([B + "a"], "fs = []\nfor i in range(3):\n    fs.append(lambda: i)"),
            ([B + "b", "prev:a"], "print([f() for f in fs])"),
        ],
        {},
        1,
    ),
    "K905": (
        [([B + "a"], "import os\nos.environ['MODE'] = 'x'"), ([B + "b", "prev:a"], "y = 1")],
        {},
        1,
    ),
    "K906": ([([B + "a"], "total = 1"), ([B + "b", "prev:a"], "print(globals()['total'])")], {}, 2),
    # where this machine cannot observe child processes (the test turns the observer off)
    "K907": ([([B + "a"], "import subprocess\nsubprocess.run(['ls'])")], {}, 1),
}


# the notebook other.ipynb that REF stands for, where a code needs more than one step
REFERENCED: dict[str, list[Any]] = {
    "K611": [(["functions"], "def helper():\n    return 1"), ([B + "b"], "x = 1")],
    "K612": [(["functions"], "def f():\n    return 2"), ([B + "b"], "x = f()")],
}


def diagnostics(path: Path, code: str) -> list[dict[str, Any]]:
    if code == "K801":  # said when building for a cluster, where the file will not be
        done = run_kalec("emit", str(path), "--target", "kfp-py", cwd=path.parent)
        return [
            {"code": "K801", "cell": int(line.split("cell ")[1].split(":")[0].split(",")[0])}
            for line in done.stderr.splitlines()
            if " K801: " in line
        ]
    done = run_kalec("check", str(path), "--format", "json", cwd=path.parent)
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)["diagnostics"]


@pytest.mark.parametrize("code", sorted(SMALLEST))
def test_the_smallest_notebook_gives_the_code(code: str, tmp_path: Path, monkeypatch) -> None:
    cells, metadata, cell = SMALLEST[code]
    if code == "K907":
        from kalec.runtime import syscalls

        monkeypatch.setenv("KALEC_OBSERVE_SYSCALLS", "0")
        syscalls.unavailable.cache_clear()
        monkeypatch.setattr(syscalls, "unavailable", syscalls.unavailable.__wrapped__)
    path = make_notebook(tmp_path / "nb.ipynb", cells, metadata)
    if code == "K100":
        path.write_text('{"cells": "not a list"}')
    if code == "K801":
        (tmp_path / "data.csv").write_text("a\n1\n")
    make_notebook(tmp_path / "other.ipynb", REFERENCED.get(code, [([B + "b"], "y = 2")]))
    if code == "K116":  # references nested deeper than kalec follows: deep1 -> deep2 -> ...
        for depth in range(1, 40):
            link = {"notebook_path": f"deep{depth + 1}.ipynb"}
            make_notebook(tmp_path / f"deep{depth}.ipynb", [(["notebook:d"], "", link)])
    found = [d for d in diagnostics(path, code) if d["code"] == code]
    assert found, f"{code} not given"
    assert any(d.get("cell") == cell for d in found), found


def test_every_code_of_the_catalogue_has_its_smallest_notebook() -> None:
    assert set(SMALLEST) == set(CATALOGUE)


def _kind_calls() -> list[tuple[str, int, ast.Call]]:
    """Every call of a catalogue entry in kalec's code (``D.NAME(...)`` or ``NAME(...)``
    imported from kalec.diagnostics)."""
    names = {n for n, v in vars(D).items() if isinstance(v, D.Kind)}
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "diagnostics.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
                called = function.attr if function.value.id == "D" else None
            else:
                called = function.id if isinstance(function, ast.Name) else None
            if called in names:
                calls.append((f"{path.relative_to(PACKAGE.parent)}", node.lineno, node))
    return calls


def test_messages_are_worded_in_the_catalogue_alone() -> None:
    """A pass gives the facts; a sentence written at a call site would escape the catalogue
    (and its review), so no call passes a string literal or an f-string."""
    calls = _kind_calls()
    assert len(calls) >= 60, "the scan no longer finds the call sites"
    worded = [
        f"{path}:{line}"
        for path, line, call in calls
        for argument in [*call.args, *(k.value for k in call.keywords)]
        if isinstance(argument, ast.JoinedStr)
        or (isinstance(argument, ast.Constant) and isinstance(argument.value, str))
    ]
    assert worded == []


def test_each_call_gives_exactly_the_facts_its_templates_name() -> None:
    """Checked where the code is read, not only when a notebook happens to reach the call."""
    wrong = []
    for path, line, call in _kind_calls():
        function = call.func
        name = function.attr if isinstance(function, ast.Attribute) else function.id
        given = {k.arg for k in call.keywords}
        if None in given:  # **facts: cannot be read here
            continue
        if given != getattr(D, name).fields:
            wrong.append(f"{path}:{line} {name} {sorted(given)}")
    assert wrong == []


def test_a_kind_refuses_facts_its_templates_do_not_name() -> None:
    with pytest.raises(TypeError, match="K305"):
        D.PREV_SELF(step="a", prev="a", previous="a")
    with pytest.raises(TypeError, match="K305"):
        D.PREV_SELF(step="a")
    said = D.PREV_SELF(None, step="train", prev="train")
    assert (said.code, said.message, said.hint) == (
        "K305",
        "step 'train' names itself in prev:train",
        "remove prev:train",
    )


def test_a_variant_is_the_same_code_said_otherwise() -> None:
    variants = [
        v for v in vars(D).values() if isinstance(v, D.Kind) and v not in D.CATALOGUE.values()
    ]
    assert variants, "no variants found"
    for variant in variants:
        kind = D.CATALOGUE[variant.code]
        assert (variant.severity, variant.title) == (kind.severity, kind.title)
        assert (variant.message, variant.hint) != (kind.message, kind.hint)
    pinned = D.PIP_INSTALL_PINNED(None, step="a", requirements="xgboost==2.0")
    assert pinned.code == "K903" and pinned.hint is None
