"""The workload's contract and FISCO's execution mode change a run (issue 14): block execution
charges each call what its contract model says, scheduled serially (FISCO's default,
``is_serial_execute``) or as a DAG of the parallel contracts' calls."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

from fiscosim import Simulation
from fiscosim.scenario import load_scenario

LAN = REPO_ROOT / "scenarios" / "server-8core-lan.yaml"


def run(*overrides: str):
    scenario = load_scenario(LAN, ["duration_s=4", "warmup_s=1", "drain_s=2",
                                   "workload.rate_tps=3000", *overrides])
    return Simulation(scenario).run()


def test_the_contract_a_workload_names_changes_the_result():
    cheap = run("workload.contract=HelloWorld")
    heavy = run("workload.contract=CpuHeavy")
    assert cheap.summary["latency_ms"]["mean"] < heavy.summary["latency_ms"]["mean"]
    assert cheap.summary["costs"]["contract_calls"].keys() == {"HelloWorld.set"}
    calls = heavy.summary["costs"]["contract_calls"]
    assert set(calls) == {"CpuHeavy.sort32", "CpuHeavy.sort128"}
    assert all(call["source"] == "measured" for call in calls.values())
    # CpuHeavy's sort128 call takes ~1.25 ms: 3,000 TPS is far past a serial executor's peak
    assert heavy.summary["tps"] < 0.8 * cheap.summary["tps"]


def test_receipts_carry_each_methods_gas():
    result = run("workload.contract={HelloWorld: 1, SmallBank: 1}")
    sealer = result.world.sealers[0]
    methods = sealer.shared.methods
    entry = sealer.ledger[2]
    gas = entry.block.receipts.gas_used
    expected = methods.gas[result.world.table.method[entry.proposal.tx_ids]]
    assert (gas == expected).all() and len(set(gas.tolist())) > 1
    assert entry.block.header.gas_used == int(expected.sum())


def test_parallel_execution_beats_serial_for_a_parallel_contract():
    serial = run("workload.contract=ParallelOk", "workload.accounts=100000")
    dag = run("workload.contract=ParallelOk", "workload.accounts=100000",
              "chain.is_serial_execute=false")
    assert dag.summary["latency_ms"]["mean"] < serial.summary["latency_ms"]["mean"]
    # the same transactions, the same order of events up to execution: same blocks sealed
    assert dag.summary["txs_submitted"] == serial.summary["txs_submitted"]


def test_hot_accounts_take_the_dag_speedup_away():
    spread = run("workload.contract=ParallelOk", "workload.accounts=100000",
                 "chain.is_serial_execute=false")
    hot = run("workload.contract=ParallelOk", "workload.accounts=100000",
              "workload.account_skew=2.5", "chain.is_serial_execute=false")
    assert spread.summary["latency_ms"]["mean"] < hot.summary["latency_ms"]["mean"]


def test_one_execution_cost_for_every_call_is_given():
    result = run("workload.contract=SmallBank", "chain.execution_us_per_tx=7")
    calls = result.summary["costs"]["contract_calls"]
    assert {call["us"] for call in calls.values()} == {7.0}
    assert {call["source"] for call in calls.values()} == {"given"}


@pytest.mark.parametrize("serial", ["true", "false"])
def test_runs_are_reproducible_in_both_modes(serial):
    a = run("workload.contract=ParallelOk", f"chain.is_serial_execute={serial}")
    b = run("workload.contract=ParallelOk", f"chain.is_serial_execute={serial}")
    drop = ("wall_time_s", "sim_speed")
    assert {k: v for k, v in a.summary.items() if k not in drop} == {
        k: v for k, v in b.summary.items() if k not in drop}


def test_state_reads_and_writes_are_charged_with_the_profiles_storage_costs():
    # ParallelOk's revm cost leaves its two reads to the node's storage; a slower read or write
    # (an inline profile) makes the same workload slower, and the summary says what is charged.
    base = run("workload.contract=ParallelOk")
    call = base.summary["costs"]["contract_calls"]["ParallelOk.transfer"]
    assert call["state_reads_charged"] == 2 and call["state_writes"] == 2
    slow_reads = run("workload.contract=ParallelOk",
                     "nodes.profile={base: server-8core, costs_us: {storage_read_per_key: 400}}")
    slow_writes = run("workload.contract=ParallelOk",
                      "nodes.profile={base: server-8core, costs_us: {storage_write_per_key: 400}}")
    for slow in (slow_reads, slow_writes):
        assert slow.summary["latency_ms"]["mean"] > 1.5 * base.summary["latency_ms"]["mean"]
    # chain.execution_us_per_tx is a call's whole execution: no reads on top of it
    given = run("workload.contract=ParallelOk", "chain.execution_us_per_tx=7")
    assert given.summary["costs"]["contract_calls"]["ParallelOk.transfer"][
        "state_reads_charged"] == 0
