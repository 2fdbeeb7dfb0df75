"""The catalogue of every diagnostic kalec gives: a stable code, a severity, what it means.

As pyflakes gives each of its messages a class, kalec gives each kind of problem a code that
never changes meaning (``K605`` is always "a name nothing defines"), so that scripts, the
server's JSON and tests can rely on codes rather than on wording, and ``--ignore K303`` can
silence one kind of warning. Every diagnostic is built from a ``Kind`` here; the message says
what is wrong in this notebook, the hint what to do. ``docs/diagnostics.md`` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from kalec.ir import Diagnostic, Origin, Severity

ERROR, WARNING, NOTE = Severity.ERROR, Severity.WARNING, Severity.NOTE


@dataclass(frozen=True)
class Kind:
    """One diagnostic code: its severity and meaning; calling it makes a diagnostic."""

    code: str
    severity: Severity
    title: str  # what the code means, for the docs and `kalec check --format json`
    example: str  # a notebook situation that gives it, for the docs

    def __call__(
        self, message: str, origin: Origin | None = None, hint: str | None = None
    ) -> Diagnostic:
        return Diagnostic(self.severity, message, origin, hint, code=self.code)


def _kind(code: str, severity: Severity, title: str, example: str) -> Kind:
    kind = Kind(code, severity, title, example)
    CATALOGUE[code] = kind
    return kind


CATALOGUE: dict[str, Kind] = {}

# K1xx: the notebook file and its settings
NOT_A_NOTEBOOK = _kind(
    "K100",
    ERROR,
    "the file cannot be read as a Jupyter notebook",
    "invalid JSON, a cell that is not an object, tags stored as a string, a lone surrogate",
)
SETTING_NOT_USED = _kind(
    "K101",
    NOTE,
    "a Kale notebook setting kalec does not use",
    "metadata.kubeflow_notebook.pvc_size",
)
SETTING_UNKNOWN = _kind(
    "K102", NOTE, "a notebook setting kalec does not know", "metadata.kalec.colour"
)
VOLUME_INCOMPLETE = _kind(
    "K103",
    WARNING,
    "a volume without a name or a mount point",
    'metadata.kalec.volumes: [{"name": "data"}]',
)
VOLUME_INVALID = _kind(
    "K104",
    ERROR,
    "a volume Kubernetes would refuse",
    'metadata.kalec.volumes: [{"name": "Data", "mount_point": "relative"}]',
)
IMAGE_INVALID = _kind(
    "K105",
    ERROR,
    "a notebook image that is not an image reference",
    'metadata.kalec.image: "My Image"',
)
MAGIC_UNREADABLE = _kind(
    "K106",
    ERROR,
    "IPython cannot read the cell's magic lines",
    "a shell line indented with a tab in a block indented with spaces",
)

# K11x: notebooks a composition references (notebook:NAME cells)
REFERENCE_NO_PATH = _kind(
    "K110",
    ERROR,
    "a notebook: cell without the path of the notebook it stands for",
    "notebook:train with no notebook_path in the cell's metadata",
)
REFERENCE_UNREADABLE = _kind(
    "K111",
    ERROR,
    "the notebook a notebook: cell names cannot be read",
    'notebook_path: "trian.ipynb" where the file is train.ipynb',
)
REFERENCE_CYCLE = _kind(
    "K112",
    ERROR,
    "notebooks that reference each other in a circle",
    "a.ipynb references b.ipynb, which references a.ipynb",
)
REFERENCE_HAS_CODE = _kind(
    "K113",
    ERROR,
    "code in a notebook: cell, which stands for another notebook",
    "x = 1 in the cell tagged notebook:train",
)
REFERENCE_NAME_TAKEN = _kind(
    "K114",
    ERROR,
    "two notebook: cells of one notebook with the same name",
    "notebook:train twice in the root notebook",
)
REFERENCE_TAGS = _kind(
    "K115",
    WARNING,
    "step tags on a notebook: cell, which is not a step",
    "notebook:train with limit:cpu:2",
)
COMPOSITION_TOO_LARGE = _kind(
    "K116",
    ERROR,
    "references nested too deep or inlining too many cells",
    "each of 30 notebooks referencing the next one twice",
)

# K2xx: tags
TAG_MALFORMED = _kind(
    "K201",
    ERROR,
    "a kalec tag that is malformed or that the targets refuse",
    "limit:gpu, prev:, limit:memory:1.5Gi, retry:99999999999",
)
TAG_TYPO = _kind(
    "K202", ERROR, "a tag one edit away from a kalec tag", "blok:train (did you mean block:train?)"
)
TAG_UNKNOWN = _kind("K203", WARNING, "a tag that is not kalec's; ignored", "hide-input")
TAG_ROLES_CONFLICT = _kind(
    "K204", ERROR, "a cell tagged as two kinds at once", "imports and block:train on one cell"
)

# K3xx: cells into steps
SETTINGS_WITHOUT_EFFECT = _kind(
    "K301",
    WARNING,
    "step settings on a parameters or metrics cell",
    "limit:cpu:2 on the pipeline-parameters cell",
)
IMPLICIT_STEP = _kind(
    "K302",
    NOTE,
    "cells before any step tag form step 'main'",
    "an untagged first code cell in a notebook with block: tags",
)
PRELUDE_DOES_WORK = _kind(
    "K303",
    WARNING,
    "an untagged cell joining the prelude does work",
    "print(...) in an untagged cell after the imports cell",
)
SETTINGS_ON_PRELUDE = _kind(
    "K304",
    ERROR,
    "step settings on an imports or functions cell",
    "prev:load on a cell tagged functions",
)
PREV_SELF = _kind("K305", ERROR, "a step names itself in prev:", "block:train with prev:train")
PREV_UNKNOWN = _kind(
    "K306", ERROR, "prev: names no step of the notebook", "prev:loda where the step is load"
)
UNTAGGED_AFTER_REFERENCE = _kind(
    "K307",
    ERROR,
    "an untagged code cell right after a notebook: cell",
    "x = 1 with no tag below the cell tagged notebook:train",
)
REFERENCE_IS_STEP_NAME = _kind(
    "K308",
    ERROR,
    "a notebook: cell named like a step of the same notebook",
    "notebook:train and block:train in one notebook",
)

# K4xx: Python syntax
SYNTAX_ERROR = _kind("K401", ERROR, "a cell is not valid Python", "x = (1,")
TOO_DEEP = _kind(
    "K402",
    ERROR,
    "a cell nests too deeply for Python's parser or kalec",
    "an expression of 100,000 terms",
)

# K5xx: parameters and metrics
PARAM_NOT_ASSIGNMENT = _kind(
    "K501",
    ERROR,
    "a parameters cell holds something else than assignments",
    "print(N) in the pipeline-parameters cell",
)
PARAM_NOT_A_NAME = _kind(
    "K502", ERROR, "a parameter assigned to something else than a plain name", "a, b = 1, 2"
)
PARAM_RESERVED = _kind("K503", ERROR, "a parameter name Kubeflow Pipelines reserves", "Output = 1")
PARAM_NAME_INVALID = _kind(
    "K504", ERROR, "a parameter name the targets cannot carry", "_seed = 1, or a non-ASCII name"
)
PARAM_NOT_CONSTANT = _kind(
    "K505", ERROR, "a parameter default that is not a constant", "N = compute()"
)
PARAM_VALUE_INVALID = _kind(
    "K506", ERROR, "a parameter default the targets cannot carry", "A = 1e999, B = 2 ** 60"
)
PARAM_TYPE = _kind(
    "K507", ERROR, "a parameter default of a type pipelines do not carry", "A = (1, 2)"
)
PARAM_REASSIGNED = _kind(
    "K508", WARNING, "a parameter assigned twice", "N = 1 and N = 2 in the parameters cell"
)
METRICS_LINE = _kind(
    "K511",
    ERROR,
    "a metrics cell line that is not one name",
    "accuracy * 100 in the pipeline-metrics cell",
)

# K6xx: where values come from
PRELUDE_READS_VALUE = _kind(
    "K601",
    ERROR,
    "the prelude reads a value only a step makes",
    "y = x + 1 in a functions cell, where a step sets x",
)
RANDOM_STATE_DRAWN_AGAIN = _kind(
    "K602",
    WARNING,
    "a random generator drawn from again later",
    "two steps draw from np.random after one seed",
)
CHANGED_AFTER_READ = _kind(
    "K603",
    ERROR,
    "a step changes a value again after another read it",
    "w = 1 in step a, read in step b, w = 2 in step a after that",
)
USED_BEFORE_ASSIGNED = _kind(
    "K604", ERROR, "a name used before the cell that assigns it", "print(later) above later = 1"
)
UNDEFINED_NAME = _kind("K605", ERROR, "a name nothing defines", "y = missing + 1")
UNDEFINED_IN_FUNCTION = _kind(
    "K606", WARNING, "a function reads a name nothing defines", "def f(): return missing"
)
DELETED_BEFORE_READ = _kind(
    "K607",
    ERROR,
    "a name deleted before a step reads it",
    "del t in one step, print(t) in a later one",
)
METRIC_UNSET = _kind(
    "K608",
    ERROR,
    "a metric no step computes",
    "accuracy in the metrics cell with no step setting accuracy",
)
DEPENDENCY_ADDED = _kind(
    "K609", NOTE, "a dependency the data needs, added", "step b reads x from step a without prev:a"
)
SHARED_NAME = _kind(
    "K610",
    NOTE,
    "parallel steps set a name; the last before the read wins",
    "sections that each set X, read by a summary step",
)
PRELUDE_NOT_RUN = _kind(
    "K611",
    ERROR,
    "a step reads a name only another notebook's imports or functions cells define",
    "a root step calls plot(), defined in the functions cell of a referenced notebook",
)
PRELUDES_DISAGREE = _kind(
    "K612",
    ERROR,
    "two notebooks of a composition define a prelude name differently",
    "def clean() in the root's functions cell and another def clean() in a referenced one's",
)

# K7xx: the pipeline as a whole
NO_STEPS = _kind(
    "K701", ERROR, "the notebook has no step", "every code cell tagged imports, functions or skip"
)
CYCLE = _kind("K702", ERROR, "the steps form a cycle", "prev:b on step a and prev:a on step b")
NAME_COLLISION = _kind(
    "K703", ERROR, "two step names cluster targets cannot tell apart", "train_model and train-model"
)
UNSAVEABLE_VALUE = _kind(
    "K704",
    ERROR,
    "a value passed between steps that cannot be saved",
    "a generator or an open file read by a later step",
)

# K8xx: what a target cannot carry
DATA_NOT_SHIPPED = _kind(
    "K801",
    WARNING,
    "a data file beside the notebook a cluster step will not have",
    "pd.read_csv('data/train.csv') when building for kfp-py or argo",
)

# K9xx: advice about running and caching (warnings and notes of ``kalec check``)
RUN_TO_RUN_SOURCE = _kind(
    "K901",
    NOTE,
    "a step reads something that changes between runs; the cache reuses its old result",
    "datetime.now(), np.random.rand() with no seed, requests.get(url)",
)
CHANGED_IN_PARALLEL = _kind(
    "K902",
    WARNING,
    "a step changes in place a value that a parallel step also reads",
    "df.dropna(inplace=True) in one branch, df read by another branch",
)
PIP_INSTALL_PACKAGE = _kind(
    "K903",
    NOTE,
    "a pip install line becomes a package of its step on clusters",
    "!pip install xgboost in a step cell",
)
LOOP_CLOSURE = _kind(
    "K904",
    WARNING,
    "a function made in a loop reads the loop variable when called, and is passed on",
    "fs = [] ; for i in range(3): fs.append(lambda: i) ; fs used by a later step",
)
PROCESS_STATE = _kind(
    "K905",
    WARNING,
    "a step changes process state that later steps, in processes of their own, will not see",
    "os.environ['MODE'] = 'fast' or np.set_printoptions(precision=2) in a step cell",
)
DYNAMIC_READ = _kind(
    "K906",
    WARNING,
    "a step reads names through globals(), vars(), eval or exec, which no step passes",
    "print(globals()['total']) where total is set in another step",
)
UNSEEN_CHANNEL = _kind(
    "K907",
    NOTE,
    "a step reaches files through a child process or native code that this machine cannot "
    "observe: a local run does not reuse it",
    "subprocess.run(['cat', path]) or sqlite3.connect(path) on macOS",
)


def catalogue_markdown() -> str:
    """The page ``docs/diagnostics.md``: every code, what it means, an example."""
    lines = [
        "# Diagnostics",
        "",
        "Every message kalec gives about a notebook has a stable code. The command line prints",
        "it after the severity (`nb.ipynb: cell 7, line 2: error K605: ...`); `kalec check",
        "--format json` gives it as `code`; `--ignore CODE` hides warnings and notes of a code",
        "(errors cannot be ignored). This page is generated from `kalec/diagnostics.py`",
        "(`python -m kalec.diagnostics > docs/diagnostics.md`).",
        "",
        "| code | severity | meaning | for example |",
        "|---|---|---|---|",
    ]
    for kind in CATALOGUE.values():
        example = kind.example.replace("|", "\\|")
        lines.append(f"| {kind.code} | {kind.severity.value} | {kind.title} | {example} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(catalogue_markdown(), end="")
