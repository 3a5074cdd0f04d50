"""The network model: exact timing, uplink queueing, routing, loss, faults, streams, topologies."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import simpy

from fiscosim.engine.simpy_adapter import advance_clock
from fiscosim.net import LatencyModel, Network, build_topology, full_mesh, regions
from fiscosim.net import network as network_module
from fiscosim.net.latency import MAX_DRAW_US, MAX_LATENCY_MS
from fiscosim.net.topology import random_regular_ish

HEADER = 14
MBIT = 1_000_000


def make(graph, bandwidth=MBIT, loss=0.0, seed=1, **kwargs):
    env = simpy.Environment()
    net = Network(env, graph, bandwidth_bps=bandwidth, loss_rate=loss,
                  seed_seq=np.random.SeedSequence(seed), **kwargs)
    return env, net


class Log:
    """Records deliveries and drops as (time, src, dst, message)."""

    def __init__(self, env):
        self.env = env
        self.delivered: list[tuple[int, int, int, object]] = []
        self.dropped: list[tuple[int, int, int, object]] = []

    def deliver(self, src, dst, message):
        self.delivered.append((self.env.now, src, dst, message))

    def drop(self, src, dst, message):
        self.dropped.append((self.env.now, src, dst, message))


def constant(ms=10.0):
    return LatencyModel("constant", ms)


def line(n, latency):
    graph = nx.path_graph(n)
    nx.set_edge_attributes(graph, latency, "latency")
    return graph


# -- timing --------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 986, 1000, 4096, 123_457])
def test_single_message_arrives_at_exact_time(size):
    env, net = make(full_mesh(2, constant(10.0)))
    log = Log(env)
    net.send(0, 1, "m", size, log.deliver)
    env.run()
    assert log.delivered == [((size + HEADER) * 8 + 10_000, 0, 1, "m")]
    assert isinstance(log.delivered[0][0], int)


def test_serialisation_rounds_up_to_whole_microseconds():
    env, net = make(full_mesh(2, constant(0.0)), bandwidth=3 * MBIT)
    log = Log(env)
    net.send(0, 1, "m", 100, log.deliver)  # 114 * 8 / 3 = 304 µs exactly
    net.send(0, 1, "m", 101, log.deliver)  # 115 * 8 / 3 = 306.67 -> 307
    env.run()
    assert [t for t, *_ in log.delivered] == [304, 304 + 307]


def test_two_messages_queue_on_the_uplink():
    env, net = make(full_mesh(2, constant(10.0)))
    log = Log(env)
    net.send(0, 1, "a", 986, log.deliver)
    net.send(0, 1, "b", 986, log.deliver)
    env.run()
    tx = 1000 * 8
    assert [(t, m) for t, _, _, m in log.delivered] == [(tx + 10_000, "a"), (2 * tx + 10_000, "b")]


def test_uplink_is_free_again_after_it_drains():
    env, net = make(full_mesh(2, constant(1.0)))
    log = Log(env)
    net.send(0, 1, "a", 986, log.deliver)
    env.run()
    assert net.uplink_free_at(0) == 8000
    env.timeout(50_000).callbacks.append(lambda _: net.send(0, 1, "b", 986, log.deliver))
    env.run()
    assert log.delivered[1][0] == 9000 + 50_000 + 8000 + 1000


def test_broadcast_to_three_peers_serialises():
    env, net = make(full_mesh(4, constant(10.0)))
    log = Log(env)
    net.broadcast(0, [3, 1, 2], "pp", 986, log.deliver)
    env.run()
    tx = 8000
    assert [(t, d) for t, _, d, _ in log.delivered] == [
        (tx + 10_000, 3), (2 * tx + 10_000, 1), (3 * tx + 10_000, 2)]
    assert net.stats.node_bytes_sent[0] == 3 * 1000


def test_receivers_do_not_queue():
    # Two senders to one receiver at once: only uplinks serialise, so both arrive together.
    env, net = make(full_mesh(3, constant(5.0)))
    log = Log(env)
    net.send(0, 2, "a", 986, log.deliver)
    net.send(1, 2, "b", 986, log.deliver)
    env.run()
    assert [(t, m) for t, _, _, m in log.delivered] == [(13_000, "a"), (13_000, "b")]


def test_same_time_deliveries_in_send_order():
    env, net = make(full_mesh(5, constant(5.0)))
    log = Log(env)
    for src in (3, 1, 4, 2):
        net.send(src, 0, src, 986, log.deliver)
    env.run()
    assert [m for *_, m in log.delivered] == [3, 1, 4, 2]
    assert len({t for t, *_ in log.delivered}) == 1


def test_broadcast_is_the_same_as_a_loop_of_sends():
    def run(use_broadcast):
        env, net = make(full_mesh(6, LatencyModel("lognormal", 20.0, 8.0)), seed=7)
        log = Log(env)
        for k in range(30):
            if use_broadcast:
                net.broadcast(k % 6, [d for d in range(6) if d != k % 6], k, 300 + k, log.deliver)
            else:
                for d in range(6):
                    if d != k % 6:
                        net.send(k % 6, d, k, 300 + k, log.deliver)
        env.run()
        return log.delivered, net.stats.by_kind(), net.stats.node_bytes_sent

    assert run(True) == run(False)


# -- routing -------------------------------------------------------------------------------
def test_multi_hop_pays_uplink_and_latency_at_every_hop():
    env, net = make(line(4, constant(10.0)))
    log = Log(env)
    net.send(0, 3, "far", 986, log.deliver)
    env.run()
    assert log.delivered == [(3 * (8000 + 10_000), 0, 3, "far")]
    assert net.route(0, 3) == (0, 1, 2, 3)
    # The relays' uplinks carried it too; end to end it counts once.
    assert net.stats.node_bytes_sent == [1000, 1000, 1000, 0]
    assert net.stats.by_kind()["str"]["sent"] == 1


def test_relay_uplink_is_shared_with_its_own_traffic():
    env, net = make(line(3, constant(10.0)))
    log = Log(env)
    net.send(1, 2, "own", 986, log.deliver)  # occupies 1's uplink 0..8000
    net.send(0, 2, "relayed", 986, log.deliver)  # reaches 1 at 18000, uplink free by then
    net.send(1, 2, "own2", 98_986, log.deliver)  # occupies 1's uplink 8000..800000
    env.run()
    arrivals = {m: t for t, _, _, m in log.delivered}
    assert arrivals["own"] == 18_000
    assert arrivals["own2"] == 800_000 + 10_000
    # The relayed copy reached node 1 at 18,000 and waits behind own2 on its uplink.
    assert arrivals["relayed"] == 800_000 + 8000 + 10_000


def test_route_tie_break_is_lowest_id():
    graph = nx.Graph([(0, 2), (0, 1), (2, 3), (1, 3)])
    nx.set_edge_attributes(graph, constant(1.0), "latency")
    _, net = make(graph)
    assert net.route(0, 3) == (0, 1, 3)
    assert net.route(3, 0) == (3, 1, 0)


def test_unreachable_destination_is_dropped_as_no_route():
    graph = nx.Graph()
    graph.add_nodes_from(range(3))
    graph.add_edge(0, 1, latency=constant(1.0))
    env, net = make(graph)
    log = Log(env)
    net.send(0, 2, "x", 10, log.deliver, log.drop)
    env.run()
    assert log.delivered == [] and log.dropped == [(0, 0, 2, "x")]
    assert net.stats.drop_reasons == {"no_route": 1}


def test_send_to_self_is_immediate():
    env, net = make(full_mesh(2, constant(10.0)))
    log = Log(env)
    net.send(1, 1, "me", 500, log.deliver)
    env.run()
    assert log.delivered == [(0, 1, 1, "me")]
    assert net.uplink_free_at(1) == 0


# -- loss and determinism ------------------------------------------------------------------
def lossy_run(loss, seed=3, count=4000, latency=None):
    env, net = make(full_mesh(3, latency or LatencyModel("normal", 10.0, 3.0)), loss=loss,
                    seed=seed, bandwidth=100 * MBIT)
    log = Log(env)
    for k in range(count):
        net.send(0, 1 + k % 2, k, 200, log.deliver, log.drop)
    env.run()
    return net, log


def test_no_loss_delivers_everything():
    net, log = lossy_run(0.0)
    assert len(log.delivered) == 4000 and not log.dropped
    assert net.stats.totals()["in_flight"] == 0


def test_half_loss_drops_about_half_reproducibly():
    net, log = lossy_run(0.5)
    dropped = len(log.dropped)
    assert 1800 < dropped < 2200  # 4000 draws at p = 0.5: mean 2000, std 32
    assert dropped + len(log.delivered) == 4000
    assert net.stats.drop_reasons == {"loss": dropped}
    _, again = lossy_run(0.5)
    assert again.dropped == log.dropped and again.delivered == log.delivered


def test_loss_does_not_change_latencies():
    # A lost message still used the uplink and drew its latency: the survivors arrive exactly
    # when they would have without loss.
    _, clean = lossy_run(0.0)
    _, lossy = lossy_run(0.3)
    when = {m: t for t, _, _, m in clean.delivered}
    assert lossy.delivered and all(when[m] == t for t, _, _, m in lossy.delivered)


def test_same_seed_same_arrivals_other_seed_differs():
    _, a = lossy_run(0.1, seed=11)
    _, b = lossy_run(0.1, seed=11)
    _, c = lossy_run(0.1, seed=12)
    assert a.delivered == b.delivered and a.dropped == b.dropped
    assert a.delivered != c.delivered


def test_link_streams_are_independent_of_other_traffic():
    latency = LatencyModel("lognormal", 20.0, 10.0)

    def latencies_on_0_to_1(extra_traffic):
        env, net = make(full_mesh(4, latency), bandwidth=math.inf, seed=5, fifo_links=False)
        log = Log(env)
        for k in range(600):
            if extra_traffic:
                # Other links, before and between: 2->3, 3->2, 1->0 and 0->2 (same sender).
                net.send(2, 3, "x", 100, log.deliver)
                net.send(3, 2, "x", 100, log.deliver)
                net.send(1, 0, "x", 100, log.deliver)
            t0 = env.now
            net.send(0, 1, (k, t0), 100, log.deliver)
            if extra_traffic and k % 3 == 0:
                net.send(0, 2, "x", 100, log.deliver)
            env.run(until=env.now + 1000)
        env.run()
        # An unlimited uplink serialises in 1 µs, and node 0's extra 0->2 messages go after
        # its 0->1 message: arrival - send time is exactly 1 µs + the link's draw.
        return [t - sent for t, s, d, (k, sent) in
                (e for e in log.delivered if e[2] == 1 and e[1] == 0)]

    plain = latencies_on_0_to_1(False)
    busy = latencies_on_0_to_1(True)
    assert len(plain) == len(busy) == 600
    assert plain == busy
    assert sorted(plain) != plain  # unordered links really reorder at this jitter


def test_kth_message_gets_kth_draw_of_its_link():
    latency = LatencyModel("normal", 30.0, 5.0)
    env, net = make(full_mesh(2, latency), bandwidth=math.inf, fifo_links=False)
    log = Log(env)
    for k in range(300):
        net.send(0, 1, k, 0, log.deliver)
        env.run(until=env.now + 100_000)  # one at a time: no queueing, no overlap
    got = [t - (k * 100_000) - 1 for t, _, _, k in sorted(log.delivered, key=lambda e: e[3])]
    seed = np.random.SeedSequence(1)
    rng = np.random.default_rng(np.random.SeedSequence(
        seed.entropy, spawn_key=(0, 1, 0), pool_size=seed.pool_size))
    expected = np.concatenate([latency.draw(rng, 256), latency.draw(rng, 256)])[:300]
    assert got == expected.tolist()


def test_fifo_links_keep_order_under_jitter():
    env, net = make(full_mesh(2, LatencyModel("normal", 10.0, 5.0)), bandwidth=100 * MBIT)
    log = Log(env)
    for k in range(2000):
        net.send(0, 1, k, 50, log.deliver)
    env.run()
    assert [m for *_, m in log.delivered] == list(range(2000))
    times = [t for t, *_ in log.delivered]
    assert times == sorted(times)


def test_unordered_links_give_the_same_draws():
    def arrivals(fifo):
        env, net = make(full_mesh(2, LatencyModel("normal", 10.0, 5.0)), bandwidth=100 * MBIT,
                        fifo_links=fifo)
        log = Log(env)
        for k in range(500):
            net.send(0, 1, k, 50, log.deliver)
        env.run()
        return {m: t for t, _, _, m in log.delivered}

    fifo, free = arrivals(True), arrivals(False)
    # FIFO only ever holds a message back behind an earlier one.
    assert all(fifo[k] >= free[k] for k in range(500))
    assert any(fifo[k] > free[k] for k in range(500))
    running_max = 0
    for k in range(500):
        running_max = max(running_max, free[k])
        assert fifo[k] == running_max


# -- interplay with simpy ------------------------------------------------------------------
def test_run_until_stops_before_later_deliveries_and_resumes():
    env, net = make(full_mesh(3, constant(10.0)))
    log = Log(env)
    net.broadcast(0, [1, 2], "m", 986, log.deliver)  # arrive 18000 and 26000
    env.run(until=20_000)
    assert env.now == 20_000 and [t for t, *_ in log.delivered] == [18_000]
    env.run(until=26_000)
    assert len(log.delivered) == 1  # `until` comes before events at that same time
    env.run()
    assert [t for t, *_ in log.delivered] == [18_000, 26_000]


def test_deliveries_interleave_with_processes_and_timers():
    env, net = make(full_mesh(2, constant(1.0)))
    seen = []

    def ticker():
        for _ in range(5):
            yield env.timeout(2500)
            seen.append(("tick", env.now))

    def echo(src, dst, message):
        seen.append(("msg", env.now, message))
        if message < 6:
            net.send(dst, src, message + 1, 111, echo)

    env.process(ticker())
    net.send(0, 1, 0, 111, echo)  # (111 + 14) * 8 = 1000 µs + 1000 µs latency per hop
    env.run()
    # At 10,000 the tick (scheduled at 7,500) precedes message 4 (sent at 8,000).
    assert seen == [
        ("msg", 2000, 0), ("tick", 2500), ("msg", 4000, 1), ("tick", 5000), ("msg", 6000, 2),
        ("tick", 7500), ("msg", 8000, 3), ("tick", 10_000), ("msg", 10_000, 4),
        ("msg", 12_000, 5), ("tick", 12_500), ("msg", 14_000, 6)]


def test_clock_advance_gives_the_same_result_as_one_event_per_arrival(monkeypatch):
    def run():
        env, net = make(full_mesh(5, LatencyModel("lognormal", 5.0, 2.0)), seed=9, loss=0.05)
        log = Log(env)
        order = []

        def on(src, dst, message):
            order.append((env.now, src, dst, message))
            if message < 40:
                net.broadcast(dst, [d for d in range(5) if d != dst], message + 1, 200, on)

        def timer():
            while env.now < 200_000:
                yield env.timeout(777)
                order.append((env.now, "timer"))

        env.process(timer())
        net.send(0, 1, 0, 200, on, log.drop)
        env.run(until=300_000)
        return order, net.stats.by_kind()

    fast = run()
    monkeypatch.setattr(network_module, "ADVANCE_CLOCK", False)
    slow = run()
    assert fast == slow
    assert len(fast[0]) > 1000


# -- faults --------------------------------------------------------------------------------
def test_partition_drops_across_groups_and_heal_restores():
    env, net = make(full_mesh(4, constant(10.0)))
    log = Log(env)
    net.partition([[0, 1], [2]])  # 3 is in no group: it joins the group of unlisted nodes
    for dst in (1, 2, 3):
        net.send(0, dst, dst, 10, log.deliver, log.drop)
    net.send(2, 3, "23", 10, log.deliver, log.drop)
    env.run()
    assert [m for *_, m in log.delivered] == [1]
    assert sorted(str(m) for *_, m in log.dropped) == ["2", "23", "3"]
    assert net.stats.drop_reasons == {"partition": 3}
    net.heal()
    net.send(0, 2, "after", 10, log.deliver, log.drop)
    env.run()
    assert log.delivered[-1][3] == "after"


def test_partition_is_checked_at_delivery_time():
    env, net = make(full_mesh(2, constant(10.0)))
    log = Log(env)
    net.send(0, 1, "in flight", 10, log.deliver, log.drop)
    env.timeout(5000).callbacks.append(lambda _: net.partition([[0], [1]]))
    env.run()
    assert log.dropped and not log.delivered


def test_down_nodes_drop_with_reasons():
    env, net = make(line(3, constant(10.0)))
    log = Log(env)
    net.set_node_up(2, False)
    net.send(0, 2, "to down", 10, log.deliver, log.drop)
    net.send(2, 0, "from down", 10, log.deliver, log.drop)
    env.run()
    net.set_node_up(2, True)
    net.set_node_up(1, False)
    net.send(0, 2, "through down", 10, log.deliver, log.drop)
    env.run()
    assert not net.is_up(1) and net.is_up(2)
    assert net.stats.drop_reasons == {"dst_down": 1, "src_down": 1, "relay_down": 1}
    assert not log.delivered and len(log.dropped) == 3
    # A sender that is down drops at once, without using its uplink.
    assert ("from down" in [m for *_, m in log.dropped]) and net.uplink_free_at(2) == 0


def test_sender_crashing_loses_its_messages_in_flight():
    env, net = make(full_mesh(2, constant(10.0)))
    log = Log(env)
    net.send(0, 1, "m", 10, log.deliver, log.drop)
    env.timeout(1000).callbacks.append(lambda _: net.set_node_up(0, False))
    env.run()
    assert net.stats.drop_reasons == {"src_down": 1}


def test_cut_link_and_extra_delay():
    env, net = make(full_mesh(3, constant(10.0)))
    log = Log(env)
    net.cut(0, 1)
    net.send(1, 0, "cut", 986, log.deliver, log.drop)
    net.set_extra_delay(2, 5000)
    net.send(2, 0, "slow", 986, log.deliver, log.drop)
    env.run()
    assert net.stats.drop_reasons == {"link_cut": 1}
    assert log.delivered == [(8000 + 10_000 + 5000, 2, 0, "slow")]
    net.heal()
    net.set_extra_delay(2, 0)
    net.send(1, 0, "ok", 986, log.deliver)
    env.run()
    assert log.delivered[-1][3] == "ok"


# -- counters, trace, options --------------------------------------------------------------
class Vote:
    kind = "Prepare"


def test_stats_count_messages_and_bytes_by_kind():
    env, net = make(full_mesh(3, constant(1.0)), loss=0.0)
    net.broadcast(0, [1, 2], Vote(), 100, lambda *a: None)
    net.send(1, 2, b"raw", 50, lambda *a: None)
    env.run()
    net.set_node_up(2, False)
    net.send(0, 2, Vote(), 100, lambda *a: None)
    env.run()
    kinds = net.stats.by_kind()
    assert kinds["Prepare"] == {"sent": 3, "bytes_sent": 3 * 114, "delivered": 2,
                                "bytes_delivered": 2 * 114, "dropped": 1, "bytes_dropped": 114}
    assert kinds["bytes"]["bytes_sent"] == 64 and kinds["bytes"]["delivered"] == 1
    assert net.stats.node_bytes_sent == [3 * 114, 64, 0]
    assert net.stats.node_messages_sent == [3, 1, 0]
    assert net.stats.totals()["in_flight"] == 0


def test_tracer_sees_one_outcome_per_send_with_integer_fields():
    events = []
    env, net = make(line(3, LatencyModel("normal", 5.0, 1.0)), loss=0.2,
                    tracer=lambda event, fields: events.append((event, dict(fields))))
    for k in range(100):
        net.broadcast(k % 3, [d for d in range(3) if d != k % 3], Vote(), 300, lambda *a: None)
    env.run()
    sends = [f for e, f in events if e == "send"]
    outcomes = [f for e, f in events if e in ("deliver", "drop")]
    assert len(sends) == 200 and sorted(f["id"] for f in outcomes) == sorted(
        f["id"] for f in sends)
    for _, fields in events:
        # the message and its delivery callback ride along for the trace recorder
        assert all(isinstance(v, int) for k, v in fields.items()
                   if k not in ("kind", "reason", "message", "deliver"))
    assert {f["kind"] for f in sends} == {"Prepare"}
    assert {f["hops"] for f in sends} == {1, 2}


def test_compression_hook_and_per_node_bandwidth():
    env, net = make(full_mesh(3, constant(0.0)), bandwidth=[MBIT, 2 * MBIT, math.inf],
                    compress=lambda size: size // 4)
    log = Log(env)
    net.send(0, 1, "small", 1010, log.deliver)  # not compressed: (1010 + 14) * 8
    net.send(1, 0, "big", 4096, log.deliver)  # compressed to 1024: (1024 + 14) * 8 / 2
    net.send(2, 0, "free", 4096, log.deliver)  # unlimited uplink: 1 µs
    env.run()
    assert {m: t for t, _, _, m in log.delivered} == {"small": 8192, "big": 4152, "free": 1}


def test_invalid_arguments():
    with pytest.raises(ValueError):
        make(full_mesh(2, constant()), loss=1.5)
    with pytest.raises(ValueError):
        make(full_mesh(2, constant()), bandwidth=[1.0])
    with pytest.raises(ValueError):
        make(full_mesh(2, constant()), bandwidth=0)
    graph = nx.Graph([(0, 1)])
    with pytest.raises(ValueError, match="latency"):
        make(graph)
    with pytest.raises(ValueError):
        make(nx.Graph([(1, 2)]))


# -- latency distributions -----------------------------------------------------------------
@pytest.mark.parametrize(("distribution", "mean", "std"), [
    ("normal", 20.0, 4.0), ("lognormal", 20.0, 4.0), ("lognormal", 50.0, 40.0)])
def test_draw_means_and_stds_match(distribution, mean, std):
    draws = LatencyModel(distribution, mean, std).draw(np.random.default_rng(42), 100_000)
    assert draws.dtype == np.int64 and (draws >= 0).all()
    assert abs(draws.mean() / 1000 - mean) < 0.01 * mean
    assert abs(draws.std() / 1000 - std) < 0.03 * std


def test_normal_is_truncated_by_redrawing():
    draws = LatencyModel("normal", 1.0, 2.0).draw(np.random.default_rng(0), 100_000)
    assert (draws >= 0).all()
    assert (draws == 0).mean() < 0.001  # no spike at zero, as clipping would give
    # The mean of N(1, 2) truncated at 0: 1 + 2 φ(0.5) / Φ(0.5) = 2.0314 ms.
    assert abs(draws.mean() / 1000 - 2.0314) < 0.02


def test_latency_model_validation_and_constant():
    assert LatencyModel("normal", 5.0, 0.0).draw(np.random.default_rng(0), 2).tolist() == [
        5000, 5000]
    stream = LatencyModel("constant", 2.5, 9.0).stream(np.random.default_rng(0))
    assert [next(stream) for _ in range(3)] == [2500, 2500, 2500]
    for bad in (("uniform", 1.0, 0.0), ("normal", -1.0, 0.0), ("normal", 1.0, -1.0),
                ("lognormal", 0.0, 1.0)):
        with pytest.raises(ValueError):
            LatencyModel(*bad)


@pytest.mark.parametrize("bad", [
    ("normal", 1.0, 1e300),  # drew 1e303 µs, which int64 rounding turned negative
    ("lognormal", 1.0, 1e300),
    ("normal", MAX_LATENCY_MS * 1.01, 0.0),
    ("constant", 1e300, 0.0),
    ("lognormal", 20.0, MAX_LATENCY_MS + 1),
])
def test_latency_model_refuses_parameters_it_cannot_draw(bad):
    with pytest.raises(ValueError, match="60000"):
        LatencyModel(*bad)


@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
def test_the_largest_accepted_latencies_draw_non_negative_ints(distribution):
    draws = LatencyModel(distribution, MAX_LATENCY_MS, MAX_LATENCY_MS).draw(
        np.random.default_rng(3), 100_000)
    assert draws.dtype == np.int64 and (draws >= 0).all()
    assert draws.max() < 100 * MAX_LATENCY_MS * 1000


def test_a_lognormal_with_a_tiny_mean_does_not_overflow():
    # (std/mean)² overflows a float here: sigma must still come out finite.
    mu, sigma = LatencyModel("lognormal", 1e-300, 1.0).lognormal_params()
    assert math.isfinite(mu) and math.isfinite(sigma)
    assert (LatencyModel("lognormal", 1e-300, 1.0).draw(np.random.default_rng(0), 1000) >= 0).all()


class _FixedDraws:
    """Stands in for a numpy Generator whose draws went wrong."""

    def __init__(self, values):
        self.values = values

    def normal(self, _mean, _std, n):
        return np.resize(np.array(self.values, dtype=float), n)

    lognormal = normal


@pytest.mark.parametrize(("distribution", "value"), [
    *(("normal", v) for v in (1e300, math.inf, math.nan, 2.0**63, MAX_DRAW_US * 2.0)),
    *(("lognormal", v) for v in (1e300, math.inf, math.nan, 2.0**63, -1.0)),
])  # no negative for the normal: it redraws those
def test_draw_raises_instead_of_returning_a_value_it_cannot_represent(distribution, value):
    model = LatencyModel(distribution, 10.0, 1.0)
    with pytest.raises(RuntimeError, match=rf"outside 0\.\.{MAX_DRAW_US} µs"):
        model.draw(_FixedDraws([5000.0, value]), 4)


class _Scripted:
    """A latency 'model' whose stream is a fixed list of µs values (then 0 forever)."""

    def __init__(self, *values):
        self.values = values

    def stream(self, _rng):
        return itertools.chain(self.values, itertools.repeat(0))


@pytest.mark.parametrize("fifo", [True, False])
@pytest.mark.parametrize("how", ["send", "broadcast", "first_use", "relay"])
def test_a_negative_latency_raises_instead_of_delivering_early(how, fifo):
    graph = nx.path_graph(3)
    if how == "first_use":
        nx.set_edge_attributes(graph, _Scripted(-50_000), "latency")
    else:
        # A first message warms the link up, so the second one takes the fast path.
        nx.set_edge_attributes(graph, _Scripted(10_000, -50_000), "latency")
    if how == "relay":
        graph.edges[1, 2]["latency"] = _Scripted(-50_000)
    env, net = make(graph, fifo_links=fifo)
    log = Log(env)
    link = "1->2" if how == "relay" else "0->1"
    dst = 2 if how == "relay" else 1
    with pytest.raises(RuntimeError, match=rf"link {link}: arrival at -?\d+ µs is before"):
        for _ in range(2):
            if how == "broadcast":
                net.broadcast(0, [dst], "m", 100, log.deliver)
            else:
                net.send(0, dst, "m", 100, log.deliver)
            env.run()
    assert all(t >= 0 for t, *_ in log.delivered) and env.now >= 0
    assert len(log.delivered) <= 1


def test_the_delivery_queue_refuses_an_arrival_in_the_past():
    env, net = make(full_mesh(2, constant(10.0)))
    log = Log(env)
    net.send(0, 1, "m", 986, log.deliver)  # due at 18,000 µs
    advance_clock(env, 20_000)  # a clock that went past the arrival without delivering it
    with pytest.raises(RuntimeError, match=r"link 0->1: .*18000 µs.*20000 µs"):
        net._drain()
    assert log.delivered == []


# -- topologies ----------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "degree"), [(10, 3), (9, 3), (100, 4), (51, 5), (20, 2)])
def test_random_topology_is_connected_with_min_degree(n, degree):
    latency = constant(3.0)
    graph = random_regular_ish(n, degree, latency, np.random.default_rng(n))
    assert sorted(graph.nodes) == list(range(n)) and nx.is_connected(graph)
    degrees = [d for _, d in graph.degree]
    assert min(degrees) == degree and max(degrees) <= degree + 1
    assert all(data["latency"] is latency for *_, data in graph.edges(data=True))
    again = random_regular_ish(n, degree, latency, np.random.default_rng(n))
    assert list(graph.edges) == list(again.edges)


def test_random_topology_edges():
    full = random_regular_ish(5, 4, constant(), np.random.default_rng(0))
    assert full.number_of_edges() == 10
    with pytest.raises(ValueError):
        random_regular_ish(10, 1, constant(), np.random.default_rng(0))


def test_regions_take_latencies_from_the_matrix():
    matrix = {"bj": {"bj": 1.0, "sh": 15.0}, "sh": {"sh": 2.0}, "sz": {"bj": 30.0, "sh": 20.0,
                                                                        "sz": 0.5}}
    graph = regions({"bj": [0, 3], "sh": [1], "sz": [2, 4]}, matrix, jitter=("normal", 0.5))
    mean = {(u, v): d["latency"].mean_ms for u, v, d in graph.edges(data=True)}
    assert mean[(0, 3)] == 1.0 and mean[(0, 1)] == 15.0 and mean[(1, 2)] == 20.0
    assert mean[(0, 2)] == 30.0 and mean[(2, 4)] == 0.5 and mean[(1, 3)] == 15.0
    assert graph.number_of_edges() == 10
    assert {d["latency"].distribution for *_, d in graph.edges(data=True)} == {"normal"}
    # End to end: a message bj -> sz takes the matrix latency (no jitter here).
    env, net = make(regions({"bj": [0], "sz": [1]}, matrix), bandwidth=math.inf)
    log = Log(env)
    net.send(0, 1, "x", 0, log.deliver)
    env.run()
    assert log.delivered[0][0] == 30_000 + 1


def test_regions_validation():
    with pytest.raises(ValueError, match="no entry"):
        regions({"a": [0], "b": [1]}, {"a": {"a": 1.0}})
    with pytest.raises(ValueError, match="asymmetric"):
        regions({"a": [0], "b": [1]}, {"a": {"b": 1.0}, "b": {"a": 2.0}})
    with pytest.raises(ValueError, match="exactly once"):
        regions({"a": [0, 2]}, {"a": {"a": 1.0}})


def test_build_topology_dispatches():
    latency = LatencyModel("normal", 10.0, 2.0)
    assert build_topology("full_mesh", 4, latency=latency).number_of_edges() == 6
    graph = build_topology("random", 12, latency=latency, degree=3,
                           rng=np.random.default_rng(1))
    assert nx.is_connected(graph) and min(d for _, d in graph.degree) == 3
    graph = build_topology("regions", 3, latency=latency, regions={"x": [0, 1], "y": [2]},
                           latency_ms_matrix={"x": {"x": 1.0, "y": 9.0}, "y": {"y": 1.0}})
    assert graph.edges[1, 2]["latency"] == LatencyModel("normal", 9.0, 2.0)
    with pytest.raises(ValueError):
        build_topology("regions", 4, latency=latency, regions={"x": [0, 1], "y": [2]},
                       latency_ms_matrix={"x": {"x": 1.0, "y": 9.0}, "y": {"y": 1.0}})
    with pytest.raises(ValueError):
        build_topology("star", 4, latency=latency)
