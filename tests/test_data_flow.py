"""Data flow at the IR level: which step each input comes from, what each step outputs."""

from __future__ import annotations

from kalec.compiler import compile_notebook
from kalec.ir import InputKind, Severity

B = "block:"


def compiled(notebook, cells):
    pipeline = compile_notebook(notebook(cells))
    errors = [d.render("nb") for d in pipeline.diagnostics if d.severity is Severity.ERROR]
    assert not errors, errors
    return pipeline


def sources(pipeline, step: str) -> dict[str, str]:
    """name -> producing step, 'param' or 'import' for each input of a step."""
    out = {}
    for item in pipeline.step(step).inputs:
        out[item.name] = item.producer if item.kind is InputKind.ARTIFACT else item.kind.value
    return out


def test_redefinition_binds_to_the_latest_producer(notebook) -> None:
    p = compiled(
        notebook,
        [([B + "a"], "x = 1"), ([B + "b", "prev:a"], "x = 2"), ([B + "c", "prev:b"], "print(x)")],
    )
    assert sources(p, "c") == {"x": "b"}
    assert p.step("a").outputs == ()  # nobody reads a's x
    assert p.step("b").outputs == ("x",)


def test_in_place_changes_make_a_step_a_new_producer(notebook) -> None:
    for change in [
        "x.append(1)",
        "x[0] = 5",
        "x.attr = 1",
        "x += [1]",
        "del x[0]",
        "x.sort(reverse=True)",
        "x.update({})",
        "x.dropna(inplace=True)",
        "x['a'].fillna(0, inplace=True)",
        "np.random.shuffle(x)",
        "x.fit(1, 2)",
        "x.add_(1)",
    ]:
        p = compiled(
            notebook,
            [
                (["imports"], "import numpy as np"),
                ([B + "a"], "x = [3, 1]"),
                ([B + "b", "prev:a"], change),
                ([B + "c", "prev:b"], "print(x)"),
            ],
        )
        assert sources(p, "c") == {"x": "b"}, change
        assert sources(p, "b")["x"] == "a", change


def test_reading_without_changing_is_not_a_new_producer(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "a"], "x = [3, 1]"),
            ([B + "b", "prev:a"], "y = len(x) + x.count(1) + sum(x)\nz = sorted(x)"),
            ([B + "c", "prev:b"], "print(x, y)"),
        ],
    )
    assert sources(p, "c") == {"x": "a", "y": "b"}


def test_comprehension_variables_stay_inside(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "a"], "i = 1"),
            ([B + "b", "prev:a"], "sq = [i * 2 for i in range(3)]"),
            ([B + "c", "prev:b"], "print(i, sq)"),
        ],
    )
    assert sources(p, "c") == {"i": "a", "sq": "b"}
    assert "i" not in sources(p, "b")


def test_functions_defined_in_a_step_read_their_globals_where_called(notebook) -> None:
    p = compiled(
        notebook,
        [([B + "a"], "k = 2\ndef f(v):\n    return v * k"), ([B + "b", "prev:a"], "print(f(3))")],
    )
    assert sources(p, "b") == {"f": "a", "k": "a"}


def test_prelude_functions_bring_their_globals_to_the_caller(notebook) -> None:
    p = compiled(
        notebook,
        [
            (["functions"], "def f(v):\n    return v * k + P"),
            (["pipeline-parameters"], "P = 1"),
            ([B + "a"], "k = 2"),
            ([B + "b", "prev:a"], "print(f(3))"),
        ],
    )
    assert sources(p, "b") == {"k": "a", "P": "param"}
    assert "f" not in sources(p, "b")  # the prelude defines it in every step


def test_classes_and_lambdas_are_passed(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "a"], "class C:\n    pass\nmake = lambda: C()\nobj = make()"),
            ([B + "b", "prev:a"], "print(obj, make, C)"),
        ],
    )
    assert sources(p, "b") == {"obj": "a", "make": "a", "C": "a"}


def test_imports_are_repeated_not_passed(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "a"], "import numpy as np\nnp.random.seed(0)"),
            ([B + "b", "prev:a"], "print(np.pi)"),
        ],
    )
    item = p.step("b").inputs[0]
    assert item.kind is InputKind.IMPORT and item.statement == "import numpy as np"
    assert p.step("a").outputs == ()


def test_missing_dependency_is_added_and_reported(notebook) -> None:
    p = compiled(notebook, [([B + "a"], "x = 1"), ([B + "b"], "print(x)")])
    deps = p.step("b").dependencies
    assert [(d.step, d.reason, d.variable) for d in deps] == [("a", "data", "x")]
    notes = [d for d in p.diagnostics if d.severity is Severity.NOTE]
    assert any("added the dependency prev:a" in d.message for d in notes)


def test_parallel_steps_each_read_the_common_ancestor(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "r"], "d = [1]"),
            ([B + "x", "prev:r"], "a = len(d)"),
            ([B + "y", "prev:r"], "b = sum(d)"),
            ([B + "z", "prev:x;y"], "print(a, b)"),
        ],
    )
    assert sources(p, "x") == {"d": "r"} and sources(p, "y") == {"d": "r"}
    assert {d.step for d in p.step("y").dependencies} == {"r"}  # y stays parallel to x


def test_parallel_mutations_are_ordered_by_the_notebook(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "r"], "d = []"),
            ([B + "x", "prev:r"], "d.append(1)"),
            ([B + "y", "prev:r"], "d.append(2)"),
            ([B + "z", "prev:x;y"], "print(d)"),
        ],
    )
    assert sources(p, "y") == {"d": "x"}  # the notebook appends 2 after 1
    assert sources(p, "z") == {"d": "y"}


def test_parameters_are_typed_inputs(notebook) -> None:
    p = compiled(
        notebook,
        [
            (["pipeline-parameters"], "N = 5\nLR: float = 0.1\nNEG = -2\nNAMES = ['a']"),
            ([B + "a"], "print(N, LR, NEG, NAMES)"),
        ],
    )
    assert [(x.name, x.type.value, x.default) for x in p.params] == [
        ("N", "int", 5),
        ("LR", "float", 0.1),
        ("NEG", "int", -2),
        ("NAMES", "list", ["a"]),
    ]
    assert sources(p, "a") == {"N": "param", "LR": "param", "NEG": "param", "NAMES": "param"}


def test_metrics_are_attached_to_their_producer(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "a"], "acc = 0.9"),
            ([B + "b", "prev:a"], "acc = acc + 0.01"),
            (["pipeline-metrics"], "acc"),
        ],
    )
    assert p.step("b").metrics == ("acc",) and p.step("a").metrics == ()


def test_magic_bodies_are_analysed(notebook) -> None:
    p = compiled(
        notebook,
        [
            ([B + "a"], "%%capture out\nx = 1\nprint(x)"),
            ([B + "b", "prev:a"], "word = 'w'\n!echo {word} $word"),
            ([B + "c", "prev:a"], "print(x, out)"),
        ],
    )
    assert sources(p, "c") == {"x": "a", "out": "a"}
    assert sources(p, "b") == {}


def test_untagged_cells_join_the_step_before_them(notebook) -> None:
    p = compiled(
        notebook,
        [
            (["imports"], "import os"),
            ([], "import sys"),
            ([B + "a"], "x = 1"),
            ([], "y = 2"),
            (["pipeline-parameters"], "P = 1"),
            ([], "z = 3"),
        ],
    )
    assert p.prelude == (1, 2)
    assert p.step("a").cells == (3, 4, 6)


def test_notebook_without_tags_is_one_step(notebook) -> None:
    p = compiled(notebook, [([], "x = 1"), "text", ([], "print(x)")])
    assert [(s.name, s.cells) for s in p.steps] == [("main", (1, 3))]


def test_step_settings_merge_over_the_cells_of_a_step(notebook) -> None:
    p = compiled(
        notebook, [([B + "a", "limit:cpu:2"], "x = 1"), (["retry:2", "limit:memory:1Gi"], "y = 2")]
    )
    options = p.step("a").options
    assert dict(options.limits) == {"cpu": "2", "memory": "1Gi"} and options.retries == 2


def test_kale_notebook_settings_are_read(notebook) -> None:
    meta = {
        "kubeflow_notebook": {
            "pipeline_name": "my-pipe",
            "docker_image": "img:1",
            "experiment_name": "exp",
            "volumes": [],
            "unknown_key": 1,
        }
    }
    pipeline = compile_notebook(notebook([([B + "a"], "x = 1")], metadata=meta))
    assert pipeline.settings.name == "my-pipe"
    assert pipeline.settings.image == "img:1"
    assert pipeline.settings.experiment == "exp"
    assert any(
        "unknown_key" in d.message and d.severity is Severity.NOTE for d in pipeline.diagnostics
    )


def test_compiling_never_runs_the_code(notebook, tmp_path) -> None:
    marker = tmp_path / "ran"
    compile_notebook(
        notebook([([B + "a"], f"open({str(marker)!r}, 'w').write('x')\n!touch {marker}")])
    )
    assert not marker.exists()
