"""What each request of kalec's API may hold, as one typed record per endpoint, checked once.

A request's body is read into its record (``read``): every field known, of its type, the
required ones given, each value in its range. The checks are derived from the records' own
fields and type hints, so the table of endpoints, the adapters and the service all read the
same declaration, and the service receives records it need not check again. A field that is
wrong is ``ServiceError`` 400 naming it (``bad_field``), which every adapter answers as is.

Also here, for the parts below the service: ``ServiceError`` itself, the notebook's text from a
field, and where a notebook without a folder is placed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from kalec.deploy.auth import AuthMode
from kalec.errors import KalecError

DEFAULT_NAME = "notebook.ipynb"
CREDENTIAL_FIELDS = frozenset(
    {"token", "existing_token", "cookies", "cookie", "credentials", "authorization", "password"}
)
BuildTarget = Literal["kfp-py", "yaml", "argo", "ir"]
GraphFormat = Literal["svg", "dot", "mermaid"]  # kalec.graph's FORMATS (a test holds them equal)
BUILD_TARGETS: tuple[str, ...] = typing.get_args(BuildTarget)

Notebook = dict[str, Any] | str  # a notebook as JSON, or a string holding it


class ServiceError(KalecError):
    """A request kalec cannot serve: ``status`` is the HTTP status to answer with."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        diagnostics: list[dict[str, Any]] | None = None,
        cell: int | None = None,
        line: int | None = None,
        notebook: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.diagnostics = diagnostics or []
        self.cell, self.line, self.notebook = cell, line, notebook

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "cell": self.cell,
            "line": self.line,
        }
        if self.notebook:  # the cell is one of this referenced notebook's
            error["notebook"] = self.notebook
        if self.diagnostics:
            error["diagnostics"] = self.diagnostics
        return {"error": error}


def bad_field(name: str, problem: str) -> ServiceError:
    return ServiceError(400, "bad_field", f"{name}: {problem}")


# A field the adapter sets, never the body (the folder of a notebook Jupyter serves).
ADAPTER_ONLY = {"body": False}


@dataclass(frozen=True, kw_only=True)
class Empty:
    """A request without a body (GET, and the cancels)."""


@dataclass(frozen=True, kw_only=True)
class NotebookRequest:
    """A notebook (``nb``: JSON, or a string holding it) and its file name (no folders);
    ``folder`` is where the adapter placed it (local modules beside it are shipped), by default
    an empty folder of this process's own, so that a request never reads the server's files."""

    nb: Notebook
    name: str | None = None
    folder: Path | None = field(default=None, metadata=ADAPTER_ONLY)

    def __post_init__(self) -> None:
        if self.name is not None:
            placed(self.name, None)  # refused here when it is not a plain file name

    @property
    def source(self) -> Path:
        """Where the notebook is placed (its path names it in every message)."""
        return placed(self.name, self.folder)


@dataclass(frozen=True, kw_only=True)
class CheckRequest(NotebookRequest):
    pass


@dataclass(frozen=True, kw_only=True)
class GraphRequest(NotebookRequest):
    format: GraphFormat = "svg"


def _check_image_and_packages(image: str | None, packages: tuple[str, ...]) -> None:
    from kalec.targets.options import option_problems

    for option, problem in option_problems(image, packages):
        raise bad_field("image" if option == "image" else "packages", problem)


def _check_host(host: str) -> None:
    if not host.startswith(("http://", "https://")):
        raise bad_field("host", "the Kubeflow Pipelines URL, http(s)://...")


@dataclass(frozen=True, kw_only=True)
class BuildRequest(NotebookRequest):
    target: BuildTarget = "kfp-py"
    image: str | None = None
    packages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_image_and_packages(self.image, self.packages)


@dataclass(frozen=True, kw_only=True)
class RunRequest(NotebookRequest):
    params: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class DeployRequest(NotebookRequest):
    host: str
    pipeline_name: str | None = None
    description: str | None = None
    image: str | None = None
    experiment: str | None = None
    run: bool = False
    params: dict[str, Any] | None = None
    namespace: str | None = None
    auth: AuthMode | None = None  # the way the server authenticates, from its own environment

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_host(self.host)
        _check_image_and_packages(self.image, ())


@dataclass(frozen=True, kw_only=True)
class ExperimentsRequest:
    host: str
    namespace: str | None = None
    auth: AuthMode | None = None

    def __post_init__(self) -> None:
        _check_host(self.host)


@dataclass(frozen=True, kw_only=True)
class KfpRunRequest:
    """A run on Kubeflow Pipelines, to follow: where, which, and how the server signs in."""

    host: str
    run_id: str
    namespace: str | None = None
    auth: AuthMode | None = None

    def __post_init__(self) -> None:
        _check_host(self.host)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}", self.run_id):
            raise bad_field("run_id", "the id Kubeflow Pipelines gave the run")


@dataclass(frozen=True, kw_only=True)
class TuneRequest(NotebookRequest):
    space: dict[str, Any] | None = None
    trials: int | None = None
    algorithm: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.trials is not None and self.trials < 1:
            raise bad_field("trials", "a whole number, 1 or more")
        if self.seed is not None and self.seed < 0:
            raise bad_field("seed", "a whole number, 0 or more")


@dataclass(frozen=True, kw_only=True)
class KaleRequest:
    """Kale's ``POST /kale``: its field names, as its clients send them."""

    nb: Notebook
    deploy: bool = False
    kfp_port: int = 8080
    pipeline_name: str | None = None
    pipeline_descr: str | None = None
    docker_image: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.kfp_port < 65536:
            raise bad_field("kfp_port", "a port number")


@dataclass(frozen=True)
class FieldRule:
    """How one field of a body is checked: the JSON types it may have, its choices."""

    name: str
    types: tuple[type, ...]
    required: bool
    choices: tuple[Any, ...] = ()
    items: type | None = None  # a list's items' type


_WORDS = {dict: "an object", str: "text", bool: "true or false", int: "a whole number"}
_WORDS |= {list: "a list", float: "a number"}


def _rule(name: str, hint: Any, required: bool) -> FieldRule:
    """The rule of a field from its type hint (the few shapes the records use)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [m for m in typing.get_args(hint) if m is not type(None)]
        rules = [_rule(name, m, required) for m in members]
        merged = tuple(t for r in rules for t in r.types)
        choices = tuple(c for r in rules for c in r.choices)
        return FieldRule(name, merged, required, choices, rules[0].items)
    if origin is Literal:
        choices = typing.get_args(hint)
        return FieldRule(name, (type(choices[0]),), required, choices)
    if origin is tuple:
        return FieldRule(name, (list,), required, items=typing.get_args(hint)[0])
    return FieldRule(name, (origin or hint,), required)


@functools.cache
def rules(kind: type) -> tuple[FieldRule, ...]:
    """The body's fields of a request record, as the record declares them."""
    hints = typing.get_type_hints(kind)
    return tuple(
        _rule(f.name, hints[f.name], f.default is dataclasses.MISSING)
        for f in dataclasses.fields(kind)
        if f.metadata.get("body", True)
    )


def _problem(rule: FieldRule, value: Any) -> str | None:
    """What is wrong with ``value`` for ``rule``, in words; None when nothing is."""
    types_ = rule.types
    if not isinstance(value, types_) or (bool not in types_ and isinstance(value, bool)):
        return " or ".join(_WORDS[t] for t in types_)
    if rule.choices and value not in rule.choices:
        return f"one of {', '.join(map(str, rule.choices))}"
    if rule.items is not None and not all(isinstance(v, rule.items) for v in value):
        return f"a list of {_WORDS[rule.items]}"
    return None


def body_fields(kind: type, body: Any, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of a body for a request of ``kind``, each known and of its type (``also``:
    fields the adapter reads itself, as Jupyter's ``path``); null is a field left out."""
    if not isinstance(body, dict):
        raise ServiceError(400, "bad_request", "the request body is a JSON object")
    known = {r.name: r for r in rules(kind)}
    for key, value in body.items():
        if key in also:
            if value is not None and not isinstance(value, str):
                raise bad_field(key, "text")
            continue
        if key not in known and str(key).lower() in CREDENTIAL_FIELDS:
            raise bad_field(
                str(key),
                "credentials are never taken in a request (they would be logged and echoed); "
                "the server finds them in its own environment: choose the way with 'auth' "
                "(sa, cookies, token, none)",
            )
        if key not in known:
            names = ", ".join([*known, *also])
            raise bad_field(str(key), f"not a field of this request ({names})")
        if value is not None:
            problem = _problem(known[key], value)
            if problem:
                raise bad_field(key, problem)
    return {k: v for k, v in body.items() if v is not None}


def make_request(kind: type, fields: dict[str, Any]) -> Any:
    """The request record from checked fields (``body_fields``, and what the adapter set)."""
    for rule in rules(kind):
        if rule.required and rule.name not in fields:
            what = "the notebook" if rule.name == "nb" else "it"
            raise bad_field(rule.name, f"{what} is required")
    values = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in fields.items()
    }  # fmt: skip
    return kind(**values)


def read_request(kind: type, body: Any) -> Any:
    """The request record of a body: ``ServiceError`` 400 naming what is wrong."""
    return make_request(kind, body_fields(kind, body))


def notebook_text(nb: Notebook) -> str:
    """The notebook's JSON text, from an object or a string holding one."""
    if isinstance(nb, str):
        return nb
    if isinstance(nb, dict):
        try:
            return json.dumps(nb, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            raise bad_field("nb", f"cannot be written as JSON: {error}") from None
    raise bad_field(
        "nb", f"a notebook is a JSON object (or a string holding one), not {type(nb).__name__}"
    )


def _file_name_bytes(name: str) -> int:
    """Its length in UTF-8; more than any file system allows when it cannot be encoded."""
    try:
        return len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and no file name can
        return 1 << 30


def placed(name: str | None, folder: Path | None) -> Path:
    """Where the notebook ``name`` is placed: in ``folder``, or in an empty folder."""
    name = DEFAULT_NAME if name is None else name
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or any(c in name for c in "/\\\0")
        or _file_name_bytes(name) > 200
    ):
        raise bad_field("name", "a notebook's file name, without folders")
    return (folder or _empty_folder()) / name


@functools.cache
def _empty_folder() -> Path:
    """A folder of this process's own that stays empty: where a notebook without a place is
    put, so that nothing beside it (a helpers.py someone else left) is ever shipped with it."""
    return Path(tempfile.mkdtemp(prefix="kalec-service-"))
