"""``kalec tune``: a search over the notebook's parameters, each trial a local pipeline run.

A search lives in ``.kalec/tunes/ID/`` beside the notebook: ``tune.json`` (the notebook, the
space, the objective, when it started), ``study.db`` (Optuna's record of every trial: its
values, its metric, seconds, steps run and reused), ``trials/N/`` (each trial's run folder) and
``report.html`` (the picture of the search). ``--resume`` continues the last search (or one
named) until its trial count; a trial that was running when the search stopped runs again.
The first trial runs alone, so that what no parameter reaches is in the step cache before
trials run side by side.
"""

from __future__ import annotations

import json
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from kalec.ir import Pipeline
from kalec.searchspace import Space, SpaceError, from_katib
from kalec.tune import search
from kalec.tune.picture import write_report
from kalec.tune.trial import TrialResult, run_trial

DEFAULT_TRIALS = 10


@dataclass
class TuneOptions:
    trials: int | None = None  # None: the space's maxTrialCount, a grid's size, else 10
    jobs: int = 1  # trials at the same time
    seed: int | None = None
    resume: str | None = None  # a search's id, or "" for the last one
    step_jobs: int = 1  # steps at the same time within a trial
    folder: Path | None = None  # where searches are kept (default: .kalec/tunes beside it)


def tunes_folder(notebook: str | Path) -> Path:
    return Path(notebook).resolve().parent / ".kalec" / "tunes"


def _new_folder(base: Path, notebook: Path) -> Path:
    """A new search's folder, made: ``NB-YYYYmmdd-HHMMSS``, with ``-2``, ``-3`` ... when
    another search of the notebook started in the same second."""
    name = f"{notebook.stem[:40]}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    base.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):
        folder = base / (name if number == 1 else f"{name}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise SpaceError(f"cannot make a new search folder in {base}: too many searches this second")


def _row(widths: list[int], cells: list[str]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n"


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class Search:
    """One search: its folder, its study, and the table it prints as trials finish."""

    def __init__(
        self, pipeline: Pipeline, space: Space, options: TuneOptions, out: TextIO, err: TextIO
    ):
        self.pipeline, self.space, self.options, self.out, self.err = (
            pipeline,
            space,
            options,
            out,
            err,
        )
        self.starters: queue.Queue[Any] = queue.Queue()  # one fork server per worker
        self.running: set[Any] = set()  # the trials' runs going now (``LocalRun``)
        notebook = Path(pipeline.source)
        base = options.folder or tunes_folder(notebook)
        if options.resume is not None:
            self.id = options.resume or _last(base)
            self.folder = base / self.id
            if not (self.folder / "tune.json").is_file():
                raise SpaceError(
                    f"no search {self.id!r} of {notebook.name} to resume "
                    f"(kalec tune {notebook} --list)"
                )
            saved = json.loads((self.folder / "tune.json").read_text(encoding="utf-8"))
            self.space = space = _checked_saved(saved, pipeline)
            self.seed = saved.get("seed")
        else:
            self.folder = _new_folder(base, notebook)
            self.id = self.folder.name
            self.seed = options.seed
            record = {
                "notebook": str(notebook),
                "started": datetime.now().isoformat(timespec="seconds"),
                "seed": options.seed,
                "space": space.as_katib(),
            }
            (self.folder / "tune.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        self.study = search.open_study(self.folder, space, self.seed, self.id)

        self.names = [d.name for d in space.dimensions]
        metric = space.objective.metric
        self.widths = [5] + [max(len(n), 10) for n in self.names] + [max(len(metric), 10), 7, 14]
        self.header = ["trial", *self.names, metric, "seconds", "steps run/reused"]

    def total(self) -> int:
        grid = search.grid_size(self.space)
        wanted = self.options.trials or self.space.trials or grid or DEFAULT_TRIALS
        return min(wanted, grid) if grid is not None else wanted

    def run(self) -> int:
        """Run trials until the count, the goal, or the grid's end; 0, or 1 when none worked."""
        import optuna

        stale = [t for t in self.study.trials if t.state == optuna.trial.TrialState.RUNNING]
        for trial in stale:  # stopped mid-run: its values run again
            self.study.enqueue_trial(trial.params)
            self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        done = sum(
            t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL
            for t in self.study.trials
        )
        total = self.total()
        self.err.write(
            f"kalec: {'resuming' if self.options.resume is not None else 'searching'} "
            f"{', '.join(d.describe() for d in self.space.dimensions)}; "
            f"{'maximising' if self.space.objective.maximize else 'minimising'} "
            f"{self.space.objective.metric} with {self.space.algorithm}, {total} trials "
            f"({done} done); in {self.folder}\n"
        )
        self.out.write(_row(self.widths, self.header))
        for trial in self.study.trials:
            if trial.state == optuna.trial.TrialState.COMPLETE:
                self._print(trial.number, trial.params, trial.value, trial.user_attrs, old=True)
        pending = total - done
        if search.grid_size(self.space) is not None:  # the grid's next points, in order
            seen = set()
            queued = 0
            for trial in self.study.trials:
                params = trial.params or trial.system_attrs.get("fixed_params") or {}
                seen.add(tuple(sorted(params.items())))
                queued += trial.state == optuna.trial.TrialState.WAITING
            wanted = max(pending - queued, 0)
            for point in search.grid_points(self.space):
                if wanted <= 0:
                    break
                if tuple(sorted(point.items())) not in seen:
                    self.study.enqueue_trial(point)
                    wanted -= 1
        # each of the --jobs workers has a fork server, shared by the trials it runs: the
        # steps' modules are imported once per worker for the whole search
        from kalec.local.fork_server import Starter

        made = []
        for index in range(max(self.options.jobs, 1)):
            folder = self.folder / "trials" / f".server-{index}"
            folder.mkdir(parents=True, exist_ok=True)
            made.append(
                Starter(
                    self.pipeline,
                    folder,
                    Path(self.pipeline.source).resolve().parent,
                    True,
                    lambda text: None,
                )
            )
        for starter in made:
            self.starters.put(starter)
        try:
            return self._trials(pending)
        except KeyboardInterrupt:
            for run in list(self.running):  # trials in worker threads: end their steps too
                run.stop()
            self.err.write(
                f"kalec: search stopped; kalec tune {self.pipeline.source} --resume "
                f"{self.id} continues it\n"
            )
            raise
        finally:
            for starter in made:
                starter.close()

    def _trials(self, pending: int) -> int:
        """Run ``pending`` trials (fewer when the goal is reached, the grid ends, or too many
        fail): the first alone, the rest ``--jobs`` at a time."""
        import optuna

        failures, limit, first = 0, self.space.max_failed, True
        with ThreadPoolExecutor(max_workers=max(self.options.jobs, 1)) as pool:
            while pending > 0 and not self._goal_reached() and not self._grid_done():
                batch = 1 if first else min(self.options.jobs, pending)
                first = False
                asked = [self.study.ask() for _ in range(batch)]
                if batch == 1:  # in this thread: Ctrl-C ends the trial's steps at once
                    results = [self._trial(asked[0])]
                else:
                    results = [f.result() for f in [pool.submit(self._trial, t) for t in asked]]
                stopped = [t for t, r in zip(asked, results, strict=True) if r.stopped]
                for trial in stopped:  # queued again: --resume runs these values first
                    self.study.enqueue_trial(trial.params)
                    self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                if stopped:
                    raise KeyboardInterrupt  # said once, by run()
                for trial, result in zip(asked, results, strict=True):
                    attrs = self._attrs(trial, result)
                    pending -= 1
                    if result.value is None:
                        failures += 1
                        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                        self.err.write(f"kalec: trial {trial.number} failed: {result.error}\n")
                        if limit is not None and failures >= limit:
                            self.err.write(
                                f"kalec: {failures} trials failed (maxFailedTrialCount); stopping\n"
                            )
                            pending = 0
                    else:
                        self.study.tell(trial, result.value)
                    self._print(trial.number, result.params, result.value, attrs)
        return self._finish()

    def _trial(self, trial: Any) -> TrialResult:
        params = {d.name: search.suggest(trial, d) for d in self.space.dimensions}
        folder = self.folder / "trials" / f"{trial.number:03d}"
        starter = self.starters.get()  # a fork server is one thread's at a time
        runs: list[Any] = []
        try:
            return run_trial(
                self.pipeline,
                trial.number,
                params,
                folder,
                self.space.objective.metric,
                self.options.step_jobs,
                starter,
                started_run=lambda run: (runs.append(run), self.running.add(run)),
            )
        finally:
            self.running.difference_update(runs)
            self.starters.put(starter)

    def _attrs(self, trial: Any, result: TrialResult) -> dict[str, Any]:
        attrs = {
            "seconds": round(result.seconds, 3),
            "ran": result.ran,
            "reused": result.reused,
            "metrics": result.metrics,
            "error": result.error,
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return attrs

    def _print(
        self, number: int, params: dict, value: float | None, attrs: dict, old: bool = False
    ) -> None:
        cells = [str(number)] + [_shown(params.get(n, "")) for n in self.names]
        cells.append("failed" if value is None else _shown(value))
        cells.append(f"{attrs.get('seconds', 0):.1f}")
        cells.append(
            f"{attrs.get('ran', 0)}/{attrs.get('reused', 0)}" + (" (earlier)" if old else "")
        )
        self.out.write(_row(self.widths, cells))
        self.out.flush()

    def _goal_reached(self) -> bool:
        try:
            best = self.study.best_value
        except ValueError:
            return False
        if self.space.objective.reached(best):
            objective = self.space.objective
            self.err.write(
                f"kalec: {objective.metric} reached the goal {objective.goal:g}; stopping\n"
            )
            return True
        return False

    def _grid_done(self) -> bool:
        size = search.grid_size(self.space)
        if size is None:
            return False
        import optuna

        tried = {
            tuple(sorted(t.params.items()))
            for t in self.study.trials
            if t.state == optuna.trial.TrialState.COMPLETE
        }
        return len(tried) >= size

    def _finish(self) -> int:
        report = write_report(self.folder / "report.html", self.study, self.space, self.pipeline)
        try:
            best = self.study.best_trial
        except ValueError:
            self.out.write(f"\nno trial gave a value of {self.space.objective.metric}\n")
            return 1
        values = ", ".join(f"{k}={_shown(v)}" for k, v in best.params.items())
        self.out.write(
            f"\nbest: trial {best.number}: {self.space.objective.metric} = {_shown(best.value)} "
            f"with {values}\npicture: {report}\n"
            f"search: {self.folder} (kalec tune {self.pipeline.source} --resume {self.id})\n"
        )
        return 0


def _last(base: Path) -> str:
    found = sorted((p for p in base.glob("*/tune.json")), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SpaceError("no earlier search of this notebook to resume")
    return found[-1].parent.name


def _checked_saved(saved: dict[str, Any], pipeline: Pipeline) -> Space:
    from kalec.searchspace import checked

    return checked(from_katib(saved["space"], "tune.json"), pipeline)


def saved_searches(base: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, its tune.json) of every search kept under ``base``, oldest first."""
    found = []
    for record in sorted(base.glob("*/tune.json")):
        try:
            found.append((record.parent, json.loads(record.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return found


def list_tunes(notebook: str | Path, out: TextIO, folder: Path | None = None) -> int:
    """The notebook's searches: id, started, trials done, best value."""
    rows = saved_searches(folder or tunes_folder(notebook))
    if not rows:
        out.write(f"no searches of {Path(notebook).name} yet (kalec tune {notebook} --param ...)\n")
        return 0
    search.need_optuna()
    import optuna

    out.write(_row([28, 19, 7, 30], ["search", "started", "trials", "best"]))
    for folder, saved in rows:
        objective = saved["space"]["objective"]["objectiveMetricName"]
        study = search.load_study(folder)
        if study is None:
            best, count = "(unreadable)", "?"
        else:
            complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            best = f"{objective} = {_shown(study.best_value)}" if complete else "-"
            count = str(len(complete))
        out.write(_row([28, 19, 7, 30], [folder.name, saved.get("started", ""), count, best]))
    return 0


def tune(pipeline: Pipeline, space: Space, options: TuneOptions, out: TextIO, err: TextIO) -> int:
    search.need_optuna()
    started = time.perf_counter()
    code = Search(pipeline, space, options, out, err).run()
    err.write(f"kalec: search done in {time.perf_counter() - started:.1f} s\n")
    return code
