"""pytest-benchmark suite of the network model (run by hand, not in CI's test step).

    pytest benchmarks/test_net_bench.py --benchmark-only --benchmark-columns=min,median,ops

Each round builds a full mesh and lets every node broadcast to all its peers, round after
round, until ``DELIVERIES`` messages have arrived; ``extra_info['deliveries_per_s']`` is the
rate (sends and deliveries both included) from the fastest round. The 100-node case keeps
about 10,000 messages in flight (one broadcast round per mean latency), the 4-node case a
few dozen.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from fiscosim.net import LatencyModel, Network, full_mesh

LATENCY_US = 20_000


def broadcast_rounds(nodes: int, rounds: int, gap_us: int) -> int:
    env = simpy.Environment()
    net = Network(env, full_mesh(nodes, LatencyModel("normal", LATENCY_US / 1000, 2.0)),
                  bandwidth_bps=1e9, loss_rate=0.0, seed_seq=np.random.SeedSequence(1))
    delivered = [0]

    def deliver(src: int, dst: int, message: object) -> None:
        delivered[0] += 1

    peers = [[d for d in range(nodes) if d != s] for s in range(nodes)]

    def round_(_event: simpy.Event) -> None:
        for src in range(nodes):
            net.broadcast(src, peers[src], "vote", 200, deliver)

    for k in range(rounds):
        env.timeout(k * gap_us).callbacks.append(round_)
    env.run()
    return delivered[0]


@pytest.mark.parametrize(("nodes", "rounds", "gap_us"), [(4, 20_000, 1000), (100, 50, LATENCY_US)])
def test_deliveries_per_second(benchmark, nodes, rounds, gap_us):
    expected = nodes * (nodes - 1) * rounds
    assert benchmark(broadcast_rounds, nodes, rounds, gap_us) == expected
    benchmark.extra_info["deliveries"] = expected
    benchmark.extra_info["deliveries_per_s"] = expected / benchmark.stats.stats.min


def main() -> None:
    """``python benchmarks/test_net_bench.py``: the rates, best of three runs each."""
    import time

    for nodes, rounds, gap_us in ((4, 20_000, 1000), (100, 50, LATENCY_US)):
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            count = broadcast_rounds(nodes, rounds, gap_us)
            best = max(best, count / (time.perf_counter() - start))
        print(f"{nodes:3d} nodes: {count:,} deliveries, {best:,.0f} deliveries per wall second")


if __name__ == "__main__":
    main()
