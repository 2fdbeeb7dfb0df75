"""A search space and its objective: what ``kalec tune`` searches and what Katib would.

Read from the notebook's metadata in Katib's own Experiment fields, as Kale writes them
(``metadata.kubeflow_notebook.katib_metadata``, or ``metadata.kalec.tune`` in the same shape),
or from the command line (``--param 'lr=loguniform(1e-4,1e-1)'``, ``--param 'depth=int(2,8)'``,
``--param 'kernel=[rbf,linear]'``). Checked against the compiled pipeline: every parameter must
be one the notebook declares (``pipeline-parameters``) and the objective a metric it reports
(``pipeline-metrics``), each range of the parameter's type. Nothing here runs anything.

Below the targets (the ``katib`` target writes the space as an Experiment) and the local search
(``kalec.tune``): it imports the IR, the errors and the runtime's reading of parameter values.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from kalec.errors import KalecError
from kalec.ir import ParamType, Pipeline
from kalec.runtime.params import parse_value


class SpaceError(KalecError):
    """The search space or objective cannot be searched: the message says which and why."""


KINDS = ("double", "int", "discrete", "categorical")


@dataclass(frozen=True)
class Dimension:
    """One parameter's range: ``double``/``int`` between ``low`` and ``high`` (with ``step``,
    or on a log scale), ``discrete``/``categorical`` one of ``choices``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.choices:
            return f"{self.name} in {list(self.choices)}"
        scale = ", log scale" if self.log else ""
        step = f", step {self.step:g}" if self.step else ""
        return f"{self.name} {self.kind} from {self.low:g} to {self.high:g}{step}{scale}"

    def count(self) -> int | None:
        """How many values a grid search walks (None: a continuous range), without listing them."""
        if self.choices:
            return len(self.choices)
        if self.kind == "int":
            return max(int(self.high) - int(self.low), 0) // int(self.step or 1) + 1
        if self.step:
            return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return None

    def grid(self) -> list[Any] | None:
        """Every value a grid search tries; None when the range has no step to walk."""
        if self.choices:
            return list(self.choices)
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step:
            count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            return [round(self.low + i * self.step, 12) for i in range(count)]
        return None


@dataclass(frozen=True)
class Objective:
    metric: str
    maximize: bool = True
    goal: float | None = None  # reaching it ends the search
    additional: tuple[str, ...] = ()

    def reached(self, value: float) -> bool:
        if self.goal is None:
            return False
        return value >= self.goal if self.maximize else value <= self.goal


@dataclass(frozen=True)
class Space:
    dimensions: tuple[Dimension, ...]
    objective: Objective
    algorithm: str = "random"
    trials: int | None = None  # Katib's maxTrialCount
    parallel: int = 1  # parallelTrialCount
    max_failed: int | None = None  # maxFailedTrialCount
    settings: dict[str, Any] = field(default_factory=dict)  # the algorithm's own settings

    def as_katib(self) -> dict[str, Any]:
        """The Experiment spec's search fields, in Katib's v1beta1 shape."""
        parameters = []
        for dim in self.dimensions:
            feasible: dict[str, Any] = {}
            if dim.choices:
                feasible["list"] = [str(c) for c in dim.choices]
            else:
                number = int if dim.kind == "int" else float
                feasible["min"] = str(number(dim.low))
                feasible["max"] = str(number(dim.high))
                if dim.step:
                    feasible["step"] = str(number(dim.step))
                if dim.log:
                    feasible["distribution"] = "logUniform"
            parameters.append(
                {"name": dim.name, "parameterType": dim.kind, "feasibleSpace": feasible}
            )
        objective: dict[str, Any] = {
            "type": "maximize" if self.objective.maximize else "minimize",
            "objectiveMetricName": self.objective.metric,
        }
        if self.objective.goal is not None:
            objective["goal"] = self.objective.goal
        if self.objective.additional:
            objective["additionalMetricNames"] = list(self.objective.additional)
        algorithm: dict[str, Any] = {"algorithmName": self.algorithm}
        if self.settings:
            algorithm["algorithmSettings"] = [
                {"name": k, "value": str(v)} for k, v in self.settings.items()
            ]
        spec: dict[str, Any] = {
            "objective": objective,
            "algorithm": algorithm,
            "parameters": parameters,
            "parallelTrialCount": self.parallel,
        }
        if self.trials is not None:
            spec["maxTrialCount"] = self.trials
        if self.max_failed is not None:
            spec["maxFailedTrialCount"] = self.max_failed
        return spec


# --- reading Katib's fields -----------------------------------------------------------------


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpaceError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise SpaceError(f"{where}: {value!r} is not a finite number")
    return number


def from_katib(data: Any, where: str = "katib_metadata") -> Space:
    """A space from Katib Experiment fields (Kale's ``katib_metadata``)."""
    if not isinstance(data, dict):
        raise SpaceError(f"{where}: an object with parameters and objective")
    dimensions = []
    for index, raw in enumerate(data.get("parameters") or []):
        place = f"{where}.parameters[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise SpaceError(f"{place}: a parameter needs a name")
        kind = raw.get("parameterType")
        if kind not in KINDS:
            raise SpaceError(f"{place} ({raw['name']}): parameterType is one of {', '.join(KINDS)}")
        feasible = raw.get("feasibleSpace") or {}
        if not isinstance(feasible, dict):
            raise SpaceError(f"{place} ({raw['name']}): feasibleSpace is an object")
        if kind in ("discrete", "categorical"):
            choices = feasible.get("list")
            if not isinstance(choices, list) or not choices:
                raise SpaceError(f"{place} ({raw['name']}): feasibleSpace.list names the values")
            dimensions.append(Dimension(raw["name"], kind, choices=tuple(choices)))
            continue
        low = _number(feasible.get("min"), f"{place} ({raw['name']}) min")
        high = _number(feasible.get("max"), f"{place} ({raw['name']}) max")
        step = feasible.get("step")
        distribution = str(feasible.get("distribution") or "uniform").lower()
        if distribution not in ("uniform", "loguniform"):
            raise SpaceError(
                f"{place} ({raw['name']}): distribution {feasible.get('distribution')!r}: "
                "kalec searches uniform and logUniform ranges"
            )
        dimensions.append(
            Dimension(
                raw["name"],
                kind,
                low,
                high,
                _number(step, f"{place} step") if step not in (None, "") else None,
                log=distribution == "loguniform",
            )
        )
    objective_data = data.get("objective") or {}
    if not isinstance(objective_data, dict) or not objective_data.get("objectiveMetricName"):
        raise SpaceError(f"{where}: objective.objectiveMetricName names the metric to optimise")
    kind = str(objective_data.get("type") or "maximize").lower()
    if kind not in ("maximize", "minimize"):
        raise SpaceError(f"{where}: objective.type is maximize or minimize")
    goal = objective_data.get("goal")
    objective = Objective(
        str(objective_data["objectiveMetricName"]),
        kind == "maximize",
        _number(goal, f"{where}: objective.goal") if goal is not None else None,
        tuple(str(m) for m in objective_data.get("additionalMetricNames") or ()),
    )
    algorithm = data.get("algorithm") or {}
    if isinstance(algorithm, str):  # "grid" where Katib writes {"algorithmName": "grid"}
        algorithm = {"algorithmName": algorithm}
    if not isinstance(algorithm, dict):
        raise SpaceError(f"{where}: algorithm is an object with algorithmName")
    settings = {
        str(s.get("name")): s.get("value")
        for s in (algorithm.get("algorithmSettings") or [])
        if isinstance(s, dict)
    }

    def count(key: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpaceError(f"{where}: {key} is a whole number from 1")
        return value

    return Space(
        tuple(dimensions),
        objective,
        str(algorithm.get("algorithmName") or "random"),
        count("maxTrialCount"),
        count("parallelTrialCount") or 1,
        count("maxFailedTrialCount"),
        settings,
    )


# --- the command line -------------------------------------------------------------------------

_RANGE = re.compile(r"(?P<kind>uniform|loguniform|int|logint|float)\((?P<args>[^()]*)\)")


def parse_param(text: str) -> Dimension:
    """``NAME=uniform(A,B)``, ``loguniform(A,B)``, ``int(A,B[,STEP])``, ``logint(A,B)``,
    ``float(A,B,STEP)`` or ``[v1,v2,...]``."""
    name, equals, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not equals or not name.isidentifier():
        raise SpaceError(f"--param {text!r}: NAME=RANGE, e.g. lr=loguniform(1e-4,1e-1)")
    if spec.startswith("[") and spec.endswith("]"):
        values = [v.strip() for v in spec[1:-1].split(",") if v.strip()]
        if not values:
            raise SpaceError(f"--param {text!r}: list the values, e.g. [rbf,linear]")
        return Dimension(name, "categorical", choices=tuple(values))
    found = _RANGE.fullmatch(spec)
    if not found:
        raise SpaceError(
            f"--param {text!r}: the range is uniform(A,B), loguniform(A,B), int(A,B), "
            "int(A,B,STEP), logint(A,B), float(A,B,STEP) or [v1,v2,...]"
        )
    kind, args = found["kind"], [a.strip() for a in found["args"].split(",")]
    numbers = [_number(a, f"--param {name}") for a in args if a]
    if len(numbers) not in (2, 3) or (len(numbers) == 3 and kind in ("uniform", "loguniform")):
        step = "" if kind in ("uniform", "loguniform") else " (and a step)"
        raise SpaceError(f"--param {text!r}: give the lowest and highest value{step}")
    low, high, *rest = numbers
    integer = kind in ("int", "logint")
    if integer and not all(float(n).is_integer() for n in numbers):
        raise SpaceError(f"--param {text!r}: int() takes whole numbers")
    return Dimension(
        name,
        "int" if integer else "double",
        low,
        high,
        rest[0] if rest else None,
        log=kind in ("loguniform", "logint"),
    )


# --- checking against the notebook ------------------------------------------------------------


def _typed_choice(value: Any, kind: ParamType, where: str) -> Any:
    """A value of a categorical list, as the parameter's type reads it: the same reading as a
    value given with ``-p`` (``kalec.runtime.params``); Katib writes every value as text."""
    if kind in (ParamType.LIST, ParamType.DICT) and not isinstance(value, str):
        return value
    try:
        return parse_value(str(value).strip(), kind.value)
    except (ValueError, TypeError):
        raise SpaceError(f"{where}: {value!r} is not a value of type {kind.value}") from None


def checked(space: Space, pipeline: Pipeline) -> Space:
    """The space with every value read as its parameter's type; ``SpaceError`` naming the
    parameter or metric the notebook does not declare, or a range outside a parameter's type."""
    params = {p.name: p for p in pipeline.params}
    metrics = {m.reported for m in pipeline.metrics}
    if not space.dimensions:
        raise SpaceError("no parameter to search: give --param NAME=RANGE, or katib_metadata")
    fixed = []
    for dim in space.dimensions:
        param = params.get(dim.name)
        if param is None:
            known = ", ".join(params) or "none"
            raise SpaceError(
                f"parameter {dim.name!r} is not a pipeline parameter of the notebook "
                f"(its pipeline-parameters cell declares: {known})"
            )
        where = f"parameter {dim.name} ({param.type.value})"
        if dim.choices:
            fixed.append(
                replace(
                    dim, choices=tuple(_typed_choice(c, param.type, where) for c in dim.choices)
                )
            )
            continue
        if param.type not in (ParamType.INT, ParamType.FLOAT):
            raise SpaceError(
                f"{where}: a {param.type.value} parameter takes a list of values, not a range"
            )
        if dim.low >= dim.high:
            raise SpaceError(
                f"{where}: the lowest value {dim.low:g} is not below the highest {dim.high:g}"
            )
        if dim.log and dim.low <= 0:
            raise SpaceError(f"{where}: a log scale needs a lowest value above 0")
        if param.type is ParamType.INT and not (
            float(dim.low).is_integer() and float(dim.high).is_integer()
        ):
            raise SpaceError(f"{where}: an int parameter takes int(A,B) with whole numbers")
        kind = "int" if param.type is ParamType.INT else "double"
        fixed.append(replace(dim, kind=kind))
    # Kale names a metric as KFP v1 did (test_accuracy -> test-accuracy): either spelling
    spelled = {_metric_key(m): m for m in metrics}

    def metric_of(name: str, what: str) -> str:
        found = spelled.get(_metric_key(name))
        if found is None:
            known = ", ".join(sorted(metrics)) or "none"
            raise SpaceError(
                f"{what} {name!r} is not a metric of the notebook "
                f"(its pipeline-metrics cell reports: {known})"
            )
        return found

    objective = replace(
        space.objective,
        metric=metric_of(space.objective.metric, "metric"),
        additional=tuple(metric_of(m, "additional metric") for m in space.objective.additional),
    )
    return replace(space, dimensions=tuple(fixed), objective=objective)


def _metric_key(name: str) -> str:
    return name.strip().lower().replace("_", "-")
