"""Names in a kfp-py script: functions, arguments and types that kfp accepts, shared by the
steps' components and the nested pipelines of composed notebooks."""

from __future__ import annotations

from kalec.ir import ParamType
from kalec.targets.identifiers import identifier

HELPERS = {"_kalec_step", "_kalec_runtime"}
KFP_RESERVED = {"Output"}  # kfp refuses a component argument of this name
ANNOTATIONS = {
    ParamType.INT: "int",
    ParamType.FLOAT: "float",
    ParamType.STR: "str",
    ParamType.BOOL: "bool",
    ParamType.LIST: "list",
    ParamType.DICT: "dict",
}


def artifact_type(variable: str) -> str:
    """The KFP artifact type a variable travels as, read from its name as Kale reads it, so
    that the UI shows a model as a Model: ``model`` -> Model, ``dataset``/``data`` -> Dataset,
    ``metrics`` -> Metrics, anything else Artifact. The file is kalec's marshal either way."""
    lowered = variable.lower()
    if "model" in lowered:
        return "Model"
    if "data" in lowered:  # dataset too
        return "Dataset"
    if "metrics" in lowered:
        return "Metrics"
    return "Artifact"


def function_name(step: str, taken: set[str]) -> str:
    """The step's function: an identifier that starts with a letter, since kfp names the
    component after it and a leading ``_`` leaves kfp an empty or clashing name."""
    name = identifier(step)
    return identifier(name if name[0].isalpha() else "step" + name, taken)


def argument(name: str, taken: set[str]) -> str:
    """A component argument for a variable or parameter: kfp names inputs and outputs after
    the arguments and wants an ASCII letter first."""
    text = identifier(name).lstrip("_")
    if not text or not ("a" <= text[0].lower() <= "z"):
        text = "v_" + text
    return identifier(text, taken)
