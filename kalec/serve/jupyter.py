"""The Jupyter Server extension: kalec's ``/api/v1`` under ``/kalec/api/v1/`` inside Jupyter.

Requests go through Jupyter's own authentication (its token or login) and, for a browser, its
XSRF check: the handlers are Jupyter's ``APIHandler``s, marked ``authenticated``, one per entry
of the endpoint table (``kalec.serve.endpoints``). A request may give the notebook as JSON
(``nb``) or as ``path``: a path relative to Jupyter's root folder, which may not lead out of
it, read through Jupyter's contents manager (so what it hides stays hidden, and notebooks that
are not files work); a file's folder is where its local modules are found and where its steps
run. When both are given, the notebook posted is the one checked, built and run (an editor's
unsaved version of the file). Compiling and status work in a thread, so Jupyter stays
responsive. Runs go in Jupyter's runtime folder, at most two at once, and end with the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
import tornado
from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join

from kalec import __version__
from kalec.serve.context import ServiceContext
from kalec.serve.endpoints import ENDPOINTS, Call, Endpoint
from kalec.serve.requests import ServiceError, body_fields, make_request

MAX_PATH_BYTES = 4096


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "kalec.serve.jupyter", "app": KalecExtension}]


class EndpointHandler(APIHandler):
    """One endpoint of ``kalec.serve.endpoints`` as a Jupyter API handler."""

    endpoint: Endpoint
    context: ServiceContext

    def initialize(self, endpoint: Endpoint, context: ServiceContext) -> None:
        self.endpoint, self.context = endpoint, context

    def fail(self, error: ServiceError) -> None:
        self.set_status(error.status)
        self.finish(json.dumps(error.body()))

    async def read(self) -> Any:
        """The request's record (its endpoint's type): from the body, where a notebook may
        also be given by ``path``, a file of Jupyter's."""
        kind = self.endpoint.request
        if not self.endpoint.body:
            return kind()
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError):
            raise ServiceError(400, "bad_request", "the body is not JSON") from None
        fields = body_fields(kind, body, also=("path",))
        if "path" in fields:  # a notebook of Jupyter's, read as Jupyter reads it
            relative = fields.pop("path")
            text, folder = await self.notebook(relative)
            fields.setdefault("nb", text)  # a posted notebook (unsaved edits) wins over the file
            fields["name"] = PurePosixPath(relative).name
            if folder is not None:
                fields["folder"] = folder
        return make_request(kind, fields)

    async def notebook(self, relative: str) -> tuple[str, Path | None]:
        """The notebook at ``relative`` through Jupyter's contents manager (so what Jupyter
        hides or refuses, kalec does too, and notebooks that are not files work), and its
        folder on disk when it has one (where its local modules are, and its steps run)."""
        if "\0" in relative or relative.startswith("/") or "\\" in relative:
            raise ServiceError(400, "bad_field", "path: relative to Jupyter's root folder")
        if len(relative.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES or any(
            len(part.encode("utf-8", "surrogatepass")) > 255 for part in relative.split("/")
        ):
            raise ServiceError(
                400,
                "bad_field",
                f"path: longer than a file system allows ({MAX_PATH_BYTES} bytes, 255 a name)",
            )
        normal = posixpath.normpath(relative)
        if normal == ".." or normal.startswith("../"):
            raise ServiceError(400, "bad_field", "path: it leads out of Jupyter's root folder")
        manager = self.contents_manager
        try:
            model = await ensure_async(manager.get(relative, content=True, type="notebook"))
        except tornado.web.HTTPError as error:
            status = 404 if error.status_code == 404 else 400
            code = "no_such_notebook" if status == 404 else "bad_field"
            raise ServiceError(status, code, f"path: {error.log_message or error}") from None
        except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, say
            raise ServiceError(400, "bad_field", f"path: cannot read it: {error}") from None
        text = nbformat.writes(model["content"])
        os_path = getattr(manager, "_get_os_path", None)  # file-backed managers only
        if os_path is None:
            return text, None
        try:
            return text, Path(os_path(relative)).resolve().parent
        except (OSError, RuntimeError, tornado.web.HTTPError):
            return text, None

    async def _serve(self, method: str, run_id: str | None) -> None:
        if method != self.endpoint.method:
            raise tornado.web.HTTPError(405)
        try:
            call = Call(self.context, await self.read(), run_id)
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


class KalecExtension(ExtensionApp):
    """kalec's API inside a Jupyter server. Its runs go in Jupyter's runtime folder, and end
    (each recorded as stopped) when the server stops."""

    name = "kalec"
    load_other_extensions = True

    def initialize_handlers(self) -> None:
        runtime = Path(self.serverapp.runtime_dir)
        self.context = ServiceContext.in_folder(
            runtime / "kalec-runs" / str(os.getpid()),
            notebooks_root=Path(self.serverapp.root_dir).resolve(),
        )
        base = url_path_join("kalec", "api", "v1")
        self.handlers.extend(
            (
                url_path_join("/", base, endpoint.route.replace("ID", "([0-9a-f-]+)")),
                EndpointHandler,
                {"endpoint": endpoint, "context": self.context},
            )
            for endpoint in ENDPOINTS
            if not endpoint.root
        )
        self.log.info(f"kalec {__version__}: serving /{base}")

    async def stop_extension(self) -> None:
        """The server is stopping: end every run and search still going, and kfp's compiler."""
        await asyncio.get_running_loop().run_in_executor(None, self.context.close)
