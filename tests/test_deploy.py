"""``kalec deploy`` against a local stand-in of the KFP API server (tests/kfp_api_stub.py).

The stand-in answers the endpoints ``kfp.Client`` calls; the test proves what kalec sends and in
which order. No real Kubeflow Pipelines installation is involved.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from helpers import run_kalec
from kfp_api_stub import KfpApiStub

QUICKSTART = ROOT / "examples" / "quickstart.ipynb"
AUTH_ENV = (
    "KALEC_KFP_TOKEN",
    "KALEC_KFP_TOKEN_FILE",
    "KALEC_KFP_COOKIES",
    "KALEC_KFP_COOKIES_FILE",
    "KF_PIPELINES_SA_TOKEN_PATH",
)


@pytest.fixture(autouse=True)
def no_credentials_of_the_developer(monkeypatch, tmp_path: Path) -> None:
    """Each test starts with no credentials in the environment, and no service-account token
    where kalec looks for one: the test adds what it means to test."""
    for name in AUTH_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "no-such-token"))


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


SECRET = "s3cr3t-value-never-shown"


@pytest.mark.parametrize(
    ("mode", "setting", "header"),
    [
        ("token", {"KALEC_KFP_TOKEN": SECRET}, ("Authorization", f"Bearer {SECRET}")),
        ("token", {"KALEC_KFP_TOKEN_FILE": "FILE"}, ("Authorization", f"Bearer {SECRET}")),
        ("cookies", {"KALEC_KFP_COOKIES": f"authservice_session={SECRET}"},
         ("Cookie", f"authservice_session={SECRET}")),
        ("sa", {"KF_PIPELINES_SA_TOKEN_PATH": "FILE"}, ("Authorization", f"Bearer {SECRET}")),
    ],
    ids=["token-env", "token-file", "cookies-env", "sa-file"],
)  # fmt: skip
def test_each_way_of_authenticating_sends_its_header_on_every_call(
    mode: str, setting: dict, header: tuple, tmp_path: Path, monkeypatch
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    for name, value in setting.items():
        monkeypatch.setenv(name, str(secret_file) if value == "FILE" else value)
    with KfpApiStub() as server:
        server.want_header = header
        done = deploy("--host", server.url, "--run", "-v", home=tmp_path)
        assert done.returncode == 0, done.stderr
        assert len(server.runs) == 1
        assert len(server.headers) >= 6  # health, find, upload, versions, experiment, run
        assert all(h.get(header[0].lower()) == header[1] for h in server.headers)
        assert f"authenticating to {server.url} with {mode} (" in done.stderr
        assert SECRET not in done.stdout + done.stderr


def test_the_first_way_available_is_chosen_and_none_sends_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    token = tmp_path / "sa-token"
    token.write_text("from-the-pod")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))
    monkeypatch.setenv("KALEC_KFP_TOKEN", SECRET)
    with KfpApiStub() as server:
        done = deploy("--host", server.url, "-v", home=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"with sa (the service-account token {token})" in done.stderr
        assert {h.get("authorization") for h in server.headers} == {"Bearer from-the-pod"}
        server.headers.clear()
        done = deploy("--host", server.url, "--auth", "none", home=tmp_path)
        assert done.returncode == 0, done.stderr
        assert not any("authorization" in h or "cookie" in h for h in server.headers)


@pytest.mark.parametrize(
    ("env", "args", "redirect", "said"),
    [
        ({}, (), True,
         "sent the request to a login page (302 to /dex/auth?client_id=kubeflow-oidc-authservice):"
         " it needs credentials and none were found: from a laptop, set $KALEC_KFP_COOKIES"),
        ({"KALEC_KFP_COOKIES": f"authservice_session={SECRET}"}, (), True,
         "sent the request to a login page (302 to /dex/auth?client_id=kubeflow-oidc-authservice):"
         " the cookies ($KALEC_KFP_COOKIES) credentials were not accepted (expired?): set "
         "$KALEC_KFP_COOKIES"),
        ({"KALEC_KFP_TOKEN": SECRET}, (), False,
         "did not accept the request (401 Unauthorized): the token ($KALEC_KFP_TOKEN) "
         "credentials were not accepted (expired?): set $KALEC_KFP_TOKEN"),
        ({}, ("--auth", "token"), False,
         "--auth token: no credentials found; set $KALEC_KFP_TOKEN"),
    ],
    ids=["login-page-no-credentials", "login-page-stale-cookies", "401-token", "token-missing"],
)  # fmt: skip
def test_a_refusal_is_one_sentence_naming_the_way_and_what_to_set(
    env: dict, args: tuple, redirect: bool, said: str, tmp_path: Path, monkeypatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with KfpApiStub() as server:
        server.want_header = ("Authorization", "Bearer the-right-one")
        server.login_redirect = redirect
        started = time.monotonic()
        done = deploy("--host", server.url, *args, home=tmp_path)
        assert time.monotonic() - started < 10  # no retrying a refusal
        assert done.returncode == 2
        assert said in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert SECRET not in done.stderr
        assert server.uploads == []


def _silent_server() -> tuple[socket.socket, threading.Event]:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue
        for connection in held:
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    return listener, stop


def test_a_server_that_never_answers_is_said_within_the_call_limit(tmp_path: Path) -> None:
    listener, stop = _silent_server()
    try:
        host = f"http://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        done = deploy("--host", host, "--timeout", "1", home=tmp_path)
        took = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    assert done.returncode == 2
    assert f"Kubeflow Pipelines at {host} did not answer within 1 s" in done.stderr
    assert took < 8, took


def test_each_call_has_its_own_limit_not_only_the_first(tmp_path: Path) -> None:
    with KfpApiStub() as server:
        server.stall = {"/apis/v2beta1/pipelines/upload"}
        started = time.monotonic()
        done = deploy("--host", server.url, "--timeout", "1", home=tmp_path)
        took = time.monotonic() - started
    assert done.returncode == 2
    assert f"Kubeflow Pipelines at {server.url} did not answer within 1 s" in done.stderr
    assert took < 8, took


def test_watch_follows_the_run_to_its_end_with_the_metrics(tmp_path: Path) -> None:
    with KfpApiStub() as server:
        server.run_course = [
            ("RUNNING", {"make-data": "RUNNING"}),
            ("RUNNING", {"make-data": "SUCCEEDED", "fit": "RUNNING", "baseline": "RUNNING"}),
            ("RUNNING", {"make-data": "SUCCEEDED", "fit": "SUCCEEDED", "baseline": "SUCCEEDED",
                         "evaluate": "RUNNING"}),
            ("SUCCEEDED", {"make-data": "SUCCEEDED", "fit": "SUCCEEDED", "baseline": "SUCCEEDED",
                           "evaluate": "SUCCEEDED"}),
        ]  # fmt: skip
        server.pod_logs = {
            "evaluate-pod": "kalec-metric model_mse=0.25\nkalec-metric improvement=0.5\n"
        }
        done = deploy("--host", server.url, "--run", "--watch", "--poll", "0.01", home=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line.split()[:2] for line in done.stdout.splitlines() if "-pod" not in line]
    changes = [pair for pair in lines if pair and pair[0] in ("make-data", "fit", "baseline",
                                                              "evaluate")]  # fmt: skip
    assert changes == [
        ["make-data", "running"],
        ["make-data", "succeeded"], ["fit", "running"], ["baseline", "running"],
        ["fit", "succeeded"], ["baseline", "succeeded"], ["evaluate", "running"],
        ["evaluate", "succeeded"],
    ]  # fmt: skip
    run_id = server.runs[0]["run_id"]
    assert f"run succeeded: {server.url}/#/runs/details/{run_id}" in done.stdout
    assert "metric model_mse = 0.25" in done.stdout
    assert "metric improvement = 0.5" in done.stdout


def test_wait_names_the_failed_step_and_cell_and_exits_1(tmp_path: Path) -> None:
    with KfpApiStub() as server:
        server.run_course = [
            ("RUNNING", {"make-data": "RUNNING"}),
            ("FAILED", {"make-data": "SUCCEEDED", "fit": "FAILED", "baseline": "SUCCEEDED"}),
        ]
        server.pod_logs = {
            "fit-pod": "Traceback (most recent call last):\n  ...\nRuntimeError: quickstart.ipynb:"
            " cell 7, line 3: step 'fit' failed: ZeroDivisionError: float division by zero\n"
        }
        done = deploy("--host", server.url, "--run", "--wait", "--poll", "0.01", home=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "fit " not in done.stdout  # --wait: no line per step
    assert "run failed:" in done.stdout
    assert (
        "kalec: step 'fit' failed at quickstart.ipynb: cell 7, line 3: "
        "ZeroDivisionError: float division by zero"
    ) in done.stderr


def test_a_server_failing_while_a_run_is_followed_is_said_in_words(tmp_path: Path) -> None:
    """Asked again a few times, each said; then given up, in the words of the last answer."""
    with KfpApiStub() as server:
        server.runs_broken = True
        done = deploy("--host", server.url, "--run", "--watch", "--poll", "0.01", home=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"the Kubeflow Pipelines server at {server.url} answered 500" in done.stderr
    assert done.stderr.count("asking again in") == 5
    assert "Traceback" not in done.stderr


def test_a_blip_while_a_run_is_followed_is_waited_out(tmp_path: Path) -> None:
    """A gateway that answers 503 twice (a restart, a network blip) does not end the
    following: the run is followed to its end, each wait said."""
    with KfpApiStub() as server:
        server.run_course = [
            ("RUNNING", {"make-data": "RUNNING"}),
            ("SUCCEEDED", {"make-data": "SUCCEEDED", "fit": "SUCCEEDED", "baseline": "SUCCEEDED",
                           "evaluate": "SUCCEEDED"}),
        ]  # fmt: skip
        server.runs_unavailable = 2
        done = deploy("--host", server.url, "--run", "--watch", "--poll", "0.01", home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    waits = [line for line in done.stderr.splitlines() if "asking again in" in line]
    assert waits == [
        f"kalec: the Kubeflow Pipelines server at {server.url} answered 503 Service Unavailable:"
        f' {{"error": "upstream connect error"}}; asking again in 0.02 s (1 of 6)',
        f"kalec: the Kubeflow Pipelines server at {server.url} answered 503 Service Unavailable:"
        f' {{"error": "upstream connect error"}}; asking again in 0.04 s (2 of 6)',
    ]
    assert "run succeeded" in done.stdout


def test_watch_and_wait_need_run(tmp_path: Path) -> None:
    done = deploy("--host", "http://127.0.0.1:9", "--watch", home=tmp_path)
    assert done.returncode == 2 and "add --run" in done.stderr


@pytest.mark.slow
def test_ctrl_c_stops_following_not_the_run(tmp_path: Path) -> None:
    with KfpApiStub() as server:
        server.run_course = [("RUNNING", {"make-data": "RUNNING"})]
        env = dict(os.environ, HOME=str(tmp_path))
        follower = subprocess.Popen(
            [sys.executable, "-m", "kalec", "deploy", str(QUICKSTART), "--host", server.url,
             "--run", "--watch", "--poll", "0.05"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert follower.stdout is not None
        for line in follower.stdout:
            if line.startswith("make-data"):
                break
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130, err
    assert "stopped following; the run goes on in the cluster" in err
    assert "Traceback" not in err


def test_the_panel_follows_a_run_on_the_cluster_step_by_step(tmp_path: Path, ask) -> None:
    """The server asks Kubeflow Pipelines for a run's state and its steps', signing in as the
    request says, for the panel's graph."""
    from kalec.serve.requests import ServiceError

    with KfpApiStub() as server:
        started = ask("deploy", {"nb": json.loads(QUICKSTART.read_text()), "host": server.url,
                                 "run": True})  # fmt: skip
        server.run_course = [
            ("RUNNING", {"make-data": "SUCCEEDED", "fit": "RUNNING", "baseline": "PENDING"}),
            ("FAILED", {"make-data": "SUCCEEDED", "fit": "FAILED", "baseline": "SUCCEEDED"}),
        ]
        asked = {"host": server.url, "run_id": started["run_id"]}
        going = ask("kfp_run", asked)
        assert (going["state"], going["ended"]) == ("RUNNING", False)
        assert [(s["name"], s["state"]) for s in going["steps"]] == [
            ("make-data", "SUCCEEDED"), ("fit", "RUNNING"), ("baseline", "PENDING"),
        ]  # fmt: skip
        ended = ask("kfp_run", asked)
        assert (ended["state"], ended["ended"]) == ("FAILED", True)
        assert ended["link"] == f"{server.url}/#/runs/details/{started['run_id']}"
        server.want_header = ("Authorization", "Bearer x")
        with pytest.raises(ServiceError) as refused:
            ask("kfp_run", asked | {"auth": "none"})
        assert refused.value.code == "kfp_auth" and "401" in refused.value.message
    with pytest.raises(ServiceError) as bad:
        ask("kfp_run", {"host": server.url, "run_id": "../../x"})
    assert bad.value.status == 400 and bad.value.message.startswith("run_id: ")
