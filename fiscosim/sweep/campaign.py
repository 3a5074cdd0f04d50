"""A sweep from start to tables: plan, resume, run, write, aggregate, plot, and its status.

:func:`run_sweep` is what ``fiscosim sweep FILE`` does: read and expand the plan
(fiscosim.sweep.plan), take the folder's lock, skip every run already done (resume is the
default: there is no flag for it), run the rest (fiscosim.sweep.runner), write each result as it
returns (fiscosim.sweep.store), then rebuild the tables and the plots from the run folders
(fiscosim.sweep.tables, .plots). Tables are always rebuilt from what is on disk, so a resumed
sweep's tables equal an uninterrupted one's.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fiscosim.schema import ScenarioError
from fiscosim.sweep.plan import MAX_RUNS, PlannedRun, Sweep, order_runs, read_sweep
from fiscosim.sweep.store import Store, remove, stale_reason
from fiscosim.version import MODEL_EPOCH, __version__

ANALYSIS_MISSING = 'sweep tables need the analysis extra: pip install "fiscosim[analysis]"'


class PlanTooLarge(Exception):
    """The plan has more runs than :data:`MAX_RUNS` and was not confirmed."""


@dataclass
class SweepReport:
    """What one ``fiscosim sweep`` invocation did."""

    folder: Path
    planned: int
    done_before: int
    executed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retried: int = 0
    tables: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    executor: str = ""
    searches: int = 0
    """Capacity searches (a sweep with search:; its runs are then their probes)."""
    orphans: int = 0
    """Run folders on disk that the plan does not hold (another base scenario, default or
    model epoch made them)."""
    stale: int = 0
    """Done runs found stale (another fiscosim version or a dirty tree made them,
    :func:`fiscosim.sweep.store.stale_reason`): in ``done_before``, or with ``rerun_stale``
    computed again (then in ``executed``)."""
    stopped: bool = False
    """``fail_fast`` stopped the sweep at its first failed run (the rest were not run)."""

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


class _FailFast(Exception):
    """``--fail-fast``: a run failed, the sweep stops."""


def default_folder(sweep: Sweep) -> Path:
    return Path("results") / sweep.name


ARTIFACTS = ("summary", "blocks", "all")
"""What ``--artifacts`` keeps of a run besides its summary, manifest and latency quantiles:
nothing, ``blocks.csv``, or ``blocks.csv`` and ``txs.csv`` (one row per transaction)."""


def _payload(run: PlannedRun, sweep: Sweep, timeout_s: float | None,
             artifacts: str | bool) -> dict[str, Any]:
    """What a worker needs to run ``run`` (:func:`fiscosim.sweep.runner.run_one`), keeping
    the ``artifacts`` (one of :data:`ARTIFACTS`; a bool is the older form, True: blocks)."""
    if isinstance(artifacts, bool):
        artifacts = "blocks" if artifacts else "summary"
    if artifacts not in ARTIFACTS:
        raise ValueError(f"artifacts must be one of {', '.join(ARTIFACTS)}, not {artifacts!r}")
    overrides = [f"{key}={json.dumps(value) if not isinstance(value, str) else value}"
                 for key, value in run.point.overrides.items()]
    return {
        "run_id": run.run_id,
        "scenario": run.scenario.model_dump(mode="json", exclude_none=True),
        "source": f"{sweep.source} [{run.point.label}, seed {run.seed}]",
        "overrides": overrides,
        "timeout_s": timeout_s,
        "blocks": artifacts != "summary",
        "txs": artifacts == "all",
    }


def run_sweep(path: str | Path, *, out: str | Path | None = None, sets: Sequence[str] = (),
              grid: Sequence[str] = (), zips: Sequence[str] = (), repeat: int | None = None,
              seeds: str | None = None, jobs: int | None = None,
              scheduler: str | None = None, scheduler_file: str | None = None,
              dask_local: int | None = None, timeout_s: float | None = None,
              retries: int = 2, retry_failed: bool = False, yes: bool = False,
              artifacts: str = "summary", plots: bool = True, break_lock: bool = False,
              rerun_stale: bool = False, fail_fast: bool = False, ci: float | None = None,
              progress: Callable[[int, int, int], None] | None = None,
              on_failure: Callable[[str, str, Path], None] | None = None,
              command_line: Sequence[str] | None = None) -> SweepReport:
    """Runs the sweep file ``path`` (the module docstring); the keyword arguments are
    ``fiscosim sweep``'s options.

    ``rerun_stale``: the done runs that are stale (:func:`fiscosim.sweep.store.stale_reason`)
    run again, with the missing ones. ``fail_fast``: the first run that fails for good (an
    error, a timeout, or a lost run past its retries) stops the sweep: the runs in flight are
    terminated, the tables are rebuilt from what is done, ``report.stopped`` is set. ``ci``:
    the confidence level of the tables (else the file's ``sweep.ci``, else 0.95), recorded
    in the folder's sweep.yaml."""
    sweep = read_sweep(path, sets=sets, grid=grid, zips=zips, repeat=repeat, seeds=seeds,
                       ci=ci)
    if len(sweep.runs) > MAX_RUNS and not yes:
        raise PlanTooLarge(f"{sweep.source}: the plan has {len(sweep.runs):,} runs, more than "
                           f"{MAX_RUNS:,} (confirm with --yes, or sweep fewer values)")
    _require_analysis()
    from fiscosim.sweep.search import search_spec

    search = search_spec(sweep)
    store = Store(out if out is not None else default_folder(sweep))
    report = SweepReport(folder=store.root, planned=len(sweep.runs), done_before=0)
    if search is not None:
        report.planned = 0  # a search plans its probes as it goes
        report.searches = len(sweep.points) * (len(sweep.seeds) if search["mode"] == "per_seed"
                                               else 1)
    with store.locked(break_lock=break_lock):
        store.remove_stale()
        import yaml

        sweep.spec["ci"] = sweep.ci  # recorded: aggregate and plot rebuild at this level
        store.write_text("sweep.yaml", yaml.safe_dump(sweep.resolved_spec(), sort_keys=False,
                                                      allow_unicode=True))
        failures = store.failures()
        todo: list[PlannedRun] = []
        for run in sweep.runs if search is None else []:
            found = store.finished(run.run_id)
            if found is not None:
                if stale_reason(found[1]) is not None:
                    report.stale += 1
                    if rerun_stale:
                        todo.append(run)
                        continue
                report.done_before += 1
            elif run.run_id in failures and failures[run.run_id].get("state") != "lost" \
                    and not retry_failed:
                report.failed[run.run_id] = failures[run.run_id].get("state", "error")
            else:
                todo.append(run)
        by_id = {run.run_id: run for run in sweep.runs}
        if rerun_stale and search is None and sweep.until is not None:
            # repeat.until: the seeds earlier invocations added to the plan's are stale too
            for run in _runs_of(store, sweep):
                found = store.finished(run.run_id)
                if run.run_id not in by_id and found is not None and stale_reason(found[1]):
                    by_id[run.run_id] = run
                    report.stale += 1
                    todo.append(run)
        if search is None:
            report.orphans = len(store.run_ids_on_disk() - set(by_id))
        backend = _backend(jobs, scheduler, scheduler_file, dask_local,
                           len(todo) if search is None else len(sweep.runs))
        report.executor = backend.describe() if backend is not None else "nothing to run"
        manifest = _manifest(store, sweep, report, command_line)
        store.write_json("manifest.json", manifest)

        run_now: list[str] = []  # this invocation's runs written and failed, as they return
        failed_now: dict[str, str] = {}

        def written(result: dict[str, Any]) -> None:
            run = by_id[result["run_id"]]
            _write_run(store, sweep, run, result)
            run_now.append(run.run_id)

        def failed(run_id: str, record: dict[str, Any], attempt: int) -> None:
            run = by_id[run_id]
            entry = {"run_id": run_id, "point_id": run.point_id, "seed": run.seed,
                     "label": run.point.label, "attempt": attempt, **record}
            where = store.write_failure(run_id, entry)
            failed_now[run_id] = str(record.get("state", "error"))
            if on_failure is not None:
                on_failure(run.point.label + f", seed {run.seed}",
                           f"{record.get('state')}: {record.get('type')}: "
                           f"{record.get('message', '')}", where)
            if fail_fast:
                raise _FailFast(run_id)  # through drive: the backend is aborted below

        try:
            if search is not None and backend is not None:
                try:
                    if hasattr(backend, "preflight"):
                        backend.preflight()
                    _write_plan(store, sweep)
                    _searches(store, sweep, search, backend, report, by_id, retries, written,
                              failed, timeout_s, artifacts, retry_failed, rerun_stale)
                except BaseException:
                    backend.abort()  # Ctrl-C, an error, --fail-fast: runs in flight stop
                    raise
                backend.close()
            elif todo and backend is not None:
                try:
                    if hasattr(backend, "preflight"):
                        backend.preflight()
                    payloads = [_payload(run, sweep, timeout_s, artifacts)
                                for run in order_runs(todo, _observed(store, sweep))]
                    outcome = _drive(payloads, backend, retries, written, failed, progress,
                                     lambda: _write_plan(store, sweep))
                except BaseException:
                    backend.abort()  # Ctrl-C, an error, --fail-fast: runs in flight stop
                    raise
                backend.close()
                report.executed = outcome.executed
                report.retried = outcome.retried
                report.failed.update(outcome.failed)
            else:
                _write_plan(store, sweep)
            if sweep.until is not None and search is None:
                _until_rule(store, sweep, report, by_id, retries, written, failed, timeout_s,
                            artifacts, retry_failed,
                            lambda: _backend(jobs, scheduler, scheduler_file, dask_local,
                                             len(sweep.points) * sweep.until["min"]))
        except _FailFast:
            report.stopped = True
            report.executed = list(run_now)
            report.failed.update(failed_now)
            if not (store.root / "plan.parquet").is_file():
                _write_plan(store, sweep)
        report.tables = aggregate(store.root, sweep)
        if plots:
            report.plots = plot(store.root, sweep)
        manifest = _manifest(store, sweep, report, command_line)
        store.write_json("manifest.json", manifest)
    return report


def _until_rule(store: Store, sweep: Sweep, report: SweepReport, by_id: dict[str, PlannedRun],
                retries: int, written: Callable[[dict[str, Any]], None],
                failed: Callable[[str, dict[str, Any], int], None], timeout_s: float | None,
                artifacts: str, retry_failed: bool, new_backend: Callable[[], Any]) -> None:
    """``repeat.until``: batches of seeds for the points whose interval is still too wide,
    until every point meets the rule or has ``max`` seeds (or a run of it failed)."""
    from fiscosim.sweep.plan import more_seeds
    from fiscosim.sweep.runner import drive

    backend = None
    try:
        while True:
            batch = [run for point in sweep.points
                     for run in _next_batch(store, sweep, point, more_seeds)]
            failures = store.failures()
            batch = [run for run in batch if retry_failed or run.run_id not in failures
                     or failures[run.run_id].get("state") == "lost"]
            if not batch:
                break
            if backend is None:
                backend = new_backend()
                if hasattr(backend, "preflight"):
                    backend.preflight()
            for run in batch:
                by_id[run.run_id] = run
            outcome = drive([_payload(run, sweep, timeout_s, artifacts)
                             for run in order_runs(batch)], backend, retries, written, failed)
            report.executed += outcome.executed
            report.retried += outcome.retried
            report.failed.update(outcome.failed)
            if outcome.failed:
                break  # a failed run ends its point's seeds; decide again on a rerun
    except BaseException:
        if backend is not None:
            backend.abort()
        raise
    if backend is not None:
        backend.close()


def _next_batch(store: Store, sweep: Sweep, point: Any,
                more_seeds: Callable[..., list[int]]) -> list[PlannedRun]:
    """The next seeds of ``point`` under ``repeat.until``, or none (see :func:`_until_rule`)."""
    from fiscosim.sweep.plan import runs_at
    from fiscosim.sweep.stats import summarize
    from fiscosim.sweep.tables import metric_columns

    rule = sweep.until
    assert rule is not None
    values = []
    for run in runs_at(sweep, point, rule["pool"]):
        summary = store.done(run.run_id)
        if summary is None:
            break  # seeds are decided in order: the first missing one ends the prefix
        values.append(metric_columns(summary, [rule["metric"]])[rule["metric"]])
    done = len(values)
    if done and all(math.isnan(v) for v in values):
        raise ScenarioError(sweep.source, "sweep.repeat.until.metric",
                            f"{rule['metric']} is not a number in the runs' summaries",
                            "use a summary field such as tps or latency_ms.p95")
    if done < rule["min"] or done >= rule["max"]:
        return []  # the first batch is the plan's (run or failed); max reached
    stat = summarize(values, sweep.ci)
    half = stat.ci_half_width
    if stat.mean is not None and half is not None and half <= rule["ci_rel"] * abs(stat.mean):
        return []
    return runs_at(sweep, point, more_seeds(sweep, point, done))


def _searches(store: Store, sweep: Sweep, search: dict[str, Any], backend: Any,
              report: SweepReport, by_id: dict[str, PlannedRun], retries: int,
              written: Callable[[dict[str, Any]], None],
              failed: Callable[[str, dict[str, Any], int], None], timeout_s: float | None,
              artifacts: str, retry_failed: bool, rerun_stale: bool = False) -> None:
    """The search block: every point's capacity search, its probes run as ordinary runs
    (a stale probe, with ``rerun_stale``, runs again once)."""
    from fiscosim.sweep.runner import drive
    from fiscosim.sweep.search import run_searches

    failures = store.failures()
    seen: set[str] = set()

    def execute(runs: list[PlannedRun]) -> list[dict[str, Any] | None]:
        todo = []
        for run in runs:
            by_id[run.run_id] = run
            found = store.finished(run.run_id)
            stale = (found is not None and run.run_id not in seen
                     and stale_reason(found[1]) is not None)
            seen.add(run.run_id)
            if stale:
                report.stale += 1
            if found is not None and not (stale and rerun_stale):
                report.done_before += 1
            elif (run.run_id in failures and failures[run.run_id].get("state") != "lost"
                  and not retry_failed):
                report.failed[run.run_id] = failures[run.run_id].get("state", "error")
            else:
                todo.append(run)
        if todo:
            outcome = drive([_payload(run, sweep, timeout_s, artifacts)
                             for run in todo], backend, retries, written, failed)
            report.executed += outcome.executed
            report.retried += outcome.retried
            report.failed.update(outcome.failed)
        return [store.done(run.run_id) for run in runs]

    found = run_searches(sweep, search, backend.slots, execute)
    _write_search(store, sweep, found)


def _write_search(store: Store, sweep: Sweep, found: dict[str, Any]) -> list[Path]:
    import pyarrow as pa

    from fiscosim.sweep import tables
    from fiscosim.sweep.search import max_tps_rows

    folder = store.root / "search"
    folder.mkdir(parents=True, exist_ok=True)
    labels = {point.label: point for point in sweep.points}
    for label, results in found.items():
        pid = next(run.point_id for run in sweep.runs if run.point.label == label)
        data = {"label": label, "params": labels[label].params,
                "searches": [{"seed": seed, **result.as_dict(wall=False)}
                             for seed, result in results]}
        store.write_json(f"search/{pid}.json", data)
    rows = max_tps_rows(sweep, found, sweep.ci)
    table = pa.Table.from_pylist(rows)
    store.tables.mkdir(parents=True, exist_ok=True)
    return tables.write_tables(store.tables, "max_tps", table,
                               {"name": sweep.name, "model_epoch": MODEL_EPOCH, "ci": sweep.ci})


def _drive(payloads: list[dict[str, Any]], backend: Any, retries: int,
           written: Callable[[dict[str, Any]], None],
           failed: Callable[[str, dict[str, Any], int], None],
           progress: Callable[[int, int, int], None] | None,
           meanwhile: Callable[[], None]) -> Any:
    from fiscosim.sweep.runner import drive

    return drive(payloads, backend, retries, written, failed, progress, meanwhile)


def _require_analysis() -> None:
    """Before anything runs: the tables will need pyarrow (found, not imported yet)."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise ModuleNotFoundError(ANALYSIS_MISSING)


def _backend(jobs: int | None, scheduler: str | None, scheduler_file: str | None,
             dask_local: int | None, todo: int) -> Any:
    if not todo:
        return None
    from fiscosim.sweep.runner import DaskBackend, LocalBackend

    if scheduler is not None or scheduler_file is not None or dask_local is not None:
        return DaskBackend(scheduler, scheduler_file, dask_local)
    workers = jobs or (os.process_cpu_count() if hasattr(os, "process_cpu_count")
                       else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count()) or 1
    return LocalBackend(min(workers, todo))


def _observed(store: Store, sweep: Sweep) -> dict[str, float]:
    """Wall seconds per point from runs done before (a better cost than the hint)."""
    observed: dict[str, float] = {}
    for run in sweep.runs:
        if run.point_id in observed:
            continue
        try:
            manifest = store.manifest_of(run.run_id)
        except (OSError, ValueError):
            continue
        wall = manifest.get("sweep", {}).get("wall_s")
        if isinstance(wall, int | float):
            observed[run.point_id] = float(wall)
    return observed


def _write_run(store: Store, sweep: Sweep, run: PlannedRun, result: dict[str, Any]) -> None:
    """Writes a worker's result (:func:`fiscosim.sweep.runner.run_one`) as ``runs/<run_id>/``:
    scenario.yaml, summary.json, manifest.json, latency_quantiles.json, and the artifacts the
    payload asked for (blocks.csv, txs.csv)."""
    import yaml

    manifest = dict(result.get("manifest") or {})
    manifest["sweep"] = {
        "name": sweep.name, "run_id": run.run_id, "point_id": run.point_id, "seed": run.seed,
        "label": run.point.label, "params": run.point.params, "host": result.get("host"),
        "wall_s": round(float(result.get("wall_s", 0.0)), 3),
        "run_s": round(float(result.get("run_s", 0.0)), 3),
    }
    # libyaml's emitter where PyYAML has it: the same text, 5x faster (1.3 -> 0.26 ms a run,
    # measured here), and this runs in the coordinator once per run.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    files = {
        "scenario.yaml": yaml.dump(run.scenario.model_dump(mode="json", exclude_none=True),
                                   Dumper=dumper, sort_keys=False, allow_unicode=True),
        # One line each: json's C encoder (an indent falls back to the Python one, ~3 ms a
        # run in the coordinator); `python -m json.tool FILE` shows them indented.
        "summary.json": json.dumps(result["summary"]) + "\n",
        "manifest.json": json.dumps(manifest, default=str) + "\n",
    }
    if "blocks_csv" in result:
        files["blocks.csv"] = result["blocks_csv"]
    if "txs_csv" in result:
        # CSV, not Parquet: the run folder is written in one rename by Store.write_run, which
        # takes text; a file added after it would leave a done run without it after a kill.
        files["txs.csv"] = result["txs_csv"]
    if result.get("latency_quantiles"):
        # Not part of what makes a run done (Store.done): run folders without it stay done
        # and only leave the latency_cdf table.
        files["latency_quantiles.json"] = json.dumps(result["latency_quantiles"]) + "\n"
    store.write_run(run.run_id, files)


def _write_plan(store: Store, sweep: Sweep) -> list[Path]:
    """``plan.parquet`` and ``plan.csv``: one row per planned run.

    A sweep with ``search:`` plans a capacity search per point and seed instead: its probes'
    rates, so their run ids, are decided as the search goes (each round on the last one's
    results). Its rows are point × seed with ``run_id`` empty, ``point_id`` the point's
    ``search/<point_id>.json``, ``cost_hint`` empty (a probe's cost is its rate's), the
    param columns without the searched one, and ``searched`` naming it; the metadata's
    ``search`` holds the param and the mode (``pooled``: one search over all the seeds)."""
    import pyarrow as pa

    from fiscosim.sweep import tables
    from fiscosim.sweep.search import search_spec

    search = search_spec(sweep)
    runs = sweep.runs
    meta: dict[str, Any] = {"name": sweep.name, "model_epoch": MODEL_EPOCH,
                            "params": sweep.params}
    columns = {"run_id": pa.array([r.run_id if search is None else None for r in runs],
                                  pa.string()),
               "point_id": [r.point_id for r in runs],
               "seed": [r.seed for r in runs], "label": [r.point.label for r in runs],
               "cost_hint": pa.array([r.cost_hint if search is None else None for r in runs],
                                     pa.float64())}
    if search is not None:
        columns["searched"] = pa.array([search["param"]] * len(runs), pa.string())
        meta["search"] = {"param": search["param"], "mode": search["mode"]}
    table = pa.table({**columns, **{name: tables.param_array([r.point.params.get(name)
                                                               for r in runs])
                                    for name in sweep.params}})
    return tables.write_tables(store.root, "plan", table, meta)


def _manifest(store: Store, sweep: Sweep, report: SweepReport,
              command_line: Sequence[str] | None) -> dict[str, Any]:
    old = store.read_json("manifest.json") or {}
    invocations = list(old.get("invocations", []))
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = {"at": now, "command_line": list(command_line or sys.argv),
             "host": socket.gethostname(), "pid": os.getpid(), "executor": report.executor,
             "fiscosim_version": __version__}
    if not invocations or invocations[-1].get("pid") != os.getpid() \
            or invocations[-1].get("host") != entry["host"]:
        invocations.append(entry)
    # through status's index (Store.done_manifests), which this keeps up to date
    done = len(store.done_manifests(run.run_id for run in sweep.runs))
    return {
        "name": sweep.name, "model_epoch": MODEL_EPOCH, "fiscosim_version": __version__,
        "source": sweep.source, "params": sweep.params, "seeds": sweep.seeds,
        "points": len(sweep.points), "runs": len(sweep.runs),
        "counts": {"done": done, "failed": len(store.failures()),
                   "missing": len(sweep.runs) - done},
        "invocations": invocations,
    }


# -- tables, plots, status ---------------------------------------------------------------------


def _records(store: Store, sweep: Sweep, runs: list[PlannedRun]) -> list[dict[str, Any]]:
    records = []
    for run in runs:
        summary = store.done(run.run_id)
        if summary is None:
            continue
        manifest = store.manifest_of(run.run_id)
        git = manifest.get("git") or {}
        records.append({
            "run_id": run.run_id, "point_id": run.point_id, "seed": run.seed,
            "label": run.point.label, "params": run.point.params, "summary": summary,
            "provenance": {
                "fiscosim_version": manifest.get("fiscosim_version"),
                "model_epoch": manifest.get("model_epoch"),
                "commit": git.get("commit"), "dirty": git.get("dirty"),
                "host": manifest.get("sweep", {}).get("host"),
                "wall_s": manifest.get("sweep", {}).get("wall_s"),
            },
        })
    return records


def aggregate(folder: str | Path, sweep: Sweep | None = None,
              ci: float | None = None) -> list[Path]:
    """Rebuilds ``tables/`` (runs and tidy points, Parquet and CSV) from the run folders, and
    ``latency_cdf`` from the done runs that have ``latency_quantiles.json`` (removed when
    none has: an older one would describe runs that are no longer there)."""
    from fiscosim.sweep import tables

    store = Store(folder)
    sweep = sweep or load_plan(store.root)
    runs_done = _runs_of(store, sweep)
    records = _records(store, sweep, runs_done)
    failed: dict[str, int] = {}
    by_id = {run.run_id: run for run in runs_done}
    for run_id in store.failures():
        if run_id in by_id and store.done(run_id) is None:
            failed[by_id[run_id].point_id] = failed.get(by_id[run_id].point_id, 0) + 1
    params = _params_of(sweep)
    runs = tables.runs_table(records, params, sweep.metrics)
    metrics = [name for name in runs.column_names if name not in _fixed_columns(sweep)]
    level = sweep.ci if ci is None else ci  # the confidence level: --ci, else sweep.yaml's
    points = tables.points_table(runs, params, metrics, ci=level, failed=failed)
    meta = {"name": sweep.name, "model_epoch": MODEL_EPOCH, "params": params,
            "metrics": metrics, "ci": level}
    store.tables.mkdir(parents=True, exist_ok=True)
    written = (tables.write_tables(store.tables, "runs", runs, meta)
               + tables.write_tables(store.tables, "points", points, meta))
    cdf = tables.latency_cdf_table(runs, _latency_quantiles(store, records), params, level)
    if cdf.num_rows:
        written += tables.write_tables(
            store.tables, "latency_cdf", cdf,
            {"name": sweep.name, "model_epoch": MODEL_EPOCH, "params": params,
             "metrics": ["latency_ms"], "ci": level,
             "quantile_method": tables.QUANTILE_METHOD})
    else:
        for suffix in (".parquet", ".csv"):
            (store.tables / f"latency_cdf{suffix}").unlink(missing_ok=True)
    return written


def _latency_quantiles(store: Store, records: list[dict[str, Any]]
                       ) -> dict[str, dict[str, Any]]:
    """The ``latency_quantiles.json`` of each done run that has one, by run id.

    A file that does not parse as quantiles is left out like a missing one: it is not part
    of what makes a run done."""
    found = {}
    for record in records:
        path = store.runs / record["run_id"] / "latency_quantiles.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        probabilities, latencies = data.get("probabilities"), data.get("latency_ms")
        if (isinstance(probabilities, list) and isinstance(latencies, list)
                and len(probabilities) == len(latencies)
                and all(isinstance(v, int | float) and not isinstance(v, bool)
                        for v in probabilities + latencies)):
            found[record["run_id"]] = data
    return found


def _fixed_columns(sweep: Sweep) -> set[str]:
    return {"run_id", "point_id", "seed", "label", *_params_of(sweep), "fiscosim_version",
            "model_epoch", "commit", "dirty", "host", "wall_s"}


def _params_of(sweep: Sweep) -> list[str]:
    """The param columns: the plan's, and the search's knob when the sweep searches."""
    from fiscosim.sweep.search import search_spec

    search = search_spec(sweep)
    return sweep.params + ([search["param"]] if search is not None else [])


def _runs_of(store: Store, sweep: Sweep) -> list[PlannedRun]:
    """The runs the tables cover: the plan's, or with a search every probe on disk that
    belongs to one of the plan's points (its id recomputed from the current plan, so probes
    of another base scenario or model epoch are left out)."""
    from fiscosim.sweep.search import probe_run, search_spec

    search = search_spec(sweep)
    if search is None and sweep.until is not None:
        from fiscosim.sweep.plan import runs_at

        # repeat.until: the pool's seeds a point was given (the plan's, then the batches)
        return [run for point in sweep.points
                for run in runs_at(sweep, point, sweep.until["pool"])
                if run.seed in sweep.seeds or store.done(run.run_id) is not None
                or run.run_id in store.failures()]
    if search is None:
        return list(sweep.runs)
    param = search["param"]
    points = {json.dumps(p.params, sort_keys=True): p for p in sweep.points}
    probes = []
    for run_id in sorted(store.run_ids_on_disk()):
        try:
            info = store.manifest_of(run_id).get("sweep", {})
        except (OSError, ValueError):
            continue
        params = dict(info.get("params") or {})
        rate = params.pop(param, None)
        point = points.get(json.dumps(params, sort_keys=True))
        if point is None or not isinstance(rate, int) or info.get("seed") not in sweep.seeds:
            continue
        run = probe_run(sweep, point, param, rate, int(info["seed"]))
        if run.run_id == run_id:
            probes.append(run)
    return probes


def plot(folder: str | Path, sweep: Sweep | None = None) -> list[Path]:
    """Redraws ``plots/`` from ``tables/``: the sweep's ``plots:`` or the defaults.

    Each spec reads the table :func:`fiscosim.sweep.plots.table_of` names: ``points``,
    ``latency_cdf`` (``kind: cdf``) or ``max_tps`` (``y: max_sustainable_tps``). A spec of the
    sweep file that cannot be drawn (a bad key, a table the sweep has not got) is one
    :class:`ScenarioError` naming the file and ``sweep.plots[i]``."""
    from fiscosim.sweep import plots, tables
    from fiscosim.sweep.search import search_spec

    store = Store(folder)
    sweep = sweep or load_plan(store.root)
    loaded: dict[str, Any] = {}

    def table(name: str) -> Any:
        """The table ``tables/<name>.parquet``, read once; None when there is none."""
        if name not in loaded:
            path = store.tables / f"{name}.parquet"
            loaded[name] = tables.read_table(path) if path.is_file() else None
        return loaded[name]

    specs = sweep.spec.get("plots")
    from_file = bool(specs)
    if not specs:
        numeric = [name for name in sweep.params
                   if all(isinstance(p.params.get(name), int | float)
                          and not isinstance(p.params.get(name), bool) for p in sweep.points)]
        # A max_tps table left by an earlier sweep of this folder with a search is not this
        # sweep's: only a sweep that searches gets its plot.
        specs = plots.default_specs(
            sweep.params, numeric, metrics=sweep.metrics,
            latency_cdf=table("latency_cdf") is not None,
            max_tps=search_spec(sweep) is not None and table("max_tps") is not None)
    made: list[Path] = []
    store.plots.mkdir(parents=True, exist_ok=True)
    for index, spec in enumerate(specs):
        try:
            name = plots.table_of(spec)
            data = table(name)
            if data is None:
                raise ValueError(f"plot {plots.stem(spec)} needs tables/{name}, which this "
                                 f"sweep has not got ({_MISSING_TABLE.get(name, '')})")
            reference = None
            if spec.get("reference"):
                import pyarrow.csv as pacsv

                ref = Path(spec["reference"])
                reference = pacsv.read_csv(ref if ref.is_absolute() else sweep.folder / ref)
            made += plots.plot(data, {k: v for k, v in spec.items() if k != "reference"},
                               store.plots, reference=reference)
        except ValueError as error:
            if not from_file:
                raise
            raise ScenarioError(sweep.source, f"sweep.plots[{index}]", str(error)) from None
    return made


_MISSING_TABLE = {
    "points": "run fiscosim sweep aggregate",
    "latency_cdf": "no done run has latency_quantiles.json, or none committed a transaction",
    "max_tps": "it comes from a search: max_sustainable_tps block",
}
"""Why a table a plot spec reads may be missing, for its error."""


def load_plan(folder: str | Path) -> Sweep:
    """The plan of an existing sweep folder, from its ``sweep.yaml`` (not checked against
    this machine's memory: reading a folder runs nothing)."""
    return read_sweep(Path(folder) / "sweep.yaml", check_memory=False)


@dataclass
class Status:
    """Where a sweep folder stands."""

    planned: int
    done: int
    failed: dict[str, str]
    missing: int
    orphans: list[str]
    versions: dict[str, int]
    slowest: list[tuple[str, float]]
    stale: dict[str, str] = field(default_factory=dict)
    """Done runs that are stale, by id: why (:func:`fiscosim.sweep.store.stale_reason`)."""

    @property
    def complete(self) -> bool:
        return self.done == self.planned


def status(folder: str | Path) -> Status:
    """Counts by state, the fiscosim versions that made the runs, the slowest points, the
    orphans (run folders no longer in the plan), the stale runs and why."""
    store = Store(folder)
    sweep = load_plan(store.root)
    runs = _runs_of(store, sweep)
    recorded = store.failures()
    planned = _planned_ids(sweep, runs, recorded)
    done: set[str] = set()
    versions: dict[str, int] = {}
    stale: dict[str, str] = {}
    walls: dict[str, list[float]] = {}
    labels = {}
    manifests = store.done_manifests(run.run_id for run in runs)
    for run in runs:
        if run.point_id not in labels:
            labels[run.point_id] = run.point.label
        manifest = manifests.get(run.run_id)
        if manifest is None:
            continue
        done.add(run.run_id)
        version = str(manifest.get("fiscosim_version"))
        dirty = (manifest.get("git") or {}).get("dirty")
        key = version + (" (dirty tree)" if dirty else "")
        versions[key] = versions.get(key, 0) + 1
        why = stale_reason(manifest)
        if why is not None:
            stale[run.run_id] = why
        wall = manifest.get("sweep", {}).get("wall_s")
        if isinstance(wall, int | float):
            walls.setdefault(run.point_id, []).append(float(wall))
    failures = {run_id: record.get("state", "error") for run_id, record in recorded.items()
                if run_id in planned and run_id not in done}
    orphans = sorted(store.run_ids_on_disk() - planned)
    slowest = sorted(((labels[p], sum(w) / len(w)) for p, w in walls.items()),
                     key=lambda item: -item[1])[:5]
    return Status(planned=len(planned), done=len(done), failed=failures,
                  missing=len(planned) - len(done) - len(failures), orphans=orphans,
                  versions=versions, slowest=slowest, stale=stale)


def _planned_ids(sweep: Sweep, runs: list[PlannedRun],
                 recorded: dict[str, dict[str, Any]]) -> set[str]:
    """The run ids the plan holds: its runs (:func:`_runs_of`), and with a search, which
    plans its probes as it goes, the probes that failed too."""
    from fiscosim.sweep.search import search_spec

    planned = {run.run_id for run in runs}
    if search_spec(sweep) is not None:
        planned |= set(recorded)
    return planned


GC_KINDS = ("orphans", "failed", "tmp")
"""What ``fiscosim sweep gc`` removes, one flag each."""


@dataclass
class Garbage:
    """What ``fiscosim sweep gc`` finds in a sweep's folder, or removed from it."""

    orphans: list[Path] = field(default_factory=list)
    """Run folders the plan does not hold (``fiscosim sweep status``'s orphans)."""
    failed: list[Path] = field(default_factory=list)
    """Every record in ``failed/``: without one a run that failed is missing again, so the
    next ``fiscosim sweep`` runs it (as ``--retry-failed`` would)."""
    tmp: list[Path] = field(default_factory=list)
    """Temporaries of writers that are gone (a coordinator killed while writing)."""

    def __len__(self) -> int:
        return len(self.orphans) + len(self.failed) + len(self.tmp)


def garbage(folder: str | Path) -> Garbage:
    """What ``fiscosim sweep gc`` would remove from the sweep in ``folder``, by kind."""
    store = Store(folder)
    sweep = load_plan(store.root)
    recorded = store.failures()
    planned = _planned_ids(sweep, _runs_of(store, sweep), recorded)
    try:
        records = sorted(Path(entry.path) for entry in os.scandir(store.failed)
                         if entry.name.endswith(".json") and not entry.name.startswith("."))
    except FileNotFoundError:
        records = []
    return Garbage(orphans=[store.runs / run_id
                            for run_id in sorted(store.run_ids_on_disk() - planned)],
                   failed=records, tmp=store.stale_temporaries())


def gc(folder: str | Path, kinds: Sequence[str], *, dry_run: bool = False,
       break_lock: bool = False) -> Garbage:
    """Removes the ``kinds`` (of :data:`GC_KINDS`) of :func:`garbage` from the sweep in
    ``folder`` and returns what it removed (with ``dry_run``, what it would remove, without
    the lock). Holds the sweep's lock while it looks and removes, so a running coordinator is
    not raced: :class:`~fiscosim.sweep.store.Locked` when one holds it."""
    unknown = sorted(set(kinds) - set(GC_KINDS))
    if unknown:
        raise ValueError(f"gc: unknown kind {unknown[0]!r}: one of {', '.join(GC_KINDS)}")

    def pick(found: Garbage) -> Garbage:
        return Garbage(**{kind: getattr(found, kind) if kind in kinds else []
                          for kind in GC_KINDS})

    if dry_run:
        return pick(garbage(folder))
    store = Store(folder)
    with store.locked(break_lock=break_lock):
        chosen = pick(garbage(store.root))
        for path in chosen.tmp:
            remove(path)
        for path in chosen.orphans:
            store.remove_run(path.name)
        store.done_manifests(path.name for path in chosen.orphans)  # out of status's index
        for path in chosen.failed:
            path.unlink(missing_ok=True)
    return chosen


def record_ci(folder: str | Path, ci: float) -> Path:
    """Records ``ci`` as the confidence level of the sweep in ``folder`` (its sweep.yaml's
    ``sweep.ci``), so that later ``aggregate`` and ``plot`` rebuild at it."""
    import yaml

    from fiscosim.sweep.plan import check_ci

    store = Store(folder)
    path = store.root / "sweep.yaml"
    level = check_ci(ci, "--ci", "--ci")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("sweep"), dict):
        raise ScenarioError(str(path), "sweep", "the file has no sweep: block",
                            "rerun the sweep to write it again")
    data["sweep"]["ci"] = level
    return store.write_text("sweep.yaml", yaml.safe_dump(data, sort_keys=False,
                                                         allow_unicode=True))
