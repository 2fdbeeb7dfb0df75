"""The advice of `kalec check`: run-to-run sources, parallel in-place changes, pip install lines,
loop closures passed on. Each names the cell and line, and says what to do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kalec.compiler import compile_notebook

B = "block:"


def codes(notebook, cells) -> dict[str, list]:
    pipeline = compile_notebook(str(notebook(cells)))
    found: dict[str, list] = {}
    for d in pipeline.diagnostics:
        found.setdefault(d.code, []).append(d)
    return found


def test_steps_that_read_the_clock_unseeded_random_or_the_network_are_named(notebook) -> None:
    found = codes(
        notebook,
        [
            (["imports"], "import numpy as np\nimport datetime\nimport requests"),
            ([B + "a"], "x = 1\nwhen = datetime.datetime.now()"),
            ([B + "b"], "noise = np.random.rand(3)"),
            ([B + "c"], "page = requests.get('https://example.org')"),
            ([B + "d"], "rng = np.random.default_rng(0)\nsteady = rng.random(2)"),
        ],
    )
    notes = {d.message.split("'")[1]: d for d in found["K901"]}
    assert set(notes) == {"a", "b", "c"}
    assert "the clock" in notes["a"].message and notes["a"].origin.line == 2
    assert "random numbers" in notes["b"].message and "--refresh b" in notes["b"].hint
    assert "the network" in notes["c"].message


def test_a_seeded_generator_is_not_named(notebook) -> None:
    cells = [
        (["imports"], "import numpy as np"),
        ([B + "a"], "np.random.seed(1)\nx = np.random.rand(2)"),
        ([B + "b", "prev:a"], "print(x)"),
    ]
    pipeline = compile_notebook(str(notebook(cells)))
    assert not pipeline.has_errors and [s.name for s in pipeline.steps] == ["a", "b"]
    assert "K901" not in {d.code for d in pipeline.diagnostics}


def test_a_parallel_step_changing_a_value_in_place_is_a_warning(notebook) -> None:
    found = codes(
        notebook,
        [
            ([B + "load"], "rows = [3, 1, 2]"),
            ([B + "count", "prev:load"], "print(len(rows))"),
            ([B + "order", "prev:load"], "rows.sort()\nprint(rows)"),
        ],
    )
    (warning,) = found["K902"]
    assert "step 'order' changes rows in place" in warning.message
    assert "step 'count'" in warning.message and warning.origin.cell == 3
    assert "prev:order" in warning.hint


def test_pip_install_lines_are_noted_as_step_packages(notebook) -> None:
    found = codes(notebook, [([B + "a"], "%pip install tabulate==0.9.0\nx = 1")])
    (note,) = found["K903"]
    assert "tabulate==0.9.0" in note.message and note.hint is None
    unpinned = codes(notebook, [([B + "a"], "!pip install tabulate\nx = 1")])
    assert "pin versions" in unpinned["K903"][0].hint


def test_loop_closures_passed_to_another_step_are_a_warning(notebook) -> None:
    found = codes(
        notebook,
        [
            ([B + "make"], "fs = []\nfor i in range(3):\n    fs.append(lambda: i)"),
            ([B + "call", "prev:make"], "print([f() for f in fs])"),
        ],
    )
    (warning,) = found["K904"]
    assert "fs" in warning.message and "loop variable i" in warning.message
    assert warning.origin.line == 3 and "lambda i=i" in warning.hint
    bound = codes(
        notebook,
        [
            ([B + "make"], "fs = []\nfor i in range(3):\n    fs.append(lambda i=i: i)"),
            ([B + "call", "prev:make"], "print([f() for f in fs])"),
        ],
    )
    assert "K904" not in bound


def test_process_state_a_later_step_will_not_see_is_a_warning(notebook, tmp_path) -> None:
    (tmp_path / "settings.py").write_text("SCALE = 1\n")
    found = codes(
        notebook,
        [
            (["imports"], "import os\nimport numpy as np\nimport pandas as pd\nimport settings"),
            (
                [B + "prepare"],
                "os.environ['MODE'] = 'fast'\nnp.set_printoptions(precision=2)\n"
                "pd.set_option('display.max_rows', 5)\nsettings.SCALE = 3\n"
                "import sys\nsys.path.insert(0, 'src')\nos.chdir('/tmp')\nx = np.arange(3)",
            ),
            (
                [B + "show", "prev:prepare"],
                "print(x * settings.SCALE)\nnp.set_printoptions(precision=4)",
            ),
        ],
    )
    warned = {(d.origin.cell, d.origin.line): d for d in found["K905"]}
    assert sorted(warned) == [(2, 1), (2, 2), (2, 3), (2, 4), (2, 6), (2, 7)]
    assert "the environment" in warned[(2, 1)].message
    assert "module settings" in warned[(2, 4)].message
    assert "step 'show'" in warned[(2, 2)].message
    assert "imports or functions" in warned[(2, 2)].hint
    # the last step's own change: no later step, nothing to miss


def test_magics_that_change_process_state_are_a_warning_like_the_code_that_does(
    notebook,
) -> None:
    found = codes(
        notebook,
        [
            (["imports"], "import os"),
            ([B + "prepare"], "%env MODE=fast\n%cd .\n%precision 2\n%matplotlib inline\nx = 1"),
            ([B + "show", "prev:prepare"], "%env\n!ls\nprint(x, os.environ.get('MODE'))"),
        ],
    )
    warned = {(d.origin.cell, d.origin.line): d.message for d in found["K905"]}
    assert sorted(warned) == [(2, 1), (2, 2), (2, 3)]  # not %matplotlib, not %env listing, !ls
    assert "the environment" in warned[(2, 1)]
    assert "the working folder" in warned[(2, 2)]
    assert "how IPython shows numbers" in warned[(2, 3)]


def test_process_state_set_in_the_prelude_is_fine(notebook) -> None:
    found = codes(
        notebook,
        [
            (
                ["imports"],
                "import os\nimport numpy as np\nos.environ['MODE'] = 'fast'\n"
                "np.set_printoptions(precision=2)",
            ),
            ([B + "a"], "x = np.arange(3)"),
            ([B + "b", "prev:a"], "print(x, os.environ['MODE'])"),
        ],
    )
    assert "K905" not in found


def test_names_read_through_globals_or_eval_from_another_step_are_a_warning(notebook) -> None:
    found = codes(
        notebook,
        [
            ([B + "a"], "total = 5\nlabel = 'x'"),
            (
                [B + "b", "prev:a"],
                "print(globals()['total'])\nprint(eval('label * 2'))\nown = 1\n"
                "print(globals()['own'])",
            ),
        ],
    )
    lines = sorted(d.origin.line for d in found["K906"])
    assert lines == [1, 2]
    assert all("set in step 'a'" in d.message for d in found["K906"])


def _brute_force_first_after(pipeline, number: int, step: str) -> str | None:
    later = [s.name for s in pipeline.steps if s.name != step and max(s.cells) > number]
    return later[0] if later else None


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4, unique=True),
        min_size=1,
        max_size=12,
    )
)
def test_the_first_later_step_is_found_as_by_comparing_every_step(cells_of_steps) -> None:
    """The process-state advice names the first step that ends after the cell; found for all
    cells at once (a notebook may change process state in thousands of cells), it must be the
    step a comparison with every step finds."""
    from kalec.ir import Origin, Pipeline, Settings, Step
    from kalec.passes.lints import _first_steps_after

    steps = tuple(
        Step(f"s{i}", tuple(sorted(cells)), Origin(min(cells)))
        for i, cells in enumerate(cells_of_steps)
    )
    pipeline = Pipeline(source="nb.ipynb", settings=Settings(name="nb"), cells=(), steps=steps)
    queries = [(n, s.name) for s in steps for n in s.cells]
    answers = _first_steps_after(pipeline, queries)
    for number, step in queries:
        assert answers.get((number, step)) == _brute_force_first_after(pipeline, number, step)
