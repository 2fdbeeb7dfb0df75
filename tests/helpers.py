"""Building notebooks in tests, and the two ways of running one that must agree.

``kernel_results`` runs the notebook top to bottom in a real Jupyter kernel (nbclient), leaving
out cells tagged ``skip``: the reference. ``kalec_results`` runs it with ``kalec run --local``.
Both return the ``RESULT ...`` lines printed, sorted (independent steps may run in any order).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

Cell = tuple[list[str], str]  # (tags, source)


def make_notebook(
    path: Path, cells: list[Cell | str], metadata: dict[str, Any] | None = None
) -> Path:
    """Write a notebook; a bare string is a markdown cell, a cell (tags, source, metadata)
    has more cell metadata (a reference's ``notebook_path``)."""
    nb_cells = []
    for index, cell in enumerate(cells):
        if isinstance(cell, str):
            nb_cells.append(
                {"id": f"c{index}", "cell_type": "markdown", "metadata": {}, "source": cell}
            )
            continue
        tags, source, *more = cell
        nb_cells.append(
            {
                "id": f"c{index}",
                "cell_type": "code",
                "execution_count": None,
                "outputs": [],
                "metadata": ({"tags": list(tags)} if tags else {}) | (more[0] if more else {}),
                "source": source,
            }
        )
    notebook = {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            **(metadata or {}),
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def result_lines(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        index = line.find("RESULT ")
        if index >= 0:
            out.append(line[index:].rstrip())
    return sorted(out)


_KERNEL_RESULTS: dict[str, list[str]] = {}


def kernel_results(path: Path) -> list[str]:
    """RESULT lines of a top-to-bottom run in a Jupyter kernel, skip cells left out.

    Recorded once per test session for a notebook's content and the files beside it: the
    reference run is the same whichever backend's run it is compared with.
    """
    import hashlib

    digest = hashlib.sha256(path.read_bytes())
    for sibling in sorted(path.parent.iterdir()):
        if sibling != path and sibling.is_file():
            digest.update(sibling.name.encode() + sibling.read_bytes())
    key = digest.hexdigest()
    if key not in _KERNEL_RESULTS:
        _KERNEL_RESULTS[key] = _kernel_results(path)
    return _KERNEL_RESULTS[key]


def _kernel_results(path: Path) -> list[str]:
    import nbclient
    import nbformat

    notebook = nbformat.read(str(path), as_version=4)
    notebook.cells = [
        c for c in notebook.cells if "skip" not in c.get("metadata", {}).get("tags", [])
    ]
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output.get("text", ""))
            elif "data" in output:
                texts.append(output["data"].get("text/plain", ""))
    return result_lines("\n".join(texts))


def run_kalec(
    *args: str, cwd: Path | None = None, timeout: int = 120, in_process: bool = True
) -> subprocess.CompletedProcess:
    """The ``kalec`` command with ``args``: its exit code and what it printed.

    By default through ``kalec.cli.main`` in this process (the command's whole code path,
    without half a second of interpreter start-up per call); ``in_process=False`` starts
    ``python -m kalec``, for what only a real process shows (the entry point, signals).
    """
    if not in_process:
        env = dict(os.environ)
        env.pop("KALEC_DEBUG", None)
        return subprocess.run(
            [sys.executable, "-m", "kalec", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            env=env,
        )
    import contextlib
    import io

    from kalec.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    debug = os.environ.pop("KALEC_DEBUG", None)
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit:  # argparse: --help, --version, usage errors
                code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 2)
    finally:
        os.chdir(here)
        if debug is not None:
            os.environ["KALEC_DEBUG"] = debug
    return subprocess.CompletedProcess(
        ["kalec", *args], code, stdout=out.getvalue(), stderr=err.getvalue()
    )


def kalec_results(path: Path, *extra: str) -> tuple[int, list[str], str]:
    """(exit code, RESULT lines, stderr) of ``kalec run --local``."""
    done = run_kalec(
        "run", "--local", str(path), "--run-dir", str(path.parent / ".run"), *extra, cwd=path.parent
    )
    return done.returncode, result_lines(done.stdout + "\n" + done.stderr), done.stderr


KFP_DRIVER = """
import importlib.util, json, sys
from kfp import local
local.init(
    runner=local.SubprocessRunner(use_venv=False),
    pipeline_root=sys.argv[3],
    workspace_root=sys.argv[4],
)
spec = importlib.util.spec_from_file_location("pipeline_script", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.pipeline(**json.loads(sys.argv[2]))
"""


def kfp_local_run(
    script: Path, params: dict | None = None, timeout: int = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run a kfp-py script's pipeline with kfp.local's SubprocessRunner, from the script's folder
    (a neutral one: kalec's source is not on the path there), its workspace (for a pipeline
    that has one) in ``kfp-workspace`` there; ``env`` adds variables."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            KFP_DRIVER,
            str(script),
            json.dumps(params or {}),
            str(script.parent / "kfp-outputs"),
            str(script.parent / "kfp-workspace"),
        ],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
    )


def round_trip(value: Any, folder: Path) -> tuple[str, Any]:
    """Save a value with the marshal and load it back: (file written, value loaded)."""
    from kalec.runtime.marshal import resource_load, resource_save

    written = resource_save(value, folder / "v")
    return written, resource_load(folder / "v")


def start_server(
    command: list[str],
    env: dict,
    ready: Any,
    log: Path,
    seconds: float = 90,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """Start a server process, its output going to ``log`` (a pipe nobody reads would fill and
    stop it), and wait until ``ready()`` answers true; the process."""
    import time

    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return process
        except OSError:
            pass
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)
