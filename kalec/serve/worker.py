"""Worker processes of a server, for what must not run in the server's own process: compiling
with kfp (one global pipeline context, half a second of the interpreter lock) and deploying (a
client call that can hang on a server that never answers).

``python -m kalec.serve.worker`` reads one JSON request a line on standard input and answers
one JSON line on standard output, for as long as its input is open:

- ``{"job": "compile", "script": TEXT, "script_name": NAME}`` -> ``{"ok": true, "yaml": TEXT}``
- ``{"job": "deploy", "request": {...DeployRequest}}`` -> ``{"ok": true, "result": {...},
  "said": TEXT}``

or ``{"ok": false, "error": TEXT}``. Plain processes, not ``multiprocessing``: nothing of the
server's main module is imported again in them, whatever program embeds the server. A worker
that does not answer in time is killed, which always ends what it was doing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict
from typing import Any

from kalec.local.processes import with_kalec_importable


class WorkerTimeout(Exception):
    """The worker did not answer in time; it was killed."""


class WorkerEnded(Exception):
    """The worker ended without an answer (killed from outside, out of memory)."""


class Worker:
    """One worker process, answering one request at a time."""

    def __init__(self) -> None:
        env = with_kalec_importable(dict(os.environ, PYTHONUNBUFFERED="1"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kalec.serve.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # a Ctrl-C to the server is the server's to handle
        )

    def call(self, request: dict[str, Any], seconds: float) -> dict[str, Any]:
        """The answer to ``request``; ``WorkerTimeout`` (the worker killed) after ``seconds``,
        ``WorkerEnded`` when it ended without one."""
        assert self.process.stdin is not None and self.process.stdout is not None
        answer: list[bytes] = []
        try:
            self.process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except OSError:
            raise WorkerEnded("the worker process has ended") from None
        reader = threading.Thread(
            target=lambda: answer.append(self.process.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(seconds)
        if reader.is_alive():
            self.kill()
            reader.join()
            raise WorkerTimeout(f"no answer within {seconds:.0f} s")
        if not answer or not answer[0]:
            self.kill()
            raise WorkerEnded("the worker process ended without an answer")
        return json.loads(answer[0])

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """End it politely: its input closes, it returns."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


def deploy_with_deadline(request: Any, seconds: float) -> tuple[Any, str]:
    """``kalec.deploy.deploy`` in a worker of its own, killed after ``seconds``: a server that
    accepts and never answers (or a TLS handshake with a plain HTTP port) cannot hold the
    caller, whatever kfp's client does with time limits. (the result, what it said);
    ``DeployTimeout`` past the limit, ``DeployError`` as ``deploy`` raises it."""
    from kalec.deploy import AuthRefused, DeployError, DeployResult, DeployTimeout

    worker = Worker()
    try:
        answer = worker.call({"job": "deploy", "request": asdict(request)}, seconds)
    except WorkerTimeout:
        raise DeployTimeout(
            f"Kubeflow Pipelines at {request.host} did not answer within {seconds:.0f} s"
        ) from None
    except WorkerEnded:
        raise DeployError("the deploy's process ended without an answer") from None
    finally:
        worker.close()
    if not answer.get("ok"):
        kind = {"auth": AuthRefused, "timeout": DeployTimeout}.get(answer.get("kind"), DeployError)
        raise kind(str(answer.get("error")))
    return DeployResult(**answer["result"]), str(answer.get("said", ""))


# --- inside the worker -------------------------------------------------------------------------


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    job = request.get("job")
    if job == "compile":
        from kalec.targets import kfp_yaml

        return {
            "ok": True,
            "yaml": kfp_yaml.compile_text(request["script"], request["script_name"]),
        }
    if job == "deploy":
        from kalec.deploy import AuthRefused, DeployError, DeployRequest, DeployTimeout, deploy

        said = io.StringIO()
        try:
            result = deploy(DeployRequest(**request["request"]), said)
        except DeployError as error:
            kind = (
                "auth"
                if isinstance(error, AuthRefused)
                else "timeout"
                if isinstance(error, DeployTimeout)
                else "error"
            )
            return {"ok": False, "kind": kind, "error": str(error), "said": said.getvalue()}
        return {"ok": True, "result": asdict(result), "said": said.getvalue()}
    if job == "warm":
        import kfp.compiler  # noqa: F401 - imported once, before the first compile waits for it

        return {"ok": True}
    return {"ok": False, "error": f"no such job: {job!r}"}


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # what kfp prints must not mix with the answers
    for line in sys.stdin:
        try:
            answer = _answer(json.loads(line))
        except Exception as error:  # noqa: BLE001 - said to the server, in one line
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
