"""kalec as plain functions over a notebook given as JSON: what a server or an extension calls.

Each function takes the notebook as a JSON object (or a string holding one) and returns
JSON-ready data; a request kalec cannot serve raises ``ServiceError``, which carries the HTTP
status an adapter answers with and a JSON body (``{"error": {"code", "message", "cell",
"line"}}``, plus the compiler's diagnostics when it refused the notebook). Nothing here imports
a web framework, and nothing here runs the notebook's code: checking, building and drawing only
read it.

The notebook's ``name`` is a file name (no folders); ``folder`` is where the adapter places it
(local modules beside the notebook are looked for there); by default an empty folder of this
process's own, so that a request never reads the server's files.
"""

from __future__ import annotations

import functools
import json
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kalec.errors import KalecError
from kalec.serve.kfp_compiles import KfpCompiler
from kalec.sized_cache import sized

BUILD_TARGETS = ("kfp-py", "yaml", "argo", "ir")


@dataclass
class Limits:
    """What a server allows its clients, set by its adapter (``kalec serve`` flags)."""

    deploy_seconds: float = 60.0  # a deploy that takes longer is ended: 504
    max_deploys: int = 2  # at once; more is 503 (deploys never hold all of a server's threads)
    allow_link_local: bool = False  # deploy to link-local and cloud metadata addresses


LIMITS = Limits()
# The folder a server serves notebooks from (Jupyter's root, ``kalec serve --folder``): the
# notebooks a composition references must be inside it. None: the notebook's own folder.
NOTEBOOKS_ROOT: Path | None = None
COMPILER = KfpCompiler()  # kfp's compiles, in worker processes; the adapters start and end it
_DEPLOYS = threading.BoundedSemaphore(LIMITS.max_deploys)


def configure(limits: Limits, kfp_workers: int) -> None:
    """The server's limits and kfp workers (before it serves its first request)."""
    global LIMITS, COMPILER, _DEPLOYS
    LIMITS = limits
    COMPILER = KfpCompiler(workers=kfp_workers)
    _DEPLOYS = threading.BoundedSemaphore(limits.max_deploys)


DEFAULT_NAME = "notebook.ipynb"


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


_TYPE_NAMES = {dict: "an object", str: "text", bool: "true or false", int: "a whole number"}
_TYPE_NAMES[list] = "a list"


def request_fields(
    fields: dict[str, tuple[type, ...]], body: Any, placed: bool = False
) -> dict[str, Any]:
    """The fields of a request, checked against what its endpoint takes (``fields``: name ->
    types): each known, of its type, the notebook given (``nb``, or with ``placed``, a ``path``
    instead: a file the adapter resolves)."""
    if not isinstance(body, dict):
        raise ServiceError(400, "bad_request", "the request body is a JSON object")
    known = fields | ({"path": (str,)} if placed else {})
    for key, value in body.items():
        if key not in known:
            raise ServiceError(
                400, "bad_field", f"{key}: not a field of this request ({', '.join(known)})"
            )
        types = known[key]
        if value is not None and (
            not isinstance(value, types) or (bool not in types and isinstance(value, bool))
        ):
            wanted = " or ".join(_TYPE_NAMES[t] for t in types)
            raise ServiceError(400, "bad_field", f"{key}: {wanted}")
    if "nb" in fields and "nb" not in body and not (placed and "path" in body):
        raise ServiceError(400, "bad_field", "nb: the notebook is required")
    return {k: v for k, v in body.items() if v is not None}


def notebook_text(nb: Any) -> str:
    """The notebook's JSON text, from an object or a string holding one."""
    if isinstance(nb, str):
        return nb
    if isinstance(nb, dict):
        try:
            return json.dumps(nb, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            raise ServiceError(
                400, "bad_field", f"nb: cannot be written as JSON: {error}"
            ) from None
    raise ServiceError(
        400,
        "bad_field",
        f"nb: a notebook is a JSON object (or a string holding one), not {type(nb).__name__}",
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
        raise ServiceError(400, "bad_field", "name: a notebook's file name, without folders")
    return (folder or _empty_folder()) / name


@functools.cache
def _empty_folder() -> Path:
    """A folder of this process's own that stays empty: where a notebook without a place is
    put, so that nothing beside it (a helpers.py someone else left) is ever shipped with it."""
    return Path(tempfile.mkdtemp(prefix="kalec-service-"))


@sized(128 * 2**20, lambda source, text, found: 8 * len(text) + 10_000)
def _compiled_with_stamps(source: Path, text: str) -> tuple[Any, tuple]:
    from kalec.compiler import compile_notebook
    from kalec.frontend.compose import ReferenceOutside

    try:
        root = NOTEBOOKS_ROOT
        inside = root is not None and source.resolve().is_relative_to(root)
        pipeline = compile_notebook(source, text, confine=root if inside else source.parent)
    except ReferenceOutside as error:
        raise ServiceError(400, "bad_field", f"nb: {error}") from None
    return pipeline, _stamps(pipeline)


def _stamps(pipeline: Any) -> tuple:
    """What the notebooks a composition references look like on disk now."""
    from kalec.ir.places import notebook_path

    found = []
    for notebook in pipeline.notebooks:
        try:
            stat = Path(notebook_path(pipeline, notebook.scope)).stat()
            found.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError:
            found.append(None)
    return tuple(found)


def _compile(source: Path, text: str) -> Any:
    """Compiling reads nothing but the text (its path only names it) and, in a composition,
    the notebooks it references (inside the notebook's folder only): the same notebook posted
    again, as an editor's panel re-checks it on every save, is answered from memory while the
    notebooks it references are unchanged. Pipelines are immutable, so threads share them."""
    pipeline, stamps = _compiled_with_stamps(source, text)
    if stamps and stamps != _stamps(pipeline):  # a referenced notebook changed: this one again
        _compiled_with_stamps.cache.discard((source, text))
        pipeline, _ = _compiled_with_stamps(source, text)
    return pipeline


@sized(64 * 2**20, lambda source, text, target, options, out: len(text) + len(out))
def _emit(source: Path, text: str, target: str, options: Any) -> str:
    """A build of a notebook that has no folder, remembered: the same notebook posted again
    (an editor's build button, Kale's ``POST /kale``) is answered without compiling again."""
    return emitted(target, _compile(source, text), options)


def emitted(target: str, pipeline: Any, options: Any) -> str:
    """The pipeline's text for ``target``; kfp's compiles go to the server's compiler
    (``COMPILER``: worker processes), never two at once in this process."""
    from kalec.serve.kfp_compiles import CompileFailed
    from kalec.targets import kfp_py, load

    if target != "yaml":
        return load(target).emit(pipeline, options)
    load(target)  # says what is missing when kfp is not installed
    try:
        return COMPILER.compile(kfp_py.emit(pipeline, options), options.script_name)
    except CompileFailed as error:
        raise ServiceError(error.status, error.code, str(error)) from None


def compiled(nb: Any, name: str | None, folder: Path | None) -> Any:
    """The compiled pipeline; ``ServiceError`` 400 for what is not a notebook, 422 with the
    diagnostics for a notebook the compiler refuses."""
    from kalec.frontend.notebook_file import NotebookError
    from kalec.ir import Severity

    source = placed(name, folder)
    text = notebook_text(nb)
    try:
        pipeline = _compile(source, text)
    except NotebookError as error:
        raise ServiceError(400, "not_a_notebook", f"nb: {error}") from None
    if pipeline.has_errors:
        from kalec.ir.places import diagnostic_data

        errors = [d for d in pipeline.diagnostics if d.severity is Severity.ERROR]
        first = errors[0]
        raise ServiceError(
            422,
            "refused",
            f"{len(errors)} error{'s' * (len(errors) != 1)} in the notebook; the first: "
            f"{first.message}",
            diagnostics=[diagnostic_data(pipeline, d) for d in pipeline.diagnostics],
            cell=diagnostic_data(pipeline, first)["cell"],
            notebook=diagnostic_data(pipeline, first)["notebook"],
            line=first.origin.line if first.origin and first.origin.line else None,
        )
    return pipeline


def with_settings(
    nb: Any, name: str | None = None, description: str | None = None, image: str | None = None
) -> Any:
    """The notebook with its pipeline settings given (``metadata.kalec``, which wins over
    Kale's section): what ``POST /kale``'s ``pipeline_name``, ``pipeline_descr`` and
    ``docker_image`` set. The notebook given is not changed."""
    given = {"name": name, "description": description, "image": image}
    given = {k: v for k, v in given.items() if v}
    if not given:
        return nb
    data = nb
    if isinstance(nb, str):
        try:
            data = json.loads(nb)
        except (ValueError, RecursionError):
            raise ServiceError(400, "not_a_notebook", "nb: not JSON") from None
    if not isinstance(data, dict):
        raise ServiceError(400, "bad_field", "nb: a notebook is a JSON object")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    own = metadata.get("kalec") if isinstance(metadata.get("kalec"), dict) else {}
    return data | {"metadata": metadata | {"kalec": own | given}}


def typed_params(pipeline: Any, params: Any) -> dict[str, Any]:
    """Parameter values a request gives, each read as its parameter's type, as ``kalec run -y``
    reads them; 400 naming the parameter for an unknown one or a value of the wrong type."""
    from kalec.params import ParamError, values_of

    if params is not None and not isinstance(params, dict):
        raise ServiceError(400, "bad_field", "params: an object of parameter values")
    try:
        return values_of(pipeline.params, params or {})
    except ParamError as error:
        message = str(error).removeprefix("-y: ")
        raise ServiceError(400, "bad_field", f"params: {message}") from None


def check(nb: Any, name: str | None = None, folder: Path | None = None) -> dict[str, Any]:
    """Steps (cells, dependencies, inputs with their producers, outputs), parameters, metrics
    and diagnostics. A notebook with errors is an answer here (``ok`` false), not a refusal."""
    from kalec.frontend.notebook_file import NotebookError
    from kalec.report import check_data, not_a_notebook

    source = placed(name, folder)
    text = notebook_text(nb)
    try:
        pipeline = _compile(source, text)
    except NotebookError as error:
        raise ServiceError(
            400,
            "not_a_notebook",
            f"nb: {error}",
            diagnostics=not_a_notebook(source.name, error)["diagnostics"],
        ) from None
    return check_data(pipeline) | {"notebook": source.name}


def build(
    nb: Any,
    target: str = "kfp-py",
    name: str | None = None,
    folder: Path | None = None,
    image: str | None = None,
    packages: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The pipeline for ``target``: its text and the file name ``kalec build`` would give it."""
    from kalec import cluster_names
    from kalec.ir import Severity
    from kalec.targets import TARGETS, BackendError, TargetUnavailable
    from kalec.targets.options import options_for

    if target not in BUILD_TARGETS:
        raise ServiceError(400, "bad_field", f"target: one of {', '.join(BUILD_TARGETS)}")
    _check_image_and_packages(image, packages)
    pipeline = compiled(nb, name, folder)
    source = placed(name, folder)
    options = options_for(target, source.name, image=image, packages=tuple(packages))
    try:
        if folder is None:  # nothing beside it to ship: the text alone decides the output
            text = _emit(source, notebook_text(nb), target, options)
        else:
            text = emitted(target, pipeline, options)
    except TargetUnavailable as error:
        raise ServiceError(501, "unavailable", str(error)) from None
    except BackendError as error:
        raise ServiceError(422, "refused", str(error)) from None
    from kalec.ir.places import diagnostic_data

    stem = source.name.removesuffix(".ipynb")
    return {
        "target": target,
        "pipeline_name": cluster_names.pipeline_name(pipeline.settings.name),
        "file_name": stem + TARGETS[target].suffix,
        "text": text,
        "steps": len(pipeline.steps),
        "diagnostics": [
            diagnostic_data(pipeline, d)
            for d in pipeline.diagnostics
            if d.severity is not Severity.NOTE
        ],
    }


def _check_image_and_packages(image: Any, packages: Any) -> None:
    from kalec.targets.options import option_problems

    if image is not None and not isinstance(image, str):
        raise ServiceError(400, "bad_field", "image: text")
    if not isinstance(packages, (list, tuple)) or not all(isinstance(p, str) for p in packages):
        raise ServiceError(400, "bad_field", "packages: a list of requirements")
    for option, problem in option_problems(image, packages):
        raise ServiceError(
            400, "bad_field", f"{'image' if option == 'image' else 'packages'}: {problem}"
        )


def graph(
    nb: Any, format: str = "svg", name: str | None = None, folder: Path | None = None
) -> dict[str, Any]:
    """The step graph drawn (``text``), and as data: boxes in rows, arrows with what travels."""
    from kalec.graph import FORMATS, RENDERERS, layout

    if format not in FORMATS:
        raise ServiceError(400, "bad_field", f"format: one of {', '.join(FORMATS)}")
    pipeline = compiled(nb, name, folder)
    boxes, arrows = layout(pipeline)
    return {
        "format": format,
        "text": RENDERERS[format](pipeline),
        "steps": [{"name": b.name, "cells": list(b.cells), "row": b.row} for b in boxes],
        "edges": [{"from": a.source, "to": a.target, "variables": list(a.travels)} for a in arrows],
    }


def _check_host(host: Any) -> None:
    """A Kubeflow Pipelines URL this server may contact: 400 otherwise."""
    if not isinstance(host, str) or not host.startswith(("http://", "https://")):
        raise ServiceError(400, "bad_field", "host: the Kubeflow Pipelines URL, http(s)://...")
    from kalec.deploy import host_problem

    refused = host_problem(host, LIMITS.allow_link_local)
    if refused:
        raise ServiceError(
            400,
            "host_refused",
            f"host: {refused}: this server does not deploy there (start it with "
            "--allow-link-local to allow it)",
        )


EXPERIMENTS_SECONDS = 15.0


def experiments(host: Any) -> dict[str, Any]:
    """The experiments on a Kubeflow Pipelines server, for the deploy form's list; 502 in words
    when it cannot be asked, 504 when it does not answer in time."""
    import concurrent.futures

    from kalec.targets import KFP_INSTALL_HINT, missing_requirements

    _check_host(host)
    if missing_requirements(("kfp",)):
        raise ServiceError(501, "unavailable", f"listing experiments needs kfp: {KFP_INSTALL_HINT}")
    from kalec.deploy import DeployError, list_experiments

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        names = pool.submit(list_experiments, host).result(timeout=EXPERIMENTS_SECONDS)
    except concurrent.futures.TimeoutError:
        raise ServiceError(
            504, "timeout", f"Kubeflow Pipelines at {host} did not answer in time"
        ) from None
    except DeployError as error:
        raise ServiceError(502, "unreachable", str(error)) from None
    finally:
        pool.shutdown(wait=False)
    return {"host": host, "experiments": names}


def deploy(
    nb: Any,
    host: str,
    name: str | None = None,
    folder: Path | None = None,
    pipeline_name: str | None = None,
    description: str | None = None,
    image: str | None = None,
    experiment: str | None = None,
    run: bool = False,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Upload the pipeline to Kubeflow Pipelines at ``host`` (a new version when the name
    exists), and start a run when ``run``: the ids, and what was said along the way."""
    from dataclasses import asdict

    from kalec.targets import KFP_INSTALL_HINT, missing_requirements
    from kalec.targets.options import script_name_for

    for field_name, value in (
        ("host", host),
        ("pipeline_name", pipeline_name),
        ("description", description),
        ("experiment", experiment),
    ):
        if value is not None and not isinstance(value, str):
            raise ServiceError(400, "bad_field", f"{field_name}: text")
    _check_host(host)
    if not isinstance(run, bool):
        raise ServiceError(400, "bad_field", "run: true or false")
    _check_image_and_packages(image, ())
    if missing_requirements(("kfp",)):
        raise ServiceError(501, "unavailable", f"deploying needs kfp: {KFP_INSTALL_HINT}")
    from kalec.deploy import DeployError, DeployTimeout, request_for
    from kalec.serve.worker import deploy_with_deadline

    pipeline = compiled(nb, name, folder)
    values = typed_params(pipeline, params)
    try:
        request = request_for(
            pipeline,
            host=host,
            script_name=script_name_for(None, placed(name, folder).name),
            name=pipeline_name,
            description=description,
            experiment=experiment,
            image=image,
            run=run,
            params=values,
            emit_yaml=lambda options: emitted("yaml", pipeline, options),
        )
    except ServiceError:
        raise
    except KalecError as error:
        raise ServiceError(422, "refused", str(error)) from None
    if not _DEPLOYS.acquire(blocking=False):
        raise ServiceError(
            503, "busy", f"{LIMITS.max_deploys} deploys are going on, the most this server allows"
        )
    try:
        result, said = deploy_with_deadline(request, LIMITS.deploy_seconds)
    except DeployTimeout as error:
        raise ServiceError(504, "deploy_timeout", str(error)) from None
    except DeployError as error:
        raise ServiceError(502, "deploy_failed", str(error)) from None
    finally:
        _DEPLOYS.release()
    return asdict(result) | {"pipeline_name": request.pipeline_name, "log": said}
