"""``kalec serve``: the service over HTTP (Flask, served by waitress), safe by default.

Endpoints (JSON in, JSON out): the seed's ``POST /kale``; ``/api/v1/check``, ``build``,
``graph``, ``runs`` (start), ``runs/ID`` (status), ``runs/ID/cancel``, ``deploy``;
``GET /api/v1/version`` and ``GET /healthz``.

Every request is checked before its body is read: its ``Host`` must be one of this server's
own names (a page that rebinds its domain to 127.0.0.1 still sends its own name), an
``Origin``, when sent, must be one of this server's (a page in the user's browser cannot post
here), and a token must come with it (``Authorization: token T`` or ``Bearer T``, or
``?token=T``), except for ``/healthz``. A body over the limit is refused (413) unread; a field
of the wrong type or an unknown one is 400 naming it; a notebook the compiler refuses is 422
with its diagnostics. Runs go in the server's own folder, at most a few at once (429 beyond).
"""

from __future__ import annotations

import hmac
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec import __version__, service
from kalec.background_runs import Runs
from kalec.service import ServiceError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 5000
    token: str | None = None  # None: no token asked (loopback only, said loudly at start)
    max_bytes: int = DEFAULT_MAX_BYTES
    max_runs: int = 2
    allowed_origins: tuple[str, ...] = ()  # besides the server's own
    allowed_hosts: tuple[str, ...] = ()  # besides the server's own names
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kalec-serve-")))

    def own_hosts(self) -> set[str]:
        names = {self.host, *LOOPBACK} if self.host in LOOPBACK else {self.host}
        hosts = set()
        for name in names | set(self.allowed_hosts):
            shown = f"[{name}]" if ":" in name else name
            hosts |= {f"{shown}:{self.port}".lower(), shown.lower()}
        return hosts

    def own_origins(self) -> set[str]:
        origins = {f"http://{h}" for h in self.own_hosts() if ":" in h.rsplit("]", 1)[-1]}
        return origins | {o.rstrip("/").lower() for o in self.allowed_origins}


def create_app(config: ServerConfig) -> Any:
    """The Flask application (the WSGI callable for waitress, or a test client)."""
    from flask import Flask, jsonify, request
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

    app = Flask("kalec")
    app.config["MAX_CONTENT_LENGTH"] = config.max_bytes
    runs = Runs(config.folder / "runs", limit=config.max_runs)
    app.extensions["kalec_runs"] = runs
    hosts, origins = config.own_hosts(), config.own_origins()

    def refuse(status: int, code: str, message: str) -> Any:
        response = jsonify(ServiceError(status, code, message).body())
        response.status_code = status
        return response

    @app.before_request
    def guard() -> Any:
        if request.host.lower() not in hosts:
            return refuse(
                403,
                "host_refused",
                f"Host {request.host!r} is not one of this server's names (a server reached by "
                "another name is started with --allow-host NAME)",
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in origins:
            return refuse(
                403,
                "origin_refused",
                f"requests from pages of {origin!r} are not accepted (a web application that "
                "should call this server is allowed with --allow-origin URL)",
            )
        if request.path == "/healthz":
            return None
        if request.method == "OPTIONS" and origin is not None:
            # a page of an allowed origin (JupyterLab's, say) asks before sending its token
            return app.response_class(status=204)
        if config.token is not None:
            given = request.args.get("token", "")
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() in ("token", "bearer"):
                given = value.strip()
            if not given:
                return refuse(401, "no_token", "a token is required: Authorization: token T")
            if not hmac.compare_digest(given.encode(), config.token.encode()):
                return refuse(403, "bad_token", "the token is not this server's")
        if request.content_length is not None and request.content_length > config.max_bytes:
            return refuse(413, "too_large", f"the body is over {config.max_bytes} bytes")
        return None

    @app.after_request
    def cross_origin(response: Any) -> Any:
        """Pages of the origins allowed with --allow-origin may read the answers (CORS)."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Max-Age"] = "600"
            response.headers.add("Vary", "Origin")
        return response

    def body(endpoint: str) -> dict[str, Any]:
        try:
            data = request.get_json(silent=True, force=True)
        except RecursionError:  # JSON nested deeper than Python's stack
            data = None
        if data is None:
            raise ServiceError(400, "bad_request", "the body is not JSON")
        return service.request_fields(endpoint, data)

    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError) -> Any:
        response = jsonify(error.body())
        response.status_code = error.status
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_: Exception) -> Any:
        return refuse(413, "too_large", f"the body is over {config.max_bytes} bytes")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return refuse(
            error.code or 500, error.name.lower().replace(" ", "_"), error.description or ""
        )

    @app.errorhandler(Exception)
    def bug(error: Exception) -> Any:
        app.logger.exception("kalec: a bug while serving %s", request.path)
        return refuse(
            500, "internal", f"a bug in kalec: {type(error).__name__}; see the server's log"
        )

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"ok": True})

    @app.get("/api/v1/version")
    def version() -> Any:
        return jsonify({"kalec": __version__, "api": 1, "python": sys.version.split()[0]})

    @app.post("/api/v1/check")
    def check() -> Any:
        fields = body("check")
        return jsonify(service.check(fields["nb"], fields.get("name")))

    @app.post("/api/v1/build")
    def build() -> Any:
        fields = body("build")
        return jsonify(
            service.build(
                fields["nb"],
                target=fields.get("target", "kfp-py"),
                name=fields.get("name"),
                image=fields.get("image"),
                packages=fields.get("packages", ()),
            )
        )

    @app.post("/api/v1/graph")
    def graph() -> Any:
        fields = body("graph")
        return jsonify(service.graph(fields["nb"], fields.get("format", "svg"), fields.get("name")))

    @app.post("/api/v1/runs")
    def start_run() -> Any:
        fields = body("runs")
        started = runs.start(fields["nb"], fields.get("name"), params=fields.get("params"))
        return jsonify(started), 202

    @app.get("/api/v1/runs/<run_id>")
    def run_status(run_id: str) -> Any:
        return jsonify(runs.status(run_id))

    @app.post("/api/v1/runs/<run_id>/cancel")
    def cancel_run(run_id: str) -> Any:
        return jsonify(runs.cancel(run_id))

    @app.post("/api/v1/deploy")
    def deploy() -> Any:
        fields = body("deploy")
        nb = fields.pop("nb")
        if "host" not in fields:
            raise ServiceError(400, "bad_field", "host: the Kubeflow Pipelines URL is required")
        return jsonify(service.deploy(nb, **fields))

    @app.post("/kale")
    def kale() -> Any:
        """The seed's endpoint: compile to the kfp-py script (and YAML where kfp is installed),
        deploy to ``http://localhost:<kfp_port>`` when asked."""
        fields = body("kale")
        nb = service.with_settings(
            fields["nb"],
            name=fields.get("pipeline_name"),
            description=fields.get("pipeline_descr"),
            image=fields.get("docker_image"),
        )
        script = service.build(nb, target="kfp-py")
        answer: dict[str, Any] = {
            "pipeline_name": script["pipeline_name"],
            "script": script["text"],
            "file_name": script["file_name"],
            "diagnostics": script["diagnostics"],
            "yaml": None,
            "deployment": None,
        }
        try:
            answer["yaml"] = service.build(nb, target="yaml")["text"]
        except ServiceError as error:
            if error.status != 501:  # 501: kfp not installed here; the script is the answer
                raise
        if fields.get("deploy"):
            port = fields.get("kfp_port", 8080)
            if not 0 < port < 65536:
                raise ServiceError(400, "bad_field", "kfp_port: a port number")
            answer["deployment"] = service.deploy(nb, host=f"http://localhost:{port}")
        return jsonify(answer)

    return app


def serve(config: ServerConfig, out: Any = sys.stdout) -> None:
    """Serve until interrupted, with waitress (a production WSGI server)."""
    import waitress

    app = create_app(config)
    token = f"?token={config.token}" if config.token else ""
    shown = f"[{config.host}]" if ":" in config.host else config.host
    out.write(f"kalec {__version__} serving on http://{shown}:{config.port}/{token}\n")
    if config.token is None:
        out.write(
            "kalec: WARNING: no token: any program on this machine can compile and RUN "
            "notebooks through this server\n"
        )
    out.write(f"kalec: runs go in {config.folder / 'runs'}; Ctrl-C stops the server\n")
    out.flush()
    try:
        waitress.serve(
            app,
            host=config.host,
            port=config.port,
            threads=8,
            ident="kalec",
            # waitress holds a body (on disk past 512 KB) before the application sees it; far
            # past the limit it refuses unread, as plain text; up to that, kalec answers 413
            # in JSON without parsing the body
            max_request_body_size=config.max_bytes * 10,
        )
    finally:
        app.extensions["kalec_runs"].close()


def new_token() -> str:
    return secrets.token_hex(24)
