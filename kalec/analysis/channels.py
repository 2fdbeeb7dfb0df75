"""Calls through which a cell reaches files without Python's file functions: child processes and
native code that opens files itself.

The step cache knows what a step read by watching it (``kalec.runtime.observe``); these calls
are the ones only a system-call observer sees. Where this machine has one, the compiler marks
steps whose own code calls native readers, so that they are observed from their first cell;
where it has none, ``kalec check`` names each such call, since kalec cannot vouch for the step.
Read from the syntax tree, by the names the code writes: a catalogue, leaning towards counting
(a call counted by mistake costs a step observed a little more closely, or a note).
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from kalec.analysis.parsing import walk
from kalec.analysis.symbols import dotted_name
from kalec.ir import NATIVE_CHANNEL, PROCESS_CHANNEL

PROCESS, NATIVE = PROCESS_CHANNEL, NATIVE_CHANNEL

# module -> functions of it that start a process ("*": all of them)
_PROCESS_MODULES = {
    "subprocess": {"*"},
    "os": {
        "system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "spawnl", "spawnle",
        "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "execl", "execle",
        "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
    },
    "pty": {"spawn", "fork"},
    "multiprocessing": {"Pool", "Process", "get_context", "Manager"},
    "mp": {"Pool", "Process", "get_context", "Manager"},
    "concurrent.futures": {"ProcessPoolExecutor"},
    "pexpect": {"spawn", "run"},
    "joblib": {"Parallel"},
    "sh": {"*"},
}  # fmt: skip
# names that start processes whatever module they were imported from
_PROCESS_NAMES = {
    "Popen", "check_output", "check_call", "getoutput", "getstatusoutput", "ProcessPoolExecutor",
    "Parallel", "get_reusable_executor",
}  # fmt: skip
# IPython: !cmd, %%bash and friends, %sx
_SHELL_MAGICS = {"bash", "sh", "script", "system", "!", "perl", "ruby", "python", "python2",
                 "python3", "pypy", "sx"}  # fmt: skip

# calls that read or write files in native code: by the module they are called on ...
_NATIVE_MODULES = {
    "sqlite3": {"connect"},
    "duckdb": {"connect", "read_csv", "read_parquet", "sql", "query"},
    "h5py": {"File"},
    "netCDF4": {"Dataset", "MFDataset"},
    "nc": {"Dataset", "MFDataset"},
    "tables": {"open_file"},
    "cv2": {"*"},
    "pq": {"*"},
    "pyarrow.parquet": {"*"},
    "ds": {"dataset", "write_dataset"},
    "pyarrow.dataset": {"*"},
    "feather": {"*"},
    "pyarrow.feather": {"*"},
    "pl": {"*"},
    "polars": {"*"},
    "torch": {"save"},
    "torch.jit": {"save", "load"},
    "tf": {"*"},
    "tensorflow": {"*"},
    "xr": {"open_dataset", "open_mfdataset", "open_dataarray", "open_zarr", "load_dataset"},
    "xarray": {"open_dataset", "open_mfdataset", "open_dataarray", "open_zarr", "load_dataset"},
    "sf": {"read", "write", "SoundFile"},
    "soundfile": {"read", "write", "SoundFile"},
    "lgb": {"Booster", "Dataset"},
    "lightgbm": {"Booster", "Dataset"},
    "faiss": {"read_index", "write_index"},
    "safetensors": {"*"},
    "onnxruntime": {"InferenceSession"},
    "ort": {"InferenceSession"},
}
# ... or by a method name that only such libraries have
_NATIVE_METHODS = {
    "read_parquet", "to_parquet", "read_feather", "to_feather", "read_orc", "to_orc", "read_hdf",
    "to_hdf", "HDFStore", "to_netcdf", "open_dataset", "open_mfdataset", "read_spss",
    "save_model", "load_model", "save_weights", "load_weights", "scan_parquet", "scan_csv",
    "write_parquet", "read_ipc", "write_ipc", "save_file", "load_file", "from_file",
}  # fmt: skip


class Channel(NamedTuple):
    """A call through which the cell reaches files unseen by Python's file functions."""

    kind: str  # PROCESS or NATIVE
    line: int
    text: str  # the call as written, shortened


def _shell(call: ast.Call) -> str | None:
    """``get_ipython().system('cmd')``, ``.getoutput``, a shell cell magic: its command."""
    func = call.func
    if not (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and dotted_name(func.value.func) == "get_ipython"
    ):
        return None
    words = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if func.attr in ("system", "getoutput") and words:
        return f"!{words[0]}"
    if func.attr == "run_cell_magic" and words and words[0] in _SHELL_MAGICS:
        return f"%%{words[0]}"
    if func.attr == "run_line_magic" and words and words[0] in ("sx", "system"):
        return f"%{words[0]} {' '.join(words[1:])}".strip()
    return None


def _kind(name: str) -> str | None:
    module, _, function = name.rpartition(".")
    if module:
        wanted = _PROCESS_MODULES.get(module)
        if wanted is not None and ("*" in wanted or function in wanted):
            return PROCESS
        wanted = _NATIVE_MODULES.get(module)
        if wanted is not None and ("*" in wanted or function in wanted):
            return NATIVE
    if function in _PROCESS_NAMES or (not module and name in _PROCESS_NAMES):
        return PROCESS
    if function in _NATIVE_METHODS:
        return NATIVE
    return None


def _workers(call: ast.Call) -> bool:
    """``n_jobs=2`` (or -1): scikit-learn and joblib start worker processes."""
    for keyword in call.keywords:
        if keyword.arg == "n_jobs":
            value = keyword.value
            return not (isinstance(value, ast.Constant) and value.value in (None, 1))
    return False


def channels(tree: ast.AST) -> list[Channel]:
    """The cell's calls that reach files through a child process or native code."""
    found = []
    for node in walk(tree):
        if not isinstance(node, ast.Call):
            continue
        shell = _shell(node)
        if shell is not None:
            found.append(Channel(PROCESS, node.lineno, shell[:80]))
            continue
        name = dotted_name(node.func)
        if name is None and isinstance(node.func, ast.Attribute):
            name = node.func.attr  # a method of something made by a call: x().to_parquet
        kind = _kind(name) if name else None
        if kind is not None:
            found.append(Channel(kind, node.lineno, f"{name}()"))
        elif _workers(node):
            found.append(Channel(PROCESS, node.lineno, f"{name or 'a call'}(n_jobs=...)"))
    return sorted(found, key=lambda c: c.line)
