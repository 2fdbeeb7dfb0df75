"""kfp's compiler for a server: in worker processes of its own.

kfp keeps one global pipeline context, so two compiles at once in one process fail ("Nested
pipelines are not allowed"), and a compile holds the interpreter lock for about half a second,
which every other request of the server would wait for. So a server hands the ``kfp-py``
script's text to a small pool of worker processes (``kalec serve --kfp-workers``, default 1),
each of which imported kfp once; with 0 workers it compiles in its own process, one at a time.
A compile that takes longer than its time limit ends its worker (a new one takes its place).
"""

from __future__ import annotations

import queue
import threading

from kalec.errors import KalecError
from kalec.serve.worker import Worker, WorkerEnded, WorkerTimeout
from kalec.targets import kfp_yaml


class CompileFailed(KalecError):
    """The compile did not finish: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class KfpCompiler:
    def __init__(self, workers: int = 1, timeout: float = 120.0) -> None:
        self.workers, self.timeout = workers, timeout
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._made = 0
        self._lock = threading.Lock()  # making workers; with no workers, each compile
        self._closed = False

    def start(self) -> None:
        """Start the workers now, each importing kfp (a second), not at the first request."""
        for _ in range(self.workers):
            worker = self._make()
            if worker is not None:
                threading.Thread(target=self._warm, args=(worker,), daemon=True).start()

    def _warm(self, worker: Worker) -> None:
        try:
            worker.call({"job": "warm"}, self.timeout)
        except (WorkerTimeout, WorkerEnded):
            self._lost()
            return
        self._release(worker)

    def _release(self, worker: Worker) -> None:
        """A worker done with its job: waiting for the next, or ended if the server is."""
        with self._lock:
            closed = self._closed
        if closed:
            worker.close()
        else:
            self._idle.put(worker)

    def _make(self) -> Worker | None:
        with self._lock:
            if self._made >= self.workers or self._closed:
                return None
            self._made += 1
        return Worker()

    def _lost(self) -> None:
        with self._lock:
            self._made -= 1

    def compile(self, script: str, script_name: str) -> str:
        if self.workers == 0:
            with self._lock:
                return kfp_yaml.compile_text(script, script_name)
        worker = None
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            worker = self._make()
        if worker is None:
            try:
                worker = self._idle.get(timeout=self.timeout)
            except queue.Empty:
                raise CompileFailed(
                    503, "busy", f"kfp's compilers were all busy for {self.timeout:.0f} s"
                ) from None
        request = {"job": "compile", "script": script, "script_name": script_name}
        try:
            answer = worker.call(request, self.timeout)
        except WorkerTimeout:
            self._lost()
            raise CompileFailed(
                504, "timeout", f"compiling with kfp took over {self.timeout:.0f} s"
            ) from None
        except WorkerEnded:
            self._lost()
            raise CompileFailed(
                503, "compiler_ended", "kfp's compiler process ended; send the request again"
            ) from None
        self._release(worker)
        if not answer.get("ok"):
            raise CompileFailed(422, "refused", f"kfp's compiler: {answer.get('error')}")
        return str(answer["yaml"])

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
