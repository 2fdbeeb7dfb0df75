"""kalec as plain functions over a notebook given as JSON: what a server or an extension calls.

Each function takes the server's ``ServiceContext`` and one request record (``requests``: read
and checked once, at the door) and returns JSON-ready data whose shape ``answers`` declares; a
request kalec cannot serve raises ``ServiceError``, which carries the HTTP status an adapter
answers with and a JSON body (``{"error": {"code", "message", "cell", "line"}}``, plus the
compiler's diagnostics when it refused the notebook). Nothing here imports a web framework, and
nothing here runs the notebook's code: checking, building and drawing only read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kalec.errors import KalecError
from kalec.ir import Pipeline
from kalec.serve.answers import (
    BuildAnswer,
    CheckAnswer,
    DeployAnswer,
    ExperimentsAnswer,
    GraphAnswer,
    KfpRunStatus,
)
from kalec.serve.context import ServiceContext
from kalec.serve.requests import (
    BuildRequest,
    CheckRequest,
    DeployRequest,
    ExperimentsRequest,
    GraphRequest,
    KfpRunRequest,
    Notebook,
    NotebookRequest,
    ServiceError,
    bad_field,
    notebook_text,
)


def _compile_now(context: ServiceContext, source: Path, text: str) -> Pipeline:
    from kalec.compiler import compile_notebook
    from kalec.frontend.compose import ReferenceOutside

    try:
        root = context.notebooks_root
        inside = root is not None and source.resolve().is_relative_to(root)
        return compile_notebook(source, text, confine=root if inside else source.parent)
    except ReferenceOutside as error:
        raise bad_field("nb", str(error)) from None


def _stamps(pipeline: Pipeline) -> tuple:
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


def _compile(context: ServiceContext, source: Path, text: str) -> Pipeline:
    """Compiling reads nothing but the text (its path only names it) and, in a composition,
    the notebooks it references (inside the notebook's folder only): the same notebook posted
    again, as an editor's panel re-checks it on every save, is answered from memory while the
    notebooks it references are unchanged. Pipelines are immutable, so threads share them."""
    key = (source, text)
    kept = context.pipelines.get(key)
    if kept is not None:
        pipeline, stamps = kept
        if not stamps or stamps == _stamps(pipeline):
            return pipeline
    pipeline = _compile_now(context, source, text)
    # the text is the key, and the pipeline holds its cells again: about 8 bytes a character
    context.pipelines.put(key, (pipeline, _stamps(pipeline)), 8 * len(text) + 10_000)
    return pipeline


def emitted(context: ServiceContext, target: str, pipeline: Pipeline, options: Any) -> str:
    """The pipeline's text for ``target``; kfp's compiles go to the server's compiler (worker
    processes), never two at once in this process."""
    from kalec.serve.kfp_compiles import CompileFailed
    from kalec.targets import kfp_py, load

    if target != "yaml":
        return load(target).emit(pipeline, options)
    load(target)  # says what is missing when kfp is not installed
    try:
        return context.compiler.compile(kfp_py.emit(pipeline, options), options.script_name)
    except CompileFailed as error:
        raise ServiceError(error.status, error.code, str(error)) from None


def _emit(
    context: ServiceContext, source: Path, text: str, pipeline: Pipeline, target: str, options: Any
) -> str:
    """A build of a notebook that has no folder, remembered: the same notebook posted again
    (an editor's build button, Kale's ``POST /kale``) is answered without emitting again."""
    key = (source, text, target, options)
    kept = context.builds.get(key)
    if kept is None:
        kept = emitted(context, target, pipeline, options)
        context.builds.put(key, kept, len(text) + len(kept))
    return kept


def _read(context: ServiceContext, request: NotebookRequest) -> tuple[Pipeline, str]:
    """The compiled pipeline and the notebook's text; 400 for what is not a notebook."""
    from kalec.frontend.notebook_file import NotebookError
    from kalec.report import not_a_notebook

    source = request.source
    text = notebook_text(request.nb)
    try:
        return _compile(context, source, text), text
    except NotebookError as error:
        raise ServiceError(
            400,
            "not_a_notebook",
            f"nb: {error}",
            diagnostics=not_a_notebook(source.name, error)["diagnostics"],
        ) from None


def compiled(context: ServiceContext, request: NotebookRequest) -> Pipeline:
    """The compiled pipeline; ``ServiceError`` 400 for what is not a notebook, 422 with the
    diagnostics for a notebook the compiler refuses."""
    from kalec.ir import Severity
    from kalec.ir.places import diagnostic_data

    pipeline, _ = _read(context, request)
    if pipeline.has_errors:
        errors = [d for d in pipeline.diagnostics if d.severity is Severity.ERROR]
        first = diagnostic_data(pipeline, errors[0])
        raise ServiceError(
            422,
            "refused",
            f"{len(errors)} error{'s' * (len(errors) != 1)} in the notebook; the first: "
            f"{errors[0].message}",
            diagnostics=[diagnostic_data(pipeline, d) for d in pipeline.diagnostics],
            cell=first["cell"],
            notebook=first["notebook"],
            line=first["line"],
        )
    return pipeline


def with_settings(
    nb: Notebook, name: str | None = None, description: str | None = None, image: str | None = None
) -> Notebook:
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
        raise bad_field("nb", "a notebook is a JSON object")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    own = metadata.get("kalec") if isinstance(metadata.get("kalec"), dict) else {}
    return data | {"metadata": metadata | {"kalec": own | given}}


def typed_params(pipeline: Pipeline, params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameter values a request gives, each read as its parameter's type, as ``kalec run -y``
    reads them; 400 naming the parameter for an unknown one or a value of the wrong type."""
    from kalec.params import ParamError, values_of

    try:
        return values_of(pipeline.params, params or {})
    except ParamError as error:
        raise bad_field("params", str(error).removeprefix("-y: ")) from None


def check(context: ServiceContext, request: CheckRequest) -> CheckAnswer:
    """Steps (cells, dependencies, inputs with their producers, outputs), parameters, metrics
    and diagnostics. A notebook with errors is an answer here (``ok`` false), not a refusal."""
    from kalec.report import check_data

    pipeline, _ = _read(context, request)
    return check_data(pipeline) | {"notebook": request.source.name}


def build(context: ServiceContext, request: BuildRequest) -> BuildAnswer:
    """The pipeline for the request's target: its text and the file name ``kalec build``
    would give it."""
    from kalec import cluster_names
    from kalec.ir import Severity
    from kalec.ir.places import diagnostic_data
    from kalec.targets import TARGETS, BackendError, TargetUnavailable
    from kalec.targets.options import options_for

    pipeline = compiled(context, request)
    source, target = request.source, request.target
    options = options_for(target, source.name, image=request.image, packages=request.packages)
    try:
        if request.folder is None:  # nothing beside it to ship: the text alone decides
            text = _emit(context, source, notebook_text(request.nb), pipeline, target, options)
        else:
            text = emitted(context, target, pipeline, options)
    except TargetUnavailable as error:
        raise ServiceError(501, "unavailable", str(error)) from None
    except BackendError as error:
        raise ServiceError(422, "refused", str(error)) from None
    return {
        "target": target,
        "pipeline_name": cluster_names.pipeline_name(pipeline.settings.name),
        "file_name": source.name.removesuffix(".ipynb") + TARGETS[target].suffix,
        "text": text,
        "steps": len(pipeline.steps),
        "diagnostics": [
            diagnostic_data(pipeline, d)
            for d in pipeline.diagnostics
            if d.severity is not Severity.NOTE
        ],
    }


def graph(context: ServiceContext, request: GraphRequest) -> GraphAnswer:
    """The step graph drawn (``text``), and as data: boxes in rows, arrows with what travels."""
    from kalec.graph import RENDERERS, layout

    pipeline = compiled(context, request)
    boxes, arrows = layout(pipeline)
    return {
        "format": request.format,
        "text": RENDERERS[request.format](pipeline),
        "steps": [{"name": b.name, "cells": list(b.cells), "row": b.row} for b in boxes],
        "edges": [{"from": a.source, "to": a.target, "variables": list(a.travels)} for a in arrows],
    }


def _check_host(context: ServiceContext, host: str) -> None:
    """A Kubeflow Pipelines URL this server may contact: 400 otherwise."""
    from kalec.deploy import host_problem

    refused = host_problem(host, context.limits.allow_link_local)
    if refused:
        raise ServiceError(
            400,
            "host_refused",
            f"host: {refused}: this server does not deploy there (start it with "
            "--allow-link-local to allow it)",
        )


def _need_kfp(doing: str) -> None:
    from kalec.targets import KFP_INSTALL_HINT, missing_requirements

    if missing_requirements(("kfp",)):
        raise ServiceError(501, "unavailable", f"{doing} needs kfp: {KFP_INSTALL_HINT}")


EXPERIMENTS_SECONDS = 15.0  # for a question to Kubeflow Pipelines the panel waits on


def _asked_kfp(host: str, question: Any, *args: Any) -> Any:
    """``question(*args)`` (calls to Kubeflow Pipelines at ``host``) in a thread of its own,
    given ``EXPERIMENTS_SECONDS``: 504 in words when it does not answer in time, 502 when it
    refuses the server's credentials or cannot be reached."""
    import concurrent.futures

    from kalec.deploy import AuthRefused, DeployError, DeployTimeout

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(question, *args).result(timeout=EXPERIMENTS_SECONDS)
    except (concurrent.futures.TimeoutError, DeployTimeout):
        raise ServiceError(
            504, "timeout", f"Kubeflow Pipelines at {host} did not answer in time"
        ) from None
    except AuthRefused as error:
        raise ServiceError(502, "kfp_auth", str(error)) from None
    except DeployError as error:
        raise ServiceError(502, "unreachable", str(error)) from None
    finally:
        pool.shutdown(wait=False)


def experiments(context: ServiceContext, request: ExperimentsRequest) -> ExperimentsAnswer:
    """The experiments on a Kubeflow Pipelines server, for the deploy form's list; 502 in words
    when it cannot be asked, 504 when it does not answer in time."""
    host = request.host
    _check_host(context, host)
    _need_kfp("listing experiments")
    from kalec.deploy import AuthSettings, list_experiments

    names = _asked_kfp(host, list_experiments, host, request.namespace, AuthSettings(request.auth))
    return {"host": host, "experiments": names}


def kfp_run(context: ServiceContext, request: KfpRunRequest) -> KfpRunStatus:
    """A run on Kubeflow Pipelines, its state and each step's, for the panel to follow a run
    it started; 502 in words when the server cannot be asked, 504 when it does not answer."""
    _check_host(context, request.host)
    _need_kfp("following a run")
    from kalec.deploy import AuthSettings
    from kalec.deploy.follow import ENDED, status_of_run
    from kalec.deploy.upload import asking, run_link

    asked = asking(request.host, request.namespace, AuthSettings(request.auth))
    state, tasks = _asked_kfp(request.host, status_of_run, asked, request.run_id)
    return {
        "host": request.host,
        "run_id": request.run_id,
        "state": state,
        "ended": state in ENDED,
        "link": run_link(request.host, request.run_id),
        "steps": [{"name": t.name, "state": t.state, "seconds": t.seconds} for t in tasks],
    }


def deploy(context: ServiceContext, request: DeployRequest) -> DeployAnswer:
    """Upload the pipeline to Kubeflow Pipelines at the request's host (a new version when the
    name exists), and start a run when asked: the ids, and what was said along the way."""
    from dataclasses import asdict

    from kalec.targets.options import options_for

    _check_host(context, request.host)
    _need_kfp("deploying")
    from kalec.deploy import AuthRefused, AuthSettings, DeployError, DeployTimeout, request_for
    from kalec.serve.worker import deploy_with_deadline

    pipeline = compiled(context, request)
    values = typed_params(pipeline, request.params)
    try:
        upload = request_for(
            pipeline,
            host=request.host,
            options=options_for("yaml", request.source.name, image=request.image),
            name=request.pipeline_name,
            description=request.description,
            experiment=request.experiment,
            run=request.run,
            params=values,
            namespace=request.namespace,
            auth=AuthSettings(request.auth),
            emit_yaml=lambda options: emitted(context, "yaml", pipeline, options),
        )
    except ServiceError:
        raise
    except KalecError as error:
        raise ServiceError(422, "refused", str(error)) from None
    limits = context.limits
    if not context.deploys.acquire(blocking=False):
        raise ServiceError(
            503, "busy", f"{limits.max_deploys} deploys are going on, the most this server allows"
        )
    try:
        result, said = deploy_with_deadline(upload, limits.deploy_seconds)
    except DeployTimeout as error:
        raise ServiceError(504, "deploy_timeout", str(error)) from None
    except AuthRefused as error:  # not 401: that would read as this server refusing its client
        raise ServiceError(502, "kfp_auth", str(error)) from None
    except DeployError as error:
        raise ServiceError(502, "deploy_failed", str(error)) from None
    finally:
        context.deploys.release()
    return asdict(result) | {"pipeline_name": upload.pipeline_name, "log": said}
