"""The engine end to end: FISCO's sealing and quorum rules, the analytic latency, determinism.

Runs are short (a few simulated seconds) so the whole file stays a few seconds of wall time.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT

from fiscosim import Simulation, load_simulation
from fiscosim.scenario import load_scenario
from fiscosim.sim.analytic import low_load_latency

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
SHORT = ["duration_s=4", "warmup_s=1", "drain_s=2"]


def run(*overrides: str, trace=None):
    scenario = load_scenario(QUICKSTART, [*SHORT, *overrides])
    return Simulation(scenario).run(trace=trace)


def test_quickstart_commits_everything_safely():
    summary = run().summary
    assert summary["safety"]["ok"]
    assert summary["txs_rejected"] == 0
    assert summary["txs_pending_at_end"] == 0
    assert summary["txs_committed"] == summary["txs_submitted"] > 0
    assert summary["view_changes_wanted"] == 0
    for kind in ("PrePrepare", "Prepare", "Commit", "CheckPoint", "TxPush"):
        assert summary["messages"][kind]["count"] > 0


def test_low_load_block_interval_is_about_min_seal_time():
    # docs/fisco-reference.md §2.5 (issue #2522): blocks about every 500 ms when transactions
    # trickle in.
    summary = run("workload.rate_tps=100").summary
    assert summary["block_interval_ms"]["mean"] == pytest.approx(500, rel=0.05)


def test_300_tps_gives_blocks_of_100_to_200_transactions():
    # A FISCO maintainer's observation (docs/fisco-reference.md §2.5): ~300 TPS → 100-200 txs per
    # block.
    summary = run("workload.rate_tps=300").summary
    assert 100 <= summary["txs_per_block"]["mean"] <= 200


def test_full_blocks_seal_at_once():
    # pending ≥ tx_count_limit seals without waiting for min_seal_time
    summary = run("workload.rate_tps=5000", "chain.tx_count_limit=200").summary
    assert summary["txs_per_block"]["max"] == 200
    assert summary["block_interval_ms"]["mean"] < 100


@pytest.mark.parametrize(("count", "expected"), [(4, 3), (7, 5), (10, 7)])
def test_quorum_follows_fisco(count, expected):
    summary = run(f"nodes.count={count}", "workload.rate_tps=100", "duration_s=2").summary
    assert summary["quorum"] == expected
    assert summary["safety"]["ok"] and summary["blocks"] > 0


def test_weighted_quorum():
    nodes = "[{name: a, weight: 3}, {name: b}, {name: c}, {name: d}]"
    summary = run(f"nodes={{list: {nodes}}}", "workload.rate_tps=100", "duration_s=2").summary
    assert summary["quorum"] == 5  # W = 6, f = 1
    assert summary["safety"]["ok"] and summary["blocks"] > 0


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("workload.rate_tps=300",),
        ("chain.min_seal_time_ms=50", "network.latency.mean_ms=5"),
        ("chain.min_seal_time_ms=20", "network.latency.mean_ms=20", "nodes.count=7"),
    ],
    ids=["quickstart", "300tps", "fast-seal-wan", "7-nodes-20ms"],
)
def test_low_load_latency_matches_the_analytic_formula(overrides):
    scenario = load_scenario(QUICKSTART, list(overrides))
    expected = low_load_latency(scenario)
    summary = Simulation(scenario).run().summary
    assert summary["latency_ms"]["mean"] == pytest.approx(expected.mean_latency_ms, rel=0.10)
    assert summary["block_interval_ms"]["mean"] == pytest.approx(
        expected.block_interval_ms, rel=0.10
    )


def test_same_seed_same_summary_and_blocks():
    first, second = run(), run()
    assert first.deterministic_summary() == second.deterministic_summary()
    assert first.blocks.to_csv() == second.blocks.to_csv()
    other = run("seed=43")
    assert other.deterministic_summary() != first.deterministic_summary()


def test_trace_is_byte_identical_and_complete(tmp_path):
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in paths:
        run("duration_s=2", "warmup_s=0.5", "drain_s=1", trace=path)
    data = paths[0].read_bytes()
    assert data == paths[1].read_bytes()
    events = [json.loads(line) for line in data.splitlines()][1:]  # after the run header
    assert all(isinstance(e["t"], int) for e in events)
    kinds = {e["ev"] for e in events}
    assert {"send", "recv", "pbft", "quorum", "seal", "exec", "ledger", "timer", "state"} <= kinds
    # exactly one delivery or drop per destination of each send
    destinations = sum(len(e["dst"]) for e in events if e["ev"] == "send")
    arrivals = sum(e["ev"] in ("recv", "drop") for e in events)
    assert destinations == arrivals
    codes = {e.get("code") for e in events if e["ev"] == "quorum"}
    assert codes == {"prepare_quorum", "commit_quorum", "stable_checkpoint"}


def test_result_api_and_files(tmp_path):
    overrides = {"duration_s": 2, "warmup_s": 0.5}
    result = load_simulation(QUICKSTART, seed=5, overrides=overrides).run()
    assert result.summary["seed"] == 5
    assert len(result.blocks) == result.summary["blocks"]
    assert list(result.blocks["number"]) == sorted(result.blocks["number"])
    written = result.write(tmp_path / "out")
    assert sorted(p.name for p in written) == ["blocks.csv", "manifest.json", "summary.json"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for key in ("tps", "latency_ms", "blocks", "txs_submitted", "txs_committed", "txs_rejected",
                "messages", "sim_time_s", "wall_time_s", "sim_speed", "events", "seed"):
        assert key in summary
    assert set(summary["latency_ms"]) >= {"p50", "p95", "p99", "mean", "max"}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["versions"]["numpy"]
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize("mode", ["modelled", "real"])
def test_tampered_transactions_are_rejected_and_counted(mode, tmp_path, monkeypatch):
    monkeypatch.setenv("FISCOSIM_CACHE", str(tmp_path / "corpus"))
    result = run(f"chain.crypto_mode={mode}", "workload.invalid_fraction=0.1", "duration_s=2",
                 "warmup_s=0.5")
    summary, table = result.summary, result.world.table
    tampered = table.column("tampered")
    assert 0 < tampered.sum() < table.count
    assert summary["rejected_by_reason"] == {"InvalidSignature": int(tampered.sum())}
    committed = table.column("receipt_time") >= 0
    assert not (committed & tampered).any()
    assert committed[~tampered].all()
    if mode == "real":
        verifier = result.world.real.verifier
        # the host verified each distinct transaction once, shared by every node
        assert verifier.verified == table.count
        assert verifier.reused > 0


def test_a_slow_uplink_slows_its_node_only():
    # node a's uplink at 1 Mbit/s: its pushes and votes crawl, the other three form a quorum
    nodes = "[{name: a, bandwidth_mbps: 1}, {name: b}, {name: c}, {name: d}]"
    result = run(f"nodes={{list: {nodes}}}", "workload.targets=[b, c, d]", "duration_s=3")
    assert result.summary["safety"]["ok"] and result.summary["txs_pending_at_end"] == 0
    network = result.world.network
    assert network.tx_time(0, 1000) > 100 * network.tx_time(1, 1000)
