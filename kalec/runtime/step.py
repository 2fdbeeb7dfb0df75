"""Run one step: the code of its cells, with its inputs loaded before and its outputs saved after.

Every backend runs steps through ``run_step``: the local runner in a fresh process
(``python -m kalec.runtime.step RUN.json``), the KFP and Argo targets inside their containers.
It behaves like the notebook's kernel where that matters to results:

- the code runs as module ``__main__``, as in Jupyter, so classes and functions defined in cells
  are saved by value and load in any later step;
- each cell is compiled on its own under the name ``<notebook>, cell N``, so a traceback points
  at the notebook cell and line, with the line's text;
- a cell's last expression is displayed, as Jupyter displays it;
- IPython syntax (already turned into ``get_ipython()`` calls by the compiler) runs on an
  in-process IPython shell, created only for steps that use it; ``%matplotlib`` selects a
  non-interactive backend instead of failing without a screen.

Order inside the step: parameters, prelude (imports, functions), repeated imports, inputs, cells,
then outputs and metrics. Inputs come after the prelude so that a value a step changed wins over
the prelude's fresh definition of it.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import json
import linecache
import os
import sys
import time
import traceback
import types
from dataclasses import dataclass
from typing import Any

from kalec.runtime import cell_outputs, global_state, kernel_defaults
from kalec.runtime.marshal import (
    MarshalError,
    UnserialisableError,
    resource_load,
    resource_save_digest,
)
from kalec.runtime.protocol import Observation, SpecCell, StepOutcome, StepRequest, StepSpec

FIGURES_BACKEND = "module://kalec.runtime.figures"


@dataclass
class StepFailure(Exception):
    """The step did not complete; ``cell`` and ``line`` point into the notebook when known."""

    message: str
    cell: int | None = None
    line: int | None = None
    phase: str = "code"

    def __str__(self) -> str:
        return self.message


class _Cells:
    """Compiles cells under notebook names and keeps their text for tracebacks."""

    def __init__(self, source: str) -> None:
        self.source = os.path.basename(source)
        self.names: dict[str, int] = {}

    def filename(self, cell: int, name: str | None = None) -> str:
        """The name tracebacks show for a cell: ``nb.ipynb, cell 4`` (``name``, in a
        composition: the notebook the cell is in and its number there)."""
        name = name or f"{self.source}, cell {cell}"
        self.names[name] = cell
        return name

    def run(
        self,
        code: str,
        cell: int,
        namespace: dict[str, Any],
        show_last: bool,
        name: str | None = None,
    ) -> None:
        filename = self.filename(cell, name)
        lines = code.splitlines(keepends=True)
        linecache.cache[filename] = (len(code), None, lines, filename)
        tree = ast.parse(code, filename)
        last = None
        stripped = code.rstrip()
        if (
            show_last
            and tree.body
            and isinstance(tree.body[-1], ast.Expr)
            and not stripped.endswith(";")
        ):
            last = tree.body.pop()
        if cell_outputs.RECORDER is not None:
            cell_outputs.RECORDER.begin(cell)
        exec(compile(tree, filename, "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
            if value is not None:
                namespace["_"] = value
                cell_outputs.result(value)
        cell_outputs.show_figures()  # what the cell left open, as Jupyter's inline backend shows it

    def failure(self, error: BaseException, phase: str) -> StepFailure:
        """Where in the notebook ``error`` happened (the innermost notebook frame)."""
        cell = line = None
        for frame in traceback.extract_tb(error.__traceback__):
            if frame.filename in self.names:
                cell, line = self.names[frame.filename], frame.lineno
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        return StepFailure(text, cell, line, phase)

    def print_traceback(self, error: BaseException) -> None:
        """The traceback from the first notebook frame on: kalec's own frames say nothing."""
        frames = traceback.extract_tb(error.__traceback__)
        start = next((i for i, f in enumerate(frames) if f.filename in self.names), 0)
        out = ["Traceback (most recent call last):\n"]
        out += traceback.format_list(frames[start:])
        out += traceback.format_exception_only(type(error), error)
        stderr = cell_outputs.unrecorded(sys.stderr)
        stderr.write("".join(out))  # recorded below as the cell's error, not as its text
        stderr.flush()
        if cell_outputs.RECORDER is not None:
            cell_outputs.RECORDER.error(error, [line.rstrip("\n") for line in out])


def _ipython_shell(module: types.ModuleType) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(user_module=module, user_ns=module.__dict__)

    def matplotlib(line: str = "") -> None:
        """In a step there is no screen: figures are drawn by Agg and recorded on show."""
        import importlib.util

        if importlib.util.find_spec("matplotlib") is not None:
            import matplotlib as mpl

            mpl.use(FIGURES_BACKEND)

    shell.register_magic_function(matplotlib, "line", "matplotlib")
    shell.display_pub.publish = cell_outputs.publish  # display() and HTML(...): shown and recorded
    return shell


def _whole_numbers(value: Any) -> Any:
    """Floats that are whole numbers back to ints, inside lists and dicts.

    Pipeline services carry list and dict parameters as JSON structs, where every number is a
    double: ``[1, 2]`` arrives as ``[1.0, 2.0]``. For parameters whose notebook default held only
    whole numbers, the step gets ints again, as the notebook had them.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    return value


def metric_value(value: Any) -> Any:
    """A metric as JSON: itself when it is JSON, else as a number, else its repr."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        try:
            return float(value)
        except (TypeError, ValueError):
            return repr(value)


def _size_text(value: Any) -> str:
    """The in-memory size of a value, where its type says it (arrays, frames), for messages."""
    size = getattr(value, "nbytes", None)
    if size is None and hasattr(value, "memory_usage"):
        try:
            size = int(value.memory_usage(deep=True).sum())
        except Exception:
            size = None
    return f" ({size / 1e6:,.1f} MB)" if isinstance(size, int) else ""


def run_step(
    spec: StepSpec | dict[str, Any],
    params: dict[str, Any],
    inputs: dict[str, str],
    outputs: dict[str, str],
    on_cell: Any = None,
    observer: Any = None,
    seed: int | None = None,
    channels: Any = None,
) -> StepOutcome:
    """Run the step ``spec`` describes (a ``StepSpec``, or its JSON, as a generated script
    carries it); the outcome of a step that completed; ``StepFailure`` if it does not.

    ``params``: values by name; ``inputs``:
    name -> saved value's path; ``outputs``: name -> path to save the value to; ``on_cell``:
    called with each cell's number before it runs (the local runner names the cell a step was
    in when it ran out of time); ``observer``: an installed ``observe.Observer``, recording
    from the first cell to the last; ``seed``: the global random generators start from it, as
    ``kalec verify`` starts the notebook's kernel (a received generator state still wins).
    """
    started = time.perf_counter()
    if not isinstance(spec, StepSpec):
        spec = StepSpec.from_json(spec)
    os.environ.setdefault("MPLBACKEND", FIGURES_BACKEND)
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    namespace = module.__dict__
    cells = _Cells(spec.source)
    codes = [c.code for c in spec.prelude + spec.cells]
    if any("get_ipython()" in code for code in codes):
        _ipython_shell(module)
    elif any("IPython" in code for code in codes):  # IPython's display(): recorded when rich
        with contextlib.suppress(ImportError):
            _ipython_shell(module)
    if not hasattr(builtins, "display"):
        builtins.display = cell_outputs.display  # Jupyter offers display() without an import
    kernel_defaults.apply()
    if seed is not None:
        global_state.seed_all(seed)
    if observer is not None:
        observer.cells = cells.names
        observer.start()
    if channels is not None:
        from kalec.runtime import channels as channel_hooks

        channel_hooks.start(channels)
        for found in spec.native_io[:1]:  # its code reads files in native code
            channels.reach("native code", found.call, process=False, cell=found.cell)
    try:
        _run_code(spec, params, inputs, namespace, cells, on_cell)
    finally:
        if channels is not None:
            channel_hooks.stop(channels)
        if observer is not None:
            observer.stop()
    return _save_outputs(spec, outputs, namespace, started)


def _run_code(
    spec: StepSpec,
    params: dict[str, Any],
    inputs: dict[str, str],
    namespace: dict[str, Any],
    cells: _Cells,
    on_cell: Any,
) -> None:
    """Parameters, prelude, repeated imports, inputs, then the step's own cells."""
    step = spec.step
    for folder in reversed(spec.paths):  # a referenced notebook's local modules
        found = os.path.abspath(folder)
        if found not in sys.path:
            sys.path.insert(1 if sys.path and sys.path[0] in ("", os.getcwd()) else 0, found)
    whole = set(spec.whole_number_params)
    namespace.update({k: _whole_numbers(v) if k in whole else v for k, v in params.items()})
    for name in spec.none_if_empty_params:  # default None, carried as a string
        if namespace.get(name) == "":
            namespace[name] = None
    for cell in spec.prelude:
        if on_cell:
            on_cell(cell.cell)
        _run_cell(cells, cell, namespace, show_last=False)
    for statement in spec.imports:
        try:
            exec(compile(statement, f"<import for step {step}>", "exec"), namespace)
        except Exception as error:
            raise StepFailure(f"{statement} failed: {error}", phase="imports") from error
    for name, path in inputs.items():
        try:
            value = resource_load(path)
            if name in global_state.STATES:
                global_state.restore(name, value)
            else:
                namespace[name] = value
        except (MarshalError, OSError) as error:
            raise StepFailure(f"cannot load input {name}: {error}", phase="load") from error
        except Exception as error:
            raise StepFailure(
                f"cannot load input {name}: {type(error).__name__}: {error}; a package the "
                "producing step used may be missing here",
                phase="load",
            ) from error
    for cell in spec.cells:
        if on_cell:
            on_cell(cell.cell)
        _run_cell(cells, cell, namespace, show_last=True)


def _save_outputs(
    spec: StepSpec, outputs: dict[str, str], namespace: dict[str, Any], started: float
) -> StepOutcome:
    step = spec.step
    result = StepOutcome(ok=True)
    for name in outputs:
        if name in global_state.STATES:
            namespace[name] = global_state.capture(name)
    for name, path in outputs.items():
        if name not in namespace:
            raise StepFailure(
                f"step '{step}' was to pass {name} on, but its cells did not set it (a branch "
                "that assigns it did not run?)",
                phase="save",
            )
        try:
            result.outputs[name], result.digests[name] = resource_save_digest(namespace[name], path)
        except (UnserialisableError, MarshalError) as error:
            raise StepFailure(
                f"cannot pass {name} from step '{step}' to the steps that use it: {error}. "
                f"Create {name} again in the step that uses it, or create it inside a function "
                "in a cell tagged functions and call that function where it is needed",
                phase="save",
            ) from error
        except OSError as error:  # disk full, quota, permissions: the value is not saved
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise StepFailure(
                f"{reason.lower()} while saving {name} of step '{step}'"
                f"{_size_text(namespace[name])} to {os.path.dirname(path)}; free space there "
                "(or give another --run-dir) and run again",
                phase="save",
            ) from error
    for name in spec.metrics:  # "accuracy", or "train/accuracy" in a composition
        result.metrics[name] = metric_value(namespace.get(name.rpartition("/")[2]))
    result.seconds = time.perf_counter() - started
    return result


def _run_cell(cells: _Cells, cell: SpecCell, namespace: dict[str, Any], show_last: bool) -> None:
    try:
        cells.run(cell.code, cell.cell, namespace, show_last, cell.name)
    except BaseException as error:
        # SystemExit and KeyboardInterrupt too: in a kernel, sys.exit() or a raised
        # KeyboardInterrupt in a cell is an error of that cell, which ends a top-to-bottom run
        # there; here it names the cell rather than ending the step without a word (a step
        # gets no Ctrl-C from the terminal: the runner ends steps with SIGTERM)
        sys.stdout.flush()
        cells.print_traceback(error)
        raise cells.failure(error, "code") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m kalec.runtime.step REQUEST.json``: the local runner's way into a step process.

    Reads a ``StepRequest``; writes a ``StepOutcome`` (metrics, seconds, files written, or the
    failure's place) to the path the request names. A step whose reads are observed runs in a
    child of this process, which stays to supervise it: what the step's child processes and
    native code do to files is seen there (``syscalls``), where the system allows it.
    """
    argv = sys.argv[1:] if argv is None else argv
    request = StepRequest.read(argv[0])
    if request.observed:
        from kalec.runtime import syscalls

        if syscalls.unavailable() is None:
            return _supervised(request)
    return _run(request)


def _supervised(request: StepRequest) -> int:
    """Run the step in a child process and answer its system-call observer until it ends; the
    child's exit code. The parent's record of what the observer saw joins the step's own."""
    import signal
    import socket

    from kalec.runtime import syscalls
    from kalec.runtime.observe import Observer, merge, write_record

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        ours.close()
        return _run(request, control=theirs)
    theirs.close()
    # the runner stops a step by signalling its process group: the step ends, and this
    # process, which must outlive it to reap it and say how it ended, follows
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    recorder = Observer(request.private, system=True, given=request.environment)

    def join_records() -> None:
        seen = recorder.report(with_modules=False)
        if not (seen.paths or seen.programs) or not request.observed:
            return
        try:
            own = Observation.read(request.observed)
        except (OSError, ValueError, TypeError, KeyError):
            return  # the step failed, or could not write its record: nothing to keep
        try:
            write_record(request.observed, merge(own, seen))
        except (OSError, TypeError, ValueError) as error:
            sys.stderr.write(f"kalec: cannot keep what the step's processes read: {error}\n")

    supervisor = syscalls.Supervisor(recorder)
    code = syscalls.supervise(pid, ours, supervisor, join_records)
    if supervisor.supervised:  # only a step under the filter can have started processes
        _end_the_rest_of_the_group()
    sys.stdout.flush()
    sys.stderr.flush()
    if code < 0:  # ended by a signal: end this process the same way, for the runner to say
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)  # nothing of this process's own is left to tear down


def _end_the_rest_of_the_group() -> None:
    """End what the step left running in its process group, before this supervisor ends: a
    process under the observer's filter with no supervisor gets errors from the system, not
    its files (the runner ends the group anyway, a moment later)."""
    import signal

    group, me = os.getpgrp(), os.getpid()
    if group != me:
        return
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
            if int(fields[2]) == group:
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def _run(request: StepRequest, control: Any = None) -> int:
    """Run the step in this process; its exit code. ``control``: the socket to the supervising
    parent, for the system-call observer's listener."""
    code = 0

    def on_cell(number: int) -> None:
        if request.progress:
            try:
                with open(request.progress, "w", encoding="utf-8") as handle:
                    handle.write(str(number))
            except OSError:
                pass  # only used to name a cell in a time-out message

    observer = channels = None
    if request.observed:
        from kalec.runtime import syscalls
        from kalec.runtime.channels import Channels
        from kalec.runtime.observe import Observer

        observer = Observer(request.private, given=request.environment)
        reason = None if control is not None else syscalls.unavailable()
        channels = Channels(observer, control, reason)
    recorder = cell_outputs.Recorder()
    try:
        with cell_outputs.recording(recorder):
            outcome = run_step(
                request.spec,
                request.params,
                request.inputs,
                request.outputs,
                on_cell=on_cell,
                observer=observer,
                seed=request.seed,
                channels=channels,
            )
    except StepFailure as failure:
        if failure.phase != "code":
            sys.stderr.write(f"error: {failure.message}\n")
        outcome = StepOutcome(
            ok=False,
            error=failure.message,
            cell=failure.cell,
            line=failure.line,
            phase=failure.phase,
        )
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    if observer is not None and request.observed and outcome.ok:
        try:
            observer.write(request.observed)
        except (OSError, TypeError, ValueError) as error:
            sys.stderr.write(f"kalec: cannot keep what the step read: {error}\n")
    if request.display:
        try:
            recorder.write(request.display)
        except (OSError, TypeError, ValueError) as error:
            sys.stderr.write(f"kalec: cannot keep what the step's cells showed: {error}\n")
    try:
        outcome.write(request.result)
    except OSError as error:
        sys.stderr.write(f"kalec: cannot record how the step ended: {error}\n")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
