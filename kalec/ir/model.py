"""The typed step IR: what the frontend builds, the passes annotate and the targets lower.

Everything is a frozen dataclass made of tuples, strings and numbers, so a pass can only produce a
new pipeline (with ``dataclasses.replace``) and never change one another pass still holds. Nothing
here knows about a backend: a step's resources, image or retries are plain data that the KFP, Argo
and local runner each translate into their own terms.

Cells are referred to by their number (1-based, counting every cell of the notebook from the top,
markdown included, as a person counts them), so that steps sharing a cell share one record of it.
A composition (``notebook:`` cells) numbers the cells of the program it stands for: the root
notebook with each reference replaced by the cells of the notebook it names; ``places`` says
which notebook and which of its cells a number is, for people (``kalec.ir.places``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, NamedTuple, TypedDict


@dataclass(frozen=True, order=True)
class Origin:
    """A place in the notebook: cell number (1-based) and line in that cell (1-based, 0 = whole)."""

    cell: int
    line: int = 0

    def __str__(self) -> str:
        return f"cell {self.cell}" + (f", line {self.line}" if self.line else "")


class Role(str, Enum):
    """What a code cell is for, from its tags."""

    STEP = "step"
    IMPORTS = "imports"
    FUNCTIONS = "functions"
    PARAMETERS = "pipeline-parameters"
    METRICS = "pipeline-metrics"
    SKIP = "skip"


@dataclass(frozen=True)
class Secret:
    """``secret:NAME:KEY:ENV``: key KEY of Kubernetes secret NAME, exposed as variable ENV."""

    name: str
    key: str
    env: str


@dataclass(frozen=True)
class StepOptions:
    """Per-step settings given by tags; ``None`` means "not set here, use the default"."""

    limits: tuple[tuple[str, str], ...] = ()
    image: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    cache: bool | None = None
    retries: int | None = None
    timeout_seconds: int | None = None
    secrets: tuple[Secret, ...] = ()
    report: bool | None = None  # Kale 2.3's report:enabled/disabled: the step's HTML page

    def merged(self, other: StepOptions) -> StepOptions:
        """The settings of two cells of one step: lists add up, later single values win."""

        def union(a: tuple, b: tuple) -> tuple:
            return tuple(dict.fromkeys(a + b))

        def last(a: Any, b: Any) -> Any:
            return b if b is not None else a

        return StepOptions(
            limits=tuple({**dict(self.limits), **dict(other.limits)}.items()),
            image=last(self.image, other.image),
            annotations=tuple({**dict(self.annotations), **dict(other.annotations)}.items()),
            labels=tuple({**dict(self.labels), **dict(other.labels)}.items()),
            cache=last(self.cache, other.cache),
            retries=last(self.retries, other.retries),
            timeout_seconds=last(self.timeout_seconds, other.timeout_seconds),
            secrets=union(self.secrets, other.secrets),
            report=last(self.report, other.report),
        )


@dataclass(frozen=True)
class CellTags:
    """The parsed kalec tags of one cell (several tags of a kind add up)."""

    role: Role | None = None
    steps: tuple[str, ...] = ()
    prev: tuple[str, ...] = ()
    options: StepOptions = field(default_factory=StepOptions)
    reference: str | None = None  # notebook:NAME: the cell stands for another notebook


# how a cell reaches files past Python's file functions (the kinds of ``CellFacts.channels``)
PROCESS_CHANNEL, NATIVE_CHANNEL = "a child process", "native code"


@dataclass(frozen=True)
class CellFacts:
    """What one cell binds and changes, found by reading its code (never by running it).

    ``writes`` are names the cell binds or rebinds (assignment, import, def, class, for, with,
    del ...); ``mutates`` are names whose object the cell changes in place (``x.append``,
    ``x[k] = v``, ``x.attr = v``, ``inplace=True``); ``imports`` maps a name bound by an import
    statement to that statement, so a later step can repeat the import instead of receiving a
    module; ``function_globals`` maps each function or class defined at the top level of the cell
    to the global names its body reads, which whoever calls it later must have.
    """

    writes: tuple[str, ...] = ()
    mutates: tuple[str, ...] = ()
    imports: tuple[tuple[str, str], ...] = ()
    function_globals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unpicklable: tuple[tuple[str, str, int], ...] = ()  # (name, kind, line) bound to e.g. open()
    deletes: tuple[str, ...] = ()  # names the cell leaves deleted (``del x`` last)
    via_calls: tuple[str, ...] = ()  # written only by calling a function that sets them
    star_imports: tuple[str, ...] = ()  # ``from m import *`` statements: they bind unknown names
    file_writes: tuple[str, ...] = ()  # paths, as literals in the code, of files the cell writes
    file_reads: tuple[str, ...] = ()  # ... and of files it reads
    # What the lints report, read with the rest so that no pass after this one needs the cell's
    # syntax tree (a notebook of 50,000 cells cannot keep them all):
    run_to_run: tuple[tuple[str, int, str], ...] = ()  # (what differs, line, call): the clock...
    loop_closures: tuple[tuple[str, str, int], ...] = ()  # (holder, loop variable, line)
    state_changes: tuple[tuple[str, int, str], ...] = ()  # (process state, line, code)
    dynamic_reads: tuple[tuple[tuple[str, ...], int, str], ...] = ()  # (names, line, code)
    # (a child process or native code, line, call): reaching files past Python's file functions
    channels: tuple[tuple[str, int, str], ...] = ()
    # top-level names of the modules its absolute imports name, at any depth (a function's
    # import included): what a step of the cell needs installed
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeCell:
    """A code cell kept for the pipeline (``skip`` cells are dropped by the frontend)."""

    number: int
    source: str  # as written in the notebook
    python: str  # what runs: the source with IPython syntax turned into Python
    analyzed: str  # what analysis reads: ``python`` with cell-magic bodies unwrapped
    tags: CellTags = field(default_factory=CellTags)
    facts: CellFacts | None = None
    scope: str = ""  # the notebook it comes from: "" the root, else a ``Notebook.scope``

    @property
    def origin(self) -> Origin:
        return Origin(self.number)


class ParamType(str, Enum):
    INT = "int"
    FLOAT = "float"
    STR = "str"
    BOOL = "bool"
    LIST = "list"
    DICT = "dict"


@dataclass(frozen=True)
class Param:
    """A pipeline parameter: a simple assignment of the ``pipeline-parameters`` cell."""

    name: str
    type: ParamType
    default: Any  # a JSON-able value of ``type``
    origin: Origin


@dataclass(frozen=True)
class Metric:
    """A name of the ``pipeline-metrics`` cell and the step whose value of it is reported."""

    name: str
    origin: Origin
    producer: str | None = None
    label: str = ""  # the name it is reported under, where not ``name`` (composed notebooks)

    @property
    def reported(self) -> str:
        return self.label or self.name


class InputKind(str, Enum):
    ARTIFACT = "artifact"  # a value saved by another step
    PARAM = "param"  # a pipeline parameter's value
    IMPORT = "import"  # a module the step imports again itself
    FILE = "file"  # a file an earlier step writes: only the order matters, nothing is passed


@dataclass(frozen=True)
class Input:
    """A free variable of a step, bound to where its value comes from."""

    name: str
    kind: InputKind
    origin: Origin  # first place the step reads it
    producer: str | None = None  # the step that produces it (ARTIFACT)
    statement: str | None = None  # the import statement to repeat (IMPORT)


@dataclass(frozen=True)
class Dependency:
    """An edge of the DAG and why it is there: a ``prev:`` tag, or data the step needs."""

    step: str
    reason: str  # "prev" or "data"
    origin: Origin
    variable: str | None = None


@dataclass(frozen=True)
class FreeName:
    """A name a step reads before (or without) binding it: where it is first read."""

    name: str
    origin: Origin
    deferred: bool = False  # read only inside function bodies: needed only if they are called


@dataclass(frozen=True)
class Step:
    """One step of the pipeline: its cells (numbers, notebook order) and what passes found."""

    name: str
    cells: tuple[int, ...]
    origin: Origin  # the cell whose tag named the step first
    options: StepOptions = field(default_factory=StepOptions)
    prev: tuple[Dependency, ...] = ()  # declared with prev: tags
    dependencies: tuple[Dependency, ...] = ()  # final: prev plus data, set by data flow
    free_names: tuple[FreeName, ...] = ()
    inputs: tuple[Input, ...] = ()
    outputs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    prelude: tuple[int, ...] = ()  # the imports and functions cells it runs first, in order

    @property
    def scope(self) -> str:
        """The composed notebook the step belongs to ("" the root): its name's part before
        the last ``/`` (step names themselves never hold one)."""
        return self.name.rpartition("/")[0]

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.step for d in (self.dependencies or self.prev)))

    def artifact_inputs(self) -> list[tuple[str, str]]:
        """(variable, producing step) for every value the step receives from another step."""
        return [
            (i.name, i.producer)
            for i in self.inputs
            if i.kind is InputKind.ARTIFACT and i.producer is not None
        ]


@dataclass(frozen=True)
class Volume:
    """A volume mounted into every step (Kale's ``volumes`` notebook setting)."""

    name: str
    mount_path: str
    size: str | None = None
    kind: str = "pvc"


@dataclass(frozen=True)
class Settings:
    """Notebook-level settings: ``metadata.kalec``, Kale's ``kubeflow_notebook``, then flags."""

    name: str
    description: str = ""
    image: str | None = None
    experiment: str | None = None
    volumes: tuple[Volume, ...] = ()
    search: str = ""  # a search space in Katib's Experiment fields, as JSON (``kalec tune``)


@dataclass(frozen=True)
class Notebook:
    """A notebook that a ``notebook:NAME`` cell stands for, inlined where that cell stands."""

    scope: str  # the names of the references from the root down, joined by "/": "prep/clean"
    path: str  # its file, from the root notebook's folder
    reference: Origin  # the cell that references it


class Place(NamedTuple):
    """From cell number ``first`` on (the composed numbering), the cells are those of the
    notebook ``scope`` from its own cell ``own`` on: how a number is shown to a person. (A
    named tuple: ordered as tuples are, and a tenth of a dataclass's cost to define.)"""

    first: int
    scope: str
    own: int


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class _DiagnosticFields(TypedDict):
    code: str
    severity: Literal["error", "warning", "note"]
    message: str
    cell: int | None
    line: int | None
    hint: str | None


class DiagnosticData(_DiagnosticFields, total=False):
    """A diagnostic as JSON: ``kalec check --format json``, and every answer of the service
    that carries diagnostics. ``notebook`` (in a composition's, or a service's): the cell's
    notebook, None for the root."""

    notebook: str | None


@dataclass(frozen=True)
class Diagnostic:
    """A message for the user about their notebook, with where it points and how to fix it.

    ``code`` is the kind's stable code from the catalogue (``kalec.diagnostics``).
    """

    severity: Severity
    message: str
    origin: Origin | None = None
    hint: str | None = None
    code: str = ""

    def render(self, source: str) -> str:
        """One line as a compiler prints it: ``nb.ipynb: cell 7, line 2: error K605: ...``."""
        where = f"{source}: {self.origin}" if self.origin else source
        kind = f"{self.severity.value} {self.code}" if self.code else self.severity.value
        text = f"{where}: {kind}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def as_dict(self) -> DiagnosticData:
        """JSON-ready: what ``kalec check --format json`` and the service return."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "cell": self.origin.cell if self.origin else None,
            "line": self.origin.line if self.origin and self.origin.line else None,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Pipeline:
    """The whole compiled notebook."""

    source: str  # the notebook's path as the user gave it
    settings: Settings
    cells: tuple[CodeCell, ...]  # every kept code cell, notebook order
    steps: tuple[Step, ...] = ()
    prelude: tuple[int, ...] = ()  # the root's imports then functions cells (``Step.prelude``)
    params: tuple[Param, ...] = ()
    metrics: tuple[Metric, ...] = ()
    prelude_reads: tuple[FreeName, ...] = ()  # parameters the preludes themselves read
    diagnostics: tuple[Diagnostic, ...] = ()
    # a composition (``notebook:`` cells): the notebooks inlined, and where their cells are
    notebooks: tuple[Notebook, ...] = ()
    places: tuple[Place, ...] = ()

    def cell(self, number: int) -> CodeCell:
        index = self.__dict__.get("_cell_index")
        if index is None:
            index = {c.number: c for c in self.cells}
            object.__setattr__(self, "_cell_index", index)
        return index[number]

    def step(self, name: str) -> Step:
        index = self.__dict__.get("_step_index")
        if index is None:
            index = {s.name: s for s in self.steps}
            object.__setattr__(self, "_step_index", index)
        return index[name]

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)
