"""The passes one at a time, on pipelines built in memory: grouping, cell facts, free names.

Whole notebooks test them together (tests/test_equivalence.py); here each pass's own contract is
pinned down, with no file, no subprocess and no kernel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kalec.frontend.magics import to_analyzed, to_python
from kalec.frontend.tags import parse_cell_tags
from kalec.ir import CodeCell, Origin, Pipeline, Role, Settings
from kalec.passes import PASSES, run_passes
from kalec.passes.cell_facts import cell_facts
from kalec.passes.free_names import free_names
from kalec.passes.group_steps import group_steps

B = "block:"


def pipeline_of(*cells: tuple[list[str], str]) -> Pipeline:
    """A pipeline of code cells (numbered from 1) as the frontend makes it, without a file."""
    code = []
    for number, (tags, source) in enumerate(cells, start=1):
        parsed, diagnostics = parse_cell_tags(tags, Origin(number))
        assert not diagnostics, diagnostics
        if parsed.role is Role.SKIP:
            continue
        python = to_python(source)
        code.append(CodeCell(number, source, python, to_analyzed(python), parsed))
    return Pipeline(source="nb.ipynb", settings=Settings(name="nb"), cells=tuple(code))


def until(pipeline: Pipeline, last) -> Pipeline:
    """Run the passes up to and including ``last``."""
    return run_passes(pipeline, PASSES[: PASSES.index(last) + 1])


def test_group_steps_follows_tags_and_continuations() -> None:
    pipeline = group_steps(
        pipeline_of(
            ([], "a = 1"),
            (["imports"], "import os"),
            ([], "import sys"),
            ([B + "load"], "x = 1"),
            ([], "x += 1"),
            (["block:"], "x += 2"),
            (["pipeline-parameters"], "N = 1"),
            ([], "y = x"),
            ([B + "a;b", "prev:load", "limit:cpu:2"], "z = 1"),
            (["skip"], "print('left out')"),
            ([B + "b", "retry:2"], "w = z"),
        )
    )
    steps = {s.name: s for s in pipeline.steps}
    assert list(steps) == ["main", "load", "a", "b"]
    assert steps["main"].cells == (1,)
    assert pipeline.prelude == (2, 3)
    assert steps["load"].cells == (4, 5, 6, 8)  # the parameters cell does not break the step
    assert steps["a"].cells == (9,) and steps["b"].cells == (9, 11)
    assert [d.step for d in steps["a"].prev] == ["load"]
    assert steps["a"].options.limits == (("cpu", "2"),)
    assert steps["b"].options.retries == 2 and steps["b"].options.limits == (("cpu", "2"),)
    assert [d.code for d in pipeline.diagnostics] == ["K302"]


def test_group_steps_refuses_prev_on_itself_and_unknown_steps() -> None:
    pipeline = group_steps(
        pipeline_of(
            ([B + "a", "prev:a"], "x = 1"), ([B + "load"], "y = 1"), ([B + "c", "prev:loda"], "")
        )
    )
    codes = [(d.code, d.origin.cell) for d in pipeline.diagnostics]
    assert codes == [("K305", 1), ("K306", 3)]
    assert pipeline.diagnostics[1].hint == "did you mean prev:load?"


def test_cell_facts_sees_bindings_changes_imports_functions_and_files() -> None:
    pipeline = until(
        pipeline_of(
            (
                [B + "a"],
                "import numpy as np\nfrom os import path as p\nrows = []\nrows.append(1)\n"
                "conf = {}\nconf['k'] = 2\nmodel.fit(X)\ndf.dropna(inplace=True)\n"
                "def f(v):\n    return v * SCALE\nfor i in range(2):\n    pass\n"
                "with open('out.txt', 'w') as fh:\n    fh.write('x')\ndel conf\n"
                "data = open('in.csv').read()",
            ),
        ),
        cell_facts,
    )
    facts = pipeline.cells[0].facts
    assert {"np", "p", "rows", "conf", "f", "i", "fh", "data"} <= set(facts.writes)
    assert {"rows", "model", "df"} <= set(facts.mutates)
    assert dict(facts.imports) == {"np": "import numpy as np", "p": "from os import path as p"}
    assert dict(facts.function_globals) == {"f": ("SCALE",)}
    assert facts.deletes == ("conf",)
    assert facts.file_writes == ("out.txt",)
    assert set(facts.file_reads) == {"in.csv", "numpy.py", "os.py"}  # a module may be a file
    assert [(name, kind) for name, kind, _ in facts.unpicklable] == [("fh", "an open file")]


def test_cell_facts_counts_what_a_function_of_another_cell_changes() -> None:
    pipeline = until(
        pipeline_of(
            (["functions"], "def add(rows, row):\n    rows.append(row)\n"
             "def reset():\n    global total\n    total = 0"),
            ([B + "a"], "items = []\nadd(items, 1)\nreset()"),
        ),
        cell_facts,
    )  # fmt: skip
    facts = pipeline.cells[1].facts
    assert "items" in facts.mutates and "total" in facts.writes
    assert facts.via_calls == ("total",)  # items is also bound here directly


def test_free_names_are_the_names_read_before_bound_with_their_first_place() -> None:
    pipeline = until(
        pipeline_of(
            ([B + "a"], "x = 1\nsum = 0"),
            ([B + "b"], "y = x + 1\nx = 2\nprint(x, len([y]))"),
            ([], "def g():\n    return later\nz = sum + y"),
        ),
        free_names,
    )
    free = {f.name: f for f in pipeline.step("b").free_names}
    assert set(free) == {"x", "later", "sum"}  # `sum` is rebound by the notebook: a value
    assert free["x"].origin == Origin(2, 1) and not free["x"].deferred
    assert free["later"].deferred and free["later"].origin == Origin(3, 2)
    assert free["sum"].origin == Origin(3, 3)


def test_free_names_of_the_prelude_may_only_be_parameters() -> None:
    pipeline = until(
        pipeline_of(
            (["pipeline-parameters"], "N = 1"),
            (["functions"], "size = N * 2\nbad = x + 1"),
            ([B + "a"], "x = 1"),
        ),
        free_names,
    )
    assert [f.name for f in pipeline.prelude_reads] == ["N"]
    assert [(d.code, d.origin) for d in pipeline.diagnostics] == [("K601", Origin(2, 2))]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Notebooks of every shape the project knows, all inside the repository: the examples
    (a composition among them), the benchmark's analyses, and each case of ``cases.py``."""
    from cases import GOOD
    from helpers import make_notebook

    root = Path(__file__).parent.parent
    folder = tmp_path_factory.mktemp("cases")
    cases = [make_notebook(folder / f"{name}.ipynb", cells) for name, cells in GOOD.items()]
    return (
        sorted(root.glob("examples/**/*.ipynb"))
        + sorted(root.glob("bench/notebooks/*.ipynb"))
        + cases
    )


def test_what_the_passes_record_does_not_depend_on_which_trees_are_kept(
    monkeypatch, corpus: list[Path], tmp_path: Path
) -> None:
    """A notebook too large to keep its trees is parsed again by each sweep, a notebook
    compiled after others reuses the readings of the cells and steps they share, and one
    compiled again in a new command takes the readings kept by the last: the facts, the steps
    and the advice must be those of a notebook read from scratch."""
    import importlib

    from kalec.analysis import parsing
    from kalec.compiler import compile_notebook
    from kalec.targets import ir_json

    cell_facts = importlib.import_module("kalec.passes.cell_facts")
    free_names = importlib.import_module("kalec.passes.free_names")
    caches = (parsing.parse.cache, cell_facts.READINGS, free_names.FOUND)
    notebooks = corpus
    assert len(notebooks) >= 40

    with monkeypatch.context() as scratch:  # nothing kept, in memory or on disk
        scratch.setenv("KALEC_NO_STARTUP_CACHE", "1")
        for cache in caches:
            scratch.setattr(cache, "max_bytes", 0)
            cache.clear()
        fresh = {path: ir_json.emit(compile_notebook(path)) for path in notebooks}

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for path in notebooks:  # remembered in memory, and kept on disk
        assert ir_json.emit(compile_notebook(path)) == fresh[path], path.name
    assert len(list((tmp_path / "cache" / "kalec").glob("readings-*"))) >= 40
    for cache in caches:  # a new command: only what the disk kept
        cache.clear()
    for path in notebooks:
        assert ir_json.emit(compile_notebook(path)) == fresh[path], path.name


def test_a_cell_shared_by_two_notebooks_is_read_in_each_one_s_context(notebook) -> None:
    """The same cell means another thing where another cell defines its names otherwise: a
    method that changes ``self`` in one notebook, not in the other; ``sum`` a builtin in one,
    the notebook's own value in the other."""
    from kalec.compiler import compile_notebook

    uses = [(["block:make"], "c = C()"), (["block:use", "prev:make"], "c.hit()\nprint(sum)")]
    changes = notebook(
        [(["functions"], "class C:\n    def hit(self):\n        self.n = 1"), *uses],
        name="changes.ipynb",
    )
    keeps = notebook(
        [(["functions"], "class C:\n    def hit(self):\n        return 1"),
         (["block:total"], "sum = 3"), *uses],
        name="keeps.ipynb",
    )  # fmt: skip
    first, second = compile_notebook(changes), compile_notebook(keeps)
    assert "c" in first.cells[-1].facts.mutates and "c" not in second.cells[-1].facts.mutates
    use = {p.source: next(s for s in p.steps if s.name == "use") for p in (first, second)}
    assert "sum" not in [f.name for f in use[str(changes)].free_names]
    assert "sum" in [f.name for f in use[str(keeps)].free_names]


def test_one_walk_gives_every_node_in_the_order_of_ast_walk(corpus: list[Path]) -> None:
    import ast
    import json

    from kalec.analysis.parsing import children, walk

    for path in corpus:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            try:
                tree = ast.parse(to_analyzed(to_python(source)))
            except SyntaxError:
                continue
            assert list(walk(tree)) == list(ast.walk(tree))
            for node in walk(tree):
                assert children(node) == list(ast.iter_child_nodes(node))


def test_compiling_leaves_the_garbage_collector_as_it_found_it(corpus: list[Path]) -> None:
    import gc

    from kalec.compiler import compile_notebook

    before = gc.get_threshold(), gc.isenabled()
    compile_notebook(corpus[0])
    assert (gc.get_threshold(), gc.isenabled()) == before
    gc.disable()  # a caller that paused the collector itself finds it paused still
    try:
        compile_notebook(corpus[0])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_passes_leave_no_reference_cycles_behind(corpus: list[Path]) -> None:
    """Compiling pauses the cyclic collector (it went through millions of tree nodes, again
    and again): safe because the passes free what they make by reference counting alone."""
    import gc

    from kalec.frontend.notebook import read_notebook

    # until nothing is left: an earlier test's garbage may make more when it is freed
    # (SQLAlchemy's class registry, which Optuna loads, frees through weakref callbacks); then
    # what is left is set aside, so that each collection below looks at new objects only
    while gc.collect():
        pass
    gc.freeze()
    try:
        for path in corpus:
            # read first: the frontend's first magic imports IPython, whose import leaves
            # garbage of its own (once a process, whichever test compiles such a notebook first)
            read = read_notebook(path)
            while gc.collect():
                pass
            gc.disable()
            try:
                pipeline = run_passes(read)
                assert pipeline.steps
                del pipeline
                assert gc.collect() == 0, f"{path.name}: the passes left cycles to collect"
            finally:
                gc.enable()
    finally:
        gc.unfreeze()
