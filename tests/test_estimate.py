"""fiscosim.sim.estimate: a run's peak memory and events before it starts, and the refusal of
a run that cannot fit.

The estimate must stay within 2x of the peak resident memory measured for quickstart,
pbft-4-50k and pbft-100-2k (the last two shortened so that the file runs in well under 90 s;
the same shortened runs are estimated and measured).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from fiscosim.scenario import load_scenario
from fiscosim.schema import Scenario, ScenarioError
from fiscosim.sim import estimate
from fiscosim.sim.estimate import RunEstimate, available_bytes, check_fits, estimate_run

SCENARIOS = REPO_ROOT / "scenarios"

# Runs `fiscosim run` in this interpreter, then prints its own peak resident memory. On Linux
# that is VmHWM: ru_maxrss survives exec, so a child of a big pytest would report pytest's.
CHILD = """
import json, resource, sys
from fiscosim.cli import main
try:
    main(["run", *sys.argv[1:]], prog_name="fiscosim")
except SystemExit as stop:
    if stop.code:
        raise
try:
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
except OSError:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
print(json.dumps({"peak_bytes": peak}))
"""

MEASURED = [
    ("quickstart.yaml", []),
    ("pbft-4-50k.yaml", ["duration_s=4", "warmup_s=1", "drain_s=2"]),
    ("pbft-100-2k.yaml", ["duration_s=2", "warmup_s=0.5", "drain_s=1"]),
]


@pytest.mark.parametrize(("name", "sets"), MEASURED, ids=[name for name, _ in MEASURED])
def test_the_estimate_is_within_2x_of_the_measured_peak(name, sets):
    path = SCENARIOS / name
    options = [item for text in sets for item in ("--set", text)]
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), "--quiet", "--json",
                             *options], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    *_, summary_line, peak_line = result.stdout.splitlines()
    summary, peak = json.loads(summary_line), json.loads(peak_line)["peak_bytes"]
    guess = estimate_run(load_scenario(path, sets))
    assert 0.5 <= guess.peak_bytes / peak <= 2, (guess.describe(), peak)
    # Events are a rougher guide, but within 2x on these.
    assert 0.5 <= guess.events / summary["events"] <= 2, (guess.events, summary["events"])
    assert guess.transactions == pytest.approx(summary["txs_submitted"], rel=0.1)


def test_the_table_row_is_the_tables_columns():
    import numpy as np

    from fiscosim.node.txtable import _COLUMNS

    row = sum(np.dtype(dtype).itemsize for dtype, _ in _COLUMNS.values())
    assert row == estimate.TX_ROW_BYTES


def test_describe_is_one_line_with_the_figures():
    text = estimate_run(load_scenario(SCENARIOS / "quickstart.yaml")).describe()
    assert re.fullmatch(r"4 sealers, 10 s, ~5,000 transactions, ~[\d,]+ events, ~\d+ MB peak",
                        text), text
    light = estimate_run(load_scenario(SCENARIOS / "light-clients.yaml")).describe()
    assert light.startswith("4 sealers + 2 other nodes, 12 s, ")


def test_the_estimate_is_frozen_and_adds_up():
    guess = estimate_run(load_scenario(SCENARIOS / "pbft-100-2k.yaml"))
    assert isinstance(guess, RunEstimate) and isinstance(guess.events, int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        guess.peak_bytes = 0  # type: ignore[misc]
    assert guess.peak_bytes == sum(part.bytes for part in guess.parts)
    assert [part.bytes for part in guess.parts] == sorted((p.bytes for p in guess.parts),
                                                         reverse=True)
    links = {part.what: part for part in guess.parts}["network links"]
    assert links.driver == "9,900 links between 100 nodes"


def scenario(**changes) -> Scenario:
    return Scenario.from_dict({"name": "t", "nodes": {"count": 4}, **changes})


def test_the_estimate_grows_with_what_dominates():
    base = estimate_run(scenario()).peak_bytes
    assert estimate_run(scenario(workload={"rate_tps": 100_000})).peak_bytes > base + 50e6
    assert estimate_run(scenario(nodes={"count": 400})).peak_bytes > base + 500e6
    real = estimate_run(scenario(workload={"rate_tps": 50_000}, chain={"crypto_mode": "real"}))
    assert real.parts[0].what in ("the signed corpus", "the transaction table")
    assert any(part.what == "the signed corpus" for part in real.parts)
    # A random topology holds the links to its neighbours, not a full mesh.
    mesh = estimate_run(scenario(nodes={"count": 200}))
    sparse = estimate_run(scenario(nodes={"count": 200},
                                   network={"topology": {"kind": "random", "degree": 4}}))
    assert sparse.peak_bytes < mesh.peak_bytes / 2


def test_aggregated_votes_estimate_the_1000_sealer_run_as_measured():
    """Issue #17's point: 1,000 sealers, 1,000 TPS for 60 s, aggregated votes, 100 ms ticks;
    measured 1.75 GB peak and 7,790,251 events (docs/performance.md, "Aggregated votes")."""
    base = {"nodes": {"count": 1000}, "duration_s": 60, "drain_s": 5, "warmup_s": 5,
            "network": {"latency": {"distribution": "lognormal", "mean_ms": 20, "std_ms": 5}},
            "workload": {"rate_tps": 1000, "clients": 4, "tick_ms": 100}}
    exact = estimate_run(Scenario.from_dict({"name": "t", **base}))
    base["network"]["votes"] = "aggregate"
    aggregate = estimate_run(Scenario.from_dict({"name": "t", **base}))
    assert 1.75e9 / 2 < aggregate.peak_bytes < 1.75e9 * 2
    assert 7_790_251 / 2 < aggregate.events < 7_790_251 * 2
    assert aggregate.peak_bytes < exact.peak_bytes / 3 and aggregate.events < exact.events / 10
    assert any(part.what == "vote phases" for part in aggregate.parts)


def test_a_run_that_does_not_fit_is_one_line_naming_the_field_and_the_fix():
    big = scenario(workload={"rate_tps": 1_000_000}, duration_s=3600)
    with pytest.raises(ScenarioError) as caught:
        check_fits(big, "big.yaml", available=8 << 30)
    error = caught.value
    assert error.source == "big.yaml" and error.field == "workload.rate_tps"
    assert error.problem.startswith("the run would need ~")
    assert "8.6 GB is available; the largest part: the transaction table, ~" in error.problem
    assert error.problem.endswith(" for ~3,600,000,000 transactions")
    assert error.fix == "reduce workload.rate_tps or duration_s" and "\n" not in str(error)


def test_the_refusal_names_the_override_that_asked_for_it():
    path = SCENARIOS / "quickstart.yaml"
    with pytest.raises(ScenarioError, match=r"nodes.count: .*the largest part: network links, "
                                            r"~5.4 GB for 999,000 links between 1,000 nodes "
                                            r"\(use fewer nodes.*; --set nodes.count=1000 asked "
                                            r"for it\)"):
        scenario_ = load_scenario(path, ["nodes.count=1000"], check_memory=False)
        check_fits(scenario_, str(path), [("nodes.count", "nodes.count=1000")],
                   available=1 << 30)


def test_the_refusal_names_a_groups_own_rate():
    groups = scenario(nodes={"count": 4}, duration_s=3600, groups=[
        {"id": "a", "sealers": ["node0", "node1", "node2", "node3"]},
        {"id": "b", "sealers": ["node0", "node1", "node2", "node3"],
         "workload": {"rate_tps": 1_000_000}}])
    with pytest.raises(ScenarioError) as caught:
        check_fits(groups, "g.yaml", available=1 << 30)
    assert caught.value.field == "groups.1.workload.rate_tps"


def test_what_fits_is_not_refused_and_unknown_memory_refuses_nothing(monkeypatch):
    quick = load_scenario(SCENARIOS / "quickstart.yaml")
    assert check_fits(quick, available=1 << 30).peak_bytes < 1 << 30
    monkeypatch.setattr(estimate, "available_bytes", lambda: None)
    check_fits(scenario(workload={"rate_tps": 1_000_000}, duration_s=86_400))


def test_load_scenario_refuses_by_default_and_can_be_told_not_to(monkeypatch):
    monkeypatch.setattr(estimate, "available_bytes", lambda: 10_000_000)  # 10 MB
    path = SCENARIOS / "quickstart.yaml"
    with pytest.raises(ScenarioError, match=r"quickstart.yaml: scenario: the run would need "
                                            r"~\d+ MB of memory and 10 MB is available; the "
                                            r"largest part: the interpreter and libraries"):
        load_scenario(path)
    assert load_scenario(path, check_memory=False).name == "quickstart"


def test_available_memory_is_known_here():
    available = available_bytes()
    if sys.platform.startswith("linux"):
        assert isinstance(available, int) and available > 100 << 20


def test_loading_a_scenario_imports_no_numpy():
    # The memory check runs at load time; it must keep loading light (no numpy, simpy, ...).
    code = ("import sys; from fiscosim.scenario import load_scenario; "
            "load_scenario('scenarios/pbft-100-2k.yaml'); "
            "print(sorted(m for m in ('numpy', 'simpy', 'networkx') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
