"""Past saturation a chain keeps committing at its peak and turns the surplus away (issue 15):
the node's threads share its cores (a verification backlog slows consensus and execution, never
starves them) and the pool refuses what it cannot hold with TxPoolIsFull before verifying it
(docs/overload.md)."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

from fiscosim import Simulation
from fiscosim.scenario import load_scenario

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
CAPACITY_TPS = 1323
"""Quickstart's chain calling CpuHeavy: 1e6 / 755.7 µs per call, executed one after another."""


def run(rate: float, *overrides: str) -> dict:
    scenario = load_scenario(QUICKSTART, [
        "workload.contract=CpuHeavy", f"workload.rate_tps={rate}", "duration_s=10",
        "warmup_s=3", "drain_s=0", "chain.txpool_limit=3000", *overrides])
    return Simulation(scenario).run().summary


@pytest.fixture(scope="module")
def peak() -> float:
    return run(CAPACITY_TPS)["tps"]


@pytest.mark.parametrize("load", [2, 5, 10])
def test_committed_tps_stays_near_the_peak_and_the_surplus_is_refused(peak, load):
    summary = run(load * CAPACITY_TPS)
    assert summary["tps"] >= 0.9 * peak, (summary["tps"], peak)
    refused = summary["rejected_by_reason"].get("TxPoolIsFull", 0)
    # what the chain could not take was turned away, not queued without end
    assert refused >= 0.8 * (summary["txs_submitted"] - summary["txs_committed"]
                             - summary["txs_pending_at_end"])
    assert refused > (load - 1.5) * CAPACITY_TPS * 7  # most of the surplus, over the window
    assert summary["txs_pending_at_end"] <= 4 * 3000  # at most the pools' worth


def test_without_the_pool_limit_overload_queues_instead():
    summary = run(5 * CAPACITY_TPS, "chain.version='3.16'", "chain.txpool_limit=null")
    assert "TxPoolIsFull" not in summary["rejected_by_reason"]
    assert summary["txs_pending_at_end"] > 20_000
