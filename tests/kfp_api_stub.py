"""A stand-in for the Kubeflow Pipelines API server, on loopback, for ``kalec deploy`` tests.

It answers the v2beta1 endpoints that ``kfp.Client`` calls to upload a pipeline or a version of
it, find or create an experiment and create a run, keeps what it was sent, and nothing more.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class KfpApiStub:
    def __init__(self) -> None:
        self.pipelines: list[dict] = []
        self.versions: list[dict] = []
        self.experiments: list[dict] = []
        self.runs: list[dict] = []
        self.uploads: list[str] = []  # the pipeline files received
        self.requests: list[str] = []  # "METHOD path"
        # what a finished run's tasks printed: pod name -> log text (the Kubernetes API's
        # pod log endpoint, which a Katib trial reads its metrics from)
        self.pod_logs: dict[str, str] = {}
        self.run_state = "SUCCEEDED"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_GET(self) -> None:
                url = urlparse(self.path)
                stub.requests.append(f"GET {url.path}")
                query = parse_qs(url.query)
                wanted = None
                if "filter" in query:
                    wanted = json.loads(query["filter"][0])["predicates"][0]["stringValue"]
                if url.path == "/apis/v2beta1/healthz":
                    self._reply({"multi_user": False})
                elif url.path == "/apis/v2beta1/pipelines":
                    found = [p for p in stub.pipelines if wanted in (None, p["display_name"])]
                    self._reply({"pipelines": found, "total_size": len(found)})
                elif url.path == "/apis/v2beta1/experiments":
                    found = [e for e in stub.experiments if wanted in (None, e["display_name"])]
                    self._reply({"experiments": found, "total_size": len(found)})
                elif url.path.startswith("/apis/v2beta1/runs/"):
                    run_id = url.path.rsplit("/", 1)[1]
                    run = next((r for r in stub.runs if r["run_id"] == run_id), None)
                    if run is None:
                        self._reply({"error": "no such run"}, 404)
                        return
                    tasks = [
                        {
                            "display_name": pod.rsplit("-", 1)[0],
                            "pod_name": pod,
                            "state": "SUCCEEDED",
                        }
                        for pod in stub.pod_logs
                    ]
                    self._reply(
                        run | {"state": stub.run_state, "run_details": {"task_details": tasks}}
                    )
                elif url.path.startswith("/api/v1/namespaces/") and url.path.endswith("/log"):
                    pod = url.path.split("/")[-2]
                    text = stub.pod_logs.get(pod)
                    if text is None:
                        self._reply({"error": "no such pod"}, 404)
                        return
                    data = text.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif url.path.startswith("/apis/v2beta1/pipelines/") and url.path.endswith(
                    "/versions"
                ):
                    pipeline_id = url.path.split("/")[4]
                    found = [v for v in stub.versions if v["pipeline_id"] == pipeline_id]
                    found.reverse()  # newest first, as the client asks with created_at desc
                    self._reply({"pipeline_versions": found, "total_size": len(found)})
                else:
                    self._reply({"error": "not found"}, 404)

            def do_POST(self) -> None:
                url = urlparse(self.path)
                stub.requests.append(f"POST {url.path}")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = self._body()
                if url.path in (
                    "/apis/v2beta1/pipelines/upload",
                    "/apis/v2beta1/pipelines/upload_version",
                ):
                    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        b"Content-Type: "
                        + self.headers["Content-Type"].encode()
                        + b"\r\n\r\n"
                        + body
                    )
                    part = next(message.iter_parts())
                    stub.uploads.append(
                        part.get_content()
                        if isinstance(part.get_content(), str)
                        else part.get_content().decode()
                    )
                    name = query.get("name") or query.get("display_name")
                    if url.path.endswith("upload"):
                        pipeline = {
                            "pipeline_id": uuid.uuid4().hex,
                            "display_name": name,
                            "description": query.get("description", ""),
                        }
                        stub.pipelines.append(pipeline)
                        stub.versions.append(
                            {
                                "pipeline_id": pipeline["pipeline_id"],
                                "pipeline_version_id": uuid.uuid4().hex,
                                "display_name": name,
                            }
                        )
                        self._reply(pipeline)
                    else:
                        version = {
                            "pipeline_id": query["pipelineid"],
                            "display_name": name,
                            "pipeline_version_id": uuid.uuid4().hex,
                        }
                        stub.versions.append(version)
                        self._reply(version)
                elif url.path == "/apis/v2beta1/experiments":
                    experiment = json.loads(body) | {"experiment_id": uuid.uuid4().hex}
                    stub.experiments.append(experiment)
                    self._reply(experiment)
                elif url.path == "/apis/v2beta1/runs":
                    run = json.loads(body) | {"run_id": uuid.uuid4().hex}
                    stub.runs.append(run)
                    self._reply(run)
                else:
                    self._reply({"error": "not found"}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> KfpApiStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
