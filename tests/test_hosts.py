"""Several nodes on one machine (issue 15, part 3): a shared CPU, a shared uplink, loopback
between them, and the scenario fields that place them (docs/hosts.md)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from fiscosim.net import LatencyModel, Network, full_mesh
from fiscosim.node.cpu import Cpu, HostShare
from fiscosim.scenario import ScenarioError, load_scenario
from fiscosim.schema.nodes import NodesConfig

MBIT = 1_000_000


def network(hosts, n=3, loopback_bps=1000 * MBIT):
    env = simpy.Environment()
    graph = full_mesh(n, LatencyModel("constant", 10.0))
    if hosts is not None:
        for u, v in graph.edges:
            if hosts[u] == hosts[v]:
                graph.edges[u, v]["latency"] = LatencyModel("constant", 0.02)
    net = Network(env, graph, bandwidth_bps=MBIT, loss_rate=0.0,
                  seed_seq=np.random.SeedSequence(1), hosts=hosts, loopback_bps=loopback_bps)
    return env, net


def arrivals(env, net, sends):
    got = []
    for src, dst, size in sends:
        net.send(src, dst, (src, dst), size, lambda s, d, m: got.append((env.now, m)))
    env.run()
    return got


def test_two_nodes_of_one_machine_talk_over_loopback():
    env, net = network([0, 0, 1])
    # 986 payload bytes + 14 header = 8,000 bits: 8 µs at 1 Gbit/s, then 20 µs of loopback
    assert arrivals(env, net, [(0, 1, 986)]) == [(28, (0, 1))]
    env, net = network([0, 0, 1])
    # to the other machine: 8 ms on the 1 Mbit/s uplink, then 10 ms of network latency
    assert arrivals(env, net, [(0, 2, 986)]) == [(18_000, (0, 2))]


def test_the_nodes_of_one_machine_share_its_uplink_and_loopback_skips_it():
    env, net = network([0, 0, 1])
    # node0's and node1's messages to node2 queue on one NIC: the second leaves 8 ms later
    got = arrivals(env, net, [(0, 2, 986), (1, 2, 986)])
    assert got == [(18_000, (0, 2)), (26_000, (1, 2))]
    env, net = network(None)  # a machine each: two NICs, both at once
    assert arrivals(env, net, [(0, 2, 986), (1, 2, 986)]) == [(18_000, (0, 2)), (18_000, (1, 2))]
    env, net = network([0, 0, 1])
    # a loopback message does not wait behind the NIC's queue
    got = arrivals(env, net, [(0, 2, 986), (0, 1, 986)])
    assert got == [(28, (0, 1)), (18_000, (0, 2))]


def test_broadcast_sends_loopback_copies_beside_the_uplink():
    env, net = network([0, 0, 1])
    got = []
    net.broadcast(0, [1, 2], "m", 986, lambda s, d, m: got.append((env.now, d)))
    env.run()
    assert got == [(28, 1), (18_000, 2)]
    assert net.uplink_free_at(0) == net.uplink_free_at(1) == 8_000


def test_no_hosts_is_a_machine_each():
    env, a = network(None)
    env2, b = network([0, 1, 2])
    sends = [(0, 1, 500), (0, 2, 900), (1, 2, 100), (2, 0, 4000)]
    assert arrivals(env, a, sends) == arrivals(env2, b, sends)


def test_bad_hosts_are_refused():
    graph = full_mesh(3, LatencyModel("constant", 10.0))
    for hosts in ([0, 0], [0, -1, 1]):
        with pytest.raises(ValueError, match="machine number"):
            Network(simpy.Environment(), graph, bandwidth_bps=MBIT, loss_rate=0.0,
                    seed_seq=np.random.SeedSequence(1), hosts=hosts)


# -- the CPU ---------------------------------------------------------------------------------


def test_nodes_of_one_machine_share_its_cores_with_their_own_lanes():
    host = Cpu(2)
    a, b = HostShare(host, "a/"), HostShare(host, "b/")
    assert a.run(0, 100, lane="pbft") == 100
    assert b.run(0, 100, lane="pbft") == 100  # its own PBFT thread, on the other core
    assert a.run(0, 100, lane="pbft") == 200  # a's lane is serial
    # both cores busy until 100: a third thread time-slices at 2/3 of a core
    assert b.run(0, 30, lane="executor") == 45
    assert a.cores == b.cores == 2
    assert a.utilisation(1000) == pytest.approx(200 / 2000)
    assert b.utilisation(1000) == pytest.approx(130 / 2000)
    assert host.utilisation(1000) == pytest.approx(330 / 2000)


def test_a_crash_drops_one_nodes_lanes_and_a_slow_machine_slows_all():
    host = Cpu(1)
    a, b = HostShare(host, "a/"), HostShare(host, "b/")
    a.run(0, 1000, lane="pbft")
    b.run(0, 10, lane="pbft")
    a.reset(5)
    assert host._lanes["a/pbft"][0] == 0 and host._lanes["b/pbft"][0] > 0
    a.slowdown = 3.0
    assert b.slowdown == 3.0 == host.slowdown


# -- the scenario ----------------------------------------------------------------------------


def test_hosts_places_the_nodes_in_order():
    nodes = NodesConfig(count=5, hosts=2)
    assert [spec.host for spec in nodes.specs()] == ["host0"] * 3 + ["host1"] * 2
    assert nodes.host_of() == [0, 0, 0, 1, 1] and nodes.shares_hosts
    assert NodesConfig(count=3).host_of() == [0, 1, 2]
    listed = NodesConfig(list=[{"name": "a", "host": "m"}, {"name": "b"},
                               {"name": "c", "host": "m"}])
    assert listed.host_of() == [0, 1, 0]


@pytest.mark.parametrize(("overrides", "field", "fix"), [
    (["network.loopback_mbps=100"], "network.loopback_mbps", "remove it, or place nodes"),
    (["network.loopback_latency_ms=0.1", "nodes.hosts=4"], "network.loopback_latency_ms",
     "remove it"),
    (["nodes.hosts=5"], "nodes.hosts", "use at most 4"),
    (["nodes={list: [{name: a, host: m}, {name: b, host: m, profile: server-8core}]}"],
     "nodes.list.1.profile", "the same profile"),
    (["nodes={list: [{name: a}, {name: b}], hosts: 1}"], "nodes.hosts", "give the listed"),
])
def test_bad_placements_are_one_line_errors(quickstart, overrides, field, fix):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(quickstart, overrides)
    message = str(caught.value)
    assert "\n" not in message and field in message and fix in message, message


@pytest.fixture
def quickstart():
    from conftest import REPO_ROOT

    return REPO_ROOT / "scenarios" / "quickstart.yaml"
