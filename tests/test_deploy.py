"""``kalec deploy`` against a local stand-in of the KFP API server (tests/kfp_api_stub.py).

The stand-in answers the endpoints ``kfp.Client`` calls; the test proves what kalec sends and in
which order. No real Kubeflow Pipelines installation is involved.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import yaml
from conftest import ROOT
from helpers import run_kalec
from kfp_api_stub import KfpApiStub

QUICKSTART = ROOT / "examples" / "quickstart.ipynb"


def deploy(*args: str, home: Path):
    env_home = {"HOME": str(home)}  # no ~/.config/kfp/context.json of the developer's
    old = {k: os.environ.get(k) for k in env_home}
    os.environ.update(env_home)
    try:
        return run_kalec("deploy", str(QUICKSTART), *args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_upload_then_new_version_then_run_with_parameters(tmp_path: Path) -> None:
    with KfpApiStub() as server:
        first = deploy("--host", server.url, home=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "uploaded pipeline 'quickstart'" in first.stdout
        assert [p["display_name"] for p in server.pipelines] == ["quickstart"]
        uploaded = yaml.safe_load(server.uploads[0])
        assert uploaded["pipelineInfo"]["name"] == "quickstart"
        assert "N_POINTS" in uploaded["root"]["inputDefinitions"]["parameters"]

        second = deploy(
            "--host",
            server.url,
            "--run",
            "--experiment",
            "nightly",
            "-p",
            "N_POINTS=50",
            "-p",
            "NOISE=0.1",
            home=tmp_path,
        )
        assert second.returncode == 0, second.stderr
        assert "uploaded version 'quickstart-" in second.stdout
        assert len(server.pipelines) == 1 and len(server.versions) == 2
        assert [e["display_name"] for e in server.experiments] == ["nightly"]
        run = server.runs[0]
        assert run["experiment_id"] == server.experiments[0]["experiment_id"]
        assert (
            run["pipeline_version_reference"]["pipeline_version_id"]
            == server.versions[1]["pipeline_version_id"]
        )
        assert run["runtime_config"]["parameters"] == {"N_POINTS": 50, "NOISE": 0.1}
        assert f"started run {run['run_id']} in experiment 'nightly'" in second.stdout


def test_a_first_upload_can_run_at_once(tmp_path: Path) -> None:
    """A new pipeline has one version, made by the upload: the run names it."""
    with KfpApiStub() as server:
        done = deploy("--host", server.url, "--run", home=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "uploaded pipeline 'quickstart'" in done.stdout
        (version,) = server.versions
        run = server.runs[0]
        assert (
            run["pipeline_version_reference"]["pipeline_version_id"]
            == (version["pipeline_version_id"])
        )


def test_dry_run_contacts_nothing(tmp_path: Path) -> None:
    with KfpApiStub() as server:
        done = deploy("--host", server.url, "--run", "-p", "SEED=1", "--dry-run", home=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "would upload pipeline 'quickstart'" in done.stdout
        assert "would start a run in experiment 'Default' with SEED=1" in done.stdout
        assert server.requests == []


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    done = deploy("--host", "http://127.0.0.1:9", home=tmp_path)
    assert done.returncode == 2
    assert "cannot reach Kubeflow Pipelines at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_parameters_need_run_and_must_exist(tmp_path: Path) -> None:
    done = deploy("--host", "http://127.0.0.1:9", "-p", "SEED=1", home=tmp_path)
    assert done.returncode == 2 and "add --run" in done.stderr
    done = deploy("--host", "http://127.0.0.1:9", "--run", "-p", "NOPE=1", home=tmp_path)
    assert done.returncode == 2 and "no such pipeline parameter" in done.stderr


def test_the_deploy_form_lists_the_servers_experiments_or_says_why_not(tmp_path: Path, ask) -> None:
    from kalec.serve.requests import ServiceError

    with KfpApiStub() as server:
        assert ask("experiments", {"host": server.url})["experiments"] == []
        deploy("--host", server.url, "--run", "--experiment", "nightly", home=tmp_path)
        assert ask("experiments", {"host": server.url})["experiments"] == ["nightly"]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        ask("experiments", {"host": f"http://127.0.0.1:{port}"})
    except ServiceError as error:
        assert error.status == 502
        assert error.message == (
            f"cannot reach Kubeflow Pipelines at http://127.0.0.1:{port}: the connection was "
            "refused (is the server running, on that port?)"
        )
    else:
        raise AssertionError("no error for a server that is not there")
