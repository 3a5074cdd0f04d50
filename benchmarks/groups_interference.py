"""Two groups on the same four servers against one group alone at the same load (docs/groups.md).

    python benchmarks/groups_interference.py 10000 20000 40000

For each per-group rate: one group alone, then two groups on the same 4 × server-8core nodes
(scenarios/two-groups-shared-nodes.yaml); each group's TPS, latency, block interval, and the
nodes' CPU and the bytes sent. Simulated figures: deterministic for the scenario's seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fiscosim import Simulation
from fiscosim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "two-groups-shared-nodes.yaml"
ONE_GROUP = "groups=[{id: group0, sealers: [node0, node1, node2, node3]}]"


def main(rates: list[int]) -> None:
    for rate in rates:
        for groups in (1, 2):
            overrides = [f"workload.rate_tps={rate}"] + ([ONE_GROUP] if groups == 1 else [])
            summary = Simulation(load_scenario(SCENARIO, overrides)).run().summary
            for gid, group in (summary.get("groups") or {"group0": summary}).items():
                latency = group["latency_ms"]
                print(f"{rate:>6} × {groups} {gid}: tps {group['tps']:.0f}, latency mean "
                      f"{latency['mean']:.1f} p99 {latency['p99']:.1f} ms, interval "
                      f"{group['block_interval_ms']['mean']:.1f} ms, "
                      f"{group['txs_per_block']['mean']:.0f} txs/block, "
                      f"pending {group['txs_pending_at_end']}")
            print(f"         CPU node0 {summary['cpu_utilisation']['node0']:.1%}, "
                  f"{summary['bytes_total'] / 1e6:,.1f} MB sent, {summary['sim_time_s']} s")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10000])
