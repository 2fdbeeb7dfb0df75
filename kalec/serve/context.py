"""What one server holds between requests: its limits, its kfp compiler, its background runs
and searches, the folder its notebooks come from, and what it remembers of recent requests.

Each adapter (``kalec serve``, the Jupyter Server extension) builds one ``ServiceContext`` when
it starts, passes it on every call, and closes it when it stops; two servers in one process
(tests do this) share nothing.

What a server remembers is sized for a laptop that also runs JupyterLab and the notebook's
kernel: the compiled pipelines of recent notebooks (an editor's panel re-checks on every save)
and the texts of recent builds, each bounded by the bytes it holds
(``bench/serve_load.py`` prints the server's resident memory under a team's load).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from kalec.serve.background import Runs
from kalec.serve.kfp_compiles import KfpCompiler
from kalec.serve.tunes import Tunes
from kalec.sized_cache import SizedCache

PIPELINES_BYTES = 32 * 2**20  # compiled pipelines, weighed at 8 bytes a character of notebook
BUILDS_BYTES = 16 * 2**20  # built texts (kfp-py, YAML, Argo, IR) of notebooks without a folder


@dataclass(frozen=True)
class Limits:
    """What a server allows its clients, set by its adapter (``kalec serve`` flags)."""

    deploy_seconds: float = 60.0  # a deploy that takes longer is ended: 504
    max_deploys: int = 2  # at once; more is 503 (deploys never hold all of a server's threads)
    allow_link_local: bool = False  # deploy to link-local and cloud metadata addresses
    max_runs: int = 2  # local runs at once; more is 429
    keep_runs: int = 20  # finished runs whose folders are kept
    max_tunes: int = 1  # searches at once


@dataclass
class ServiceContext:
    """One server's state, carried on every call (``endpoints.Call``)."""

    runs: Runs
    tunes: Tunes
    limits: Limits = field(default_factory=Limits)
    compiler: KfpCompiler = field(default_factory=KfpCompiler)
    # The folder the server serves notebooks from (Jupyter's root, ``kalec serve --folder``):
    # the notebooks a composition references must be inside it. None: the notebook's folder.
    notebooks_root: Path | None = None
    pipelines: SizedCache = field(default_factory=lambda: SizedCache(PIPELINES_BYTES))
    builds: SizedCache = field(default_factory=lambda: SizedCache(BUILDS_BYTES))
    deploys: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.deploys = threading.BoundedSemaphore(self.limits.max_deploys)

    @classmethod
    def in_folder(
        cls,
        folder: Path,
        limits: Limits | None = None,
        kfp_workers: int = 1,
        notebooks_root: Path | None = None,
    ) -> ServiceContext:
        """A server's context whose runs go in ``folder/runs`` and searches in
        ``folder/runs-tunes``."""
        limits = limits or Limits()
        return cls(
            runs=Runs(folder / "runs", limit=limits.max_runs, keep=limits.keep_runs),
            tunes=Tunes(folder / "runs-tunes", limit=limits.max_tunes),
            limits=limits,
            compiler=KfpCompiler(workers=kfp_workers),
            notebooks_root=notebooks_root,
        )

    def start(self) -> None:
        """Before the first request: kfp's workers start warming."""
        self.compiler.start()

    def close(self) -> None:
        """The server is stopping: every run and search still going ends (each recorded as
        stopped), then kfp's workers."""
        self.runs.close()
        self.tunes.close()
        self.compiler.close()
