"""fiscosim sweep's remaining command-line features: stale runs (status says why,
--rerun-stale runs exactly them), --fail-fast, --ci (remembered by aggregate), gc, and the
plan file of a search; real runs of a small scenario in real worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import tiny_sweep

pa = pytest.importorskip("pyarrow", reason="sweeps need the analysis extra")
pq = pytest.importorskip("pyarrow.parquet")

from fiscosim.cli import main  # noqa: E402
from fiscosim.sweep import campaign  # noqa: E402
from fiscosim.sweep.campaign import run_sweep, status  # noqa: E402
from fiscosim.sweep.plan import read_sweep  # noqa: E402
from fiscosim.sweep.store import Store, stale_reason  # noqa: E402
from fiscosim.version import __version__  # noqa: E402

SWEEP = tiny_sweep(repeat=1, metrics="tps, latency_ms.p50, blocks")


def sweep_file(tmp_path: Path, text: str = SWEEP) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def stamp(folder: Path, run_id: str, version: str = __version__, dirty: bool = False) -> None:
    """Says in a run's manifest which fiscosim made it, from which tree (in place, as a
    person editing it would)."""
    path = folder / "runs" / run_id / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["fiscosim_version"] = version
    manifest["git"] = {"commit": "c0ffee" * 6 + "c0ff", "dirty": dirty}
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_stale_reasons():
    assert stale_reason({"fiscosim_version": __version__, "git": None}) is None
    assert stale_reason({"fiscosim_version": __version__,
                         "git": {"commit": "abc", "dirty": False}}) is None
    assert "made by fiscosim 0.0.1, this is" in stale_reason({"fiscosim_version": "0.0.1"})
    assert "dirty tree" in stale_reason({"fiscosim_version": __version__,
                                         "git": {"commit": "abc", "dirty": True}})


def test_a_stale_run_is_shown_and_only_rerun_stale_runs_it_again(tmp_path):
    path = sweep_file(tmp_path)
    out = tmp_path / "out"
    first = run_sweep(path, out=out, jobs=2, plots=False)
    assert len(first.executed) == 2
    # this tree may be dirty (then every run is stale): say they came from a clean one
    for run_id in first.executed:
        stamp(out, run_id)
    assert status(out).stale == {}  # status's index now knows both runs
    old, other = sorted(first.executed)
    stamp(out, old, version="0.0.1-old")  # edited in place: the index must notice
    state = status(out)
    assert state.complete and state.done == 2
    assert set(state.stale) == {old} and "made by fiscosim 0.0.1-old" in state.stale[old]
    shown = CliRunner().invoke(main, ["sweep", "status", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "(1 stale)" in shown.output and "stale: 1 run made by fiscosim 0.0.1-old" in \
        shown.output and "--rerun-stale" in shown.output
    plain = run_sweep(path, out=out, jobs=2, plots=False)
    assert plain.executed == [] and plain.done_before == 2 and plain.stale == 1
    again = run_sweep(path, out=out, jobs=2, plots=False, rerun_stale=True)
    assert again.executed == [old] and again.done_before == 1 and again.stale == 1
    manifest = json.loads((out / "runs" / old / "manifest.json").read_text())
    assert manifest["fiscosim_version"] == __version__
    # a dirty tree is a reason too, and the rerun replaced only that run
    stamp(out, old)
    stamp(out, other, dirty=True)
    assert "dirty tree" in status(out).stale[other] and old not in status(out).stale
    assert run_sweep(path, out=out, jobs=1, plots=False,
                     rerun_stale=True).executed == [other]
    assert len(pq.read_table(out / "tables" / "runs.parquet")) == 2


FAILING = SWEEP.replace("  grid:\n    nodes.count: [4, 5]\n",
                        "  zip:\n    - nodes.count: [40, 4, 5, 6]\n"
                        "      duration_s: [30, 1.5, 1.5, 1.5]\n").replace("repeat: 1",
                                                                          "repeat: 2")


def test_fail_fast_stops_at_the_first_failure_and_says_how_to_resume(tmp_path):
    # The 40-sealer point (30 simulated s) is fed first (the longest) and runs past a 1 s
    # --timeout; the six runs of the small points would pass.
    path = sweep_file(tmp_path, FAILING)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "-j", "1",
                                       "--timeout", "1s", "--fail-fast", "--no-plots"])
    assert result.exit_code == 1, result.output
    assert "stopped at the first failed run (--fail-fast); resume with: fiscosim" in \
        result.output
    (record,) = (out / "failed").iterdir()
    assert json.loads(record.read_text())["state"] == "timeout"
    done = [p for p in (out / "runs").iterdir()] if (out / "runs").is_dir() else []
    assert len(done) <= 1  # the sweep stopped: without --fail-fast all six small runs run
    assert (out / "tables" / "points.parquet").is_file()  # tables rebuilt from what is done
    assert not [p for p in out.rglob(".*fiscosim-*")]  # no temporary left behind


class _FailingBackend:
    """Runs in this process: the first run it is ever fed (``doomed``, shared by every one)
    fails, the others return a summary at once."""

    slots = 1

    def __init__(self, doomed: list[str]) -> None:
        self.fed: list[str] = []
        self.doomed = doomed
        self.aborted = self.closed = False

    def describe(self) -> str:
        return "in-process test backend"

    def submit(self, payload):
        self.fed.append(payload["run_id"])
        if not self.doomed:
            self.doomed.append(payload["run_id"])
        return (payload["run_id"], payload["run_id"] in self.doomed)

    def wait(self, futures):
        return {next(iter(futures))}

    def result(self, future):
        run_id, fails = future
        if fails:
            return {"run_id": run_id, "error": {"state": "error", "type": "Injected",
                                                "message": "on purpose"}}
        return {"run_id": run_id, "summary": {"tps": float(len(self.fed))},
                "manifest": {"fiscosim_version": __version__}, "wall_s": 0.0}

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def test_fail_fast_aborts_the_backend_and_a_plain_rerun_runs_the_rest(tmp_path, monkeypatch):
    path = sweep_file(tmp_path, SWEEP.replace("[4, 5]", "[4, 5, 6]").replace("repeat: 1",
                                                                              "repeat: 2"))
    out = tmp_path / "out"
    backends: list[_FailingBackend] = []
    doomed: list[str] = []
    monkeypatch.setattr(campaign, "_backend",
                        lambda *args: backends.append(_FailingBackend(doomed)) or backends[-1])
    stopped = run_sweep(path, out=out, fail_fast=True, plots=False)
    assert stopped.stopped and stopped.exit_code == 1 and stopped.executed == []
    assert len(stopped.failed) == 1 and backends[0].aborted and not backends[0].closed
    assert len(backends[0].fed) == 2  # the window of one slot: the failed run and one more
    assert (out / "tables" / "runs.parquet").is_file() and (out / "plan.parquet").is_file()
    # the same without --fail-fast: the failure is kept (not retried), the other five run
    resumed = run_sweep(path, out=out, plots=False)
    assert not resumed.stopped and resumed.exit_code == 1 and len(resumed.executed) == 5
    assert backends[1].closed and not backends[1].aborted
    assert set(resumed.failed) == set(stopped.failed) == set(doomed)
    assert doomed[0] not in backends[1].fed and status(out).done == 5


def widths(folder: Path) -> dict[str, float]:
    table = pq.read_table(folder / "tables" / "points.parquet")
    return {row["metric"]: row["ci_high"] - row["ci_low"] for row in table.to_pylist()
            if row["ci_low"] is not None}


def level(folder: Path) -> float:
    from fiscosim.sweep.tables import table_metadata

    return table_metadata(pq.read_table(folder / "tables" / "points.parquet"))["ci"]


def test_ci_sets_the_level_of_the_intervals_and_aggregate_remembers_it(tmp_path):
    path = sweep_file(tmp_path, SWEEP.replace("[4, 5]", "[4]").replace("repeat: 1",
                                                                        "repeat: 3"))
    out = tmp_path / "out"
    runner = CliRunner()
    ran = runner.invoke(main, ["sweep", str(path), "--out", str(out), "-j", "2", "--ci",
                               "0.9", "--no-plots"])
    assert ran.exit_code == 0, ran.output
    assert read_sweep(out / "sweep.yaml").ci == 0.9 and level(out) == 0.9
    narrow = {metric: width for metric, width in widths(out).items() if width > 0}
    assert {"tps", "latency_ms.p50"} <= set(narrow)  # three seeds that differ
    assert runner.invoke(main, ["sweep", "aggregate", str(out)]).exit_code == 0
    assert level(out) == 0.9 and widths(out)["tps"] == narrow["tps"]  # remembered
    wide = runner.invoke(main, ["sweep", "aggregate", str(out), "--ci", "0.95"])
    assert wide.exit_code == 0, wide.output
    assert level(out) == 0.95 and read_sweep(out / "sweep.yaml").ci == 0.95
    assert all(widths(out)[metric] > width for metric, width in narrow.items())
    for bad in ("1", "0", "-0.5", "ninety"):
        for command in (["sweep", str(path), "--out", str(out)],
                        ["sweep", "aggregate", str(out)]):
            assert "--ci" in one_line_error(runner.invoke(main, [*command, "--ci", bad]))
    written = path.read_text().replace("  repeat: 3\n", "  repeat: 3\n  ci: 1.5\n")
    path.write_text(written)
    assert "sweep.ci" in one_line_error(runner.invoke(main, ["sweep", str(path), "--dry-run"]))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_gc_removes_each_kind_only_with_its_flag_and_not_while_locked(tmp_path):
    path = sweep_file(tmp_path)
    out = tmp_path / "out"
    planned = sorted(run_sweep(path, out=out, jobs=2, plots=False).executed)
    # an orphan (a run of another plan), a failure record, a killed writer's temporary
    orphan = out / "runs" / "0123456789ab-s1"
    (orphan).mkdir()
    for name in ("summary.json", "manifest.json"):
        (orphan / name).write_text((out / "runs" / planned[0] / name).read_text())
    (out / "failed").mkdir(exist_ok=True)
    record = out / "failed" / "ba9876543210-s1.json"
    record.write_text(json.dumps({"state": "error"}))
    temporary = out / "runs" / f".{planned[0]}.fiscosim-{dead_pid()}-0a1b2c3d"
    temporary.mkdir()
    runner = CliRunner()

    def gc(*flags: str):
        result = runner.invoke(main, ["sweep", "gc", str(out), *flags])
        assert result.exit_code == 0, result.output
        return result.output

    told = gc()
    assert "nothing removed" in told and "--orphans  1 " in told and "--failed   1 " in told \
        and "--tmp      1 " in told
    assert orphan.is_dir() and record.is_file() and temporary.is_dir()
    assert "would remove" in gc("--orphans", "--failed", "--tmp", "--dry-run")
    assert orphan.is_dir() and record.is_file() and temporary.is_dir()
    with Store(out).locked():
        refused = one_line_error(runner.invoke(main, ["sweep", "gc", str(out), "--orphans"]))
    assert "another sweep coordinator holds it" in refused and orphan.is_dir()
    assert str(orphan) in gc("--orphans")
    assert not orphan.exists() and record.is_file() and temporary.is_dir()
    assert str(record) in gc("--failed")
    assert not record.exists() and temporary.is_dir()
    assert str(temporary) in gc("--tmp")
    assert not temporary.exists()
    state = status(out)
    assert state.complete and sorted(p.name for p in (out / "runs").iterdir()) == planned
    assert "1 run folders" not in gc()
    (tmp_path / "elsewhere").mkdir()
    missing = runner.invoke(main, ["sweep", "gc", str(tmp_path / "elsewhere"), "--tmp"])
    assert "not a sweep folder" in one_line_error(missing)


SEARCH = """\
name: search
duration_s: 4
nodes: {count: 4}
workload: {rate_tps: 500}
sweep:
  seeds: [1, 2]
  grid:
    chain.tx_count_limit: [1000, 2000]
  search:
    max_sustainable_tps:
      start: 800
"""


def test_the_plan_file_of_a_search_lists_its_searches_not_runs_at_the_base_rate(tmp_path):
    sweep = read_sweep(sweep_file(tmp_path, SEARCH))
    campaign._write_plan(Store(tmp_path / "out"), sweep)
    table = pq.read_table(tmp_path / "out" / "plan.parquet")
    rows = table.to_pylist()
    assert len(rows) == 2 * 2  # points x seeds
    assert {row["run_id"] for row in rows} == {None}
    assert {row["searched"] for row in rows} == {"workload.rate_tps"}
    assert "workload.rate_tps" not in table.column_names
    assert sorted({row["chain.tx_count_limit"] for row in rows}) == [1000, 2000]
    meta = json.loads(table.schema.metadata[b"fiscosim.sweep"])
    assert meta["search"] == {"param": "workload.rate_tps", "mode": "per_seed"}
    plain = read_sweep(sweep_file(tmp_path, SWEEP))
    campaign._write_plan(Store(tmp_path / "plain"), plain)
    rows = pq.read_table(tmp_path / "plain" / "plan.parquet").to_pylist()
    assert [row["run_id"] for row in rows] == [run.run_id for run in plain.runs]
