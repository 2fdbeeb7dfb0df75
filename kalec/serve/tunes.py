"""Searches a server starts in the background (``/api/v1/tunes``): start, status, cancel.

Each search is ``kalec tune`` in a process of its own, in a folder under the server's
(``ROOT/ID``: the notebook as posted, its searches, the output). Its status is read from the
search's own record (Optuna's study in ``study.db``): every trial's values, metric, seconds and
steps run or reused, and the best so far. At most ``limit`` go at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kalec.ir import Pipeline
from kalec.local.process_tree import end_trees
from kalec.serve.answers import Cancelling, Trial, TuneStarted, TuneStatus
from kalec.serve.background import Background
from kalec.serve.requests import ServiceError, TuneRequest, notebook_text, placed


class Tunes(Background):
    noun = "search"

    def __init__(self, root: Path, limit: int = 1) -> None:
        super().__init__(root, limit)

    @staticmethod
    def available() -> None:
        """501 when this server cannot search (Optuna is not installed): asked before the
        notebook is compiled, so that the answer does not depend on the notebook."""
        from kalec.searchspace import SpaceError
        from kalec.tune.search import need_optuna

        try:
            need_optuna()
        except SpaceError as error:
            raise ServiceError(501, "unavailable", str(error)) from None

    def start(self, pipeline: Pipeline, request: TuneRequest) -> TuneStarted:
        """Start a search of the request's notebook, compiled by the caller (its own search
        space, or the request's in Katib's fields); its id. The space is checked first: a
        refused one is a 422 at once."""
        from kalec.searchspace import SpaceError, checked, from_katib

        self.available()
        space, algorithm, seed = request.space, request.algorithm, request.seed
        if space is None and not pipeline.settings.search:
            raise ServiceError(
                422, "no_space", "the notebook has no search space; send one (space)"
            )
        data = space if space is not None else json.loads(pipeline.settings.search)
        try:
            parsed = checked(from_katib(data, "space"), pipeline)
            if algorithm is not None:
                from dataclasses import replace

                from kalec.tune.search import sampler

                parsed = replace(parsed, algorithm=algorithm)
                sampler(parsed, seed)
        except SpaceError as error:
            raise ServiceError(422, "refused", str(error)) from None
        with self._lock:
            tune_id = self._admit()
            home = self.root / tune_id
            document = json.loads(notebook_text(request.nb))
            metadata = document.setdefault("metadata", {})
            own = metadata.get("kalec") if isinstance(metadata.get("kalec"), dict) else {}
            metadata["kalec"] = own | {"tune": parsed.as_katib()}
            contents = home / placed(request.name, None).name
            contents.write_text(json.dumps(document), encoding="utf-8")
            notebook = contents if request.folder is None else request.source
            command = [
                sys.executable,
                "-m",
                "kalec",
                "tune",
                str(notebook),
                "--contents",
                str(contents),
                "--tunes-dir",
                str(home / "tunes"),
            ]
            if request.trials is not None:
                command += ["--trials", str(request.trials)]
            if seed is not None:
                command += ["--seed", str(seed)]
            self._launch(tune_id, command)
        return {"id": tune_id, "state": "running", "space": parsed.as_katib()}

    def status(self, tune_id: Any) -> TuneStatus:
        """The search's state, every trial so far and the best one."""
        from kalec.tune.search import load_study
        from kalec.tune.tuning import saved_searches

        process = self._process(tune_id)
        home = self.root / tune_id
        code = process.poll()
        trials: list[Trial] = []
        best = None
        objective = None
        for folder, saved in saved_searches(home / "tunes"):
            objective = saved["space"]["objective"]
            study = load_study(folder)
            if study is None:
                continue
            for trial in study.trials:
                attrs = trial.user_attrs
                trials.append(
                    {
                        "number": trial.number,
                        "params": trial.params,
                        "value": trial.value,
                        "state": trial.state.name.lower(),
                        "seconds": attrs.get("seconds"),
                        "ran": attrs.get("ran"),
                        "reused": attrs.get("reused"),
                        "error": attrs.get("error"),
                    }
                )
            complete = [t for t in trials if t["state"] == "complete"]
            if complete:
                pick = max if objective.get("type", "maximize") == "maximize" else min
                best = pick(complete, key=lambda t: t["value"])
        return self._state(tune_id, code) | {"objective": objective, "trials": trials, "best": best}

    def cancel(self, tune_id: Any) -> Cancelling:
        process = self._process(tune_id)
        if process.poll() is not None:
            raise ServiceError(409, "ended", f"search {tune_id} has already ended")
        end_trees([process], grace=5.0)
        return {"id": tune_id, "state": "cancelled"}
