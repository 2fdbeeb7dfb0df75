"""A fork server for the local runner: import the notebook's modules once, fork one process per
step.

A fresh interpreter per step keeps the steps independent, as pods are; but a fresh interpreter
pays for ``import pandas, sklearn`` again in every step, which the notebook's kernel paid once.
This process imports the modules the steps' code imports (never the notebook's code; which
modules, ``kalec.local.preimports`` decides), and then, for each step the runner asks for, forks
a child that is that fresh interpreter with the imports already done: its own session and
process group, its output on the pipes the runner passed, and ``kalec.runtime.step`` run on the
step's request as ``python -m`` would.

Forking is only safe when nothing the imports started can break in a child: a Python thread
(its locks would stay held), a framework known to break after fork (TensorFlow, JAX, gRPC, Ray,
Spark, CUDA initialised by torch), or a native thread pool that hangs in a child (checked by
forking a probe that uses numpy's and torch's pools and must end within seconds). When any is
found the server says why and exits, and the runner starts every step as a fresh process. A
module whose import writes something (a banner, a warning) would write it here instead of in the
step's cell that imports it: the server starts again, in the same process, without it.

Protocol, over a ``SOCK_SEQPACKET`` socket whose descriptor is the first argument (the second
is a JSON file of the imports), one JSON message per packet: the server sends
``{"ready", "fork", "reason"}`` once; the runner sends ``{"id", "request", "env"}`` with two
descriptors (the step's stdout and stderr), the server answers ``{"started": id, "pid"}`` once
the child leads its own session, and ``{"exited": pid, "code"}`` when a child ends (``code`` as
``Popen.returncode``: negative for a signal). The server ends when the runner closes the socket.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

# Frameworks whose state does not survive fork (threads, device contexts, gRPC channels).
FORK_UNSAFE = ("tensorflow", "jax", "jaxlib", "grpc", "ray", "pyspark", "mxnet", "cupy", "numba")
PROBE_SECONDS = 10.0


def _import_all(imports: list[dict[str, Any]]) -> list[str]:
    """Import each module (``{"module", "names"}``: ``from module import names``), and names
    that are submodules; the ones that fail are left to the steps, which report them. Returns
    the modules whose import wrote something (a banner, a warning): in a step such output
    belongs to the cell that imports them, so they must not be imported here."""
    noisy = []
    for item in imports:
        module = item["module"]
        with _output_watched() as wrote:
            try:
                loaded = importlib.import_module(module)
                for name in item.get("names", ()):
                    if not hasattr(loaded, name) and importlib.util.find_spec(f"{module}.{name}"):
                        importlib.import_module(f"{module}.{name}")
            except KeyboardInterrupt:
                raise
            except BaseException:  # noqa: BLE001 - an import may even call sys.exit(); the step will
                pass
        if wrote[0]:
            noisy.append(module)
    return noisy


@contextlib.contextmanager
def _output_watched() -> Iterator[list[bool]]:
    """Send descriptors 1 and 2 (and so ``sys.stdout``, ``sys.stderr`` and C code's output)
    to a scratch file meanwhile; the list yielded holds, once done, whether anything was
    written there."""
    wrote = [False]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with tempfile.TemporaryFile() as scratch:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(scratch.fileno(), 1)
        os.dup2(scratch.fileno(), 2)
        try:
            yield wrote
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            wrote[0] = os.fstat(scratch.fileno()).st_size > 0


def _probe() -> bool:
    """Fork a child that uses the native thread pools the imports loaded; True when it ended."""
    pid = os.fork()
    if pid == 0:
        try:
            if "numpy" in sys.modules:
                numpy = sys.modules["numpy"]
                matrix = numpy.ones((128, 128))
                numpy.dot(matrix, matrix)
            if "torch" in sys.modules:
                torch = sys.modules["torch"]
                tensor = torch.ones(128, 128)
                torch.mm(tensor, tensor)
        except BaseException:  # noqa: BLE001 - a failure is not a hang: the probe ended
            pass
        os._exit(0)
    deadline = time.monotonic() + PROBE_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False


def fork_hazard() -> str | None:
    """Why forking this process would be unsafe; None when it is safe."""
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if threads:
        return f"an imported module started a thread ({', '.join(threads[:3])})"
    for name in FORK_UNSAFE:
        if name in sys.modules:
            return f"{name} is imported, and does not survive fork"
    torch_cuda = sys.modules.get("torch.cuda")
    if torch_cuda is not None and getattr(torch_cuda, "is_initialized", lambda: False)():
        return "CUDA is initialised, and does not survive fork"
    if not _probe():
        return "a forked test process hung (a native thread pool that does not survive fork)"
    return None


def _send(channel: socket.socket, message: dict[str, Any]) -> None:
    channel.send(json.dumps(message).encode("utf-8"))


def _child(channel: socket.socket, wakeup: tuple[int, int], message: dict, fds: list[int]) -> int:
    """In the forked child: become the step's fresh process, then run the step."""
    signal.set_wakeup_fd(-1)
    for signum, handler in (
        (signal.SIGCHLD, signal.SIG_DFL),
        (signal.SIGTERM, signal.SIG_DFL),
        (signal.SIGINT, signal.default_int_handler),
    ):
        signal.signal(signum, handler)
    channel.close()
    for fd in wakeup:
        os.close(fd)
    os.setsid()  # its own session and process group, as the runner gives every step
    ready_fd = fds[2]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in (null, fds[0], fds[1]):
        os.close(fd)
    os.close(ready_fd)  # tells the server the child leads its group: it may report the pid
    os.environ.update(message.get("env", {}))
    if "numpy.random" in sys.modules:  # a fresh process seeds numpy's generator from the OS
        sys.modules["numpy.random"].seed()
    from kalec.runtime import step

    sys.argv = [step.__file__, message["request"]]
    code = 1
    try:
        code = step.main([message["request"]])
    except BaseException:  # noqa: BLE001 - stopped, or a bug: report as a fresh process would
        traceback.print_exc()
    finally:
        _finish(code)
    return code  # not reached: _finish ends the process


def _finish(code: int) -> None:
    """End the child as an interpreter ends, without tearing down the imported modules.

    A full interpreter shutdown in a forked child touches every object the server imported,
    copying most of its memory page by page (0.2 to 0.8 s with scikit-learn loaded). What
    shutdown does for the step's own work is done here, in the interpreter's order: first
    ``threading``'s own exit handlers and the join of the step's non-daemon threads (process
    pools stop their workers there: concurrent.futures and joblib's loky register with
    ``threading``, not ``atexit``, and multiprocessing's ``atexit`` handler then waits for those
    workers, so the other order never ends), then the exit handlers, then the step's globals
    are released (so files it left open are flushed and closed by their finalizers, as at
    shutdown), cycles are collected, and the standard streams flushed.
    """
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        namespace = sys.modules["__main__"].__dict__
        if namespace is not globals():  # the step's, not this server's (a supervising parent)
            for name in [n for n in namespace if n != "__builtins__"]:
                namespace[name] = None
        gc.collect()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    finally:
        os._exit(code)


def _reap(channel: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(channel, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def serve(channel: socket.socket) -> int | None:
    """Fork a child per request until the runner closes the socket. Returns None in the server,
    and the step's exit code in a child."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner ends the server, not a Ctrl-C
    while True:
        ready, _, _ = select.select([channel, wake_read], [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
            _reap(channel)
        if channel not in ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(channel, 1 << 20, 3)
        except InterruptedError:
            continue
        if not data:
            return None
        message = json.loads(data)
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            return _child(channel, (wake_read, wake_write), message, [*fds, ready_write])
        os.close(ready_write)
        for fd in fds:
            os.close(fd)
        os.read(ready_read, 1)  # returns at the child's close: it has its own session now
        os.close(ready_read)
        _send(channel, {"started": message["id"], "pid": pid})
        _reap(channel)


def main(argv: list[str]) -> int:
    """``python -m kalec.runtime.zygote FD IMPORTS.json [LEFT_OUT.json]``: ``LEFT_OUT``, the
    modules found to print when imported, by an earlier start of this same server."""
    channel = socket.socket(fileno=int(argv[0]))
    os.environ.setdefault(
        "MPLBACKEND", "module://kalec.runtime.figures"
    )  # as a step sets it, before matplotlib is imported
    with open(argv[1], encoding="utf-8") as handle:
        imports = json.load(handle)
    left_out = set(json.loads(argv[2])) if len(argv) > 2 else set()
    imports = [item for item in imports if item["module"] not in left_out]
    noisy = _import_all(imports)
    if noisy:  # imported here, they cannot be un-imported: start again without them
        os.set_inheritable(channel.fileno(), True)
        leave = json.dumps(sorted(left_out | set(noisy)))
        os.execv(sys.executable, [sys.executable, "-m", "kalec.runtime.zygote", *argv[:2], leave])
    importlib.import_module("kalec.runtime.step")  # and kalec's own runtime, with the marshal
    if os.environ.get("KALEC_OBSERVE"):  # steps record what they read: wrap once, here
        importlib.import_module("kalec.runtime.file_hooks").install()
        importlib.import_module("kalec.runtime.channels").install()
        importlib.import_module("kalec.runtime.observe")
        importlib.import_module("kalec.runtime.syscalls").unavailable()  # asked once, here
        importlib.import_module("kalec.runtime.observe").warm()
    reason = fork_hazard()
    _send(channel, {"ready": True, "fork": reason is None, "reason": reason})
    if reason is not None:
        return 0
    gc.freeze()  # the children's collections skip what is imported: fewer pages copied
    code = serve(channel)
    return 0 if code is None else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
