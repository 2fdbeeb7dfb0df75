"""The catalogue of every diagnostic kalec gives: a stable code, a severity, what it means, and
the words of each message.

As pyflakes gives each of its messages a class, kalec gives each kind of problem a code that
never changes meaning (``K605`` is always "a name nothing defines"), so that scripts, the
server's JSON and tests can rely on codes rather than on wording, and ``--ignore K303`` can
silence one kind of warning. The wording lives here too, as templates: a pass that finds a
problem calls its kind with the facts (``D.PREV_SELF(origin, step="a", prev="a")``) and never
writes a sentence of its own, so every message can be read, reworded and checked in one place.
Where one code is said in more than one way (a metric unset, or set only by the prelude), the
other ways are ``variant``s of the kind: the same code, other words. ``docs/diagnostics.md``
lists the codes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from kalec.ir import Diagnostic, Origin, Severity

ERROR, WARNING, NOTE = Severity.ERROR, Severity.WARNING, Severity.NOTE


def _fields(template: str | None) -> frozenset[str]:
    """The names a template fills in (``{name}``, ``{cells:,}``, ``{volume!r}``)."""
    if template is None:
        return frozenset()
    from string import Formatter  # only once a diagnostic is made: a clean build makes none

    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


@dataclass(frozen=True)
class Kind:
    """One diagnostic code (its severity and meaning) said in one way: calling it with the
    facts of one notebook fills the templates in and makes the diagnostic."""

    code: str
    severity: Severity
    title: str  # what the code means, for the docs and `kalec check --format json`
    example: str  # a notebook situation that gives it, for the docs
    message: str  # a template: str.format fields, filled in from the call's keywords
    hint: str | None = None  # what to do, a template too; None: nothing to suggest

    @cached_property
    def fields(self) -> frozenset[str]:
        """What a call must give: every field of the message and the hint."""
        return _fields(self.message) | _fields(self.hint)

    def __call__(self, origin: Origin | None = None, /, **facts: object) -> Diagnostic:
        if facts.keys() != self.fields:  # a misspelt fact would otherwise print as a KeyError
            raise TypeError(f"{self.code} takes {sorted(self.fields)}, was given {sorted(facts)}")
        hint = self.hint.format(**facts) if self.hint is not None else None
        return Diagnostic(self.severity, self.message.format(**facts), origin, hint, code=self.code)

    def variant(self, message: str | None = None, *, hint: str | None | bool = True) -> Kind:
        """The same code said another way: another message, or another hint (``hint=None``:
        none; left out: this kind's)."""
        return replace(
            self,
            message=self.message if message is None else message,
            hint=self.hint if hint is True else hint,
        )


def _kind(
    code: str,
    severity: Severity,
    title: str,
    example: str,
    message: str,
    hint: str | None = None,
) -> Kind:
    kind = Kind(code, severity, title, example, message, hint)
    CATALOGUE[code] = kind
    return kind


CATALOGUE: dict[str, Kind] = {}

# K1xx: the notebook file and its settings
NOT_A_NOTEBOOK = _kind(
    "K100",
    ERROR,
    "the file cannot be read as a Jupyter notebook",
    "invalid JSON, a cell that is not an object, tags stored as a string, a lone surrogate",
    message="{error}",
)
SETTING_NOT_USED = _kind(
    "K101",
    NOTE,
    "a Kale notebook setting kalec does not use",
    "metadata.kubeflow_notebook.pvc_size",
    message="notebook setting kubeflow_notebook.{key} is not used by kalec",
)
SETTING_UNKNOWN = _kind(
    "K102",
    NOTE,
    "a notebook setting kalec does not know",
    "metadata.kalec.colour",
    message="notebook setting kalec.{key} is not known to kalec; it is ignored",
    hint="known settings: {known}",
)
VOLUME_INCOMPLETE = _kind(
    "K103",
    WARNING,
    "a volume without a name or a mount point",
    'metadata.kalec.volumes: [{"name": "data"}]',
    message="volume {volume!r} needs a name and a mount point; ignored",
)
VOLUME_INVALID = _kind(
    "K104",
    ERROR,
    "a volume Kubernetes would refuse",
    'metadata.kalec.volumes: [{"name": "Data", "mount_point": "relative"}]',
    message="notebook setting volumes: {problem}",
    hint="fix the volume in the notebook's metadata (kalec.volumes or kubeflow_notebook.volumes)",
)
IMAGE_INVALID = _kind(
    "K105",
    ERROR,
    "a notebook image that is not an image reference",
    'metadata.kalec.image: "My Image"',
    message="notebook setting image: {problem}",
    hint="fix the image in the notebook's metadata (kalec.image or kubeflow_notebook.docker_image)",
)
MAGIC_UNREADABLE = _kind(
    "K106",
    ERROR,
    "IPython cannot read the cell's magic lines",
    "a shell line indented with a tab in a block indented with spaces",
    message="{error}",
)

# K11x: notebooks a composition references (notebook:NAME cells)
REFERENCE_NO_PATH = _kind(
    "K110",
    ERROR,
    "a notebook: cell without the path of the notebook it stands for",
    "notebook:train with no notebook_path in the cell's metadata",
    message="the cell tagged notebook:{name} does not say which notebook it stands for",
    hint=(
        'add "notebook_path": "relative/path.ipynb" to the cell\'s metadata (relative to this '
        "notebook's folder)"
    ),
)
REFERENCE_UNREADABLE = _kind(
    "K111",
    ERROR,
    "the notebook a notebook: cell names cannot be read",
    'notebook_path: "trian.ipynb" where the file is train.ipynb',
    message="notebook:{name} names {path}, which cannot be read: {error}",
    hint="fix notebook_path in the cell's metadata (relative to this notebook's folder)",
)
REFERENCE_CYCLE = _kind(
    "K112",
    ERROR,
    "notebooks that reference each other in a circle",
    "a.ipynb references b.ipynb, which references a.ipynb",
    message="notebook:{name} closes a circle of references: {chain}",
    hint="remove one of the references; a notebook cannot contain itself",
)
REFERENCE_HAS_CODE = _kind(
    "K113",
    ERROR,
    "code in a notebook: cell, which stands for another notebook",
    "x = 1 in the cell tagged notebook:train",
    message=(
        "the cell tagged notebook:{name} stands for another notebook, yet holds code, which "
        "would not run"
    ),
    hint="move the code to a cell of its own, tagged block:NAME",
)
REFERENCE_NAME_TAKEN = _kind(
    "K114",
    ERROR,
    "two notebook: cells of one notebook with the same name",
    "notebook:train twice in the root notebook",
    message=(
        "notebook:{name} is used twice in this notebook; each reference needs its own name (its"
        " steps are named after it)"
    ),
    hint="rename one, e.g. notebook:{name}-2",
)
REFERENCE_TAGS = _kind(
    "K115",
    WARNING,
    "step tags on a notebook: cell, which is not a step",
    "notebook:train with limit:cpu:2",
    message=(
        "prev:, limit: and the other step settings have no effect on a notebook: cell; they "
        "belong on the steps of the notebook it names"
    ),
)
COMPOSITION_TOO_LARGE = _kind(
    "K116",
    ERROR,
    "references nested too deep or inlining too many cells",
    "each of 30 notebooks referencing the next one twice",
    message="references nested over {depth} deep: {chain}",
    hint="reference the notebooks from fewer levels",
)

# K2xx: tags
TAG_MALFORMED = _kind(
    "K201",
    ERROR,
    "a kalec tag that is malformed or that the targets refuse",
    "limit:gpu, prev:, limit:memory:1.5Gi, retry:99999999999",
    message="{error}",
    hint="fix the tag in the cell's tags",
)
TAG_TYPO = _kind(
    "K202",
    ERROR,
    "a tag one edit away from a kalec tag",
    "blok:train (did you mean block:train?)",
    message="tag '{tag}' is not a kalec tag, but one edit away from one",
    hint="did you mean '{suggestion}'?",
)
TAG_UNKNOWN = _kind(
    "K203",
    WARNING,
    "a tag that is not kalec's; ignored",
    "hide-input",
    message="tag '{tag}' is not a kalec tag; it is ignored",
)
TAG_ROLES_CONFLICT = _kind(
    "K204",
    ERROR,
    "a cell tagged as two kinds at once",
    "imports and block:train on one cell",
    message="the cell has tags of different kinds ({tags}); a cell is one of them",
    hint="split the cell in two, or keep one of these tags",
)

# K3xx: cells into steps
SETTINGS_WITHOUT_EFFECT = _kind(
    "K301",
    WARNING,
    "step settings on a parameters or metrics cell",
    "limit:cpu:2 on the pipeline-parameters cell",
    message="step tags on a {role} cell have no effect",
)
IMPLICIT_STEP = _kind(
    "K302",
    NOTE,
    "cells before any step tag form step 'main'",
    "an untagged first code cell in a notebook with block: tags",
    message="this cell comes before any step tag; it forms step '{step}'",
    hint="tag it block:NAME to give its step a name",
)
PRELUDE_DOES_WORK = _kind(
    "K303",
    WARNING,
    "an untagged cell joining the prelude does work",
    "print(...) in an untagged cell after the imports cell",
    message=(
        "{cell} has no step tag and follows the {role} {prelude_cell}, so it joins the prelude "
        "that runs at the start of every step; it does more than import and define: "
        "`{first_line}`"
    ),
    hint="tag it block:NAME to make it a step of its own (or skip)",
)
SETTINGS_ON_PRELUDE = _kind(
    "K304",
    ERROR,
    "step settings on an imports or functions cell",
    "prev:load on a cell tagged functions",
    message=(
        "prev:, limit: and the other step settings belong on a step's cells, not on {role} cells"
    ),
    hint="move the tag to a cell tagged block:NAME",
)
PREV_SELF = _kind(
    "K305",
    ERROR,
    "a step names itself in prev:",
    "block:train with prev:train",
    message="step '{step}' names itself in prev:{prev}",
    hint="remove prev:{prev}",
)
PREV_UNKNOWN = _kind(
    "K306",
    ERROR,
    "prev: names no step of the notebook",
    "prev:loda where the step is load",
    message="prev:{prev} names no step of this notebook",
    hint="the steps are: {steps}",
)
UNTAGGED_AFTER_REFERENCE = _kind(
    "K307",
    ERROR,
    "an untagged code cell right after a notebook: cell",
    "x = 1 with no tag below the cell tagged notebook:train",
    message=(
        "this cell has no step tag and comes right after a notebook: cell, which stands for "
        "another notebook and is no step this cell could continue"
    ),
    hint="tag it block:NAME (or imports, functions)",
)
REFERENCE_IS_STEP_NAME = _kind(
    "K308",
    ERROR,
    "a notebook: cell named like a step of the same notebook",
    "notebook:train and block:train in one notebook",
    message=(
        "notebook:{name} is named like step '{name}' of the same notebook; the referenced "
        "notebook's steps are named {name}/..., which must not be taken for that step"
    ),
    hint="rename the reference or the step, e.g. notebook:{name}-notebook",
)

# K4xx: Python syntax
SYNTAX_ERROR = _kind(
    "K401",
    ERROR,
    "a cell is not valid Python",
    "x = (1,",
    message="syntax error: {error}: {text}",
    hint="fix the cell, or tag it 'skip' to leave it out of the pipeline",
)
TOO_DEEP = _kind(
    "K402",
    ERROR,
    "a cell nests too deeply for Python's parser or kalec",
    "an expression of 100,000 terms",
    message="the cell is too deeply nested or too long an expression for Python's parser",
    hint="split the expression into several statements",
)

# K5xx: parameters and metrics
PARAM_NOT_ASSIGNMENT = _kind(
    "K501",
    ERROR,
    "a parameters cell holds something else than assignments",
    "print(N) in the pipeline-parameters cell",
    message="a pipeline-parameters cell holds only assignments like `N = 500`",
    hint="move other code into a step, or into a cell tagged functions",
)
PARAM_NOT_A_NAME = _kind(
    "K502",
    ERROR,
    "a parameter assigned to something else than a plain name",
    "a, b = 1, 2",
    message="a parameter is assigned to one plain name",
)
PARAM_RESERVED = _kind(
    "K503",
    ERROR,
    "a parameter name Kubeflow Pipelines reserves",
    "Output = 1",
    message="parameter name {name} is reserved by Kubeflow Pipelines",
    hint="rename {name}",
)
PARAM_NAME_INVALID = _kind(
    "K504",
    ERROR,
    "a parameter name the targets cannot carry",
    "_seed = 1, or a non-ASCII name",
    message=(
        "parameter name {name} cannot be a pipeline parameter: KFP and Argo take names of ASCII"
        " letters, digits and _ that start with a letter"
    ),
    hint="rename {name} (for example to param{name})",
)
PARAM_NOT_CONSTANT = _kind(
    "K505",
    ERROR,
    "a parameter default that is not a constant",
    "N = compute()",
    message=(
        "parameter {name} must be a constant such as 500, 0.01, 'adam', [1, 2] or 2 * 50, not "
        "`{expression}`: {error}"
    ),
    hint="write the value itself; compute derived values in a step",
)
PARAM_VALUE_INVALID = _kind(
    "K506",
    ERROR,
    "a parameter default the targets cannot carry",
    "A = 1e999, B = 2 ** 60",
    message="parameter {name}: {problem}",
    hint="use a value within those bounds, or set it in a step",
)
PARAM_TYPE = _kind(
    "K507",
    ERROR,
    "a parameter default of a type pipelines do not carry",
    "A = (1, 2)",
    message=(
        "parameter {name} = {value} is a {type}; a parameter is an int, float, str, bool, list "
        "or dict (of those, with str keys), or None"
    ),
    hint="use a list for a tuple; give None-able parameters a default of their type",
)
PARAM_REASSIGNED = _kind(
    "K508",
    WARNING,
    "a parameter assigned twice",
    "N = 1 and N = 2 in the parameters cell",
    message="parameter {name} is assigned again; the last value is its default",
)
METRICS_LINE = _kind(
    "K511",
    ERROR,
    "a metrics cell line that is not one name",
    "accuracy * 100 in the pipeline-metrics cell",
    message="a pipeline-metrics cell names one variable per line: `accuracy` or `print(accuracy)`",
    hint="compute the metric in a step, and name only the variable here",
)

# K6xx: where values come from
PRELUDE_READS_VALUE = _kind(
    "K601",
    ERROR,
    "the prelude reads a value only a step makes",
    "y = x + 1 in a functions cell, where a step sets x",
    message=(
        "name '{name}' is not defined: imports and functions cells run at the start of every "
        "step, before any step's values arrive"
    ),
    hint=(
        "define {name} in the imports or functions cells, make it a pipeline parameter, or move"
        " this code into a step"
    ),
)
RANDOM_STATE_DRAWN_AGAIN = _kind(
    "K602",
    WARNING,
    "a random generator drawn from again later",
    "two steps draw from np.random after one seed",
    message=(
        "{reader} draws from {state} here, but step '{step}' draws from it again in {cell}, "
        "after this; the numbers drawn here may differ from the notebook's"
    ),
    hint=(
        "seed the generator in this step, or use a generator object "
        "(np.random.default_rng(seed)) passed between the steps"
    ),
)
CHANGED_AFTER_READ = _kind(
    "K603",
    ERROR,
    "a step changes a value again after another read it",
    "w = 1 in step a, read in step b, w = 2 in step a after that",
    message=(
        "{reader} reads {name} here, but step '{step}' sets {name} again in {cell}, after this "
        "read; a step passes on only its final values, so {reader} would get a different {name}"
        " than the notebook does"
    ),
    hint=(
        "use another name for one of the two values, or move {cell} into a step of its own that"
        " runs later"
    ),
)
USED_BEFORE_ASSIGNED = _kind(
    "K604",
    ERROR,
    "a name used before the cell that assigns it",
    "print(later) above later = 1",
    message=(
        "name '{name}' is used before any cell assigns it (step '{step}'); {cell} assigns it "
        "later in the notebook"
    ),
    hint="move {move} above this cell, as the notebook would have to run it",
)
UNDEFINED_NAME = _kind(
    "K605",
    ERROR,
    "a name nothing defines",
    "y = missing + 1",
    message="name '{name}' is not defined (step '{step}')",
    hint="define it in an earlier step, or in a cell tagged imports or functions",
)
UNDEFINED_IN_FUNCTION = _kind(
    "K606",
    WARNING,
    "a function reads a name nothing defines",
    "def f(): return missing",
    message=(
        "name '{name}' is not defined (step '{step}'); a function here reads it, and fails if "
        "called"
    ),
    hint="define it in an earlier step, or in a cell tagged imports or functions",
)
DELETED_BEFORE_READ = _kind(
    "K607",
    ERROR,
    "a name deleted before a step reads it",
    "del t in one step, print(t) in a later one",
    message=(
        "name '{name}' is deleted in {cell} (step '{steps}') before step '{step}' reads it here"
    ),
    hint="remove `del {name}` from {cell}, or stop reading it here",
)
METRIC_UNSET = _kind(
    "K608",
    ERROR,
    "a metric no step computes",
    "accuracy in the metrics cell with no step setting accuracy",
    message="metric '{name}' is not set by any step before this cell",
    hint="name a variable that a step computes before the metrics cell",
)
DEPENDENCY_ADDED = _kind(
    "K609",
    NOTE,
    "a dependency the data needs, added",
    "step b reads x from step a without prev:a",
    message=(
        "step '{step}' reads {what} from step '{producer}': added the dependency prev:{producer}"
    ),
)
SHARED_NAME = _kind(
    "K610",
    NOTE,
    "parallel steps set a name; the last before the read wins",
    "sections that each set X, read by a summary step",
    message=(
        "step '{step}' reads {name} from step '{producer}', the last to set it before this "
        "cell; step '{other}' ({cell}) sets {name} too, earlier in the notebook"
    ),
)
PRELUDE_NOT_RUN = _kind(
    "K611",
    ERROR,
    "a step reads a name only another notebook's imports or functions cells define",
    "a root step calls plot(), defined in the functions cell of a referenced notebook",
    message=(
        "step '{step}' reads {name}, which {cell} defines; that cell is the prelude of another "
        "notebook of the composition, which this step does not run"
    ),
    hint=(
        "define {name} in an imports or functions cell of this step's notebook (or of a "
        "notebook that references it, above the reference)"
    ),
)
PRELUDES_DISAGREE = _kind(
    "K612",
    ERROR,
    "two notebooks of a composition define a prelude name differently",
    "def clean() in the root's functions cell and another def clean() in a referenced one's",
    message=(
        "{name} is defined here and, differently, in {cell}; both run before the steps of this "
        "notebook, while the steps of the other notebook after the reference see only their own"
    ),
    hint=(
        "give one of the two definitions another name, or define {name} once in the referencing"
        " notebook"
    ),
)

# K7xx: the pipeline as a whole
NO_STEPS = _kind(
    "K701",
    ERROR,
    "the notebook has no step",
    "every code cell tagged imports, functions or skip",
    message=(
        "the notebook has no step: every code cell is an imports, functions, parameters, "
        "metrics or skip cell"
    ),
    hint="tag a cell block:NAME, or leave a code cell untagged",
)
CYCLE = _kind(
    "K702",
    ERROR,
    "the steps form a cycle",
    "prev:b on step a and prev:a on step b",
    message="the steps form a cycle: {chain}",
    hint="remove one of these prev: tags; a pipeline runs each step once, in order",
)
NAME_COLLISION = _kind(
    "K703",
    ERROR,
    "two step names cluster targets cannot tell apart",
    "train_model and train-model",
    message=(
        "step names '{first}' and '{step}' differ only in case or punctuation; cluster targets "
        "cannot tell them apart"
    ),
    hint="rename step '{step}'",
)
UNSAVEABLE_VALUE = _kind(
    "K704",
    ERROR,
    "a value passed between steps that cannot be saved",
    "a generator or an open file read by a later step",
    message=(
        "step '{step}' passes {name} to step '{reader}', but {name} is {kind}, which cannot be "
        "saved and loaded in another step"
    ),
    hint=(
        "create {name} again in step '{reader}', or create it inside a function in a cell "
        "tagged functions"
    ),
)

# K8xx: what a target cannot carry
DATA_NOT_SHIPPED = _kind(
    "K801",
    WARNING,
    "a data file beside the notebook a cluster step will not have",
    "pd.read_csv('data/train.csv') when building for kfp-py or argo",
    message=(
        "step '{step}' reads {path}, which is beside the notebook here but will not be in the "
        "{target} step's container"
    ),
    hint=(
        "put it in the image, on a volume (notebook setting volumes), or in object storage, and"
        " read it from there"
    ),
)

# K9xx: advice about running and caching (warnings and notes of ``kalec check``)
RUN_TO_RUN_SOURCE = _kind(
    "K901",
    NOTE,
    "a step reads something that changes between runs; the cache reuses its old result",
    "datetime.now(), np.random.rand() with no seed, requests.get(url)",
    message=(
        "step '{step}' reads {kinds} ({text}): run again it would compute something else, but "
        "while its code and inputs are unchanged a local run takes its values from the step "
        "cache"
    ),
    hint="tag the step cache:disabled, or run with --refresh {step} when you want new values",
)
CHANGED_IN_PARALLEL = _kind(
    "K902",
    WARNING,
    "a step changes in place a value that a parallel step also reads",
    "df.dropna(inplace=True) in one branch, df read by another branch",
    message=(
        "step '{step}' changes {variable} in place, and step '{parallel}', which runs in "
        "parallel with it, also reads {variable} from step '{producer}': each gets its own "
        "copy, so '{parallel}' never sees this change, whatever the order of the notebook's "
        "cells"
    ),
    hint=(
        "change a copy ({variable} = {variable}.copy()), or add prev:{step} to step "
        "'{parallel}' if it must see the change"
    ),
)
PIP_INSTALL_PACKAGE = _kind(
    "K903",
    NOTE,
    "a pip install line becomes a package of its step on clusters",
    "!pip install xgboost in a step cell",
    message=(
        "the pip install in step '{step}' installs {requirements} where the step runs; for "
        "kfp-py, yaml and argo these become packages of the step, installed before it starts"
    ),
    hint="pin versions (pip install name==1.2) so every run installs the same thing",
)
LOOP_CLOSURE = _kind(
    "K904",
    WARNING,
    "a function made in a loop reads the loop variable when called, and is passed on",
    "fs = [] ; for i in range(3): fs.append(lambda: i) ; fs used by a later step",
    message=(
        "the functions in {holder} read the loop variable {variable} when they are called, not "
        "when they were made; step '{step}' passes them on, and where they are called "
        "{variable} holds whatever value it has there"
    ),
    hint="bind the value when making the function: lambda {variable}={variable}: ...",
)
PROCESS_STATE = _kind(
    "K905",
    WARNING,
    "a step changes process state that later steps, in processes of their own, will not see",
    "os.environ['MODE'] = 'fast' or np.set_printoptions(precision=2) in a step cell",
    message=(
        "step '{step}' changes {kind} ({text}); in the notebook every later cell sees that, but"
        " step '{later}' runs in a process of its own and will not, so it may compute or print "
        "something else than the notebook"
    ),
    hint="move it to the cell tagged imports or functions, which runs first in every step",
)
DYNAMIC_READ = _kind(
    "K906",
    WARNING,
    "a step reads names through globals(), vars(), eval or exec, which no step passes",
    "print(globals()['total']) where total is set in another step",
    message=(
        "step '{step}' reads {what} through {text}; the data flow only passes names the code "
        "uses directly, so the step will not have them"
    ),
    hint="use the name directly (total instead of globals()['total']), or compute it in this step",
)
UNSEEN_CHANNEL = _kind(
    "K907",
    NOTE,
    "a step reaches files through a child process or native code that this machine cannot "
    "observe: a local run does not reuse it",
    "subprocess.run(['cat', path]) or sqlite3.connect(path) on macOS",
    message=(
        "step '{step}' reaches files through {kind} ({text}), whose reads and writes kalec "
        "cannot see here ({reason}): a local run runs it again every time rather than reuse a "
        "result it cannot vouch for"
    ),
    hint="tag the step cache:enabled to reuse its values anyway, at your own risk",
)


# the same codes, said another way
SYNTAX_ERROR_WITHOUT_TEXT = SYNTAX_ERROR.variant("syntax error: {error}")
REFERENCE_TOO_MANY_CELLS = COMPOSITION_TOO_LARGE.variant(
    "the notebooks the references name hold over {cells:,} cells in all",
    hint="reference fewer notebooks, or the same notebook fewer times",
)
PREV_UNKNOWN_CLOSE = PREV_UNKNOWN.variant(hint="did you mean prev:{close}?")
UNDEFINED_NAME_CLOSE = UNDEFINED_NAME.variant(hint="did you mean '{close}'?")
UNDEFINED_IN_FUNCTION_CLOSE = UNDEFINED_IN_FUNCTION.variant(hint="did you mean '{close}'?")
METRIC_FROM_PRELUDE = METRIC_UNSET.variant(
    "metric '{name}' is set by the prelude (imports or functions cells), not by a step"
)
PIP_INSTALL_PINNED = PIP_INSTALL_PACKAGE.variant(hint=None)


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
