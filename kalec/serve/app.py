"""``kalec serve``: the service over HTTP (Flask, served by waitress), safe by default.

Endpoints (JSON in, JSON out): the table of ``kalec.serve.endpoints`` under ``/api/v1/``, Kale's
``POST /kale``, and ``GET /healthz``.

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
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalec import __version__
from kalec.serve import heap
from kalec.serve.context import Limits, ServiceContext
from kalec.serve.endpoints import ENDPOINTS, Call, Endpoint
from kalec.serve.requests import ServiceError, read_request

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass
class ServerConfig:
    """How ``kalec serve`` listens, whom it lets in, and what it bounds."""

    host: str = "127.0.0.1"
    port: int = 5000
    token: str | None = None  # None: no token asked (loopback only, said loudly at start)
    show_token: bool = True  # print it at start (a token the user chose is not repeated)
    max_bytes: int = DEFAULT_MAX_BYTES
    allowed_origins: tuple[str, ...] = ()  # besides the server's own
    allowed_hosts: tuple[str, ...] = ()  # besides the server's own names
    folder: Path | None = None  # where runs go; None: a new temporary folder
    kfp_workers: int = 1  # processes compiling with kfp; 0: in the server, one at a time
    limits: Limits = field(default_factory=Limits)  # runs, deploys and searches at once
    threads: int = 16  # waitress's: a few deploys and kfp compiles waiting never hold them all

    def __post_init__(self) -> None:
        self.folder = (
            Path(tempfile.mkdtemp(prefix="kalec-serve-"))
            if self.folder is None
            else Path(os.path.abspath(self.folder))  # a relative --folder, as given at start
        )

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
    """The Flask application (the WSGI callable for waitress, or a test client); its
    ``ServiceContext`` is ``app.extensions["kalec"]``, which ``serve`` starts and closes."""
    from flask import Flask, jsonify, request
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

    app = Flask("kalec")
    app.config["MAX_CONTENT_LENGTH"] = config.max_bytes
    assert config.folder is not None
    context = ServiceContext.in_folder(config.folder, config.limits, config.kfp_workers)
    app.extensions["kalec"] = context
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

    @app.teardown_request
    def give_back(_: BaseException | None) -> None:
        heap.after(request.content_length)

    @app.after_request
    def cross_origin(response: Any) -> Any:
        """Pages of the origins allowed with --allow-origin may read the answers (CORS); no
        browser reads an answer as anything but what it says it is."""
        response.headers["X-Content-Type-Options"] = "nosniff"
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Max-Age"] = "600"
            response.headers.add("Vary", "Origin")
        return response

    def read(endpoint: Endpoint) -> Any:
        """The request's record (its endpoint's type), read from the body."""
        if not endpoint.body:
            return endpoint.request()
        try:
            data = request.get_json(silent=True, force=True)
        except RecursionError:  # JSON nested deeper than Python's stack
            data = None
        if data is None:
            raise ServiceError(400, "bad_request", "the body is not JSON")
        return read_request(endpoint.request, data)

    def view_of(endpoint: Endpoint) -> Any:
        def view(run_id: str | None = None) -> Any:
            result = endpoint.handle(Call(context, read(endpoint), run_id))
            return jsonify(result), endpoint.status

        return view

    for endpoint in ENDPOINTS:
        route = endpoint.route.replace("ID", "<run_id>")
        path = f"/{route}" if endpoint.root else f"/api/v1/{route}"
        app.add_url_rule(path, endpoint.name, view_of(endpoint), methods=[endpoint.method])

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

    return app


def serve(config: ServerConfig, out: Any = sys.stdout) -> None:
    """Serve until interrupted (Ctrl-C, or SIGTERM as a service manager stops it), with
    waitress (a production WSGI server); then end every run still going, recording it."""
    import signal

    import waitress

    app = create_app(config)
    assert config.folder is not None
    context: ServiceContext = app.extensions["kalec"]
    context.start()

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    token = f"?token={config.token}" if config.token and config.show_token else ""
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
            threads=config.threads,
            ident="kalec",
            # waitress holds a body (on disk past 512 KB) before the application sees it; far
            # past the limit it refuses unread, as plain text; up to that, kalec answers 413
            # in JSON without parsing the body
            max_request_body_size=config.max_bytes * 10,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        context.close()


def new_token() -> str:
    return secrets.token_hex(24)
