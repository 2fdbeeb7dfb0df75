"""``kalec serve`` under load and faults, as a real process on loopback: concurrent kfp compiles,
a Kubeflow Pipelines endpoint that accepts and never answers, SIGTERM with a run going, hosts a
server must not call for its clients, relative folders, and the limits an operator sets."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import start_server

TOKEN = "faults-token-0123456789"
QUICKSTART = json.loads((ROOT / "examples" / "quickstart.ipynb").read_text())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port: int, method: str, path: str, body: object = None, timeout: float = 120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json", "Authorization": f"token {TOKEN}"}
    connection.request(
        method, path, body=None if body is None else json.dumps(body), headers=headers
    )
    response = connection.getresponse()
    text = response.read()
    connection.close()
    return response.status, json.loads(text) if text else {}, dict(response.getheaders())


def serve(tmp: Path, *extra: str, cwd: Path | None = None, env: dict | None = None):
    port = free_port()
    args = [sys.executable, "-m", "kalec", "serve", "--port", str(port), *extra]
    if "--no-token" not in extra and not (env or {}).get("KALEC_SERVE_TOKEN"):
        args += ["--token", TOKEN]
    process = start_server(
        args,
        env=dict(os.environ, HOME=str(tmp), **(env or {})),
        ready=lambda: request(port, "GET", "/healthz")[0] == 200,
        log=tmp / f"serve-{port}.log",
        cwd=cwd,
    )
    return process, port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    process, port = serve(tmp_path, "--folder", str(tmp_path / "runs"), "--kfp-workers", "2")
    yield port
    process.terminate()
    process.wait(timeout=30)


class SilentServer:
    """Accepts connections and never answers: a host that hangs every client."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.held:
            connection.close()


@pytest.mark.slow
def test_concurrent_yaml_builds_all_succeed(server: int) -> None:
    """kfp keeps one global pipeline context: the server compiles in worker processes."""
    answers: list[int] = []

    def build(client: int) -> None:
        for round in range(2):  # each notebook new: no answer comes from the server's memory
            nb = json.loads(json.dumps(QUICKSTART))
            nb["metadata"]["kalec"] = {"name": f"concurrent-{client}-{round}"}
            status, body, _ = request(server, "POST", "/api/v1/build", {"nb": nb, "target": "yaml"})
            answers.append(status)
            assert status != 200 or body["text"].startswith("# PIPELINE DEFINITION")

    threads = [threading.Thread(target=build, args=(client,)) for client in range(8)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    while any(t.is_alive() for t in threads):  # the rest of the API answers meanwhile
        status, _, _ = request(server, "POST", "/api/v1/check", {"nb": QUICKSTART}, timeout=10)
        assert status == 200
        time.sleep(0.2)
        assert time.monotonic() - started < 300
    assert answers == [200] * 16


@pytest.mark.slow
def test_each_call_to_a_silent_kfp_is_limited_well_inside_the_deploy_deadline(
    tmp_path: Path,
) -> None:
    silent = SilentServer()
    process, port = serve(tmp_path, "--folder", str(tmp_path / "r"))  # deadline: 60 s
    try:
        started = time.monotonic()
        status, body, _ = request(
            port,
            "POST",
            "/api/v1/deploy",
            {"nb": QUICKSTART, "host": f"http://127.0.0.1:{silent.port}"},
        )
        seconds = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
        silent.close()
    assert status == 504, body
    assert "did not answer within 20 s" in body["error"]["message"]
    assert seconds < 30


@pytest.mark.slow
def test_a_kfp_endpoint_that_never_answers_is_a_504_in_time(tmp_path: Path) -> None:
    silent = SilentServer()
    process, port = serve(
        tmp_path, "--deploy-timeout", "4", "--max-deploys", "1", "--folder", str(tmp_path / "r")
    )
    try:
        results: dict[str, tuple] = {}

        def deploy(key: str, host: str) -> None:
            started = time.monotonic()
            status, body, _ = request(
                port, "POST", "/api/v1/deploy", {"nb": QUICKSTART, "host": host}
            )
            results[key] = (status, body, time.monotonic() - started)

        first = threading.Thread(target=deploy, args=("http", f"http://127.0.0.1:{silent.port}"))
        first.start()
        time.sleep(1.0)
        # the one deploy slot is taken: another is refused at once, and the API answers
        busy, body, _ = request(
            port,
            "POST",
            "/api/v1/deploy",
            {"nb": QUICKSTART, "host": f"https://127.0.0.1:{silent.port}"},
            timeout=10,
        )
        assert busy == 503 and "deploys are going on" in body["error"]["message"]
        assert request(port, "GET", "/healthz", timeout=5)[0] == 200
        first.join(timeout=60)
        status, body, seconds = results["http"]
        assert status == 504 and "did not answer within 4 s" in body["error"]["message"]
        assert seconds < 15
        deploy("https", f"https://127.0.0.1:{silent.port}")  # TLS to a port that never speaks
        status, body, seconds = results["https"]
        assert status == 504 and seconds < 15
    finally:
        process.terminate()
        process.wait(timeout=30)
        silent.close()


def test_deploys_to_metadata_and_link_local_hosts_are_refused(ask) -> None:
    from kalec.serve.requests import ServiceError

    for host in (
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/",
        "http://[fe80::1]:8888/",
    ):
        with pytest.raises(ServiceError) as refused:
            ask("deploy", {"nb": QUICKSTART, "host": host})
        assert refused.value.status == 400 and "does not deploy there" in refused.value.message
    from kalec.deploy import host_problem

    assert host_problem("http://169.254.169.254/", allow_link_local=True) is None


@pytest.mark.slow
def test_sigterm_ends_the_server_s_runs_and_records_them(tmp_path: Path) -> None:
    process, port = serve(tmp_path, "--folder", str(tmp_path / "runs"))
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["block:slow"]},
                "source": "import os, time\nopen('pid', 'w').write(str(os.getpid()))\n"
                "while True:\n    time.sleep(0.1)",
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    status, started, _ = request(port, "POST", "/api/v1/runs", {"nb": nb})
    assert status == 202
    home = tmp_path / "runs" / "runs" / started["id"]
    deadline = time.monotonic() + 60
    while not (home / "pid").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.3)
    step = int((home / "pid").read_text())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) is not None
    with pytest.raises(ProcessLookupError):
        os.kill(step, 0)
    record = json.loads((home / "run" / "kalec-status.json").read_text())
    assert record["state"] == "stopped" and record["steps"][0]["status"] == "stopped"


@pytest.mark.slow
def test_a_relative_folder_a_token_from_the_environment_and_the_answers_headers(
    tmp_path: Path,
) -> None:
    process, port = serve(
        tmp_path,
        "--folder",
        "myruns",
        "--keep-runs",
        "1",
        cwd=tmp_path,
        env={"KALEC_SERVE_TOKEN": TOKEN},
    )
    try:
        nb = json.loads(json.dumps(QUICKSTART))
        ids = []
        for _ in range(3):
            status, started, headers = request(port, "POST", "/api/v1/runs", {"nb": nb})
            assert status == 202, started
            assert headers["X-Content-Type-Options"] == "nosniff"
            ids.append(started["id"])
            deadline = time.monotonic() + 120
            while True:
                status, state, _ = request(port, "GET", f"/api/v1/runs/{started['id']}")
                if state["state"] != "running":
                    break
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert state["state"] == "ok", state
            assert state["summary"][0].split()[:2] == ["step", "status"]
        assert (tmp_path / "myruns" / "runs" / ids[-1]).is_dir()
        # one finished run is kept: the first is gone, and so is its id
        assert not (tmp_path / "myruns" / "runs" / ids[0]).exists()
        assert request(port, "GET", f"/api/v1/runs/{ids[0]}")[0] == 404
        assert request(port, "GET", f"/api/v1/runs/{ids[-1]}%0A")[0] in (400, 404)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("kalec-serve-*/runs/" + ids[-1]))


def test_a_run_id_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    from kalec.serve.background import Runs
    from kalec.serve.requests import ServiceError

    runs = Runs(tmp_path / "runs")
    with pytest.raises(ServiceError) as refused:
        runs.status("20261129-101500-ab12\n")
    assert refused.value.status == 400


def test_a_long_pipeline_name_is_shortened_as_kfp_allows() -> None:
    import re

    from kalec.cluster_names import pipeline_name

    name = pipeline_name("x" * 200)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,127}", name)
    assert pipeline_name("x" * 200 + "a") != name  # two long names stay apart


def test_caches_are_bounded_in_bytes(ask, service_context) -> None:
    from kalec.analysis.parsing import parse

    for index in range(6):
        cells = [
            make_cell(f"block:s{n}", f"x{n} = {index} + {n}\n" + "# padding\n" * 400)
            for n in range(200)
        ]
        nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        ask("check", {"nb": nb, "name": f"big{index}.ipynb"})
        ask("build", {"nb": nb, "name": f"big{index}.ipynb"})
    pipelines, builds = service_context.pipelines, service_context.builds
    assert 1 <= len(pipelines) < 6 and pipelines.bytes <= pipelines.max_bytes
    assert len(builds) >= 1 and builds.bytes <= builds.max_bytes
    assert parse.cache.bytes <= parse.cache.max_bytes


def make_cell(tag: str, source: str) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"tags": [tag]},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def test_no_empty_folder_is_made_when_one_is_given(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from kalec.serve.app import ServerConfig

    made: list[str] = []
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: made.append("x") or str(tmp_path / "t"))
    config = ServerConfig(folder=Path("relative-runs"))
    assert made == [] and config.folder == Path.cwd() / "relative-runs"


@pytest.mark.slow
def test_cancel_answers_once_every_process_the_run_started_has_ended(tmp_path: Path, ask) -> None:
    """A step's child that left the step's session (as a daemon does) is the run's all the
    same: cancelling ends it, and the steps and the fork server, before it answers."""
    from helpers import make_notebook

    pids = tmp_path / "pids.txt"
    nb = make_notebook(
        tmp_path / "slow.ipynb",
        [
            (["imports"], "import os, subprocess, time"),
            (["block:a"], "x = 1"),
            (
                ["block:b", "prev:a"],
                "daemon = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
                f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{daemon.pid}}')\n"
                "time.sleep(300)\ny = x",
            ),
        ],
    )
    started = ask("runs", {"nb": json.loads(nb.read_text()), "name": "slow.ipynb"})
    deadline = time.monotonic() + 60
    while not pids.exists() or len(pids.read_text().split()) < 2:
        assert time.monotonic() < deadline, ask("run", run_id=started["id"])
        time.sleep(0.1)
    step, daemon = (int(p) for p in pids.read_text().split())
    assert alive(step) and alive(daemon)
    answered = ask("cancel", run_id=started["id"])
    assert answered["state"] == "cancelled"
    assert not alive(step) and not alive(daemon)
    assert not [pid for pid in processes_naming(started["id"]) if alive(pid)]  # fork server
    assert ask("run", run_id=started["id"])["state"] == "cancelled"


def alive(pid: int) -> bool:
    """A process that is running (not gone, not a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_text(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
