"""``kalec deploy``: upload the compiled pipeline to Kubeflow Pipelines, optionally start a run.

Through kfp's own client (``kfp.Client``): the pipeline is uploaded under its name, or, when a
pipeline of that name exists, as a new version of it; with ``--run``, a run of that version starts
in the experiment (created when missing) with the given parameters. ``--dry-run`` compiles and
says what it would do, without contacting the server.
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

from kalec.errors import KalecError


class DeployError(KalecError):
    """The server could not be reached or refused a request; the message says which."""


class DeployTimeout(DeployError):
    """The server did not answer within the time limit."""


# Names and addresses of cloud instance metadata services, which hand out credentials: a
# server that deploys for its clients must not be made to call them (nor any link-local address).
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "instance-data"})
METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})


def host_problem(
    url: str, allow_link_local: bool = False, resolve_seconds: float = 3.0
) -> str | None:
    """Why a server should not deploy to ``url`` for a client: a cloud metadata service or a
    link-local address (by name, or by what the name resolves to); None when it may."""
    import ipaddress
    import socket
    import threading
    from urllib.parse import urlsplit

    if allow_link_local:
        return None
    try:
        name = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return "not a URL"
    if not name:
        return "no host name"
    if name in METADATA_NAMES:
        return f"{name} is a cloud metadata service"
    addresses: list[str] = []
    try:
        addresses = [str(ipaddress.ip_address(name))]
    except ValueError:
        found: list[Any] = []

        def look_up() -> None:
            with contextlib.suppress(OSError, UnicodeError):
                found.extend(socket.getaddrinfo(name, None))

        thread = threading.Thread(target=look_up, daemon=True)
        thread.start()
        thread.join(resolve_seconds)  # a name that does not resolve in time is tried as is
        addresses = [info[4][0].split("%")[0] for info in found]
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if address in METADATA_ADDRESSES or str(ip) in METADATA_ADDRESSES:
            return f"{name} is a cloud metadata service ({ip})"
        if ip.is_link_local:
            return f"{name} is a link-local address ({ip})"
    return None


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
    token: str | None = None


@dataclass
class DeployResult:
    """The ids Kubeflow Pipelines gave the pipeline, its version, and the run if one was started."""

    pipeline_id: str
    version_id: str | None
    new_pipeline: bool
    experiment_id: str | None = None
    run_id: str | None = None


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
    script_name: str,
    name: str | None = None,
    description: str | None = None,
    experiment: str | None = None,
    image: str | None = None,
    packages: tuple[str, ...] = (),
    run: bool = False,
    params: dict[str, Any] | None = None,
    namespace: str | None = None,
    token: str | None = None,
    emit_yaml: Callable[[Any], str] | None = None,
    index_urls: tuple[str, ...] = (),
) -> DeployRequest:
    """What to upload and run: the pipeline compiled to KFP's YAML, named and described as the
    user chose, else as the notebook's settings say. The one way the CLI and the service build a
    request (``emit_yaml``: how to compile with kfp, a server's worker process; by default here).
    Raises ``KalecError`` when the pipeline cannot be compiled for KFP."""
    from kalec.cluster_names import pipeline_name
    from kalec.targets import kfp_yaml
    from kalec.targets.kfp_py import description as kfp_description
    from kalec.targets.options import KfpOptions

    settings = pipeline.settings
    options = KfpOptions(
        image=image, packages=packages, script_name=script_name, index_urls=index_urls
    )
    return DeployRequest(
        host=host,
        pipeline_name=pipeline_name(name or settings.name),
        yaml_text=(emit_yaml or (lambda o: kfp_yaml.emit(pipeline, o)))(options),
        description=description or kfp_description(pipeline),
        experiment=experiment or settings.experiment or "Default",
        run=run,
        params=params or {},
        namespace=namespace,
        token=token,
    )


def _client(request: DeployRequest) -> Any:
    import kfp

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # kfp warns about its server version on every client
        return kfp.Client(
            host=request.host,
            namespace=request.namespace or "kubeflow",
            existing_token=request.token,
        )


def deploy(request: DeployRequest, out: TextIO) -> DeployResult:
    """Upload (and run) the pipeline; raise ``DeployError`` with the server's answer on failure."""
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        client = _client(request)
        with tempfile.TemporaryDirectory(prefix="kalec-deploy-") as folder:
            package = Path(folder) / f"{request.pipeline_name}.yaml"
            package.write_text(request.yaml_text, encoding="utf-8")
            quiet = contextlib.redirect_stdout(
                io.StringIO()
            )  # kfp prints links; we say it ourselves
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
        result = DeployResult(pipeline_id, version_id, new)
        if request.run:
            with quiet:
                experiment = client.create_experiment(
                    request.experiment, namespace=request.namespace
                )
                run = client.run_pipeline(
                    experiment_id=experiment.experiment_id,
                    job_name=f"{request.pipeline_name} {time.strftime('%Y-%m-%d %H:%M:%S')}",
                    params=request.params,
                    pipeline_id=pipeline_id,
                    version_id=version_id,
                )
            result.experiment_id, result.run_id = experiment.experiment_id, run.run_id
            out.write(
                f"started run {run.run_id} in experiment '{request.experiment}': "
                f"{request.host.rstrip('/')}/#/runs/details/{run.run_id}\n"
            )
        return result
    except ApiException as error:
        raise DeployError(
            f"the Kubeflow Pipelines server at {request.host} answered "
            f"{error.status} {error.reason}: {str(error.body or '').strip()[:300]}"
        ) from None
    except (HTTPError, OSError) as error:
        raise DeployError(
            f"cannot reach Kubeflow Pipelines at {request.host}: {_in_words(error)}"
        ) from None


def list_experiments(
    host: str, namespace: str | None = None, token: str | None = None
) -> list[str]:
    """The names of the experiments on the server, newest first, for a form to offer; raises
    ``DeployError`` in words when the server cannot be asked."""
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    request = DeployRequest(
        host=host, pipeline_name="", yaml_text="", description="", experiment="",
        namespace=namespace, token=token,
    )  # fmt: skip
    try:
        client = _client(request)
        with contextlib.redirect_stdout(io.StringIO()):
            listed = client.list_experiments(
                page_size=100, sort_by="created_at desc", namespace=namespace
            )
    except ApiException as error:
        raise DeployError(
            f"the Kubeflow Pipelines server at {host} answered {error.status} {error.reason}"
        ) from None
    except (HTTPError, OSError) as error:
        raise DeployError(
            f"cannot reach Kubeflow Pipelines at {host}: {_in_words(error)}"
        ) from None
    return [e.display_name for e in listed.experiments or [] if e.display_name]


def _in_words(error: BaseException) -> str:
    """A connection failure as a person says it, from the chain urllib3 wraps it in."""
    import socket
    import ssl

    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or current in seen:
            continue
        seen.append(current)
        pending += [getattr(current, "reason", None), current.__cause__, current.__context__]
    for found in seen:
        if isinstance(found, ConnectionRefusedError):
            return "the connection was refused (is the server running, on that port?)"
        if isinstance(found, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(found, ssl.SSLError):
            return f"the TLS handshake failed ({found.reason or found}); http:// instead?"
        if isinstance(found, TimeoutError) or "timed out" in str(found).lower():
            return "it did not answer in time"
    return str(error).strip()[:300]
