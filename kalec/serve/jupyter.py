"""The Jupyter Server extension: kalec's ``/api/v1`` under ``/kalec/api/v1/`` inside Jupyter.

Requests go through Jupyter's own authentication (its token or login) and, for a browser, its
XSRF check: the handlers are Jupyter's ``APIHandler``s, marked ``authenticated``, one per entry
of the endpoint table (``kalec.serve.endpoints``). A request may give the notebook as JSON
(``nb``) or as ``path``: a path relative to Jupyter's root folder,
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

from kalec import __version__
from kalec.serve import service
from kalec.serve.background import Runs
from kalec.serve.endpoints import ENDPOINTS, Call, Endpoint
from kalec.serve.service import ServiceError


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "kalec.serve.jupyter"}]


class EndpointHandler(APIHandler):
    """One endpoint of ``kalec.serve.endpoints`` as a Jupyter API handler."""

    endpoint: Endpoint
    root: Path
    runs: Runs

    def initialize(self, endpoint: Endpoint, root: Path, runs: Runs) -> None:
        self.endpoint, self.root, self.runs = endpoint, root, runs

    def fail(self, error: ServiceError) -> None:
        self.set_status(error.status)
        self.finish(json.dumps(error.body()))

    def fields(self) -> dict[str, Any]:
        if not self.endpoint.body:
            return {}
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError):
            raise ServiceError(400, "bad_request", "the body is not JSON") from None
        fields = service.request_fields(self.endpoint.fields, body, placed=True)
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

    async def _serve(self, method: str, run_id: str | None) -> None:
        if method != self.endpoint.method:
            raise tornado.web.HTTPError(405)
        try:
            call = Call(self.fields(), self.runs, run_id)
            loop = tornado.ioloop.IOLoop.current()  # compiling and status work in a thread
            result = await loop.run_in_executor(None, self.endpoint.handle, call)
        except ServiceError as error:
            self.fail(error)
            return
        self.set_status(self.endpoint.status)
        self.finish(json.dumps(result))

    @tornado.web.authenticated
    async def get(self, run_id: str | None = None) -> None:
        await self._serve("GET", run_id)

    @tornado.web.authenticated
    async def post(self, run_id: str | None = None) -> None:
        await self._serve("POST", run_id)


def _load_jupyter_server_extension(server_app: Any) -> None:
    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], "kalec", "api", "v1")
    root = Path(os.path.expanduser(server_app.root_dir)).resolve()
    runs = Runs(Path(server_app.runtime_dir) / "kalec-runs" / str(os.getpid()))
    handlers = [
        (
            url_path_join(base, endpoint.route.replace("ID", "([0-9a-f-]+)")),
            EndpointHandler,
            {"endpoint": endpoint, "root": root, "runs": runs},
        )
        for endpoint in ENDPOINTS
        if not endpoint.root
    ]
    web_app.add_handlers(".*$", handlers)
    server_app.log.info(f"kalec {__version__}: serving {base}")
