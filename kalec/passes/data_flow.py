"""Pass: bind every free name of every step to where its value comes from.

The rule is the notebook's own: when a step first reads ``x`` in cell *c*, the notebook run would
hand it the value left by the last cell before *c* (in notebook order) that bound or changed
``x``. That cell decides the source:

- a cell of another step: the value is passed from that step (an artifact), and a dependency on
  that step is added when no ``prev:`` tag gave one (reported as a note);
- an imports or functions cell: the step runs the prelude itself; nothing is passed;
- the ``pipeline-parameters`` cell: the step receives the parameter's value;
- a cell that bound ``x`` with an ``import``: the step repeats the import instead of receiving a
  module.

Where the pipeline cannot reproduce that value, compiling stops with an error naming the step,
the variable and the cells: a name no cell defines before its use; a producer that changes the
value again after the read (a step hands on only its final values). Several steps may set the
same name (sections of a notebook reuse ``X`` and ``model``): each reader gets the value of the
last of them before it, which travels from that step alone, so no order among the writers is
needed; a file, which lives on one disk, does need one, and gets it.

Reading a function defined elsewhere also reads the globals the function's body uses, at the
place of the call: they are bound by the same rule.
"""

from __future__ import annotations

import bisect
import enum
from collections import defaultdict
from dataclasses import replace

from kalec import diagnostics as D
from kalec.analysis.symbols import BUILTIN_NAMES, FILE_PREFIX, describe
from kalec.ir import (
    Dependency,
    Diagnostic,
    FreeName,
    Input,
    InputKind,
    Metric,
    Origin,
    Pipeline,
    Role,
    Step,
)
from kalec.ir.dag import Ancestry
from kalec.ir.places import cell_name
from kalec.runtime.global_state import STATES


class _Index:
    """Which cells write which names, and which steps each cell belongs to."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.writers: dict[str, list[int]] = defaultdict(list)  # name -> cells, in order
        self.cell_steps: dict[int, list[str]] = defaultdict(list)
        # every notebook's imports and functions cells; a step runs its own (``Step.prelude``)
        self.prelude = set(pipeline.prelude).union(*(s.prelude for s in pipeline.steps))
        self.params = {p.name: p for p in pipeline.params}
        self.param_cells = {c.number for c in pipeline.cells if c.tags.role is Role.PARAMETERS}
        for step in pipeline.steps:
            for number in step.cells:
                self.cell_steps[number].append(step.name)
        for cell in pipeline.cells:
            if cell.tags.role is Role.METRICS:
                continue
            if cell.tags.role is Role.PARAMETERS:
                names = [p.name for p in pipeline.params if p.origin.cell == cell.number]
                for name in names:
                    self.writers[name].append(cell.number)
                continue
            facts = cell.facts
            if facts is None:
                continue
            for name in facts.writes:
                self.writers[name].append(cell.number)
            for name in facts.mutates:
                if name not in facts.writes:
                    self.writers[name].append(cell.number)
            for path in facts.file_writes:
                self.writers[FILE_PREFIX + path].append(cell.number)
        self.star_cells = [c.number for c in pipeline.cells if c.facts and c.facts.star_imports]
        self._by_step: dict[str, dict[str, list[int]]] = {}
        self._writer_masks: dict[tuple[str, int], int] = {}

    def last_writer(self, name: str, before: int, excluding: str | None) -> int | None:
        """The last cell before cell ``before`` that binds or changes ``name``, not of a step."""
        writers = self.writers.get(name, [])
        index = bisect.bisect_left(writers, before) - 1
        while index >= 0:
            writer = writers[index]
            if excluding is None or excluding not in self.cell_steps.get(writer, ()):
                return writer
            index -= 1
        return None

    def binding_import(self, name: str, writer: int) -> str | None:
        """The import statement that gave ``name`` its object, if it was an import.

        Changing a module in place (``np.random.seed(0)``) does not make it a value to pass: the
        step that reads it repeats the import, so a writer that only changes ``name`` is traced
        back to the cell that bound it.
        """
        cell = writer
        while True:
            facts = self.pipeline.cell(cell).facts
            if facts and name in facts.writes:
                return dict(facts.imports).get(name)
            previous = self.last_writer(name, cell, None)
            if previous is None:
                return None
            cell = previous

    def star_import_before(self, cell: int) -> tuple[int, tuple[str, ...]] | None:
        """The last cell up to ``cell`` with ``from m import *``, with its statements.

        Names such an import binds are not known without importing the module, which compiling
        never does: a name nothing else defines is taken to come from it.
        """
        for number in reversed(self.star_cells):
            if number <= cell:
                return number, self.pipeline.cell(number).facts.star_imports
        return None

    def binds_directly(self, cell: int, name: str) -> bool:
        """The cell binds ``name`` itself, not only through the functions it calls."""
        facts = self.pipeline.cell(cell).facts
        return bool(facts) and name in facts.writes and name not in facts.via_calls

    def deleted(self, cell: int) -> tuple[str, ...]:
        facts = self.pipeline.cell(cell).facts
        return facts.deletes if facts else ()

    def function_globals(self, name: str, cell: int) -> tuple[str, ...]:
        facts = self.pipeline.cell(cell).facts
        return dict(facts.function_globals).get(name, ()) if facts else ()

    def steps_writing_after(self, name: str, step: str, after: int) -> list[int]:
        """The cells of ``step`` after cell ``after`` that bind or change ``name``."""
        cells = self._step_writers(name).get(step, [])
        return cells[bisect.bisect_right(cells, after) :]

    def _step_writers(self, name: str) -> dict[str, list[int]]:
        """step -> its cells that write ``name``, in order; built once per name (a name that
        every step of a long chain rewrites is asked about once per step)."""
        if name not in self._by_step:
            found: dict[str, list[int]] = defaultdict(list)
            for writer in self.writers.get(name, ()):
                for step in self.cell_steps.get(writer, ()):
                    found[step].append(writer)
            self._by_step[name] = found
        return self._by_step[name]

    def writer_steps(self, name: str, bit: dict[str, int]) -> int:
        """The steps with a cell that writes ``name``, as a bit set of ``bit``'s bits."""
        key = (name, id(bit))
        if key not in self._writer_masks:
            mask = 0
            for step in self._step_writers(name):
                mask |= bit.get(step, 0)
            self._writer_masks[key] = mask
        return self._writer_masks[key]


class Source(enum.Enum):
    """Where a value a step reads comes from: the cases of the module's docstring, and the
    three where there is nothing to pass (a file on disk, a name no cell binds first, a name
    deleted before the read)."""

    STEP = "a cell of another step"  # passed from it
    PRELUDE = "an imports or functions cell"  # the step runs it itself
    PARAMETERS = "the pipeline-parameters cell"  # the parameter's value
    IMPORT = "an import"  # the step repeats it
    FILE = "a file"  # only the order of the steps matters
    UNBOUND = "no cell before the read"
    DELETED = "deleted before the read"


class _Resolver:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.index = _Index(pipeline)
        self.diagnostics: list[Diagnostic] = []
        declared = {s.name: [d.step for d in s.prev] for s in pipeline.steps}
        self.declared = Ancestry(declared)
        self.known_names = sorted(set(self.index.writers) | set(self.index.params))

    def producer(self, step: Step | None, name: str, writer: int, read: Origin) -> str | None:
        """The step whose final value of ``name`` equals the notebook's value at ``read``."""
        candidates = [s for s in self.index.cell_steps[writer] if step is None or s != step.name]
        if step is not None:
            candidates.sort(key=lambda s: not self.declared.precedes(s, step.name))
        for candidate in candidates:
            later = self.index.steps_writing_after(name, candidate, writer)
            if not later:
                return candidate
        reader = f"step '{step.name}'" if step else "the pipeline-metrics cell"
        again = cell_name(self.pipeline, later[0])
        if name in STATES:  # hidden state: pass the closest one and say so, rather than refuse
            self.diagnostics.append(
                D.RANDOM_STATE_DRAWN_AGAIN(
                    read, reader=reader, state=describe(name), step=candidates[0], cell=again
                )
            )
            return candidates[0]
        self.diagnostics.append(
            D.CHANGED_AFTER_READ(read, reader=reader, name=name, step=candidates[0], cell=again)
        )
        return None

    def other_prelude(self, name: str, before: int, own: set[int]) -> int | None:
        """A prelude cell of another notebook that binds ``name`` (the last before ``before``,
        else the first): what the inlined program's value may come from."""
        prelude = self.index.prelude
        cells = [w for w in self.index.writers.get(name, ()) if w in prelude and w not in own]
        earlier = [w for w in cells if w < before]
        if earlier:
            return earlier[-1]
        return cells[0] if cells else None

    def prelude_not_run(
        self, step: Step, name: str, origin: Origin, writer: int, inputs: dict[str, Input]
    ) -> None:
        """``name`` comes from the imports or functions cells of a notebook whose steps this
        one is not: an import is repeated, anything else cannot reach the step."""
        statement = self.index.binding_import(name, writer)
        if statement is not None:
            inputs[name] = Input(name, InputKind.IMPORT, origin, statement=statement)
            return
        where = cell_name(self.pipeline, writer)
        self.diagnostics.append(D.PRELUDE_NOT_RUN(origin, step=step.name, name=name, cell=where))

    def _what_to_move(self, writer: int, reader: int) -> str:
        """The cell to move above ``reader``: ``writer``, or in a composition the reference
        cell that brings ``writer``'s notebook in, when that is another notebook."""
        scopes = {
            c.number: c.scope for c in (self.pipeline.cell(writer), self.pipeline.cell(reader))
        }
        inner, outer = scopes[writer], scopes[reader]
        if inner == outer or (outer and not inner.startswith(outer + "/")):
            return cell_name(self.pipeline, writer)
        rest = inner[len(outer) :].lstrip("/").split("/")[0]
        scope = f"{outer}/{rest}" if outer else rest
        for notebook in self.pipeline.notebooks:
            if notebook.scope == scope:
                tagged = cell_name(self.pipeline, notebook.reference.cell)
                return f"the notebook:{rest} cell ({tagged})"
        return cell_name(self.pipeline, writer)

    def undefined(self, name: str, origin: Origin, step: str, deferred: bool) -> None:
        later = [w for w in self.index.writers.get(name, ()) if w > origin.cell]
        if later:
            self.diagnostics.append(
                D.USED_BEFORE_ASSIGNED(
                    origin,
                    name=name,
                    step=step,
                    cell=cell_name(self.pipeline, later[0]),
                    move=self._what_to_move(later[0], origin.cell),
                )
            )
            return
        from difflib import get_close_matches  # only for a hint: imported when one is due

        close = get_close_matches(name, self.known_names, n=1)
        if close:
            kind = D.UNDEFINED_IN_FUNCTION_CLOSE if deferred else D.UNDEFINED_NAME_CLOSE
            self.diagnostics.append(kind(origin, name=name, step=step, close=close[0]))
        else:
            kind = D.UNDEFINED_IN_FUNCTION if deferred else D.UNDEFINED_NAME
            self.diagnostics.append(kind(origin, name=name, step=step))

    def source(self, name: str, writer: int | None) -> Source:
        """Where the value of ``name`` a reader gets comes from, by the cell that last bound
        it before the read (``writer``; None: no cell did)."""
        if name.startswith(FILE_PREFIX):
            return Source.FILE
        if writer is None:
            return Source.UNBOUND
        if writer in self.index.param_cells:
            return Source.PARAMETERS
        if name in self.index.deleted(writer):
            return Source.DELETED
        if writer in self.index.prelude:
            return Source.PRELUDE
        if self.index.binding_import(name, writer) is not None:
            return Source.IMPORT
        return Source.STEP

    def resolve_step(self, step: Step) -> list[Input]:
        inputs: dict[str, Input] = {}
        pending = list(step.free_names)
        seen = {f.name for f in pending}
        own_cells = set(step.cells)
        own_prelude = set(step.prelude) if self.pipeline.notebooks else self.index.prelude
        while pending:
            free = pending.pop(0)
            name, origin = free.name, free.origin
            writer = self.index.last_writer(name, origin.cell, step.name)
            match self.source(name, writer):
                case Source.FILE:  # only the order matters: the file is on disk
                    producers = self.index.cell_steps.get(writer, []) if writer else []
                    if producers:
                        inputs[name] = Input(name, InputKind.FILE, origin, producer=producers[0])
                    continue
                case Source.UNBOUND:
                    self.unbound(step, free, own_cells, own_prelude, inputs)
                    continue
                case Source.PARAMETERS:
                    inputs[name] = Input(name, InputKind.PARAM, origin)
                    continue
                case Source.DELETED:
                    steps = "', '".join(self.index.cell_steps.get(writer, ()))
                    deleting = cell_name(self.pipeline, writer)
                    self.diagnostics.append(
                        D.DELETED_BEFORE_READ(
                            origin, name=name, cell=deleting, steps=steps, step=step.name
                        )
                    )
                    continue
                case Source.PRELUDE:  # run first in every step of its notebook; else said
                    if writer not in own_prelude:
                        self.prelude_not_run(step, name, origin, writer, inputs)
                case Source.IMPORT:  # the step repeats the import rather than receive a module
                    statement = self.index.binding_import(name, writer)
                    inputs[name] = Input(name, InputKind.IMPORT, origin, statement=statement)
                case Source.STEP:
                    producer = self.producer(step, name, writer, origin)
                    if producer is None:
                        continue
                    inputs[name] = Input(name, InputKind.ARTIFACT, origin, producer=producer)
            # a function from elsewhere reads its globals wherever it is called
            for used in self.index.function_globals(name, writer):
                bound_here = any(
                    self.index.binds_directly(c, used) for c in own_cells if c <= origin.cell
                )
                if used not in seen and not bound_here:
                    seen.add(used)
                    pending.append(FreeName(used, origin, deferred=free.deferred))
        return list(inputs.values())

    def unbound(
        self,
        step: Step,
        free: FreeName,
        own_cells: set[int],
        own_prelude: set[int],
        inputs: dict[str, Input],
    ) -> None:
        """A name no cell binds before the read: a parameter, a builtin, the prelude's, a
        generator's state, another notebook's prelude, a star import's; else undefined."""
        name, origin = free.name, free.origin
        if name in self.index.params:
            inputs[name] = Input(name, InputKind.PARAM, origin)
        elif name in BUILTIN_NAMES:
            pass  # a builtin the notebook rebinds only later: here it is the builtin
        elif name in STATES or any(w in own_prelude for w in self.index.writers.get(name, ())):
            pass  # defined by the prelude, run first in every step; or a fresh generator
        elif other := self.other_prelude(name, origin.cell, own_prelude):
            self.prelude_not_run(step, name, origin, other, inputs)
        elif star := self.index.star_import_before(origin.cell):
            if star[0] not in own_cells and star[0] not in self.index.prelude:
                for statement in star[1]:  # repeat the other step's `import *`
                    inputs.setdefault(
                        statement, Input(statement, InputKind.IMPORT, origin, statement=statement)
                    )
        else:
            self.undefined(name, origin, step.name, free.deferred)

    def resolve_metric(self, metric: Metric, steps: list[Step]) -> Metric:
        """The step that reports the metric. A parameter's value (Kale's notebooks report
        parameters as metrics) is reported by a step that reads it, else by the last step,
        which is then given the parameter."""
        writer = self.index.last_writer(metric.name, metric.origin.cell, None)
        if writer in self.index.param_cells or (
            writer is None and metric.name in self.index.params
        ):
            reporter = next(
                (
                    i
                    for i, s in enumerate(steps)
                    if any(x.name == metric.name and x.kind is InputKind.PARAM for x in s.inputs)
                ),
                len(steps) - 1,
            )
            step = steps[reporter]
            if all(x.name != metric.name for x in step.inputs):
                parameter = Input(metric.name, InputKind.PARAM, metric.origin)
                steps[reporter] = replace(step, inputs=step.inputs + (parameter,))
            return replace(metric, producer=step.name)
        if writer is None or writer in self.index.prelude:
            kind = D.METRIC_UNSET if writer is None else D.METRIC_FROM_PRELUDE
            self.diagnostics.append(kind(metric.origin, name=metric.name))
            return metric
        return replace(metric, producer=self.producer(None, metric.name, writer, metric.origin))


def data_flow(pipeline: Pipeline) -> Pipeline:
    resolver = _Resolver(pipeline)
    steps: list[Step] = []
    for step in pipeline.steps:
        inputs = resolver.resolve_step(step)
        dependencies = list(step.prev)
        # a producer the prev: tags already run before this step needs no edge of its own
        have = {d.step for d in dependencies}
        for item in inputs:
            if (
                item.kind in (InputKind.ARTIFACT, InputKind.FILE)
                and item.producer not in have
                and not resolver.declared.precedes(item.producer, step.name)
            ):
                have.add(item.producer)
                dependencies.append(Dependency(item.producer, "data", item.origin, item.name))
        steps.append(replace(step, inputs=tuple(inputs), dependencies=tuple(dependencies)))
    metrics = tuple(resolver.resolve_metric(m, steps) for m in pipeline.metrics)

    steps = _file_order(resolver.index, steps)
    diagnostics = resolver.diagnostics
    for step in steps:
        for dep in step.dependencies:
            if dep.reason == "data":
                diagnostics.append(
                    D.DEPENDENCY_ADDED(
                        dep.origin,
                        step=step.name,
                        what=describe(dep.variable),
                        producer=dep.step,
                    )
                )
    final = Ancestry({s.name: [d.step for d in s.dependencies] for s in steps})
    diagnostics += _shared_names(resolver.index, steps, final, pipeline)
    return replace(
        pipeline,
        steps=tuple(steps),
        metrics=metrics,
        diagnostics=pipeline.diagnostics + tuple(diagnostics),
    )


def _shared_names(
    index: _Index, steps: list[Step], ancestry: Ancestry, pipeline: Pipeline
) -> list[Diagnostic]:
    """Notes for inputs that several earlier steps set (sections reusing ``X``, ``model``).

    The reader gets the value of the last of them before the read in notebook order, as a
    top-to-bottom run does; the value travels from that step alone, so the other writers may
    run in any order. Said where the writers are in no order (parallel sections), so that a
    surprise is explained; a chain of steps redefining a value is the usual case, not said.
    """
    found = []
    for step in steps:
        for item in step.inputs:
            if item.kind is not InputKind.ARTIFACT or item.name in STATES:
                continue
            unordered = index.writer_steps(item.name, ancestry.bit) & ~(
                ancestry.ordered_with(item.producer) | ancestry.bit.get(step.name, 0)
            )
            if not unordered:  # every writer runs in an order with the producer: no surprise
                continue
            others = {
                other: writer
                for writer in index.writers.get(item.name, ())
                if writer < item.origin.cell
                for other in index.cell_steps.get(writer, ())
                if other not in (item.producer, step.name)
                and item.producer not in index.cell_steps[writer]
                and not ancestry.precedes(other, item.producer)
                and not ancestry.precedes(item.producer, other)
            }
            if others:
                other, writer = next(iter(others.items()))
                found.append(
                    D.SHARED_NAME(
                        item.origin,
                        step=step.name,
                        name=item.name,
                        producer=item.producer,
                        other=other,
                        cell=cell_name(pipeline, writer),
                    )
                )
    return found


def _file_order(index: _Index, steps: list[Step]) -> list[Step]:
    """Steps that write a file another step reads run before the step whose write it reads.

    Files live on one disk: if an earlier writer of ``out.csv`` ran after the writer the reader
    is bound to, the reader would see the earlier version. Values need no such order; files do.
    """
    by_name = {s.name: s for s in steps}
    extra: dict[str, list[Dependency]] = {}
    for step in steps:
        for item in step.inputs:
            if item.kind is not InputKind.FILE or item.producer is None:
                continue
            bound = index.last_writer(item.name, item.origin.cell, step.name)
            for writer in index.writers.get(item.name, ()):
                if bound is None or writer >= bound:
                    break
                for other in index.cell_steps.get(writer, ()):
                    producer = by_name[item.producer]
                    have = {
                        d.step for d in producer.dependencies + tuple(extra.get(producer.name, ()))
                    }
                    if other not in (producer.name, step.name) and other not in have:
                        extra.setdefault(producer.name, []).append(
                            Dependency(other, "data", item.origin, item.name)
                        )
    return [replace(s, dependencies=s.dependencies + tuple(extra.get(s.name, ()))) for s in steps]
