"""`kalec verify`: the notebook in a real kernel against the pipeline, value by value."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SHARED_CORPUS
from helpers import run_kalec

from kalec.verify import compare

B = "block:"


def test_verify_passes_on_an_example(tmp_path: Path) -> None:
    path = tmp_path / "quickstart.ipynb"
    path.write_bytes((ROOT / "examples" / "quickstart.ipynb").read_bytes())
    done = run_kalec("verify", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[rows.index(next(r for r in rows if r[:1] == ["slope"]))][:4] == [
        "slope",
        "fit",
        "evaluate",
        "equal",
    ]
    assert "equal: 8 passed values and 2 metrics match" in done.stdout
    assert "cells print the same" in done.stdout


def test_verify_names_the_variable_and_step_where_a_difference_first_appears(notebook) -> None:
    # tweak changes settings through an alias, which no reading of the code can see: in the
    # notebook, use sees the change; in the pipeline, use gets settings as setup left it
    path = notebook(
        [
            ([B + "setup"], "settings = {'scale': 1}\nalias = settings"),
            ([B + "tweak", "prev:setup"], "alias['scale'] = 10"),
            ([B + "use", "prev:setup"], "result = settings['scale'] * 2"),
            ([B + "report", "prev:use"], "print(result)"),
        ]
    )
    done = run_kalec("verify", str(path), cwd=path.parent)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "first difference: settings, as step 'use' receives it (cell 3): "
        "['scale']: 1 in the pipeline, 10 in the notebook" in done.stdout
    )
    assert "it was equal when step 'setup' ended" in done.stdout and "(cell 2)" in done.stdout
    assert "not equal: 2 of 3 passed values and the output of 1 of 4 cells differ" in done.stdout


def test_verify_reports_a_notebook_that_fails_in_the_kernel(notebook) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "y = x / 0")])
    done = run_kalec("verify", str(path), cwd=path.parent)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "not equal: the pipeline failed" in done.stdout


def test_values_compare_by_content_within_the_tolerance() -> None:
    import numpy as np
    import pandas as pd

    assert compare(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]), 1e-7, 0) is None
    found = compare(np.array([1.0, 2.0]), np.array([1.0, 2.5]), 1e-7, 0)
    assert found is not None and "first at (1,)" in found
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    assert compare(frame, frame + 1e-12, 1e-7, 0) is None
    assert compare(frame, frame + 1, 1e-7, 0) is not None
    assert compare({"b": 1, "a": {2, 3}}, {"a": {3, 2}, "b": 1}, 0, 0) is None
    assert compare([1, 2.0], [1, 2.1], 0.1, 0) is None
    assert "item 1" in (compare([1, 2.0], [1, 2.1], 1e-7, 0) or "")


corpus = sorted(SHARED_CORPUS.glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []


@pytest.mark.slow
@pytest.mark.shared_corpus
@pytest.mark.parametrize("path", corpus, ids=[p.stem for p in corpus])
def test_verify_passes_on_the_corpus(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    done = run_kalec("verify", str(copy), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "equal:" in done.stdout


def test_an_unknown_kernel_is_a_clear_refusal(notebook) -> None:
    path = notebook([([B + "a"], "x = 1"), ([B + "b", "prev:a"], "print(x)")])
    done = run_kalec("verify", str(path), "--kernel", "no-such-kernel", cwd=path.parent)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot run the notebook in the kernel 'no-such-kernel'" in done.stderr


# --- what a step leaves in its process: equal values, other output -----------------------------

PROCESS_STATE = {
    "environment": (
        "import os\nos.environ['PIPELINE_MODE'] = 'fast'\nx = 1",
        "import os\nprint(os.environ.get('PIPELINE_MODE'), x)",
    ),
    "numpy print options": (
        "import numpy as np\nnp.set_printoptions(precision=2)\nx = np.array([1.23456, 2.5])",
        "print(x)",
    ),
    "pandas options": (
        "import pandas as pd\npd.set_option('display.precision', 1)\n"
        "x = pd.DataFrame({'a': [1.23456]})",
        "print(x)",
    ),
    "module attribute": (
        "import settings\nsettings.SCALE = 10\nx = 2",
        "import settings\nprint(x * settings.SCALE)",
    ),
    "globals": ("x = 2\nhidden = 5", "print(x, globals().get('hidden'))"),
}


@pytest.mark.parametrize("case", sorted(PROCESS_STATE))
def test_verify_fails_where_a_step_relies_on_another_steps_process(
    notebook, tmp_path: Path, case: str
) -> None:
    (tmp_path / "settings.py").write_text("SCALE = 1\n")
    first, second = PROCESS_STATE[case]
    path = notebook([([B + "a"], first), ([B + "b", "prev:a"], second)])
    done = run_kalec("verify", str(path), cwd=path.parent)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not equal" in done.stdout
    assert "+++ cell 2 in the pipeline (step b)" in done.stdout
    assert "first difference: cell 2 prints something else" in done.stdout


def test_verify_does_not_cry_wolf(notebook, tmp_path: Path) -> None:
    """Values equal in meaning, though not in memory: identities, private caches, scratch
    memory, address-based equality, bound methods, pandas offsets, unseeded random numbers."""
    path = notebook(
        [
            (
                ["imports"],
                "import numpy as np\nimport pandas as pd\nimport statsmodels.formula.api as smf\n"
                "from sklearn.feature_extraction.text import CountVectorizer",
            ),
            (
                ["functions"],
                "class Lazy:\n    def __init__(self, n):\n        self.n = n\n"
                "        self._cache = {}\n"
                "    def square(self):\n        self._cache.setdefault('sq', self.n ** 2)\n"
                "        return self._cache['sq']",
            ),
            (
                [B + "make"],
                "vectorizer = CountVectorizer(stop_words='english').fit(['a cat sat', 'the dog "
                "ran'])\n"
                "frame = pd.DataFrame({'x': np.arange(20.0), 'y': np.arange(20.0) * 2 + 1})\n"
                "model = smf.ols('y ~ x', data=frame).fit()\n"
                "lazy = Lazy(3)\nsquare = lazy.square\noffset = pd.offsets.YearEnd()\n"
                "noise = np.random.rand(3)\nprint(sorted(vectorizer.vocabulary_))",
            ),
            (
                [B + "use", "prev:make"],
                "print(vectorizer.transform(['a cat ran']).toarray())\n"
                "print(round(model.params['x'], 6), square(), offset, noise.round(3))\n"
                "print(pd.DataFrame({f'a long column name {i}': [i * 1.5] for i in range(12)}))",
            ),
        ]
    )
    done = run_kalec("verify", str(path), cwd=path.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DIFFERS" not in done.stdout


def test_values_that_cannot_be_compared_are_not_called_different() -> None:
    from kalec.verify.values import NotComparable

    class Holder:
        __slots__ = ("items",)

    a, b = Holder(), Holder()
    a.items, b.items = (i for i in range(3)), (i for i in range(3))
    with pytest.raises(NotComparable):
        compare(a, b, 0, 0)


def test_printed_output_is_compared_without_addresses_times_and_progress() -> None:
    from kalec.verify.outputs import compare_cell, normalised

    assert normalised("<Foo object at 0x7f3a2b1c>\nfit in 1.52 s\n") == normalised(
        "<Foo object at 0x55d0aa00>\nfit in 0.98 s"
    )
    assert normalised("50%|#####     | 5/10 [00:01<00:01, 4.9it/s]\rdone") == "done"
    assert not compare_cell(3, "b", "[1.23 2.5 ]\n", "[1.23456 2.5    ]\n").equal
    assert compare_cell(
        3, "b", "2026-01-02 10:11:12 started\n", "2026-11-29 08:00:00 started\n"
    ).equal
