"""A notebook of 10,000 steps compiles, to every script target (slow tier).

Nothing in the compiler may walk the steps recursively (a chain deeper than Python's stack) or
compare every step with every other; how time and memory grow is printed by
``bench/compile_large.py``, not asserted here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from helpers import make_notebook

from kalec.compiler import compile_notebook
from kalec.targets import argo, kfp_py

STEPS = 10_000


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    cells = [(["imports"], "import math"), (["pipeline-parameters"], "SCALE = 2")]
    cells.append((["block:step-0"], "total = [SCALE]"))
    for n in range(1, STEPS):
        cells.append(
            ([f"block:step-{n}", f"prev:step-{n - 1}"], f"total = total + [math.sqrt({n}) * SCALE]")
        )
    cells.append((["block:count", f"prev:step-{STEPS - 1}"], "size = len(total)"))
    cells.append((["pipeline-metrics"], "size"))
    return make_notebook(tmp_path_factory.mktemp("scale") / "chain.ipynb", cells)


@pytest.mark.slow
def test_a_chain_of_ten_thousand_steps_compiles_to_kfp_and_argo(chain: Path) -> None:
    pipeline = compile_notebook(chain)
    assert not pipeline.has_errors, [d.message for d in pipeline.diagnostics][:3]
    assert len(pipeline.steps) == STEPS + 1
    last = pipeline.steps[-2]
    assert [(i.name, i.producer) for i in last.inputs if i.producer] == [
        ("total", f"step-{STEPS - 2}")
    ]
    script = kfp_py.emit(pipeline)
    tree = ast.parse(script)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert sum(name.startswith("step_") for name in functions) == STEPS
    workflow = yaml.load(argo.emit(pipeline), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    tasks = next(t for t in workflow["spec"]["templates"] if "dag" in t)["dag"]["tasks"]
    assert len(tasks) == STEPS + 1
    assert tasks[-2]["dependencies"] == [tasks[-3]["name"]]
