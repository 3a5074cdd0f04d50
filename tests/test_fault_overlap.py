"""Overlapping faults compose (fiscosim.faults.injector, docs/results.md).

A fault that lasts holds its effect from ``at_s`` to ``until_s``; its undo releases its own hold
and the effect is recomputed from what is still held: a node is up only while no crash holds it
(a ``restart`` releases every hold), losses combine as independent ones, delays add, slowdowns
multiply, a byzantine behaviour stays on while any fault of it is in force.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import REPO_ROOT

from fiscosim.faults.injector import combined_loss
from fiscosim.scenario import load_scenario
from fiscosim.sim.simulation import _drive
from fiscosim.sim.world import build_world

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"


def observe(faults: str, probe: Callable[[Any], Any], *overrides: str,
            setup: Callable[[Any], None] | None = None) -> tuple[Any, dict[float, Any]]:
    """Runs quickstart (6 s + 2 s drain) with ``faults``; ``probe(world)`` about every 80 ms of
    simulated time, by time in seconds."""
    scenario = load_scenario(QUICKSTART, ["duration_s=6", "warmup_s=1", "drain_s=2",
                                          f"faults={faults}", *overrides])
    world = build_world(scenario)
    if setup is not None:
        setup(world)
    samples: dict[float, Any] = {}
    _drive(world, lambda t, _total: samples.__setitem__(round(t, 3), probe(world)))
    return world, samples


def during(samples: dict[float, Any], start: float, end: float) -> set:
    """The values seen strictly inside (start, end)."""
    return {value for t, value in samples.items() if start < t < end}


def node2_up(world: Any) -> bool:
    return world.nodes[2].up


def test_an_inner_crash_does_not_restart_a_node_an_outer_crash_holds():
    world, up = observe("[{at_s: 1, kind: crash, nodes: [node2], until_s: 4},"
                        " {at_s: 2, kind: crash, nodes: [node2], until_s: 3}]", node2_up)
    assert during(up, 0, 1) == {True}
    assert during(up, 1, 4) == {False}  # the inner until_s at 3 s does not bring it back
    assert during(up, 4, 8) == {True}
    log = [entry["fault"] for entry in world.fault_log]
    assert log == ["crash node2", "crash node2 (node2 already down)",
                   "undo crash node2 (node2 still held by another crash)", "undo crash node2"]


def test_crashes_that_overlap_partly_keep_the_node_down_for_their_union():
    _, up = observe("[{at_s: 1, kind: crash, nodes: [node2], until_s: 3},"
                    " {at_s: 2, kind: crash, nodes: [node2], until_s: 5}]", node2_up)
    assert during(up, 1, 5) == {False}
    assert during(up, 5, 8) == {True}


def test_a_restart_releases_every_crash():
    world, up = observe("[{at_s: 1, kind: crash, nodes: [node2], until_s: 4},"
                        " {at_s: 2, kind: crash, nodes: [node2]},"
                        " {at_s: 3, kind: restart, nodes: [node2]}]", node2_up)
    assert during(up, 1, 3) == {False}
    assert during(up, 3, 8) == {True}  # and the first crash's until_s at 4 s changes nothing
    assert world.fault_log[-1]["fault"] == "undo crash node2 (node2 released earlier by a restart)"
    # the restarted node caught up by block sync
    assert world.nodes[2].height == world.nodes[0].height


def test_losses_combine_as_independent_losses_over_the_base():
    _, rate = observe("[{at_s: 1, kind: loss, rate: 0.2, until_s: 4},"
                          " {at_s: 2, kind: loss, rate: 0.5, until_s: 3}]",
                          lambda w: w.network.loss_rate, "network.loss_rate=0.1")
    assert during(rate, 0, 1) == {0.1}
    assert [round(r, 9) for r in during(rate, 1, 2)] == [round(1 - 0.9 * 0.8, 9)]
    assert [round(r, 9) for r in during(rate, 2, 3)] == [round(1 - 0.9 * 0.8 * 0.5, 9)]
    assert [round(r, 9) for r in during(rate, 3, 4)] == [round(1 - 0.9 * 0.8, 9)]
    assert during(rate, 4, 8) == {0.1}  # back to the base, not to a value captured earlier


def test_one_loss_over_a_lossless_network_is_its_own_rate_exactly():
    assert combined_loss(0.0, [0.3]) == 0.3
    assert combined_loss(0.0, []) == 0.0
    assert combined_loss(0.0, [0.5, 0.5]) == 0.75


def test_delays_on_one_node_add_up():
    delays: dict[int, int] = {}

    def spy(world: Any) -> None:
        original = world.network.set_extra_delay

        def record(node: int, delay_us: int) -> None:
            delays[node] = delay_us
            original(node, delay_us)

        world.network.set_extra_delay = record

    _, seen = observe("[{at_s: 1, kind: delay, nodes: [node0], delay_ms: 50, until_s: 4},"
                      " {at_s: 2, kind: delay, nodes: [node0], delay_ms: 20, until_s: 3}]",
                      lambda w: delays.get(0, 0), setup=spy)
    assert during(seen, 0, 1) == {0}
    assert during(seen, 1, 2) == {50_000}
    assert during(seen, 2, 3) == {70_000}
    assert during(seen, 3, 4) == {50_000}
    assert during(seen, 4, 8) == {0}


def test_slowdowns_on_one_node_multiply():
    _, factor = observe("[{at_s: 1, kind: slow, nodes: [node1], factor: 3, until_s: 4},"
                        " {at_s: 2, kind: slow, nodes: [node1], factor: 2, until_s: 3}]",
                        lambda w: w.cpus[1].slowdown)
    assert during(factor, 0, 1) == {1.0}
    assert during(factor, 1, 2) == {3.0}
    assert during(factor, 2, 3) == {6.0}
    assert during(factor, 3, 4) == {3.0}
    assert during(factor, 4, 8) == {1.0}


def test_a_byzantine_behaviour_stays_on_while_any_fault_of_it_holds():
    _, on = observe("[{at_s: 1, kind: byzantine, nodes: [node1], behaviour: withhold_votes,"
                    " until_s: 4}, {at_s: 2, kind: byzantine, nodes: [node1],"
                    " behaviour: withhold_votes, until_s: 3}]",
                    lambda w: "withhold_votes" in w.nodes[1].byzantine)
    assert during(on, 0, 1) == {False}
    assert during(on, 1, 4) == {True}
    assert during(on, 4, 8) == {False}
