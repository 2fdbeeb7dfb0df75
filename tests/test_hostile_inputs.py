"""Hostile and unlucky inputs: user text in every place it reaches generated code, names that
collide with kalec's own, values the targets refuse, and files that are not quite notebooks.

The rules: compiling runs nothing; every artifact parses, carries the user's text exactly where
it belongs, and holds no placeholder kalec did not write; whatever kalec cannot honour is a
refusal with exit 2 and one clear line, never a traceback.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import make_notebook, run_kalec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kalec.compiler import compile_notebook
from kalec.frontend.notebook_file import NotebookError
from kalec.targets import BackendError, argo, kfp_py, kfp_yaml

B = "block:"
CANARY = "kalec-canary"
# Text that would run code, end a docstring, break a line, or be substituted by KFP or Argo.
HOSTILE = [
    '"""\nimport os; os.system("touch kalec-canary")\n"""',
    "'''\n__import__('pathlib').Path('kalec-canary').touch()\n'''",
    "{{$.inputs.parameters['S']}}",
    "{{workflow.name}}",
    "{{inputs.parameters.x}}",
    "line\nbreak\r\nand\x00nul",
    "\\",
    "trailing backslash \\",
    "# comment\n  indented",
    "\u2028\u2029 separators",
    "}}{{",
    "émoji 🎉 and ⓤⓝⓘⓒⓞⓓⓔ",
    "$title ${version} $$ $step_functions",  # the script templates' own fields
    "",
]
# Text without lone surrogates (which the frontend refuses, tested apart).
TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
)
# Only kalec's own placeholders may appear in an Argo workflow.
KALEC_PLACEHOLDER = re.compile(
    r"\{\{(inputs\.parameters\.[A-Za-z0-9_]+|workflow\.parameters\.[A-Za-z0-9_]+|"
    r"tasks\.[a-z0-9-]+\.outputs\.artifacts\.[A-Za-z0-9_-]+|workflow\.uid)\}\}"
)


def _notebook(folder: Path, file_stem: str, description: str, name: str, default: str,
              annotation: str, experiment: str) -> Path:  # fmt: skip
    metadata = {
        "kubeflow_notebook": {
            "pipeline_description": description,
            "pipeline_name": name,
            "experiment_name": experiment,
        }
    }
    cells = [
        (["pipeline-parameters"], f"S = {default!r}\nN = 3"),
        ([B + "first", "annotation:example.com/note:" + annotation], "x = S * 2"),
        ([B + "second-step", "prev:first"], "print('RESULT', len(x), N)"),
    ]
    return make_notebook(folder / f"{file_stem}.ipynb", cells, metadata)


def _pipeline_description(script: str) -> str:
    tree = ast.parse(script)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "pipeline":
            for keyword in node.keywords:
                if keyword.arg == "description":
                    return ast.literal_eval(keyword.value)
    raise AssertionError("no @dsl.pipeline(description=...) in the script")


def _spec_sources(script: str) -> set[str]:
    """The notebook file name each step's spec carries."""
    return {
        ast.literal_eval(value)
        for node in ast.walk(ast.parse(script))
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "source"
    }


def _safe_file_stem(text: str) -> str:
    stem = text.replace("/", "_").replace("\x00", "_")[:60] or "nb"
    return stem if stem not in (".", "..") else "nb"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    description=TEXT,
    name=TEXT,
    file_stem=TEXT,
    default=TEXT,
    annotation=TEXT.filter(lambda t: "\n" not in t and "\r" not in t and t.strip() == t and t),
    experiment=TEXT,
)
@example(
    description=HOSTILE[0],
    name=HOSTILE[2],
    file_stem=HOSTILE[0].replace("/", "_"),
    default=HOSTILE[3],
    annotation="{{workflow.name}}",
    experiment=HOSTILE[1],
)
@example(
    description="$title ${description}",
    name="$name",
    file_stem="$source",
    default="$$ $runtime_unpack ${archive}",
    annotation="$step",
    experiment="${spec}",
)
def test_user_text_in_every_place_parses_is_carried_exactly_and_runs_nothing(
    tmp_path_factory, description, name, file_stem, default, annotation, experiment
) -> None:
    folder = tmp_path_factory.mktemp("hostile")
    here = os.getcwd()
    os.chdir(folder)  # a canary would land here
    try:
        _check_user_text(folder, description, name, file_stem, default, annotation, experiment)
    finally:
        os.chdir(here)


def _check_user_text(folder, description, name, file_stem, default, annotation, experiment):
    stem = _safe_file_stem(file_stem)
    path = _notebook(folder, stem, description, name, default, annotation, experiment)
    pipeline = compile_notebook(path)
    assert not pipeline.has_errors, [d.message for d in pipeline.diagnostics]

    problem = kfp_py.header_problem(pipeline)
    if problem:  # kfp cannot write such text into its YAML: refused, never written broken
        assert any(w in problem for w in ("description", "file name", "default of parameter S"))
        with pytest.raises(BackendError):
            kfp_py.emit(pipeline)
        return
    script = kfp_py.emit(pipeline)
    ast.parse(script)  # it parses: no text ended a string or a docstring
    assert "{{" not in script and "}}" not in script  # nothing for KFP to substitute
    assert _pipeline_description(script) == (description or f"Compiled by kalec from {path.name}")
    assert _spec_sources(script) == {path.name}
    spec_yaml = kfp_yaml.emit(pipeline)  # loads the script in this process, as `build` does
    assert next(yaml.safe_load_all(spec_yaml))["pipelineInfo"]["description"] == (
        description or f"Compiled by kalec from {path.name}"
    )
    assert not (folder / CANARY).exists(), "loading the script ran user text"

    user_texts = [description, default, annotation]
    if any("{{" in t for t in user_texts):
        with pytest.raises(argo.ArgoError):
            argo.emit(pipeline)
        return
    text = argo.emit(pipeline)
    document = yaml.safe_load(text)
    leftover = KALEC_PLACEHOLDER.sub("", json.dumps(document))
    assert "{{" not in leftover
    if description:
        annotations = document["metadata"]["annotations"]
        assert annotations["workflows.argoproj.io/description"] == description
    values = {p["name"]: p["value"] for p in document["spec"]["arguments"]["parameters"]}
    assert values["S"] == default
    template = document["spec"]["templates"][1]
    assert template["metadata"]["annotations"]["example.com/note"] == annotation
    assert not (folder / CANARY).exists()


RESERVED_PARAMS = [
    "kubernetes", "dsl", "compiler", "pipeline", "pathlib", "BASE_IMAGE", "Input", "Artifact",
    "Metrics", "print", "len", "float", "match", "case", "type", "train",
    "train_task", "metrics", "spec", "params", "inputs", "outputs",
]  # fmt: skip


def _colliding_notebook(folder: Path) -> Path:
    """Parameters and variables named after Python's builtins and soft keywords, the generated
    module's own globals and the steps; steps named after module globals and builtins."""
    assignments = "\n".join(f"{name} = {i}" for i, name in enumerate(RESERVED_PARAMS))
    uses = " + ".join(RESERVED_PARAMS)
    return make_notebook(
        folder / "collide.ipynb",
        [
            (["pipeline-parameters"], assignments),
            ([B + "train", "timeout:1h", "label:team:ml"], f"result = {uses}\nrun = 2"),
            ([B + "print"], "_ = 5\npipeline_value = 7"),
            # `print` is a parameter here, as in the kernel: write through sys.stdout
            (
                [B + "kubernetes"],
                "import sys\nsys.stdout.write(f'RESULT {result} {run} {_} {pipeline_value}\\n')",
            ),
            ([B + "_"], "dsl = 'mine'\nsys.stdout.write(f'RESULT underscore {dsl}\\n')"),
        ],
    )


def test_names_that_collide_with_the_generated_scripts_own_still_compile(tmp_path: Path) -> None:
    pipeline = compile_notebook(_colliding_notebook(tmp_path))
    assert not pipeline.has_errors, [d.message for d in pipeline.diagnostics]
    script = kfp_py.emit(pipeline)
    compiled = next(yaml.safe_load_all(kfp_yaml.emit(pipeline)))  # kfp compiles it
    inputs = compiled["root"]["inputDefinitions"]["parameters"]
    assert set(RESERVED_PARAMS) <= set(inputs)
    names = {c["name"] if isinstance(c, dict) else c for c in compiled["components"]}
    assert len(names) == 4
    workflow = yaml.safe_load(argo.emit(pipeline))
    assert len(workflow["spec"]["templates"]) == 5
    assert "def print(" not in script and "def _(" not in script


@pytest.mark.slow
def test_names_that_collide_run_like_the_notebook_everywhere(tmp_path: Path) -> None:
    from argo_harness import execute
    from helpers import kalec_results, kernel_results, kfp_local_run, result_lines

    notebook = _colliding_notebook(tmp_path)
    expected = kernel_results(notebook)
    code, got, stderr = kalec_results(notebook)
    assert code == 0, stderr
    assert got == expected
    script = tmp_path / "work" / "collide.kfp.py"
    script.parent.mkdir()
    assert run_kalec("build", str(notebook), "-t", "kfp-py", "-o", str(script)).returncode == 0
    done = kfp_local_run(script)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert result_lines(done.stdout + done.stderr) == expected
    code, output = execute(yaml.safe_load(argo.emit(compile_notebook(notebook))), tmp_path / "a")
    assert code == 0, output[-3000:]
    assert result_lines(output) == expected


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("_", "start with a letter"),
        ("_kalec_step", "start with a letter"),
        ("né", "ASCII"),
        ("Output", "reserved by Kubeflow Pipelines"),
    ],
)
def test_parameter_names_kfp_cannot_carry_are_refused_naming_the_cell(
    name: str, words: str, notebook
) -> None:
    path = notebook([(["pipeline-parameters"], f"{name} = 1"), ([B + "a"], f"print({name})")])
    done = run_kalec("check", str(path))
    assert done.returncode == 2
    assert "cell 1, line 1" in done.stderr and words in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("A = 1e999", "not a finite number"),
        ("A = -1e999", "not a finite number"),
        ("A = [1, 1e999]", "not a finite number"),
        ("A = 2 ** 60", "2**53"),
        ("A = 10 ** 10 ** 10", "too large"),
        ("A = [0] * 10 ** 9", "too long"),
        ("A = 1 / 0", "cannot be computed"),
        ("A = compute()", "calls a function"),
        ("A = B + 1", "reads the name B"),
        ("A = b'bytes'", "bytes"),
        ("A = (1, 2)", "tuple"),
    ],
)
def test_defaults_the_targets_cannot_carry_are_refused(source: str, words: str, notebook) -> None:
    path = notebook([(["pipeline-parameters"], source), ([B + "a"], "print(A)")])
    done = run_kalec("check", str(path))
    assert done.returncode == 2, done.stdout
    assert "cell 1, line 1" in done.stderr and words in done.stderr, done.stderr


def test_constant_expressions_and_none_are_defaults(notebook) -> None:
    path = notebook(
        [
            (["parameters"], "A = 2 * 50\nB = 1e-3 * 5\nC = [1, 2] * 3\nD = None\nE = -(3 ** 2)"),
            ([B + "a"], "print(A, B, C, D, E)"),
        ]
    )
    params = {p.name: p.default for p in compile_notebook(path).params}
    assert params == {"A": 100, "B": 0.005, "C": [1, 2, 1, 2, 1, 2], "D": None, "E": -9}


def _raw_notebook(path: Path, cells: list, metadata: dict | None = None) -> Path:
    path.write_text(
        json.dumps(
            {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}
        ),
        encoding="utf-8",
    )
    return path


def _code(source, tags=None) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"tags": tags} if tags is not None else {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


NOT_QUITE_NOTEBOOKS = {
    "source_not_text": ([_code(42)], "cell 1", "source that is a int"),
    "tags_as_a_string": ([_code("x = 1", "block:a")], "cell 1", "metadata.tags stored as a str"),
    "tag_not_a_string": ([_code("x = 1", [1])], "cell 1", "not a string"),
    "cell_not_an_object": (["x = 1"], "cell 1", "not a cell object"),
    "lone_surrogate_in_cell": ([_code("x = '\ud800'")], "cell 1", "not valid Unicode"),
    "long_expression": ([_code("x = " + "+".join(["1"] * 100_000))], "cell 1", "too deeply"),
    "deep_expression": ([_code("x = " + "(" * 250 + "1" + ")" * 250)], "cell 1", "error"),
    "nul_in_cell": ([_code("x = 1\x00")], "cell 1", "syntax error"),
}


@pytest.mark.parametrize("case", sorted(NOT_QUITE_NOTEBOOKS))
def test_notebooks_that_are_not_quite_notebooks_exit_2_naming_the_cell(
    case: str, tmp_path: Path
) -> None:
    cells, where, words = NOT_QUITE_NOTEBOOKS[case]
    path = _raw_notebook(tmp_path / "nb.ipynb", cells)
    done = run_kalec("build", str(path), "-t", "kfp-py")
    assert done.returncode == 2, done.stderr
    assert where in done.stderr and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


@pytest.mark.parametrize(
    ("metadata", "where"),
    [
        ({"kalec": {"description": "\ud800"}}, "metadata.kalec.description"),
        ({"kubeflow_notebook": {"pipeline_name": "a\udfffb"}}, "kubeflow_notebook.pipeline_name"),
    ],
)
def test_invalid_unicode_in_the_settings_is_refused_naming_the_field(
    metadata: dict, where: str, tmp_path: Path
) -> None:
    path = _raw_notebook(tmp_path / "nb.ipynb", [_code("x = 1", ["block:a"])], metadata)
    with pytest.raises(NotebookError, match=re.escape(where)):
        compile_notebook(path)
    done = run_kalec("check", str(path))
    assert done.returncode == 2 and where in done.stderr


def test_json_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.ipynb"
    path.write_text('{"cells": [], "metadata": ' + "[" * 200_000 + "]" * 200_000 + "}")
    done = run_kalec("check", str(path))
    assert done.returncode == 2 and "nested too deeply" in done.stderr


def test_command_line_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = make_notebook(
        tmp_path / "nb.ipynb", [(["pipeline-parameters"], "S = 'a'"), ([B + "a"], "print(S)")]
    )
    odd = tmp_path / os.fsdecode(b"odd\xff.ipynb")
    odd.write_bytes(path.read_bytes())
    for argv in (
        [b"run", os.fsencode(path), b"-p", b"S=\xff"],
        [b"check", os.fsencode(odd)],
        [b"build", os.fsencode(path), b"-t", b"kfp-py", b"--image", b"py\xff"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "kalec", *argv], capture_output=True, cwd=tmp_path, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert b"not valid UTF-8" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--image", "python:3.11; rm -rf /", "image reference"),
        ("--image", "{{workflow.name}}", "image reference"),
        ("--package", "numpy==1.0 && curl x", "package requirement"),
        ("--package", "pkg'; touch x; '", "package requirement"),
    ],
)
def test_cluster_options_that_would_reach_a_command_line_are_checked(
    option: str, value: str, words: str, notebook
) -> None:
    path = notebook([([B + "a"], "x = 1")])
    done = run_kalec("emit", str(path), "-t", "kfp-py", option, value)
    assert done.returncode == 2
    assert option in done.stderr and words in done.stderr


@pytest.mark.parametrize(
    ("volume", "words"),
    [
        ({"name": "Data{{x}}", "mount_point": "/data"}, "volume claim"),
        ({"name": "data", "mount_point": "relative/path"}, "absolute path"),
        ({"name": "data", "mount_point": "/data\nx"}, "absolute path"),
        ({"name": "data", "mount_point": "/d", "size": "1.5", "size_type": "Gi"}, "memory"),
    ],
)
def test_volumes_the_cluster_would_refuse_are_errors(volume: dict, words: str, notebook) -> None:
    path = notebook([([B + "a"], "x = 1")], metadata={"kalec": {"volumes": [volume]}})
    done = run_kalec("check", str(path))
    assert done.returncode == 2
    assert "volumes" in done.stderr and words in done.stderr


def test_yaml_target_writes_to_a_yaml_path(notebook, tmp_path: Path) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "print(x)")])
    out = tmp_path / "out" / "pipeline.yaml"
    done = run_kalec("build", str(path), "--target", "yaml", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(out.read_text())["pipelineInfo"]["name"] == "nb"
    assert [p.name for p in out.parent.iterdir()] == ["pipeline.yaml"]


def _paths(node, prefix=()):
    """Every place in a JSON document, as a tuple of keys and indexes."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
EXAMPLE = json.loads((Path(__file__).parent.parent / "examples" / "quickstart.ipynb").read_text())
PLACES = [p for p in _paths(EXAMPLE) if p]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(PLACES), JSON_VALUES), min_size=1, max_size=3))
def test_any_damage_to_a_notebook_is_a_clean_refusal_or_a_pipeline(changes, tmp_path_factory):
    """No value anywhere in a notebook's JSON makes kalec fail with anything but its own
    refusal: ``check`` answers exit 0 with a pipeline, or exit 2 with error diagnostics whose
    codes are the catalogue's and which name the cell when a cell is at fault; ``emit``
    writes a pipeline for every target, or refuses in one line naming the notebook."""
    import copy

    from kalec.diagnostics import CATALOGUE

    document = copy.deepcopy(EXAMPLE)
    for place, value in changes:
        node = document
        try:
            for key in place[:-1]:
                node = node[key]
            node[place[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this place
    path = tmp_path_factory.mktemp("damaged") / "nb.ipynb"
    path.write_text(json.dumps(document), encoding="utf-8")
    checked = run_kalec("check", str(path), "--format", "json")
    assert checked.returncode in (0, 2), checked.stderr
    data = json.loads(checked.stdout)
    errors = [d for d in data["diagnostics"] if d["severity"] == "error"]
    assert all(d["code"] in CATALOGUE for d in data["diagnostics"])
    if checked.returncode == 2:
        assert errors and not data["ok"]
        for error in errors:
            if error["code"][:2] in ("K2", "K3", "K4", "K5", "K6"):  # a cell's fault
                assert isinstance(error["cell"], int) and error["cell"] >= 1, error
        return
    assert data["ok"] and not errors and data["steps"]
    for target in ("kfp-py", "argo"):
        emitted = run_kalec("emit", str(path), "--target", target)
        assert "Traceback" not in emitted.stderr and "internal error" not in emitted.stderr
        if emitted.returncode == 0:
            assert emitted.stdout.strip()
        else:  # a refusal naming what to change
            assert emitted.returncode == 2
            assert f"{path}: error: " in emitted.stderr, emitted.stderr
