"""The notebook run top to bottom in a Jupyter kernel (nbclient), ``skip`` cells left out, with
probes between cells that save the values the pipeline passes, as a step would save them.

Between two cells verify runs a constant line of kalec's own
(``__import__('kalec.runtime.verify_probe', ...).save(globals(), N)``); what to save comes from
request file N, written by kalec: the notebook's text never enters the code the kernel runs.
Before the first cell the kernel's global random generators are seeded as every pipeline step
seeds its own, so that both runs draw the same numbers.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kalec.errors import KalecError
from kalec.ir import Pipeline
from kalec.local.processes import with_kalec_importable
from kalec.local.program import program_cells

PROBE = "__import__('kalec.runtime.verify_probe', fromlist=['save']).save(globals(), {})"
SEED_PROBE = "__import__('kalec.runtime.verify_probe', fromlist=['seed']).seed({})"


class VerifyError(KalecError):
    """The comparison could not be made (no kernel, nbclient missing, the probe failed)."""


class Failed(Exception):
    """One of the two runs failed: verify ends with exit 1."""


@dataclass
class Probes:
    """What to save in the kernel before and after each cell: {cell: [names]}."""

    before: dict[int, list[str]] = field(default_factory=dict)
    after: dict[int, list[str]] = field(default_factory=dict)
    metrics_after: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pipeline: Pipeline) -> Probes:
        probes = cls()
        for step in pipeline.steps:
            received = [name for name, _ in step.artifact_inputs()]
            if received:
                probes.before.setdefault(min(step.cells), []).extend(received)
            if step.outputs:
                probes.after.setdefault(max(step.cells), []).extend(step.outputs)
            if step.metrics:
                probes.metrics_after.setdefault(max(step.cells), []).extend(step.metrics)
        return probes


@dataclass
class KernelRun:
    """What the notebook's run in a kernel saved: values around each step's cells, and outputs."""

    saved: dict[tuple[str, int], dict[str, Any]]  # ("before"|"after", cell) -> what was saved
    outputs: dict[int, list[dict[str, Any]]]  # cell -> its output records


def referenced_folders(pipeline: Pipeline) -> list[str]:
    """The folders of the notebooks a composition references, absolute."""
    from kalec.ir.places import notebook_path

    root = Path(pipeline.source).resolve().parent
    found = [Path(notebook_path(pipeline, n.scope)).resolve().parent for n in pipeline.notebooks]
    return [str(f) for f in dict.fromkeys(found) if f != root]


def run_kernel(
    pipeline: Pipeline,
    probes: Probes,
    folder: Path,
    kernel: str | None,
    timeout: float | None,
    seed: int,
    err: TextIO,
) -> KernelRun:
    try:
        import nbclient
        import nbformat
        from nbclient.exceptions import CellExecutionError
    except ImportError:
        raise VerifyError(
            "verify runs the notebook in a Jupyter kernel and needs nbclient and ipykernel: "
            "pip install 'kalec[verify]'"
        ) from None
    notebook = nbformat.read(pipeline.source, as_version=4)
    if pipeline.notebooks:
        notebook.cells = [nbformat.from_dict(c) for c in program_cells(pipeline, notebook)]
    kernel = kernel or notebook.metadata.get("kernelspec", {}).get("name") or "python3"
    skipped = {
        number
        for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and "skip" in (cell.metadata.get("tags") or [])
    }
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(Path(pipeline.source).resolve().parent)}},
    )
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"  # a socket file only this user can open, not a TCP port
    env = with_kalec_importable(dict(os.environ, KALEC_VERIFY_DIR=str(folder), MPLBACKEND="Agg"))
    folders = referenced_folders(pipeline)
    if folders:  # a referenced notebook's local modules import, as in its steps
        env["PYTHONPATH"] = os.pathsep.join([*folders, *filter(None, [env.get("PYTHONPATH")])])
    run = KernelRun({}, {})
    counter = iter(range(1_000_000))
    err.write(f"kalec: running the notebook top to bottom in a Jupyter kernel ({kernel}) ...\n")
    started = time.perf_counter()

    def hidden(code: str, where: str) -> None:
        cell = nbformat.v4.new_code_cell(code)
        try:
            client.execute_cell(cell, len(notebook.cells) - 1, store_history=False)
        except CellExecutionError as error:
            raise VerifyError(
                f"the kernel could not {where} ({error}); verify needs a Python kernel in which "
                "kalec is installed (--kernel NAME)"
            ) from None

    def probe(where: str, cell: int, names: list[str], metrics: list[str]) -> None:
        number = next(counter)
        request = {"values": names, "metrics": metrics}
        (folder / f"request-{number}.json").write_text(json.dumps(request), encoding="utf-8")
        hidden(PROBE.format(number), f"save the values {where} cell {cell}")
        run.saved[(where, cell)] = json.loads(
            (folder / f"saved-{number}.json").read_text(encoding="utf-8")
        )

    cells = list(notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell(""))  # the place the probes run in
    try:
        with client.setup_kernel(env=env):
            hidden(SEED_PROBE.format(int(seed)), "seed its random generators")
            for number, cell in enumerate(cells, start=1):
                if cell.cell_type != "code" or number in skipped:
                    continue
                if number in probes.before:
                    probe("before", number, probes.before[number], [])
                try:
                    client.execute_cell(cell, number - 1)
                except CellExecutionError as error:
                    first = str(error).strip().splitlines()[-1:] or [""]
                    raise Failed(
                        f"the notebook itself fails in the kernel at cell {number}: {first[0]}"
                    ) from None
                run.outputs[number] = [dict(o) for o in cell.get("outputs", [])]
                if number in probes.after or number in probes.metrics_after:
                    probe(
                        "after",
                        number,
                        probes.after.get(number, []),
                        probes.metrics_after.get(number, []),
                    )
    except (Failed, VerifyError):
        raise
    except Exception as error:  # no such kernel (a KeyError), a kernel that died, a timeout
        raise VerifyError(
            f"cannot run the notebook in the kernel {kernel!r}: {type(error).__name__}: {error}"
            " (--kernel NAME picks another; jupyter kernelspec list shows them)"
        ) from None
    err.write(f"kalec: notebook done in {time.perf_counter() - started:.1f} s\n")
    return run
