"""What verify found, as rows, and as the report a person reads: every passed value and metric
(equal, DIFFERS, or not compared with the reason), every cell whose printed output differs with
a diff, the first difference and where it most likely comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from kalec.analysis.symbols import describe
from kalec.ir import Pipeline
from kalec.local.console import text_table
from kalec.verify.outputs import CellOutput

_DIFF_LINES = 12  # of each cell's diff in the report


@dataclass
class Row:
    """One line of the verify report: a variable, where it travels, and whether it matched."""

    variable: str
    producer: str
    consumer: str | None  # None: a metric, or a value only checked where it is produced
    equal: bool | None  # None: not compared (``detail`` says why)
    detail: str
    first_cell: int  # where the consumer starts (or the producer ends): for the order
    at_producer: bool | None = None  # was the notebook's value equal when the producer ended?


def _word(equal: bool | None) -> str:
    return "equal" if equal else "not compared" if equal is None else "DIFFERS"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def write_report(
    pipeline: Pipeline,
    rows: list[Row],
    metrics: list[Row],
    cells: list[CellOutput],
    out: TextIO,
) -> bool:
    """The report; True when nothing differs."""
    differing = [r for r in rows if r.equal is False]
    first = min(differing, key=lambda r: r.first_cell) if differing else None
    table = [("variable", "from step", "to step", "result", "")]
    for row in rows:
        mark = "  <- first difference" if row is first else ""
        name = describe(row.variable)
        table.append((name, row.producer, row.consumer or "-", _word(row.equal), row.detail + mark))
    for row in metrics:
        table.append((f"metric {row.variable}", row.producer, "-", _word(row.equal), row.detail))
    if len(table) > 1:
        out.write(text_table(table))
    printed_differently = [c for c in cells if not c.equal]
    for cell in printed_differently:
        out.write("\n" + "\n".join(cell.diff[:_DIFF_LINES]) + "\n")
        if len(cell.diff) > _DIFF_LINES:
            out.write(f"  ... {len(cell.diff) - _DIFF_LINES} more lines of difference\n")
    bad_metrics = [m for m in metrics if m.equal is False]
    uncompared = [r for r in rows + metrics if r.equal is None]
    out.write("\n")
    if uncompared:
        names = ", ".join(describe(r.variable) for r in uncompared[:5])
        out.write(
            f"not compared: {names} (see the table); kalec could not tell whether "
            f"{'it is' if len(uncompared) == 1 else 'they are'} equal\n"
        )
    if not differing and not bad_metrics and not printed_differently:
        out.write(
            f"equal: {_plural(len(rows), 'passed value')} and {_plural(len(metrics), 'metric')} "
            f"match a top-to-bottom run of the notebook, and {_plural(len(cells), 'cell')} "
            "print the same\n"
        )
        return True
    if first is not None:
        _explain_value(pipeline, first, out)
    elif printed_differently:
        cell = printed_differently[0]
        out.write(
            f"first difference: cell {cell.cell} prints something else in the pipeline "
            f"(step '{cell.step}') than in the notebook; a step that relies on process state "
            "another step set (environment variables, print options, module attributes) does "
            "this: kalec check warns of it (K905)\n"
        )
    counts = [f"{len(differing)} of {_plural(len(rows), 'passed value')}"]
    if metrics:
        counts.append(f"{len(bad_metrics)} of {_plural(len(metrics), 'metric')}")
    if cells:
        counts.append(f"the output of {len(printed_differently)} of {_plural(len(cells), 'cell')}")
    out.write(f"not equal: {', '.join(counts[:-1])} and {counts[-1]} differ\n")
    return False


def _explain_value(pipeline: Pipeline, first: Row, out: TextIO) -> None:
    where = f"as step '{first.consumer}' receives it (cell {first.first_cell})"
    if first.consumer is None:
        where = f"where step '{first.producer}' ends (cell {first.first_cell})"
    out.write(f"first difference: {describe(first.variable)}, {where}: {first.detail}\n")
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
            f"between changed it ({cells}), which kalec's analysis did not see: make that "
            "change in the step that uses it, or pass the value on from the step that "
            "changes it\n"
        )
