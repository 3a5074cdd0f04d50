"""fiscosim.sweep.plan: a sweep file read and expanded (grid x zip x cases - exclude, times the
seeds), every mistake one line naming the file and the key, and the runs' identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from fiscosim.schema import ScenarioError
from fiscosim.sweep import plan as plan_module
from fiscosim.sweep.plan import order_runs, point_id, read_sweep

BASE = """\
name: tiny
duration_s: 2
warmup_s: 0.5
drain_s: 1
nodes: {count: 4}
workload: {rate_tps: 200}
"""

QUESTION = """\
# How do throughput and p99 latency change with 4, 7, 10, 16 and 25 sealers on a 50 ms WAN,
# 3 seeds each, with and without a crashed leader?
name: wan-scaling
duration_s: 20
warmup_s: 5
nodes: {count: 4}
network:
  latency: {distribution: lognormal, mean_ms: 50, std_ms: 10}
workload: {rate_tps: 1000, clients: 4}
sweep:
  repeat: 3
  grid:
    nodes.count: [4, 7, 10, 16, 25]
  cases:
    - {label: no-faults}
    - {label: crashed-leader, faults: [{kind: crash, nodes: [leader], at_s: 10}]}
  metrics: [tps, latency_ms.p50, latency_ms.p99, view_changes.node_view_changes]
  plots:
    - {x: nodes.count, y: tps, hue: case}
    - {x: nodes.count, y: latency_ms.p99, hue: case}
"""


def write(tmp_path: Path, sweep: str, base: str = BASE, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(base + sweep)
    return path


def test_the_researchers_question_is_one_short_file_of_30_runs(tmp_path):
    path = tmp_path / "question.yaml"
    path.write_text(QUESTION)
    assert len(QUESTION.splitlines()) <= 25  # issue #18's bar
    sweep = read_sweep(path)
    assert sweep.params == ["nodes.count", "case"]
    assert len(sweep.points) == 10 and sweep.seeds == [1, 2, 3] and len(sweep.runs) == 30
    crashed = [p for p in sweep.points if p.params["case"] == "crashed-leader"]
    assert [p.params["nodes.count"] for p in crashed] == [4, 7, 10, 16, 25]
    run = next(r for r in sweep.runs if r.point.params == {"nodes.count": 25,
                                                            "case": "crashed-leader"})
    assert len(run.scenario.nodes.specs()) == 25 and run.scenario.faults[0].kind == "crash"


def test_grid_zip_cases_and_exclude_multiply_as_documented(tmp_path):
    path = write(tmp_path, """\
sweep:
  seeds: [5, 9]
  grid:
    nodes.count: [4, 7]
    network.latency.mean_ms: {linspace: [1, 21, 3]}
  zip:
    - workload.rate_tps: [100, 200, 400]
      chain.tx_count_limit: [100, 200, 400]
  cases:
    - {label: a}
    - {label: b, workload.clients: 2}
  exclude:
    - {nodes.count: 7, network.latency.mean_ms: 21}
""")
    sweep = read_sweep(path)
    # grid 2 x 3, zip 3, cases 2, minus the excluded (7, 21) x 3 x 2, at two seeds
    assert len(sweep.points) == 2 * 3 * 3 * 2 - 3 * 2 == 30
    assert len(sweep.runs) == 60 and sweep.seeds == [5, 9]
    assert {p.params["network.latency.mean_ms"] for p in sweep.points} == {1, 11, 21}
    for point in sweep.points:
        assert point.params["workload.rate_tps"] == point.params["chain.tx_count_limit"]
        assert not (point.params["nodes.count"] == 7
                    and point.params["network.latency.mean_ms"] == 21)
    b = next(r for r in sweep.runs if r.point.params["case"] == "b")
    assert b.scenario.workload.clients == 2 and b.seed in (5, 9)


def test_generators_and_command_line_axes(tmp_path):
    path = write(tmp_path, "sweep:\n  grid:\n    workload.rate_tps: {range: [100, 400, 100]}\n")
    sweep = read_sweep(path, grid=["nodes.count=4,7"], repeat=2)
    assert [p.params for p in sweep.points][:3] == [
        {"workload.rate_tps": 100, "nodes.count": 4},
        {"workload.rate_tps": 100, "nodes.count": 7},
        {"workload.rate_tps": 200, "nodes.count": 4}]
    assert len(sweep.points) == 6 and sweep.seeds == [1, 2]
    zipped = read_sweep(path, zips=["nodes.count=4,7,10", "chain.tx_count_limit=10,20,30"],
                        seeds="3-4")
    assert len(zipped.points) == 3 * 3 and zipped.seeds == [3, 4]
    logs = write(tmp_path, "sweep:\n  grid:\n    workload.rate_tps: {logspace: [2, 4, 3]}\n",
                 name="log.yaml")
    assert [p.params["workload.rate_tps"] for p in read_sweep(logs).points] == [100, 1000, 10000]


@pytest.mark.parametrize("sweep, field, words", [
    ("sweep:\n  zip:\n    - {nodes.count: [4, 7], workload.rate_tps: [1, 2, 3]}\n",
     "sweep.zip.0", "unequal lengths"),
    ("sweep:\n  grid: {nodes.count: [4]}\n  zip:\n    - {nodes.count: [7]}\n",
     "nodes.count", "swept twice"),
    ("sweep:\n  gird: {nodes.count: [4]}\n", "sweep.gird", "unknown key"),
    ("sweep:\n  grid: {nodes.cont: [4, 7]}\n", "nodes.cont", "unknown"),
    ("sweep:\n  grid: {nodes.count: [4, 0]}\n", "nodes.count", ""),
    ("sweep:\n  grid: {nodes.count: [4]}\n  exclude: [{nodes.count: 4}]\n", "sweep",
     "plan is empty"),
    ("sweep:\n  grid: {nodes.count: []}\n", "sweep.grid.nodes.count", "no values"),
    ("sweep:\n  cases: [{faults: []}]\n", "sweep.cases.0", "no label"),
    ("sweep:\n  repeat: 0\n", "sweep.repeat", "count of seeds"),
    ("sweep:\n  repeat: {min: 1, max: 5, until: {metric: tps, ci_rel: 0.1}}\n",
     "sweep.repeat", "min 1"),
    ("sweep:\n  repeat: {min: 2, max: 5, until: {metric: tps}}\n", "sweep.repeat.until",
     "ci_rel"),
    ("sweep:\n  grid: {nodes.count: [4, 4]}\n", "sweep", "same scenario"),
])
def test_a_bad_plan_is_one_line_naming_the_file_and_the_key(tmp_path, sweep, field, words):
    path = write(tmp_path, sweep)
    with pytest.raises(ScenarioError) as caught:
        read_sweep(path)
    text = str(caught.value)
    assert "\n" not in text and str(path) in text and field in text and words in text


def test_a_file_without_a_sweep_block_is_refused(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ScenarioError, match="no sweep: block"):
        read_sweep(path)


def test_a_standalone_sweep_file_names_its_base(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    sub = tmp_path / "sweeps"
    sub.mkdir()
    path = sub / "s.yaml"
    path.write_text("base: ../base.yaml\nsweep:\n  grid: {nodes.count: [4, 7]}\n")
    sweep = read_sweep(path)
    assert len(sweep.runs) == 2 and sweep.name == "tiny"
    inline = read_sweep(write(tmp_path, "sweep:\n  grid: {nodes.count: [4, 7]}\n"))
    assert [r.run_id for r in sweep.runs] == [r.run_id for r in inline.runs]


def test_identity_follows_the_resolved_scenario_and_the_model_epoch(tmp_path, monkeypatch):
    path = write(tmp_path, "sweep:\n  repeat: 2\n  grid: {nodes.count: [4, 7]}\n")
    first, again = read_sweep(path), read_sweep(path)
    assert [r.run_id for r in first.runs] == [r.run_id for r in again.runs]
    assert first.runs[0].run_id == f"{first.runs[0].point_id}-s1"
    assert len({r.point_id for r in first.runs}) == 2  # seeds share a point
    # spelling a default out changes nothing; changing the base changes every id
    spelled = write(tmp_path, "sweep:\n  repeat: 2\n  grid: {nodes.count: [4, 7]}\n",
                    base=BASE + "chain: {tx_count_limit: 1000}\n", name="spelled.yaml")
    assert [r.run_id for r in read_sweep(spelled).runs] == [r.run_id for r in first.runs]
    changed = read_sweep(path, sets=["workload.rate_tps=300"])
    assert not {r.run_id for r in changed.runs} & {r.run_id for r in first.runs}
    assert point_id(first.runs[0].scenario, 99) != first.runs[0].point_id
    monkeypatch.setattr(plan_module, "MODEL_EPOCH", 99)
    assert plan_module.point_id(first.runs[0].scenario) == point_id(first.runs[0].scenario, 99)


def test_runs_are_fed_seed_major_and_longest_first(tmp_path):
    path = write(tmp_path, "sweep:\n  repeat: 2\n  grid: {nodes.count: [4, 16, 7]}\n")
    sweep = read_sweep(path)
    ordered = order_runs(sweep.runs)
    assert [r.seed for r in ordered] == [1, 1, 1, 2, 2, 2]
    assert [r.point.params["nodes.count"] for r in ordered[:3]] == [16, 7, 4]
    quick = {r.point_id: 0.1 for r in sweep.runs}
    slow4 = next(r.point_id for r in sweep.runs if r.point.params["nodes.count"] == 4)
    quick[slow4] = 99.0  # observed wall time beats the hint
    assert order_runs(sweep.runs, quick)[0].point.params["nodes.count"] == 4


@pytest.mark.parametrize("sweep, start", [
    ("sweep:\n  cases:\n    - {label: no-faults}\n    - {label: crash-leader, faults: "
     "[{kind: crash, nodes: [leader], at_s: -3}]}\n",
     "sweep.cases[1] (crash-leader): faults.0.at_s: -3 is too small"),
    ("sweep:\n  cases:\n    - {label: a, nodes.cont: 5}\n",
     "sweep.cases[0] (a): nodes.cont: unknown field 'cont'"),
    ("sweep:\n  cases:\n    - {label: a}\n    - {label: b, faults: 3}\n",
     "sweep.cases[1] (b): faults: expected a list"),
    ("sweep:\n  grid: {nodes.count: [4, 0]}\n", "sweep.grid.nodes.count: 0 is too small"),
    ("sweep:\n  zip:\n    - {nodes.count: [4, 5], duration_s: [2, -1]}\n",
     "sweep.zip[0].duration_s: -1 is too small"),
])
def test_a_bad_override_names_its_case_or_axis_and_the_field_not_set(tmp_path, sweep, start):
    path = write(tmp_path, sweep)
    with pytest.raises(ScenarioError) as caught:
        read_sweep(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: {start}"), text
    assert "--set" not in text and "\n" not in text


def test_a_problem_no_override_caused_keeps_the_points_label(tmp_path):
    path = write(tmp_path, "sweep:\n  grid: {duration_s: [0.2, 2]}\n")
    with pytest.raises(ScenarioError) as caught:
        read_sweep(path)
    assert "[duration_s=0.2]" in str(caught.value) and "warmup_s" in str(caught.value)


def test_ci_is_a_level_between_0_and_1_from_the_file_or_the_command_line(tmp_path):
    path = write(tmp_path, "sweep:\n  ci: 0.9\n")
    assert read_sweep(path).ci == 0.9
    assert read_sweep(path, ci=0.8).ci == 0.8
    assert read_sweep(write(tmp_path, "sweep: {}\n", name="d.yaml")).ci == 0.95
    for bad in ("1", "0", "true", "high"):
        with pytest.raises(ScenarioError, match=r"sweep\.ci: .* is not a confidence level"):
            read_sweep(write(tmp_path, f"sweep:\n  ci: {bad}\n", name="b.yaml"))
    with pytest.raises(ScenarioError, match=r"--ci: 1\.5 is not a confidence level"):
        read_sweep(path, ci=1.5)
