"""fiscosim sweep runs: resume, backends that agree (-j 1, -j 2, a Dask LocalCluster), failures
that leave the rest running, lost workers retried, a killed coordinator resumed; real runs of a
small scenario in real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import tiny_sweep

pa = pytest.importorskip("pyarrow", reason="sweeps need the analysis extra")
pq = pytest.importorskip("pyarrow.parquet")

from fiscosim.sweep import campaign  # noqa: E402
from fiscosim.sweep.campaign import run_sweep, status  # noqa: E402
from fiscosim.sweep.runner import LocalBackend, LostRun, drive  # noqa: E402

SWEEP = tiny_sweep()

WALL = {"wall_s", "host"}


def sweep_file(tmp_path: Path, text: str = SWEEP) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def runs_rows(folder: Path) -> list[dict]:
    table = pq.read_table(folder / "tables" / "runs.parquet")
    return [{k: v for k, v in row.items() if k not in WALL} for row in table.to_pylist()]


def points_rows(folder: Path) -> list[dict]:
    return pq.read_table(folder / "tables" / "points.parquet").to_pylist()


def summaries(folder: Path) -> dict[str, dict]:
    out = {}
    for run in sorted((folder / "runs").iterdir()):
        summary = json.loads((run / "summary.json").read_text())
        for key in ("wall_time_s", "sim_speed"):
            summary.pop(key, None)
        out[run.name] = summary
    return out


def test_a_sweep_runs_every_point_and_a_rerun_runs_nothing(tmp_path):
    path = sweep_file(tmp_path)
    out = tmp_path / "out"
    report = run_sweep(path, out=out, jobs=2, plots=False)
    assert report.planned == 4 and len(report.executed) == 4 and report.exit_code == 0
    assert len(list((out / "runs").iterdir())) == 4
    for name in ("sweep.yaml", "manifest.json", "plan.parquet", "plan.csv",
                 "tables/runs.parquet", "tables/runs.csv", "tables/points.parquet",
                 "tables/points.csv"):
        assert (out / name).is_file(), name
    rows = runs_rows(out)
    assert [(r["nodes.count"], r["seed"]) for r in rows] == sorted(
        (r["nodes.count"], r["seed"]) for r in rows) or len(rows) == 4
    assert {r["seed"] for r in rows} == {1, 2} and all(r["tps"] > 0 for r in rows)
    points = points_rows(out)
    assert {p["metric"] for p in points} == {"tps", "latency_ms.p50", "latency_ms.p95",
                                             "blocks"}
    assert all(p["n"] == 2 for p in points)
    again = run_sweep(path, out=out, jobs=2, plots=False)
    assert again.executed == [] and again.done_before == 4
    state = status(out)
    assert state.complete and state.done == 4 and not state.failed
    # the resolved plan runs as it is, from its own folder
    assert run_sweep(out / "sweep.yaml", out=out, jobs=1, plots=False).executed == []


def test_one_worker_two_workers_and_a_dask_cluster_agree(tmp_path):
    pytest.importorskip("distributed", reason="the cluster extra")
    path = sweep_file(tmp_path)
    outs = {}
    for name, options in (("j1", {"jobs": 1}), ("j2", {"jobs": 2}),
                          ("dask", {"dask_local": 2})):
        outs[name] = tmp_path / name
        report = run_sweep(path, out=outs[name], plots=False, **options)
        assert len(report.executed) == 4, name
    assert summaries(outs["j1"]) == summaries(outs["j2"]) == summaries(outs["dask"])
    assert runs_rows(outs["j1"]) == runs_rows(outs["j2"]) == runs_rows(outs["dask"])
    assert points_rows(outs["j1"]) == points_rows(outs["j2"]) == points_rows(outs["dask"])


def test_a_failing_point_leaves_the_others_and_is_not_retried(tmp_path):
    # The 100-sealer point (30 simulated s) runs far past a 4 s --timeout; the 4-sealer one
    # takes a fraction of it.
    path = sweep_file(tmp_path, SWEEP.replace("  grid:\n    nodes.count: [4, 5]\n",
                                              "  zip:\n    - nodes.count: [4, 100]\n"
                                              "      duration_s: [1.5, 30]\n")
                      .replace("repeat: 2", "repeat: 1"))
    out = tmp_path / "out"
    failures = []
    report = run_sweep(path, out=out, jobs=2, timeout_s=4, plots=False,
                       on_failure=lambda label, what, where: failures.append((label, where)))
    assert report.exit_code == 1 and len(report.executed) == 1
    (failed_id, state), = report.failed.items()
    assert state == "timeout"
    record = json.loads((out / "failed" / f"{failed_id}.json").read_text())
    assert record["state"] == "timeout" and "nodes.count=100" in record["label"]
    assert failures and "nodes.count=100" in failures[0][0]
    assert not (out / "runs" / failed_id).exists()
    again = run_sweep(path, out=out, jobs=2, timeout_s=4, plots=False)
    assert again.executed == [] and again.exit_code == 1  # not retried by default
    points = points_rows(out)
    assert {p["n_failed"] for p in points} == {0}  # the failed point has no done run


class _FlakyBackend:
    """Loses each run's first attempt, then runs it in this process."""

    slots = 2

    def __init__(self):
        self.seen: dict[str, int] = {}

    def submit(self, payload):
        self.seen[payload["run_id"]] = self.seen.get(payload["run_id"], 0) + 1
        return (payload["run_id"], self.seen[payload["run_id"]])

    def wait(self, futures):
        return {next(iter(futures))}

    def result(self, future):
        run_id, attempt = future
        if attempt == 1:
            raise LostRun("lost on purpose")
        return {"run_id": run_id, "summary": {"tps": 1.0}}


def test_a_lost_run_is_retried_and_gives_up_after_the_retries():
    backend = _FlakyBackend()
    done, failed = [], []
    outcome = drive([{"run_id": "a"}, {"run_id": "b"}], backend, 2, done.append,
                    lambda run_id, record, attempt: failed.append((run_id, attempt)))
    assert sorted(r["run_id"] for r in done) == ["a", "b"] and outcome.retried == 2
    backend = _FlakyBackend()
    outcome = drive([{"run_id": "a"}], backend, 0, done.append,
                    lambda run_id, record, attempt: failed.append((run_id, record["state"])))
    assert failed == [("a", "lost")] and outcome.failed == {"a": "lost"}


def test_a_killed_worker_process_is_a_lost_run_and_retried(tmp_path):
    """A real process pool; the test SIGKILLs the worker running the first run."""
    from fiscosim.sweep.plan import read_sweep

    path = sweep_file(tmp_path, SWEEP.replace("duration_s: 1.5", "duration_s: 20"))
    sweep = read_sweep(path)
    payloads = [campaign._payload(run, sweep, None, False) for run in sweep.runs[:2]]
    backend = LocalBackend(1)
    killed = []

    def killer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            workers = list(getattr(backend._pool, "_processes", None) or {})
            if workers:
                time.sleep(0.3)  # inside the run (20 simulated s: a few wall seconds)
                try:
                    os.kill(workers[0], signal.SIGKILL)
                    killed.append(workers[0])
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    done = []
    try:
        outcome = drive(payloads, backend, 2, done.append,
                        lambda *a: pytest.fail(f"failed: {a}"))
    finally:
        thread.join()
        backend.close()
    assert killed
    assert outcome.retried >= 1 and sorted(r["run_id"] for r in done) == sorted(
        p["run_id"] for p in payloads)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and SIGKILL")
def test_a_killed_coordinator_resumes_with_only_the_missing_runs(tmp_path):
    text = SWEEP.replace("[4, 5]", "[4, 5, 6]").replace("repeat: 2", "repeat: 2")
    path = sweep_file(tmp_path, text)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "fiscosim", "sweep", str(path), "--out", str(out),
               "-j", "1", "--no-plots"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = out / "runs"
        if runs.is_dir() and len([p for p in runs.iterdir() if not p.name.startswith(".")]) >= 2:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the coordinator and its workers, mid-sweep
    process.wait()
    finished = {p.name for p in (out / "runs").iterdir() if not p.name.startswith(".")}
    assert 2 <= len(finished) < 6
    for run in finished:  # no partial run folder
        assert (out / "runs" / run / "summary.json").is_file()
        assert (out / "runs" / run / "manifest.json").is_file()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished)} done before, {6 - len(finished)} run now" in resumed.stdout
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    fresh = tmp_path / "fresh"
    assert len(run_sweep(path, out=fresh, jobs=2, plots=False).executed) == 6
    assert runs_rows(out) == runs_rows(fresh)
    assert points_rows(out) == points_rows(fresh)


SEARCH = """\
name: search
duration_s: 4
warmup_s: 1
drain_s: 2
nodes: {count: 4}
workload: {rate_tps: 500}
sweep:
  seeds: [1]
  grid:
    chain.tx_count_limit: [1000]
  search:
    max_sustainable_tps:
      start: 800
      bounds: [100, 12800]
      resolution: {relative: 0.25, absolute: 100}
"""


def test_a_search_per_point_is_the_same_on_one_worker_and_two_and_replays_its_probes(tmp_path):
    path = sweep_file(tmp_path, SEARCH)
    tables = {}
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        report = run_sweep(path, out=out, jobs=jobs, plots=False)
        assert report.searches == 1 and report.executed and report.exit_code == 0
        tables[jobs] = pq.read_table(out / "tables" / "max_tps.parquet").to_pylist()
        (search_file,) = (out / "search").iterdir()
        trace = json.loads(search_file.read_text())
        assert trace["searches"][0]["max_sustainable_tps"] == tables[jobs][0][
            "max_sustainable_tps"]
        # every probe is an ordinary run, in the runs table with its rate
        rates = {r["workload.rate_tps"] for r in runs_rows(out)}
        assert len(rates) == len(trace["searches"][0]["probes"])
    assert tables[1] == tables[2]
    (row,) = tables[1]
    assert row["max_sustainable_tps"] < row["first_failing_tps"]
    assert row["failed_criterion"] in ("goodput_ratio", "latency_ms.p95", "backlog_growth",
                                       "rejected_ratio")
    again = run_sweep(path, out=tmp_path / "j1", jobs=2, plots=False)
    assert again.executed == [] and again.done_before > 0
    assert pq.read_table(tmp_path / "j1" / "tables" / "max_tps.parquet").to_pylist() == tables[1]
    assert status(tmp_path / "j1").complete


def test_a_dask_worker_of_another_version_is_one_error_before_any_submit(tmp_path,
                                                                         monkeypatch):
    pytest.importorskip("distributed", reason="the cluster extra")
    from fiscosim.sweep import runner

    # The coordinator claims another version; the worker process imports the real one.
    monkeypatch.setattr(runner, "__version__", "0.0.0-other")
    submitted = []
    monkeypatch.setattr(runner.DaskBackend, "submit",
                        lambda self, payload: submitted.append(payload))
    with pytest.raises(runner.VersionMismatch) as caught:
        run_sweep(sweep_file(tmp_path), out=tmp_path / "out", dask_local=1, plots=False)
    text = str(caught.value)
    assert "\n" not in text and "0.0.0-other" in text and "install the same version" in text
    assert submitted == [] and not (tmp_path / "out" / "runs").exists()


def test_a_changed_base_leaves_orphans_and_says_so(tmp_path):
    path = sweep_file(tmp_path, SWEEP.replace("repeat: 2", "repeat: 1"))
    out = tmp_path / "out"
    run_sweep(path, out=out, jobs=2, plots=False)
    changed = run_sweep(path, out=out, jobs=2, plots=False, sets=["workload.rate_tps=250"])
    assert changed.done_before == 0 and changed.orphans == 2 and len(changed.executed) == 2
    assert len(status(out).orphans) == 2


def test_the_command_line_runs_plans_dry_runs_and_runs_a_sweep_files_base(tmp_path):
    from click.testing import CliRunner

    from fiscosim.cli import main

    path = sweep_file(tmp_path)
    runner = CliRunner()
    dry = runner.invoke(main, ["sweep", str(path), "--dry-run", "--grid", "nodes.count=4,5,6"])
    assert dry.exit_code == 0, dry.output
    assert "3 points x 2 seeds = 6 runs" in dry.output
    assert not (tmp_path / "results").exists()
    once = runner.invoke(main, ["run", str(path), "--quiet", "--set", "duration_s=1.5"])
    assert once.exit_code == 0, once.output
    assert "holds a sweep: block; this runs its base scenario once" in once.output
    bad = runner.invoke(main, ["sweep", str(path), "--grid", "nodes.cont=4,5"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    assert "nodes.cont" in bad.output
    (tmp_path / "empty").mkdir()
    missing = runner.invoke(main, ["sweep", "status", str(tmp_path / "empty")])
    assert missing.exit_code == 2 and "not a sweep folder" in missing.output


UNTIL = SWEEP.replace("  repeat: 2\n", "  repeat: {min: 2, max: 6, until: {metric: tps, "
                      "ci_rel: CI}}\n").replace("[4, 5]", "[4]")


@pytest.mark.parametrize("ci_rel, seeds", [(1e-9, 6), (10, 2)])
def test_repeat_until_adds_seeds_in_batches_until_the_interval_is_narrow(tmp_path, ci_rel,
                                                                         seeds):
    path = sweep_file(tmp_path, UNTIL.replace("CI", str(ci_rel)))
    out = tmp_path / "out"
    report = run_sweep(path, out=out, jobs=2, plots=False)
    assert report.planned == 2 and len(report.executed) == seeds
    assert sorted(r["seed"] for r in runs_rows(out)) == list(range(1, seeds + 1))
    assert {p["n"] for p in points_rows(out)} == {seeds}
    again = run_sweep(path, out=out, jobs=2, plots=False)
    assert again.executed == [] and status(out).complete


def test_repeat_until_names_a_metric_the_runs_lack(tmp_path):
    from fiscosim.schema import ScenarioError

    path = sweep_file(tmp_path, UNTIL.replace("CI", "0.1").replace("metric: tps",
                                                                    "metric: tsp"))
    with pytest.raises(ScenarioError, match="tsp is not a number"):
        run_sweep(path, out=tmp_path / "out", jobs=1, plots=False)
