"""Code whose result can change from one run to the next, and closures that late-bind a loop
variable: read from the syntax tree, for the lints of ``kalec check``.

The step cache reuses a step's values while its code and inputs are unchanged. A step that reads
the clock, draws from a generator nobody seeded, or fetches from the network would compute
something else if it ran again; the user may still want it cached (it was asked for), but should
know which steps those are.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from kalec.analysis.parsing import walk
from kalec.analysis.symbols import dotted_name

_CLOCK = {
    "time.time", "time.time_ns", "datetime.now", "datetime.datetime.now", "datetime.utcnow",
    "datetime.datetime.utcnow", "datetime.today", "datetime.datetime.today", "date.today",
    "datetime.date.today", "pd.Timestamp.now", "pandas.Timestamp.now", "pd.Timestamp.today",
    "pandas.Timestamp.today",
}  # fmt: skip
_ENTROPY = {"os.urandom", "uuid.uuid1", "uuid.uuid4", "uuid1", "uuid4"}
_GLOBAL_DRAWS_PREFIXES = ("random.", "np.random.", "numpy.random.", "torch.")
_DRAWS = {
    "random", "randint", "randrange", "choice", "choices", "sample", "shuffle", "uniform",
    "gauss", "normalvariate", "rand", "randn", "normal", "permutation", "integers",
    "standard_normal", "binomial", "poisson", "exponential", "randperm", "random_sample",
}  # fmt: skip
_GENERATORS = {"default_rng", "Random", "RandomState", "Generator"}
_NETWORK_PREFIXES = ("requests.", "httpx.", "urllib.request.", "aiohttp.", "boto3.", "ftplib.")
_NETWORK = {"urlopen", "urlretrieve", "socket.create_connection", "wget.download"}
_REMOTE = ("http://", "https://", "ftp://", "s3://", "gs://", "az://", "abfs://", "hf://")
_SHELL_NETWORK = ("curl ", "wget ", "git clone", "aws s3", "gsutil ")


class Hazard(NamedTuple):
    """A call whose result differs between two runs (clock, random numbers, network)."""

    kind: str  # "the clock", "random numbers", "the network"
    line: int
    text: str  # the call as written


def seeds_in(tree: ast.AST) -> set[str]:
    """Which global generators the code seeds: "random", "numpy", "torch"."""
    seeded = set()
    for node in walk(tree):
        if isinstance(node, ast.Call):
            name = dotted_name(node.func) or ""
            if name.endswith(("random.seed", "manual_seed")) or name in ("seed",):
                seeded.add(
                    "torch"
                    if "manual_seed" in name
                    else "numpy"
                    if "np." in name or "numpy" in name
                    else "random"
                )
    return seeded


def _generator_family(name: str) -> str:
    return (
        "torch"
        if name.startswith("torch.")
        else "numpy"
        if "np." in name or "numpy." in name
        else "random"
    )


def run_to_run_hazards(tree: ast.AST, seeded: set[str]) -> list[Hazard]:
    """Calls whose results differ between runs; ``seeded``: generators the notebook seeds."""
    found = []
    for node in walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted_name(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        text = name + "()"
        if name in _CLOCK or last in ("now", "utcnow") and "datetime" in name:
            found.append(Hazard("the clock", node.lineno, text))
        elif name in _ENTROPY or name.startswith("secrets."):
            found.append(Hazard("random numbers", node.lineno, text))
        elif last in _GENERATORS and not node.args and not node.keywords:
            found.append(Hazard("random numbers", node.lineno, f"{text} without a seed"))
        elif (
            name.startswith(_GLOBAL_DRAWS_PREFIXES)
            and last in _DRAWS
            and _generator_family(name) not in seeded
        ):
            found.append(Hazard("random numbers", node.lineno, f"{text} with no seed set"))
        elif name.startswith(_NETWORK_PREFIXES) or name in _NETWORK or last in _NETWORK:
            found.append(Hazard("the network", node.lineno, text))
        elif last in ("system", "getoutput") and _shell_fetches(node):
            found.append(Hazard("the network", node.lineno, "a shell command that downloads"))
        elif any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith(_REMOTE)
            for a in node.args
        ):
            found.append(Hazard("the network", node.lineno, f"{text} of a URL"))
    return sorted(found, key=lambda h: h.line)


def _shell_fetches(call: ast.Call) -> bool:
    return any(
        isinstance(a, ast.Constant)
        and isinstance(a.value, str)
        and any(word in a.value for word in _SHELL_NETWORK)
        for a in call.args
    )


class LoopClosure(NamedTuple):
    """A function made in a loop that reads the loop variable when called, not when made."""

    holder: str  # the name the function is stored in
    variable: str  # the loop variable it reads when called
    line: int


def loop_closures(tree: ast.Module) -> list[LoopClosure]:
    """Lambdas and functions made in a top-level loop that read the loop variable when called:
    each sees the variable's value at call time (in the notebook its last value; in a later
    step, whatever that step has), not the value it was made with."""
    found = []
    for loop in tree.body:
        if not isinstance(loop, (ast.For, ast.While)):
            continue
        variables = (
            {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
            if isinstance(loop, ast.For)
            else set()
        )
        for statement in ast.walk(loop):
            if not isinstance(statement, (ast.Assign, ast.Expr, ast.AugAssign)):
                continue
            holders = _holders(statement)
            for function in ast.walk(statement):
                if not isinstance(function, ast.Lambda):
                    continue
                bound = {a.arg for a in function.args.args + function.args.kwonlyargs}
                reads = {
                    n.id
                    for n in ast.walk(function.body)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                }
                for variable in sorted((reads & variables) - bound):
                    found += [LoopClosure(h, variable, function.lineno) for h in holders]
    return found


def _holders(statement: ast.stmt) -> list[str]:
    """Names a statement stores its value in: ``f = ...``, ``fs[i] = ...``, ``fs.append(...)``."""
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AugAssign):
        targets = [statement.target]
    elif isinstance(statement.value, ast.Call) and isinstance(statement.value.func, ast.Attribute):
        targets = [statement.value.func.value]
    names = []
    for target in targets:
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value
        if isinstance(target, ast.Name):
            names.append(target.id)
    return names
