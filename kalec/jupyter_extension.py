"""The Jupyter Server extension: kalec's ``/api/v1`` under ``/kalec/api/v1/`` inside Jupyter.

Requests go through Jupyter's own authentication (its token or login) and, for a browser, its
XSRF check: the handlers are Jupyter's ``APIHandler``s, marked ``authenticated``. A request may
give the notebook as JSON (``nb``) or as ``path``: a path relative to Jupyter's root folder,
which may not lead out of it; the notebook is then read from that file and its folder is where
its local modules are found and where its steps run. Compiling and status work in a thread, so
Jupyter stays responsive. Runs go in Jupyter's runtime folder, at most two at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from kalec import __version__, service
from kalec.background_runs import Runs
from kalec.service import ServiceError


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "kalec.jupyter_extension"}]


class _Handler(APIHandler):
    root: Path
    runs: Runs

    def initialize(self, root: Path, runs: Runs) -> None:
        self.root, self.runs = root, runs

    def fail(self, error: ServiceError) -> None:
        self.set_status(error.status)
        self.finish(json.dumps(error.body()))

    def fields(self, endpoint: str) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError):
            raise ServiceError(400, "bad_request", "the body is not JSON") from None
        fields = service.request_fields(endpoint, body, placed=True)
        if "path" in fields:  # a notebook of Jupyter's root folder, read from its file
            path = self.resolve(fields.pop("path"))
            try:
                fields.setdefault("nb", path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                raise ServiceError(400, "bad_field", f"path: cannot read it: {error}") from None
            fields["name"], fields["folder"] = path.name, path.parent
        return fields

    def resolve(self, relative: str) -> Path:
        """``relative`` under Jupyter's root folder; 400 for a path that leaves it."""
        if "\0" in relative or os.path.isabs(relative):
            raise ServiceError(400, "bad_field", "path: relative to Jupyter's root folder")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise ServiceError(400, "bad_field", "path: it leads out of Jupyter's root folder")
        if not path.is_file():
            raise ServiceError(404, "no_such_notebook", f"path: no notebook at {relative}")
        return path

    async def answer(self, work: Any, status: int = 200) -> None:
        try:
            result = await tornado.ioloop.IOLoop.current().run_in_executor(None, work)
        except ServiceError as error:
            self.fail(error)
            return
        self.set_status(status)
        self.finish(json.dumps(result))

    async def serve(self, endpoint: str, call: Any, status: int = 200) -> None:
        try:
            fields = self.fields(endpoint)
        except ServiceError as error:
            self.fail(error)
            return
        await self.answer(lambda: call(fields), status)


class Version(_Handler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.finish(json.dumps({"kalec": __version__, "api": 1}))


class Check(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        await self.serve("check", lambda f: service.check(f["nb"], f.get("name"), f.get("folder")))


class Build(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        await self.serve(
            "build",
            lambda f: service.build(
                f["nb"],
                target=f.get("target", "kfp-py"),
                name=f.get("name"),
                folder=f.get("folder"),
                image=f.get("image"),
                packages=f.get("packages", ()),
            ),
        )


class Graph(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        await self.serve(
            "graph",
            lambda f: service.graph(
                f["nb"], f.get("format", "svg"), f.get("name"), f.get("folder")
            ),
        )


class StartRun(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        await self.serve(
            "runs",
            lambda f: self.runs.start(f["nb"], f.get("name"), f.get("folder"), f.get("params")),
            status=202,
        )


class RunStatus(_Handler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.answer(lambda: self.runs.status(run_id))


class CancelRun(_Handler):
    @tornado.web.authenticated
    async def post(self, run_id: str) -> None:
        await self.answer(lambda: self.runs.cancel(run_id))


class Deploy(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        def deploy(fields: dict[str, Any]) -> dict[str, Any]:
            if "host" not in fields:
                raise ServiceError(400, "bad_field", "host: the Kubeflow Pipelines URL is required")
            nb = fields.pop("nb")
            return service.deploy(nb, **fields)

        await self.serve("deploy", deploy)


def _load_jupyter_server_extension(server_app: Any) -> None:
    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], "kalec", "api", "v1")
    root = Path(os.path.expanduser(server_app.root_dir)).resolve()
    runs = Runs(Path(server_app.runtime_dir) / "kalec-runs" / str(os.getpid()))
    options = {"root": root, "runs": runs}
    routes = [
        ("version", Version),
        ("check", Check),
        ("build", Build),
        ("graph", Graph),
        ("runs", StartRun),
        (r"runs/([0-9a-f-]+)", RunStatus),
        (r"runs/([0-9a-f-]+)/cancel", CancelRun),
        ("deploy", Deploy),
    ]
    web_app.add_handlers(
        ".*$", [(url_path_join(base, path), handler, options) for path, handler in routes]
    )
    server_app.log.info(f"kalec {__version__}: serving {base}")
