"""kalec's API inside Jupyter Server (``/kalec/api/v1/``), started as a real ``jupyter server``
with a token: Jupyter's authentication guards it, and paths stay inside its root folder."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import make_notebook, result_lines, start_server

TOKEN = "jupyter-test-token-42"


class Jupyter:
    def __init__(self, port: int, root: Path) -> None:
        self.port, self.root = port, root

    def request(
        self, method: str, path: str, body: object = None, token: str | None = TOKEN
    ) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, "/kalec/api/v1/" + path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read()
        connection.close()
        try:
            return response.status, json.loads(text) if text else {}
        except ValueError:
            return response.status, {"text": text.decode(errors="replace")}


def start_jupyter(root: Path, home: Path) -> tuple[subprocess.Popen, Jupyter]:
    """A Jupyter server of ``root`` on a free loopback port (its runtime folder, HOME and log
    in ``home``), and a client of its kalec API."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"), HOME=str(home))
    client = Jupyter(port, root)
    process = start_server(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env,
        ready=lambda: client.request("GET", "version")[0] == 200,
        log=home / "jupyter.log",
    )  # fmt: skip
    return process, client


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory) -> Iterator[Jupyter]:
    root = tmp_path_factory.mktemp("jupyter-root")
    process, client = start_jupyter(root, root.parent)
    yield client
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.slow
def test_check_build_and_run_a_notebook_of_the_root_folder_by_its_path(jupyter: Jupyter) -> None:
    folder = jupyter.root / "project"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "quickstart.ipynb", folder / "quick.ipynb")
    status, checked = jupyter.request("POST", "check", {"path": "project/quick.ipynb"})
    assert status == 200, checked
    assert checked["notebook"] == "quick.ipynb" and len(checked["steps"]) == 4
    status, built = jupyter.request("POST", "build", {"path": "project/quick.ipynb"})
    assert status == 200 and built["file_name"] == "quick.kfp.py"
    status, drawn = jupyter.request("POST", "graph", {"path": "project/quick.ipynb"})
    assert status == 200 and drawn["text"].startswith("<!-- kalec graph")

    status, started = jupyter.request("POST", "runs", {"path": "project/quick.ipynb"})
    assert status == 202, started
    deadline = time.monotonic() + 120
    while True:
        status, run = jupyter.request("GET", f"runs/{started['id']}")
        if run.get("state") != "running":
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert run["state"] == "ok", run
    assert result_lines(run["output"]) == ["RESULT model beats baseline True"]
    assert not list(folder.glob(".kalec")), "runs go in Jupyter's runtime folder, not the root"


@pytest.mark.slow
def test_local_modules_beside_a_notebook_are_shipped_and_paths_stay_in_the_root(
    jupyter: Jupyter,
) -> None:
    folder = jupyter.root / "mods"
    folder.mkdir()
    make_notebook(
        folder / "uses.ipynb",
        [(["imports"], "import helper_mod"), (["block:a"], "x = helper_mod.VALUE")],
    )
    (folder / "helper_mod.py").write_text("VALUE = 1\n")
    status, placed = jupyter.request("POST", "build", {"path": "mods/uses.ipynb"})
    assert status == 200, placed
    nb = json.loads((folder / "uses.ipynb").read_text())
    status, posted = jupyter.request("POST", "build", {"nb": nb})
    assert status == 200 and posted["text"] != placed["text"]  # only the placed one ships it

    for path, expected in (
        ("../outside.ipynb", 400),
        ("/etc/passwd", 400),
        ("mods/../../escape.ipynb", 400),
        ("missing.ipynb", 404),
    ):
        status, body = jupyter.request("POST", "check", {"path": path})
        assert status == expected, (path, body)
        assert body["error"]["message"]
    assert jupyter.request("POST", "check", {"path": "mods/uses.ipynb"}, token=None)[0] == 403
    assert jupyter.request("POST", "check", {"path": "mods/uses.ipynb"}, token="wrong")[0] == 403
    assert jupyter.request("POST", "check", {"nb": 42})[0] == 400
    assert jupyter.request("GET", "version")[0] == 200


@pytest.mark.slow
def test_deploy_through_jupyter_reaches_the_kfp_api_server(jupyter: Jupyter) -> None:
    from kfp_api_stub import KfpApiStub

    (jupyter.root / "deploy").mkdir()
    shutil.copy(ROOT / "examples" / "quickstart.ipynb", jupyter.root / "deploy" / "q.ipynb")
    with KfpApiStub() as kfp:
        status, answer = jupyter.request(
            "POST", "deploy", {"path": "deploy/q.ipynb", "host": kfp.url, "run": True}
        )
        assert status == 200, answer
        assert answer["run_id"] and [p["display_name"] for p in kfp.pipelines] == ["quickstart"]


@pytest.mark.slow
def test_installing_kalec_enables_the_extension() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "extension", "list"],
        capture_output=True,
        text=True,
    )
    text = done.stdout + done.stderr
    assert "kalec.serve.jupyter \x1b[32menabled" in text or "kalec.serve.jupyter enabled" in text, (
        text
    )
    assert "kalec.serve.jupyter 0.1.0 \x1b[32mOK" in text or "kalec.serve.jupyter 0.1.0 OK" in text


@pytest.mark.slow
def test_installing_kalec_installs_the_jupyterlab_extension_enabled() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
    )
    lines = [
        re.sub(r"\x1b\[[0-9;]*m", "", line) for line in (done.stdout + done.stderr).splitlines()
    ]
    ours = [line.split() for line in lines if "kalec-labextension" in line]
    assert ours and ours[0][:5] == ["kalec-labextension", "v0.1.0", "enabled", "OK", "(python,"], (
        lines
    )


@pytest.mark.slow
def test_paths_no_file_system_can_hold_are_refused_cleanly(jupyter: Jupyter) -> None:
    (jupyter.root / "loop.ipynb").symlink_to("loop.ipynb")  # a symlink to itself
    hidden = jupyter.root / ".hidden"
    hidden.mkdir()
    shutil.copy(ROOT / "examples" / "quickstart.ipynb", hidden / "s.ipynb")
    for path, expected in (
        ("loop.ipynb", (400, 404)),
        ("n" * 300 + ".ipynb", (400,)),
        ("/".join(["folder"] * 1000) + "/nb.ipynb", (400,)),
        (".hidden/s.ipynb", (404,)),  # as Jupyter's own /api/contents refuses it
    ):
        status, body = jupyter.request("POST", "check", {"path": path})
        assert status in expected, (path[:40], status, body)
        assert body["error"]["message"].startswith("path: ")


@pytest.mark.slow
def test_a_posted_notebook_is_the_one_checked_built_and_run(jupyter: Jupyter) -> None:
    folder = jupyter.root / "edited"
    folder.mkdir()
    make_notebook(folder / "nb.ipynb", [(["block:a"], "print('RESULT on disk')")])
    posted = json.loads((folder / "nb.ipynb").read_text())
    posted["cells"][0]["source"] = "x = 'posted'\nprint('RESULT', x)"
    both = {"path": "edited/nb.ipynb", "nb": posted}
    status, checked = jupyter.request("POST", "check", both)
    assert status == 200 and checked["steps"][0]["outputs"] == []
    status, built = jupyter.request("POST", "build", both)
    assert status == 200 and "'posted'" in built["text"]
    status, started = jupyter.request("POST", "runs", both)
    assert status == 202, started
    deadline = time.monotonic() + 120
    while (run := jupyter.request("GET", f"runs/{started['id']}")[1])["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert result_lines(run["output"]) == ["RESULT posted"], run


@pytest.mark.slow
def test_stopping_jupyter_ends_the_runs_it_started(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    make_notebook(
        root / "slow.ipynb",
        [
            (
                ["block:slow"],
                "import os, time\nopen('pid', 'w').write(str(os.getpid()))\n"
                "while True:\n    time.sleep(0.1)",
            )
        ],
    )
    process, client = start_jupyter(root, tmp_path)
    status, started = client.request("POST", "runs", {"path": "slow.ipynb"})
    assert status == 202, started
    deadline = time.monotonic() + 60
    while not (root / "pid").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.3)
    step = int((root / "pid").read_text())
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    with pytest.raises(ProcessLookupError):
        os.kill(step, 0)
    runs = tmp_path / "runtime" / "kalec-runs"
    (record,) = runs.glob(f"*/runs/{started['id']}/run/kalec-status.json")
    assert json.loads(record.read_text())["state"] == "stopped"
