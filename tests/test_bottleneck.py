"""The bottleneck, named: utilisation per lane and link over the measured window, ``bound_by``
and ``saturation`` in summary.json, and the report's "bound by" line (docs/bottleneck.md).

Each run is server-8core-lan shortened to a few simulated seconds and pushed into one kind of
bound: serial execution, the uplinks, the cores (verification the busiest lane), or none.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
from rich.console import Console

from fiscosim.metrics.report import print_report
from fiscosim.metrics.utilisation import bound_by, kind_of
from fiscosim.net.latency import LatencyModel
from fiscosim.net.network import Network
from fiscosim.net.topology import full_mesh
from fiscosim.node.cpu import Cpu, GroupCpu
from fiscosim.scenario import load_simulation

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "server-8core-lan.yaml"
SHORT = ["duration_s=4", "warmup_s=1", "drain_s=1"]

_runs: dict[str, Any] = {}


def run(name: str, *overrides: str) -> dict[str, Any]:
    """The summary of server-8core-lan with ``overrides`` (cached per name: runs are reused)."""
    if name not in _runs:
        simulation = load_simulation(SCENARIO, overrides=list(overrides), check_memory=False)
        _runs[name] = simulation.run().summary
    return _runs[name]


def serial_execution() -> dict[str, Any]:
    # 3.16 has no pool limit: what the executor cannot take piles up as a growing backlog.
    return run("serial", "workload.rate_tps=48000", "chain.version='3.16'", *SHORT)


def network_bound() -> dict[str, Any]:
    # Each transaction is pushed to the three other sealers: 3,000 TPS needs more than 5 Mbit/s.
    return run("network", "workload.rate_tps=3000", "network.bandwidth_mbps=5", *SHORT)


def cores_bound() -> dict[str, Any]:
    # Two cores, cheap execution over a DAG: verifying every transaction fills the cores.
    return run("cores", "workload.rate_tps=90000", "chain.version='3.16'",
               "nodes.profile=reference-2core", "chain.execution_us_per_tx=5",
               "chain.is_serial_execute=false", "duration_s=2.5", "warmup_s=1", "drain_s=0.5")


def low_load() -> dict[str, Any]:
    return run("low", "workload.rate_tps=500", "duration_s=8", "warmup_s=2", "drain_s=1")


def values_in_unit_interval(summary: dict[str, Any]) -> None:
    util = summary["utilisation"]
    assert util["nodes"], "no node measured"
    for name, entry in util["nodes"].items():
        figures = [entry["cpu"], entry.get("host_cpu", 0.0), *entry["lanes"].values(),
                   *entry["occupied"].values(),
                   *(entry[k] for k in ("uplink", "downlink", "loopback") if k in entry)]
        assert all(0.0 <= v <= 1.0 for v in figures), (name, entry)


def test_serial_execution_bounds_server_8core_lan_and_the_backlog_grows():
    summary = serial_execution()
    values_in_unit_interval(summary)
    top = summary["utilisation"]["max"]
    assert summary["bound_by"] == "execution"
    assert top["kind"] == "execution" and top["resource"].endswith(".executor")
    assert top["utilisation"] >= 0.95
    assert top["threads"] == 1.0  # serial execution: one thread
    for entry in summary["utilisation"]["nodes"].values():
        assert entry["lanes"]["executor"] >= 0.95
        assert entry["lanes"]["verifier"] < 0.5 and entry["uplink"] < 0.5
    saturation = summary["saturation"]
    assert saturation["saturated"] is True
    assert saturation["pool_full_ratio"] == 0.0  # no pool limit on 3.16
    # ~48,000 offered, ~24,000 committed: the backlog grows by about half the offered rate.
    assert 0.3 < saturation["backlog_growth"] < 0.7


def test_the_default_pool_limit_turns_the_growth_into_tx_pool_is_full():
    summary = run("pool", "workload.rate_tps=40000", *SHORT)
    assert summary["bound_by"] == "execution"
    assert summary["saturation"]["saturated"] is True
    assert summary["saturation"]["pool_full_ratio"] > 0.1


def test_a_thin_uplink_bounds_by_network():
    summary = network_bound()
    values_in_unit_interval(summary)
    top = summary["utilisation"]["max"]
    assert summary["bound_by"] == "network"
    assert top["kind"] == "network" and top["utilisation"] >= 0.95
    assert max(entry["uplink"] for entry in summary["utilisation"]["nodes"].values()) >= 0.95
    assert summary["saturation"]["saturated"] is True
    assert summary["tps"] < 0.8 * summary["send_rate_tps"]


def test_fisco_2_9s_one_block_in_flight_bounds_by_consensus_with_no_resource_saturated():
    """2.9 executes, votes and writes one block at a time: past its capacity no lane is near
    its limit, yet the chain falls behind: the protocol's critical path is the bound."""
    summary = run("fisco2", "workload.rate_tps=80000", "chain.version='2.9'",
                  "chain.pipeline_size=null", "chain.leader_period=null",
                  "chain.is_serial_execute=null", "workload.contract=DagTransfer", *SHORT)
    assert summary["saturation"]["saturated"] is True
    assert summary["utilisation"]["max"]["utilisation"] < 0.9
    assert summary["bound_by"] == "consensus"
    report = io.StringIO()
    print_report(summary, Console(file=report, width=1000))
    assert "consensus: no resource saturated" in report.getvalue()
    assert "the protocol's critical path bounds it" in report.getvalue()
    unsaturated = {"max": {"kind": "execution", "utilisation": 0.5},
                   "nodes": {"n": {"cpu": 0.5, "occupied": {"executor": 0.5}}}}
    assert bound_by(unsaturated) is None and bound_by(unsaturated, True) == "consensus"


def test_two_cores_are_filled_by_verification_with_the_rest_beside_it():
    summary = cores_bound()
    values_in_unit_interval(summary)
    top = summary["utilisation"]["max"]
    # The verification pool is the busiest lane, but it shares the two cores with storage and
    # proposal fill, which time-slice beside it: the cores are the bound, not one lane.
    assert top["kind"] == "verification" and top["resource"].endswith(".txpool")
    assert summary["bound_by"] in ("cpu", "verification")
    assert max(entry["cpu"] for entry in summary["utilisation"]["nodes"].values()) >= 0.9
    assert summary["saturation"]["saturated"] is True


def test_low_load_is_not_saturated_and_names_no_bound():
    summary = low_load()
    values_in_unit_interval(summary)
    assert summary["bound_by"] is None
    assert summary["saturation"]["saturated"] is False
    assert abs(summary["saturation"]["backlog_growth"]) < 0.01
    assert summary["utilisation"]["max"]["utilisation"] < 0.2
    assert summary["utilisation"]["window_s"] == pytest.approx(6.0)


def test_same_seed_same_figures():
    first = low_load()
    again = load_simulation(SCENARIO, overrides=["workload.rate_tps=500", "duration_s=8",
                                                 "warmup_s=2", "drain_s=1"],
                            check_memory=False).run().summary
    for key in ("utilisation", "bound_by", "saturation"):
        assert again[key] == first[key]


def test_report_names_the_bound_and_where_its_costs_come_from():
    """server-8core-lan saturates on costs with a source: the call's is published (FISCO's
    executor benchmark), the state reads' derived from a measurement; none is assumed."""
    text = io.StringIO()
    print_report(serial_execution(), Console(file=text, width=400))
    line = next(line for line in text.getvalue().splitlines() if line.startswith("bound by"))
    assert "execution: node" in line
    assert re.search(r"executor busy (9[5-9]|100)% of the window", line)
    assert "(serial execution)" in line
    assert "[costs: DagTransfer.userTransfer (published)" in line and "assumed" not in line
    assert "(saturated)" in line
    text = io.StringIO()
    print_report(low_load(), Console(file=text, width=400))
    assert "not saturated: busiest node" in text.getvalue()


def test_bound_by_rules():
    def util(top: float, cpu: float = 0.1, occupied: float = 0.1) -> dict[str, Any]:
        return {"nodes": {"node0": {"cpu": cpu, "lanes": {"pbft": top},
                                    "occupied": {"pbft": occupied}}},
                "max": {"resource": "node0.pbft", "kind": "consensus", "utilisation": top}}

    assert bound_by(util(0.95, occupied=0.95)) == "consensus"
    assert bound_by(util(0.5)) is None
    assert bound_by(util(0.5, cpu=0.95)) == "cpu"
    assert bound_by(util(0.5, occupied=0.95)) == "cpu"  # in progress, not at full speed
    assert kind_of("group1/executor") == "execution" and kind_of("uplink") == "network"


# -- the window restriction, on the CPU and the network directly ------------------------------

def test_cpu_counts_only_the_window():
    cpu = Cpu(2)
    cpu.set_window(100, 200)
    cpu.run(0, 150, lane="pbft")          # 100..150 of it inside
    cpu.run(0, 400, parallelism=2, lane="verifier")  # 0..200 on two cores: 100..200 inside
    cpu.run(300, 50, lane="pbft")         # after the window
    usage = cpu.window_usage()
    assert usage["pbft"] == [50.0, 50.0, 50.0]
    assert usage["verifier"] == [100.0, 100.0, 200.0]


def test_a_groups_view_strips_its_prefix():
    cpu = Cpu(4)
    GroupCpu(cpu, "group1/").run(0, 10, lane="executor")
    cpu.run(0, 10, lane="executor")
    assert GroupCpu(cpu, "group1/").window_usage() == {"executor": [10.0, 10.0, 10.0]}
    assert set(cpu.window_usage()) == {"group1/executor", "executor"}


def test_network_counts_serialisation_inside_the_window():
    env = simpy.Environment()
    net = Network(env, full_mesh(3, LatencyModel("constant", 1.0)), bandwidth_bps=1e6,
                  loss_rate=0.0, seed_seq=np.random.SeedSequence(1))
    net.set_window(4_000, 20_000)
    # 986 + 14 bytes at 1 Mbit/s: 8,000 µs a copy, two copies back to back: 0..16,000.
    net.broadcast(0, [1, 2], "hello", 986, lambda s, d, m: None)
    env.run()
    usage = net.link_usage(0)
    assert usage["uplink"] == 12_000  # 4,000..16,000
    assert "loopback" not in usage
    # Each receiver got one copy at 9,000 and 17,000 µs: both inside, 8,000 µs of its downlink.
    assert net.link_usage(1)["downlink"] == 8_000 and net.link_usage(2)["downlink"] == 8_000
    assert math.isclose(net.link_usage(0)["downlink"], 0)
