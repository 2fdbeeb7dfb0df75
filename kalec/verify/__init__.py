"""``kalec verify``: run the notebook top to bottom in a Jupyter kernel and as a pipeline, and
compare every value that crosses a step boundary, and every metric.

The rule of correctness, as a command: a step must receive each value as the notebook's cells
would have it when that step's first cell runs. The kernel run (nbclient, ``skip`` cells left
out) saves, with the marshal the steps use, each passed value when its producing step's last cell
has run and again just before each consuming step's first cell; the pipeline's values are its own
saved files. Equal digests are equal values; otherwise both are loaded and compared by content
(numbers, numpy arrays and pandas frames within a tolerance; containers element by element;
other objects by equality, then by their pickled bytes). A difference is reported where it first
appears: in the producing step already, or between the producer's end and the consumer's start.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kalec.backends.options import RunOptions
from kalec.errors import KalecError
from kalec.ir import Pipeline
from kalec.local.processes import with_kalec_importable
from kalec.local.runner import LocalRun
from kalec.runtime.protocol import OUTCOME_FILE, StepOutcome

PROBE = "__import__('kalec.runtime.verify_probe', fromlist=['save']).save(globals(), {})"


class VerifyError(KalecError):
    """The comparison could not be made (no kernel, nbclient missing, the probe failed)."""


@dataclass(frozen=True)
class VerifyOptions:
    rtol: float = 1e-7
    atol: float = 0.0
    kernel: str | None = None
    timeout: float | None = None  # seconds per cell in the kernel
    jobs: int = 1


@dataclass
class Row:
    variable: str
    producer: str
    consumer: str | None  # None: a metric, or a value only checked where it is produced
    equal: bool
    detail: str
    first_cell: int  # where the consumer starts (or the producer ends): for the order
    at_producer: bool | None = None  # was the notebook's value equal when the producer ended?


@dataclass
class Probes:
    """What to save in the kernel before and after each cell: {cell: [names]}."""

    before: dict[int, list[str]] = field(default_factory=dict)
    after: dict[int, list[str]] = field(default_factory=dict)
    metrics_after: dict[int, list[str]] = field(default_factory=dict)


def _plan(pipeline: Pipeline) -> Probes:
    probes = Probes()
    for step in pipeline.steps:
        received = [name for name, _ in step.artifact_inputs()]
        if received:
            probes.before.setdefault(min(step.cells), []).extend(received)
        if step.outputs:
            probes.after.setdefault(max(step.cells), []).extend(step.outputs)
        if step.metrics:
            probes.metrics_after.setdefault(max(step.cells), []).extend(step.metrics)
    return probes


# --- the pipeline ---------------------------------------------------------------------------


def _run_pipeline(pipeline: Pipeline, options: VerifyOptions, err: TextIO) -> LocalRun:
    log = io.StringIO()
    run = LocalRun(pipeline, RunOptions(jobs=options.jobs, cache=False), out=log, err=log)
    err.write("kalec: running the pipeline ...\n")
    started = time.perf_counter()
    code = run.execute()
    err.write(
        f"kalec: pipeline {'done' if code == 0 else 'failed'} in "
        f"{time.perf_counter() - started:.1f} s; its run: {run.run_dir}\n"
    )
    if code != 0:
        tail = "\n".join(log.getvalue().splitlines()[-15:])
        raise _Failed(f"the pipeline failed, so it cannot equal the notebook:\n{tail}")
    return run


class _Failed(Exception):
    """One of the two runs failed: verify ends with exit 1."""


# --- the kernel -----------------------------------------------------------------------------


def _run_kernel(
    pipeline: Pipeline, probes: Probes, folder: Path, options: VerifyOptions, err: TextIO
) -> dict[tuple[str, int], dict[str, Any]]:
    """Run the notebook in a kernel with the probes; {("before"|"after", cell): saved}."""
    try:
        import nbclient
        import nbformat
        from nbclient.exceptions import CellExecutionError
    except ImportError:
        raise VerifyError(
            "verify runs the notebook in a Jupyter kernel and needs nbclient and ipykernel: "
            "pip install 'kalec[verify]'"
        ) from None
    notebook = nbformat.read(pipeline.source, as_version=4)
    kernel = options.kernel or notebook.metadata.get("kernelspec", {}).get("name") or "python3"
    skipped = {
        number
        for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and "skip" in (cell.metadata.get("tags") or [])
    }
    client = nbclient.NotebookClient(
        notebook,
        timeout=options.timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(Path(pipeline.source).resolve().parent)}},
    )
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"  # a socket file only this user can open, not a TCP port
    env = with_kalec_importable(dict(os.environ, KALEC_VERIFY_DIR=str(folder), MPLBACKEND="Agg"))
    saved: dict[tuple[str, int], dict[str, Any]] = {}
    counter = iter(range(1_000_000))
    err.write(f"kalec: running the notebook top to bottom in a Jupyter kernel ({kernel}) ...\n")
    started = time.perf_counter()

    def probe(where: str, cell: int, names: list[str], metrics: list[str]) -> None:
        number = next(counter)
        request = {"values": names, "metrics": metrics}
        (folder / f"request-{number}.json").write_text(json.dumps(request), encoding="utf-8")
        hidden = nbformat.v4.new_code_cell(PROBE.format(number))
        try:
            client.execute_cell(hidden, len(notebook.cells) - 1, store_history=False)
        except CellExecutionError as error:
            raise VerifyError(
                f"the kernel could not save the values before/after cell {cell} ({error}); "
                "verify needs a Python kernel in which kalec is installed (--kernel NAME)"
            ) from None
        saved[(where, cell)] = json.loads(
            (folder / f"saved-{number}.json").read_text(encoding="utf-8")
        )

    cells = list(notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell(""))  # the place the probes run in
    try:
        with client.setup_kernel(env=env):
            for number, cell in enumerate(cells, start=1):
                if cell.cell_type != "code" or number in skipped:
                    continue
                if number in probes.before:
                    probe("before", number, probes.before[number], [])
                try:
                    client.execute_cell(cell, number - 1)
                except CellExecutionError as error:
                    first = str(error).strip().splitlines()[-1:] or [""]
                    raise _Failed(
                        f"the notebook itself fails in the kernel at cell {number}: {first[0]}"
                    ) from None
                if number in probes.after or number in probes.metrics_after:
                    probe(
                        "after",
                        number,
                        probes.after.get(number, []),
                        probes.metrics_after.get(number, []),
                    )
    except (_Failed, VerifyError):
        raise
    except Exception as error:  # no such kernel (a KeyError), a kernel that died, a timeout
        raise VerifyError(
            f"cannot run the notebook in the kernel {kernel!r}: {type(error).__name__}: {error}"
            " (--kernel NAME picks another; jupyter kernelspec list shows them)"
        ) from None
    err.write(f"kalec: notebook done in {time.perf_counter() - started:.1f} s\n")
    return saved


# --- comparing ------------------------------------------------------------------------------


def _load(path: str) -> Any:
    from kalec.runtime.marshal import resource_load

    return resource_load(path)


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(a: Any, b: Any, rtol: float, atol: float, depth: int = 0) -> str | None:
    """None when ``a`` (the pipeline's) equals ``b`` (the notebook's); else how they differ."""
    if depth > 50:
        return None if a is b else "nested too deeply to compare"
    if type(a) is not type(b) and _type_name(type(a)) != _type_name(type(b)):
        return f"a {type(a).__name__} in the pipeline, a {type(b).__name__} in the notebook"
    if isinstance(a, types.FunctionType):  # each side loaded its own copy: compare the code
        same = _same_code(a.__code__, b.__code__)
        found = None if same else "another function body"
        return found or compare(
            (a.__defaults__, a.__kwdefaults__), (b.__defaults__, b.__kwdefaults__), rtol, atol
        )
    module = type(a).__module__.split(".")[0]
    if module == "numpy" and hasattr(a, "shape"):
        return _compare_arrays(a, b, rtol, atol)
    if module == "pandas":
        return _compare_pandas(a, b, rtol, atol)
    if isinstance(a, float):
        if math.isnan(a) and math.isnan(b) or math.isclose(a, b, rel_tol=rtol, abs_tol=atol):
            return None
        return f"{a!r} in the pipeline, {b!r} in the notebook"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{len(a)} items in the pipeline, {len(b)} in the notebook"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = compare(x, y, rtol, atol, depth + 1)
            if found:
                return f"item {index}: {found}"
        return None
    if isinstance(a, dict):
        if a.keys() != b.keys():  # the order of keys, as for ==, does not matter
            missing = [k for k in b if k not in a][:3]
            extra = [k for k in a if k not in b][:3]
            return f"keys only in the notebook: {missing}, only in the pipeline: {extra}"
        for key in a:
            found = compare(a[key], b[key], rtol, atol, depth + 1)
            if found:
                return f"[{_short(key, 30)}]: {found}"
        return None
    if isinstance(a, (set, frozenset)):
        return None if a == b else f"{_short(a)} in the pipeline, {_short(b)} in the notebook"
    own_equality = type(a).__eq__ is not object.__eq__
    if own_equality and type(a) is type(b):
        try:
            same = a == b
            if isinstance(same, bool):
                return None if same else f"{_short(a)} in the pipeline, {_short(b)} in the notebook"
        except Exception:
            pass
    if not own_equality and hasattr(a, "__dict__") and hasattr(b, "__dict__"):
        found = compare(dict(vars(a)), dict(vars(b)), rtol, atol, depth + 1)
        return None if found is None else f"attribute {found}"
    return _compare_pickled(a, b)


def _type_name(kind: type) -> str:
    """Classes the notebook defines are loaded anew on each side: equal by name."""
    return f"{kind.__module__}.{kind.__qualname__}"


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars) != (
        b.co_code,
        b.co_names,
        b.co_varnames,
        b.co_freevars,
    ) or len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or x != y and not (x != x and y != y):
            return False
    return True


def _compare_arrays(a: Any, b: Any, rtol: float, atol: float) -> str | None:
    import numpy

    if a.shape != b.shape:
        return f"shape {a.shape} in the pipeline, {b.shape} in the notebook"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} in the pipeline, {b.dtype} in the notebook"
    if a.dtype.kind in "fc":
        close = numpy.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = numpy.asarray(a == b)
    if bool(numpy.all(close)):
        return None
    where = tuple(int(i) for i in numpy.argwhere(~close)[0])
    return (
        f"{int((~close).sum())} of {a.size} elements differ; first at {where}: "
        f"{a[where]!r} in the pipeline, {b[where]!r} in the notebook"
    )


def _compare_pandas(a: Any, b: Any, rtol: float, atol: float) -> str | None:
    import pandas.testing as testing

    check = {
        "DataFrame": testing.assert_frame_equal,
        "Series": testing.assert_series_equal,
    }.get(type(a).__name__)
    try:
        if check is not None:
            check(a, b, check_exact=False, rtol=rtol, atol=atol)
        elif not a.equals(b):
            return f"{_short(a)} in the pipeline, {_short(b)} in the notebook"
    except AssertionError as error:
        return " ".join(str(error).split())[:200]
    return None


def _compare_pickled(a: Any, b: Any) -> str | None:
    try:
        import dill

        if dill.dumps(a) == dill.dumps(b):
            return None
    except Exception:
        return f"a {type(a).__name__} kalec cannot compare (no equality, cannot be pickled)"
    return f"{_short(a)} in the pipeline, {_short(b)} in the notebook (compared pickled)"


def _value_diff(pipeline_file: str, pipeline_digest: str, saved: dict[str, Any], o: VerifyOptions):
    """(equal, detail) between the pipeline's saved value and the kernel's."""
    if saved.get("missing"):
        return False, "not defined at that point of the notebook"
    if "error" in saved:
        return False, f"the notebook's value could not be saved: {saved['error']}"
    if saved.get("digest") == pipeline_digest:
        return True, "equal (same bytes)"
    try:
        found = compare(_load(pipeline_file), _load(saved["file"]), o.rtol, o.atol)
    except Exception as error:
        return False, f"cannot load both to compare: {type(error).__name__}: {error}"
    return (True, "equal (by content)") if found is None else (False, found)


def _rows(
    pipeline: Pipeline,
    run: LocalRun,
    saved: dict[tuple[str, int], dict[str, Any]],
    o: VerifyOptions,
) -> tuple[list[Row], list[Row]]:
    outcomes = {
        s.name: StepOutcome.read(str(run.step_folder(s.name) / OUTCOME_FILE))
        for s in pipeline.steps
    }
    rows: list[Row] = []
    for step in pipeline.steps:
        end = max(step.cells)
        for name in step.outputs:
            consumers = [s for s in pipeline.steps if (name, step.name) in s.artifact_inputs()]
            outcome = outcomes[step.name]
            file, digest = outcome.outputs.get(name), outcome.digests.get(name)
            if file is None or digest is None:
                continue
            at_end = saved.get(("after", end), {}).get("values", {}).get(name, {"missing": True})
            equal_at_end, detail_at_end = _value_diff(file, digest, at_end, o)
            if not consumers:
                rows.append(Row(name, step.name, None, equal_at_end, detail_at_end, end))
            for consumer in consumers:
                start = min(consumer.cells)
                before = saved.get(("before", start), {}).get("values", {}).get(name, {})
                equal, detail = _value_diff(file, digest, before or {"missing": True}, o)
                rows.append(Row(name, step.name, consumer.name, equal, detail, start, equal_at_end))
    metrics: list[Row] = []
    for step in pipeline.steps:
        end = max(step.cells)
        notebook = saved.get(("after", end), {}).get("metrics", {})
        for name in step.metrics:
            mine, theirs = outcomes[step.name].metrics.get(name), notebook.get(name)
            found = compare(mine, theirs, o.rtol, o.atol)
            detail = "equal" if found is None else found
            metrics.append(Row(name, step.name, None, found is None, detail, end))
    return rows, metrics


def _report(pipeline: Pipeline, rows: list[Row], metrics: list[Row], out: TextIO) -> bool:
    table = [("variable", "from step", "to step", "result", "")]
    differing = [r for r in rows if not r.equal]
    first = min(differing, key=lambda r: r.first_cell) if differing else None
    for row in rows:
        mark = "  <- first difference" if row is first else ""
        result = "equal" if row.equal else "DIFFERS"
        table.append((row.variable, row.producer, row.consumer or "-", result, row.detail + mark))
    for row in metrics:
        result = "equal" if row.equal else "DIFFERS"
        table.append((f"metric {row.variable}", row.producer, "-", result, row.detail))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row[:4], widths, strict=True)] + [row[4]]
        out.write("  ".join(cells).rstrip() + "\n")
    bad_metrics = [m for m in metrics if not m.equal]
    out.write("\n")
    if not differing and not bad_metrics:
        out.write(
            f"equal: {len(rows)} passed value{'s' * (len(rows) != 1)} and {len(metrics)} "
            f"metric{'s' * (len(metrics) != 1)} match a top-to-bottom run of the notebook\n"
        )
        return True
    if first is not None:
        where = f"as step '{first.consumer}' receives it (cell {first.first_cell})"
        if first.consumer is None:
            where = f"where step '{first.producer}' ends (cell {first.first_cell})"
        out.write(f"first difference: {first.variable}, {where}: {first.detail}\n")
        producer = pipeline.step(first.producer)
        if first.consumer is not None and first.at_producer:
            between = [
                c.number
                for c in pipeline.cells
                if max(producer.cells) < c.number < first.first_cell
                and c.number not in pipeline.prelude
            ]
            cells = ("cell " if len(between) == 1 else "cells ") + ", ".join(map(str, between))
            out.write(
                f"  it was equal when step '{first.producer}' ended; in the notebook a cell "
                f"between changed it ({cells}), which "
                "kalec's analysis did not see: make that change in the step that uses it, or "
                f"pass the value on from the step that changes it\n"
            )
    counts = f"{len(differing)} of {len(rows)} passed values"
    if metrics:
        counts += f" and {len(bad_metrics)} of {len(metrics)} metrics"
    out.write(f"not equal: {counts} differ\n")
    return False


def verify(pipeline: Pipeline, options: VerifyOptions, out: TextIO, err: TextIO) -> int:
    """0 when the pipeline equals the notebook, 1 when not (or when either run failed)."""
    probes = _plan(pipeline)
    try:
        run = _run_pipeline(pipeline, options, err)
        with tempfile.TemporaryDirectory(prefix="kalec-verify-") as folder:
            saved = _run_kernel(pipeline, probes, Path(folder), options, err)
            rows, metrics = _rows(pipeline, run, saved, options)
            return 0 if _report(pipeline, rows, metrics, out) else 1
    except _Failed as failure:
        out.write(f"not equal: {failure}\n")
        return 1
