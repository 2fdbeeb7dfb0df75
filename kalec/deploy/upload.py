"""Uploading the compiled pipeline to Kubeflow Pipelines, and starting a run of it.

Through kfp's own client (``kfp.Client``): the pipeline is uploaded under its name, or, when a
pipeline of that name exists, as a new version of it; with ``run``, a run of that version starts
in the experiment (created when missing) with the given parameters. The credentials are found
here, in the process that makes the calls (``auth``); the first call checks them (``calls``),
and every call has its own time limits.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kalec.deploy.auth import AuthSettings, Credentials, resolve
from kalec.deploy.calls import CallLimits, check_access, said_in_words, time_limited
from kalec.deploy.errors import DeployError
from kalec.targets.options import KfpOptions


@dataclass
class DeployRequest:
    """What one upload to Kubeflow Pipelines needs: where, under which names, and the YAML."""

    host: str
    pipeline_name: str
    description: str
    yaml_text: str
    experiment: str
    run: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    namespace: str | None = None
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: CallLimits = field(default_factory=CallLimits)

    def __post_init__(self) -> None:  # as it arrives in a worker, from ``asdict``
        if isinstance(self.auth, dict):
            self.auth = AuthSettings(**self.auth)
        if isinstance(self.limits, dict):
            self.limits = CallLimits(**self.limits)


@dataclass
class DeployResult:
    """The ids Kubeflow Pipelines gave the pipeline, its version, and the run if one was started."""

    pipeline_id: str
    version_id: str | None
    new_pipeline: bool
    experiment_id: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    namespace: str | None = None  # where the run's steps run


def describe(request: DeployRequest) -> str:
    """What ``deploy`` does with this request, in words (``--dry-run`` prints it)."""
    lines = [
        f"would upload pipeline '{request.pipeline_name}' to {request.host} "
        "(a new version if a pipeline of that name exists)",
    ]
    if request.run:
        params = ", ".join(f"{k}={v!r}" for k, v in request.params.items()) or "the defaults"
        lines.append(f"would start a run in experiment '{request.experiment}' with {params}")
    return "\n".join(lines)


def request_for(
    pipeline: Any,
    host: str,
    options: KfpOptions,
    name: str | None = None,
    description: str | None = None,
    experiment: str | None = None,
    run: bool = False,
    params: dict[str, Any] | None = None,
    namespace: str | None = None,
    auth: AuthSettings | None = None,
    limits: CallLimits | None = None,
    emit_yaml: Callable[[Any], str] | None = None,
) -> DeployRequest:
    """What to upload and run: the pipeline compiled to KFP's YAML with ``options`` (as
    ``options_for`` reads them), named and described as the user chose, else as the notebook's
    settings say. The one way the CLI and the service build a request (``emit_yaml``: how to
    compile with kfp, a server's worker process; by default here). Raises ``KalecError`` when
    the pipeline cannot be compiled for KFP."""
    from kalec.cluster_names import pipeline_name
    from kalec.targets import kfp_yaml
    from kalec.targets.kfp_py import description as kfp_description

    settings = pipeline.settings
    return DeployRequest(
        host=host,
        pipeline_name=pipeline_name(name or settings.name),
        yaml_text=(emit_yaml or (lambda o: kfp_yaml.emit(pipeline, o)))(options),
        description=description or kfp_description(pipeline),
        experiment=experiment or settings.experiment or "Default",
        run=run,
        params=params or {},
        namespace=namespace,
        auth=auth or AuthSettings(),
        limits=limits or CallLimits(),
    )


IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def connect(
    request: DeployRequest, said: TextIO | None = None
) -> tuple[Any, Credentials, str | None]:
    """kfp's client for the request's server, its credentials checked first; and the user's
    namespace (given, or the notebook server's own on a multi-user install; None on a
    single-user one). Call inside ``time_limited``. ``said``: where to say how kalec
    authenticates (never with what)."""
    import kfp

    credentials = resolve(request.auth)
    if said is not None:
        said.write(f"kalec: authenticating to {request.host} with {credentials.said()}\n")
    access = check_access(request.host, credentials, request.limits)
    namespace = request.namespace
    if namespace is None and access.multi_user:
        with contextlib.suppress(OSError):
            namespace = Path(IN_CLUSTER_NAMESPACE).read_text(encoding="utf-8").strip() or None
        if namespace is None:
            raise DeployError(
                f"Kubeflow Pipelines at {request.host} is multi-user: give --namespace "
                "(the namespace of your Kubeflow profile)"
            )
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # kfp warns about its server version on every client
        client = kfp.Client(
            host=request.host,
            namespace=namespace or "kubeflow",
            **credentials.client_arguments(),
        )
    return client, credentials, namespace


def deploy(request: DeployRequest, out: TextIO, said: TextIO | None = None) -> DeployResult:
    """Upload (and run) the pipeline; raise ``DeployError`` with the server's answer on failure."""
    with time_limited(request.limits), said_in_words(request.host, request.limits):
        return _deploy(request, out, said)


def _deploy(request: DeployRequest, out: TextIO, said: TextIO | None) -> DeployResult:
    client, _, namespace = connect(request, said)
    quiet = contextlib.redirect_stdout(io.StringIO())  # kfp prints links; we say it ourselves
    with tempfile.TemporaryDirectory(prefix="kalec-deploy-") as folder:
        package = Path(folder) / f"{request.pipeline_name}.yaml"
        package.write_text(request.yaml_text, encoding="utf-8")
        with quiet:
            pipeline_id = client.get_pipeline_id(request.pipeline_name)
        if pipeline_id is None:
            with quiet:
                pipeline = client.upload_pipeline(
                    str(package),
                    pipeline_name=request.pipeline_name,
                    description=request.description,
                )
            pipeline_id, version_id, new = pipeline.pipeline_id, None, True
            out.write(f"uploaded pipeline '{request.pipeline_name}' (id {pipeline_id})\n")
            if request.run:  # a run names a version: the one the upload made
                with quiet:
                    listed = client.list_pipeline_versions(
                        pipeline_id, page_size=1, sort_by="created_at desc"
                    )
                versions = listed.pipeline_versions or []
                if not versions:
                    raise DeployError(
                        f"the server at {request.host} lists no version of the pipeline "
                        "it just stored; start the run from its UI"
                    )
                version_id = versions[0].pipeline_version_id
        else:
            version_name = f"{request.pipeline_name}-{time.strftime('%Y%m%d-%H%M%S')}"
            with quiet:
                version = client.upload_pipeline_version(
                    str(package),
                    pipeline_version_name=version_name,
                    pipeline_id=pipeline_id,
                    description=request.description,
                )
            version_id, new = version.pipeline_version_id, False
            out.write(
                f"uploaded version '{version_name}' of pipeline "
                f"'{request.pipeline_name}' (id {pipeline_id})\n"
            )
    result = DeployResult(pipeline_id, version_id, new, namespace=namespace or "kubeflow")
    if request.run:
        with quiet:
            experiment = client.create_experiment(request.experiment, namespace=namespace)
            run = client.run_pipeline(
                experiment_id=experiment.experiment_id,
                job_name=f"{request.pipeline_name} {time.strftime('%Y-%m-%d %H:%M:%S')}",
                params=request.params,
                pipeline_id=pipeline_id,
                version_id=version_id,
            )
        result.experiment_id, result.run_id = experiment.experiment_id, run.run_id
        result.run_link = run_link(request.host, run.run_id)
        out.write(
            f"started run {run.run_id} in experiment '{request.experiment}': {result.run_link}\n"
        )
    return result


def asking(
    host: str, namespace: str | None = None, auth: AuthSettings | None = None
) -> DeployRequest:
    """A request that only asks the server (its experiments, a run's state), uploading
    nothing: where, in which namespace, signed in how."""
    return DeployRequest(
        host=host, pipeline_name="", yaml_text="", description="", experiment="",
        namespace=namespace, auth=auth or AuthSettings(),
    )  # fmt: skip


def run_link(host: str, run_id: str) -> str:
    """The run's page in the pipeline UI beside the API at ``host``."""
    return f"{host.rstrip('/')}/#/runs/details/{run_id}"


def list_experiments(
    host: str, namespace: str | None = None, auth: AuthSettings | None = None
) -> list[str]:
    """The names of the experiments on the server, newest first, for a form to offer; raises
    ``DeployError`` in words when the server cannot be asked."""
    request = asking(host, namespace, auth)
    with time_limited(request.limits), said_in_words(host, request.limits):
        client, _, namespace = connect(request)
        with contextlib.redirect_stdout(io.StringIO()):
            listed = client.list_experiments(
                page_size=100, sort_by="created_at desc", namespace=namespace
            )
    return [e.display_name for e in listed.experiments or [] if e.display_name]
