"""``kalec serve`` as a real process on a free loopback port, over HTTP.

The seed's ``POST /kale`` answers what ``kalec build`` writes (and deploys to a stand-in KFP API
server), every ``/api/v1`` endpoint works, a local run is started and followed to its end, and
hostile requests each get their status and a JSON message while the server keeps answering.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_CORPUS
from helpers import make_notebook, result_lines, run_kalec, start_server
from kfp_api_stub import KfpApiStub

TOKEN = "test-token-0123456789"
QUICKSTART = ROOT / "examples" / "quickstart.ipynb"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = TOKEN,
        headers: dict | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"token {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        text = response.read()
        connection.close()
        return response.status, json.loads(text) if text else {}


def ended(server: Client, path: str, seconds: float = 120) -> dict:
    """The status at ``path`` (a run's, a search's) once it is no longer running."""
    deadline = time.monotonic() + seconds
    while True:
        status, answer = server.request("GET", path)
        assert status == 200, answer
        if answer["state"] != "running":
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Client]:
    home = tmp_path_factory.mktemp("serve")
    port = _free_port()
    client = Client(port)
    process = start_server(
        [sys.executable, "-m", "kalec", "serve", "--port", str(port), "--token", TOKEN,
         "--folder", str(home / "runs")],
        env=dict(os.environ, HOME=str(home)),  # no ~/.config/kfp of the developer's
        ready=lambda: client.request("GET", "/healthz", token=None)[0] == 200,
        log=home / "serve.log",
    )  # fmt: skip
    yield client
    process.terminate()
    process.wait(timeout=30)


corpus = sorted(SHARED_CORPUS.glob("*.ipynb")) if SHARED_CORPUS.is_dir() else []


@pytest.mark.slow
@pytest.mark.shared_corpus
def test_post_kale_answers_what_kalec_build_writes(server: Client, tmp_path: Path) -> None:
    for path in corpus:
        copy = tmp_path / path.stem / "notebook.ipynb"  # the name a posted notebook takes
        copy.parent.mkdir()
        shutil.copy(path, copy)
        built = run_kalec("build", str(copy), "--target", "kfp-py")
        assert built.returncode == 0, built.stderr
        status, answer = server.request("POST", "/kale", {"nb": json.loads(path.read_text())})
        assert status == 200, (path.name, answer)
        assert answer["script"] == (copy.parent / "notebook.kfp.py").read_text(), path.name
        assert answer["yaml"].startswith("# PIPELINE DEFINITION")
        assert answer["deployment"] is None


@pytest.mark.slow
def test_post_kale_deploys_to_the_kfp_api_server(server: Client) -> None:
    nb = json.loads(QUICKSTART.read_text())
    with KfpApiStub() as kfp:
        port = int(kfp.url.rsplit(":", 1)[1].strip("/"))
        status, answer = server.request(
            "POST",
            "/kale",
            {"nb": nb, "deploy": True, "kfp_port": port, "pipeline_name": "from-the-seed",
             "pipeline_descr": "posted", "docker_image": "python:3.12-slim"},
        )  # fmt: skip
        assert status == 200, answer
        assert answer["pipeline_name"] == "from-the-seed"
        assert answer["deployment"]["pipeline_id"]
        assert [p["display_name"] for p in kfp.pipelines] == ["from-the-seed"]
        assert "python:3.12-slim" in kfp.uploads[0]

        status, answer = server.request(
            "POST",
            "/api/v1/deploy",
            {"nb": nb, "host": kfp.url, "run": True, "experiment": "nightly",
             "params": {"N_POINTS": 40}},
        )  # fmt: skip
        assert status == 200, answer
        assert answer["run_id"] == kfp.runs[0]["run_id"]
        assert kfp.runs[0]["runtime_config"]["parameters"] == {"N_POINTS": 40}
        status, answer = server.request("POST", "/api/v1/deploy", {"nb": nb})
        assert status == 400 and "host" in answer["error"]["message"]


@pytest.mark.slow
def test_every_api_endpoint_and_a_local_run_followed_to_its_end(
    server: Client, tmp_path: Path
) -> None:
    nb = json.loads(QUICKSTART.read_text())
    assert server.request("GET", "/api/v1/version")[1]["api"] == 1
    status, checked = server.request("POST", "/api/v1/check", {"nb": nb, "name": "q.ipynb"})
    assert status == 200 and checked["ok"] and len(checked["steps"]) == 4
    status, built = server.request("POST", "/api/v1/build", {"nb": nb, "target": "argo"})
    assert status == 200 and built["file_name"] == "notebook.argo.yaml"
    status, drawn = server.request("POST", "/api/v1/graph", {"nb": nb, "format": "dot"})
    assert status == 200 and drawn["text"].startswith("// kalec graph")

    status, started = server.request("POST", "/api/v1/runs", {"nb": nb, "params": {"SEED": 3}})
    assert status == 202, started
    run = ended(server, f"/api/v1/runs/{started['id']}")
    assert run["state"] == "ok", run["errors"]
    assert [s["status"] for s in run["steps"]] == ["ran"] * 4
    copy = tmp_path / "notebook.ipynb"
    shutil.copy(QUICKSTART, copy)
    local = run_kalec("run", "--local", str(copy), "-p", "SEED=3", "--run-dir", str(tmp_path / "r"))
    assert result_lines(run["output"]) == result_lines(local.stdout)
    table = local.stdout.split("\n\n")[1].splitlines()  # the summary, after the output
    assert table[0].split() == ["step", "status", "seconds", "bytes", "passed"]
    assert [row.split()[:2] for row in run["summary"]] == [row.split()[:2] for row in table]
    assert server.request("POST", f"/api/v1/runs/{started['id']}/cancel")[0] == 409

    slow = make_notebook(tmp_path / "slow.ipynb", [(["block:wait"], "import time\ntime.sleep(60)")])
    status, started = server.request("POST", "/api/v1/runs", {"nb": json.loads(slow.read_text())})
    assert status == 202
    time.sleep(1)
    assert server.request("POST", f"/api/v1/runs/{started['id']}/cancel")[0] == 200
    assert ended(server, f"/api/v1/runs/{started['id']}", seconds=30)["state"] == "cancelled"
    assert server.request("GET", "/api/v1/runs/20990101-000000-abcd")[0] == 404


@pytest.mark.slow
def test_a_search_is_started_followed_and_cancelled_over_http(
    server: Client, tmp_path: Path
) -> None:
    nb = json.loads(
        make_notebook(
            tmp_path / "t.ipynb",
            [
                (["pipeline-parameters"], "X = 1"),
                (["block:data"], "offset = 2"),
                (["block:fit"], "loss = (X - offset) ** 2"),
                (["pipeline-metrics"], "loss"),
            ],
        ).read_text()
    )
    space = {
        "parameters": [
            {"name": "X", "parameterType": "int", "feasibleSpace": {"min": "0", "max": "3"}}
        ],
        "objective": {"type": "minimize", "objectiveMetricName": "loss"},
        "algorithm": {"algorithmName": "grid"},
    }
    status, started = server.request("POST", "/api/v1/tunes", {"nb": nb, "space": space})
    assert status == 202, started
    tune = ended(server, f"/api/v1/tunes/{started['id']}")
    assert tune["state"] == "ok", tune["errors"]
    assert sorted(t["params"]["X"] for t in tune["trials"]) == [0, 1, 2, 3]
    assert tune["best"]["params"] == {"X": 2} and tune["best"]["value"] == 0
    assert [t["ran"] + t["reused"] for t in tune["trials"]] == [2, 2, 2, 2]
    # a space naming what the notebook does not declare: refused at once, in words
    bad = dict(
        space,
        parameters=[
            {"name": "Y", "parameterType": "int", "feasibleSpace": {"min": "0", "max": "3"}}
        ],
    )
    status, refused = server.request("POST", "/api/v1/tunes", {"nb": nb, "space": bad})
    assert status == 422 and "'Y' is not a pipeline parameter" in refused["error"]["message"]
    slow = json.loads(
        make_notebook(
            tmp_path / "slow.ipynb",
            [
                (["pipeline-parameters"], "X = 1"),
                (["block:wait"], "import time\ntime.sleep(60)\nloss = X"),
                (["pipeline-metrics"], "loss"),
            ],
        ).read_text()
    )
    status, started = server.request("POST", "/api/v1/tunes", {"nb": slow, "space": space})
    assert status == 202
    time.sleep(1)
    assert server.request("POST", f"/api/v1/tunes/{started['id']}/cancel")[0] == 200
    assert server.request("GET", f"/api/v1/tunes/{started['id']}")[1]["state"] == "cancelled"


@pytest.mark.slow
def test_hostile_requests_get_their_status_and_the_server_still_answers(server: Client) -> None:
    nb = json.loads(QUICKSTART.read_text())
    check = "/api/v1/check"
    cases = [
        (server.request("POST", check, {"nb": nb}, token=None), 401),
        (server.request("POST", check, {"nb": nb}, token="wrong"), 403),
        (
            server.request("POST", check, {"nb": nb}, headers={"Origin": "https://evil.example"}),
            403,
        ),
        (server.request("POST", check, {"nb": nb}, headers={"Host": "evil.example:80"}), 403),
        (server.request("POST", check, raw=b'{"nb": {"cells": ['), 400),
        (server.request("POST", check, {"nb": "garbage \x00 not a notebook"}), 400),
        (server.request("POST", check, {"nb": 42}), 400),
        (server.request("POST", check, {"nb": nb, "extra": 1}), 400),
        (server.request("POST", "/kale", {"nb": nb, "deploy": "yes"}), 400),
        (server.request("POST", check, raw=b"x" * (50 * 1024 * 1024)), 413),
        (server.request("GET", "/api/v1/nothing-here"), 404),
        (server.request("POST", check, raw=b"[" * 200_000), 400),  # deeper than any stack
        (
            server.request("POST", check, raw=b'{"nb": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
            400,
        ),
    ]
    for (status, body), expected in cases:
        assert status == expected, body
        assert body["error"]["message"], body
    hostile = make_notebook(
        Path(os.environ.get("TMPDIR", "/tmp")) / f"hostile-{os.getpid()}.ipynb",
        [(["block:a"], "s = '{{ x }}\\x00\"\"\"'\nprint('RESULT', len(s))")],
    )
    status, built = server.request("POST", "/api/v1/build", {"nb": json.loads(hostile.read_text())})
    hostile.unlink()
    assert status == 200 and "{{ x }}" not in built["text"]  # braces written as escapes
    nul = {
        "nb": nb
        | {
            "cells": [
                {
                    "cell_type": "code",
                    "metadata": {"tags": ["block:a"]},
                    "source": "x = 1\x00",
                    "outputs": [],
                    "execution_count": None,
                }
            ]
        }
    }
    status, body = server.request("POST", "/api/v1/build", nul)  # a real NUL in the cell
    assert status == 422 and "null bytes" in body["error"]["message"]
    assert server.request("GET", "/healthz", token=None)[0] == 200
    assert server.request("POST", check, {"nb": nb})[0] == 200


def test_serve_refuses_settings_that_would_open_the_machine() -> None:
    no_token = run_kalec("serve", "--host", "0.0.0.0", "--no-token")
    assert no_token.returncode == 2
    assert "only on a loopback address" in no_token.stderr
    both = run_kalec("serve", "--token", "x", "--no-token")
    assert both.returncode == 2
    bad_port = run_kalec("serve", "--port", "70000")
    assert bad_port.returncode == 2 and "--port" in bad_port.stderr


@pytest.mark.slow
def test_runs_beyond_the_limit_get_429_and_a_refused_notebook_422(
    server: Client, tmp_path: Path
) -> None:
    slow = make_notebook(tmp_path / "slow.ipynb", [(["block:wait"], "import time\ntime.sleep(60)")])
    nb = json.loads(slow.read_text())
    started = []
    for _ in range(2):  # the server's default: two runs at once
        status, body = server.request("POST", "/api/v1/runs", {"nb": nb})
        assert status == 202, body
        started.append(body["id"])
    status, body = server.request("POST", "/api/v1/runs", {"nb": nb})
    assert status == 429 and body["error"]["code"] == "busy"
    for run_id in started:
        assert server.request("POST", f"/api/v1/runs/{run_id}/cancel")[0] == 200
    deadline = time.monotonic() + 30
    while any(server.request("GET", f"/api/v1/runs/{r}")[1]["state"] == "running" for r in started):
        assert time.monotonic() < deadline
        time.sleep(0.2)

    refused = make_notebook(tmp_path / "refused.ipynb", [(["block:a", "prev:nowhere"], "x = 1")])
    status, body = server.request("POST", "/api/v1/build", {"nb": json.loads(refused.read_text())})
    assert status == 422
    assert body["error"]["cell"] == 1 and body["error"]["diagnostics"][0]["code"].startswith("K")
