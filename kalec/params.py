"""Parameter values a user gives for a run, read as each parameter's declared type: the one
reading for ``kalec run``/``deploy`` (``-p``, ``-f``, ``-y``) and for the service's ``params``.

Sources, in the order they apply (later ones win, as papermill orders them): YAML files, YAML
text, then ``NAME=VALUE`` pairs. A name the notebook does not declare, or a value that is not of
the parameter's type, is refused naming where it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kalec.errors import KalecError
from kalec.ir import Param
from kalec.runtime.params import parse_value


class ParamError(KalecError):
    """A parameter value that cannot be used; the message names it and where it came from."""


def overrides(
    params: Sequence[Param],
    pairs: Iterable[str] = (),
    files: Iterable[str] = (),
    yamls: Iterable[str] = (),
) -> dict[str, Any]:
    """``pairs`` (``NAME=VALUE``), YAML ``files`` and YAML texts ``yamls`` -> values by name,
    each of its parameter's type. Raises ``ParamError``."""
    declared = {p.name: p for p in params}
    given: list[tuple[str, Any, str]] = []  # (name, value, where it came from)
    for file in files:
        given += [(k, v, f"-f {file}") for k, v in _yaml_mapping(_read_text(file), f"-f {file}")]
    for text in yamls:
        given += [(k, v, "-y") for k, v in _yaml_mapping(text, "-y")]
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ParamError(f"-p {pair}: write -p NAME=VALUE or -p NAME VALUE")
        given.append((name, text, f"-p {name}"))
    values: dict[str, Any] = {}
    for name, value, where in given:
        if name not in declared:
            known = ", ".join(declared) or "none: the notebook has no pipeline-parameters cell"
            raise ParamError(f"{where}: no such pipeline parameter {name} (parameters: {known})")
        kind = declared[name].type.value
        try:
            values[name] = _typed(value, kind)
        except (ValueError, TypeError):
            raise ParamError(
                f"{where}: {value!r} is not a value for {name}, which is "
                f"{_article(kind)} {kind} parameter"
            ) from None
    return values


def values_of(params: Sequence[Param], given: dict[str, Any]) -> dict[str, Any]:
    """Values given as a mapping (a request's JSON ``params``), read as ``-y`` text is."""
    import json

    return overrides(params, yamls=[json.dumps(given)])


def _typed(value: Any, kind: str) -> Any:
    """A value from a parameters file as the declared type: text is parsed as ``-p`` text is,
    a YAML number or list is taken when it is of that type (an int where a float is declared)."""
    if isinstance(value, str):
        return parse_value(value, kind)
    if kind == "float" and type(value) is int:
        return float(value)
    if type(value).__name__ != kind:
        raise ValueError(value)
    return value


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _read_text(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ParamError(f"-f {file}: cannot read it: {error}") from None


def _yaml_mapping(text: str, where: str) -> list[tuple[str, Any]]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:
        raise ParamError(f"{where}: not valid YAML: {error}") from None
    if data is None:
        return []
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParamError(f"{where}: write a mapping of NAME: VALUE")
    return list(data.items())
