"""A stand-in for the Kubeflow Pipelines API server, on loopback, for ``kalec deploy`` tests.

It answers the v2beta1 endpoints that ``kfp.Client`` calls to upload a pipeline or a version of
it, find or create an experiment, create a run and report its state, keeps what it was sent
(with the headers), and serves a step's log as the pipeline UI does. It can stand for an
install that wants credentials: ``want_header`` (a header and the value it must have), answered
as Dex does (``login_redirect``: 302 to its login page) or with 401.
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
        # a run's course: each GET of the run answers the next (run state, {task: state}),
        # the last one for ever after; empty: the run_state above, every logged pod succeeded
        self.run_course: list[tuple[str, dict[str, str]]] = []
        self.headers: list[dict[str, str]] = []  # the headers of each request, in order
        self.want_header: tuple[str, str] | None = None
        self.login_redirect = False
        self.multi_user = False
        self.runs_broken = False  # a run's state is answered with a server error
        self.runs_unavailable = 0  # this many questions for a run's state answered 503 first
        self.stall: set[str] = set()  # paths answered only when the stub closes
        self.released = threading.Event()
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

            def _reply_log(self, pod: str) -> None:
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

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def _refused(self) -> bool:
                """Record the request's headers; answer as the install does when it lacks the
                credentials it wants (True: answered)."""
                stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                if urlparse(self.path).path in stub.stall:
                    stub.released.wait(60)
                if stub.want_header is None:
                    return False
                name, value = stub.want_header
                if self.headers.get(name) == value:
                    return False
                if stub.login_redirect:
                    self.send_response(302)
                    self.send_header("Location", "/dex/auth?client_id=kubeflow-oidc-authservice")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._reply({"error": "Unauthorized"}, 401)
                return True

            def _task_states(self) -> tuple[str, list[tuple[str, str, str]]]:
                """The run's state and its tasks: (name, pod, state) each."""
                if not stub.run_course:
                    tasks = [(pod.rsplit("-", 1)[0], pod, "SUCCEEDED") for pod in stub.pod_logs]
                    return stub.run_state, tasks
                course = stub.run_course
                state, states = course.pop(0) if len(course) > 1 else course[0]
                return state, [(name, f"{name}-pod", s) for name, s in states.items()]

            def do_GET(self) -> None:
                url = urlparse(self.path)
                stub.requests.append(f"GET {url.path}")
                if self._refused():
                    return
                query = parse_qs(url.query)
                wanted = None
                if "filter" in query:
                    wanted = json.loads(query["filter"][0])["predicates"][0]["stringValue"]
                if url.path == "/apis/v2beta1/healthz":
                    self._reply({"multi_user": stub.multi_user})
                elif url.path == "/apis/v2beta1/pipelines":
                    found = [p for p in stub.pipelines if wanted in (None, p["display_name"])]
                    self._reply({"pipelines": found, "total_size": len(found)})
                elif url.path == "/apis/v2beta1/experiments":
                    found = [e for e in stub.experiments if wanted in (None, e["display_name"])]
                    self._reply({"experiments": found, "total_size": len(found)})
                elif url.path.startswith("/apis/v2beta1/runs/"):
                    run_id = url.path.rsplit("/", 1)[1]
                    run = next((r for r in stub.runs if r["run_id"] == run_id), None)
                    if stub.runs_broken:
                        self._reply({"error": "the database is away"}, 500)
                        return
                    if stub.runs_unavailable:
                        stub.runs_unavailable -= 1
                        self._reply({"error": "upstream connect error"}, 503)
                        return
                    if run is None:
                        self._reply({"error": "no such run"}, 404)
                        return
                    state, task_states = self._task_states()
                    tasks = [
                        {
                            "display_name": name,
                            "pod_name": pod,
                            "state": task_state,
                            "start_time": "2026-12-07T10:00:00Z",
                        }
                        | ({"end_time": "2026-12-07T10:00:04Z"} if task_state != "RUNNING" else {})
                        for name, pod, task_state in task_states
                    ]
                    self._reply(run | {"state": state, "run_details": {"task_details": tasks}})
                elif url.path == "/k8s/pod/logs":  # the pipeline UI's log of a step
                    self._reply_log(query.get("podname", [""])[0])
                elif url.path.startswith("/api/v1/namespaces/") and url.path.endswith("/log"):
                    self._reply_log(url.path.split("/")[-2])  # Kubernetes' own pod log
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
                if self._refused():
                    return
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
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
