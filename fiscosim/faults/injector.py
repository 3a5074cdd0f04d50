"""Carries out a scenario's ``faults:`` at their simulated times (and undoes them at ``until_s``).

Each fault acts through a hook of the layer that owns the behaviour: the network
(:meth:`~fiscosim.net.network.Network.partition`, ``heal``, ``loss_rate``,
``set_extra_delay``) or the node (:meth:`~fiscosim.node.runtime.Node.crash`, ``restart``, its
CPU's ``slowdown``, :meth:`~fiscosim.node.runtime.Node.set_byzantine` for the behaviours of
:mod:`fiscosim.faults.byzantine`). Every fault applied is written to the world's fault log
(reported in the summary) and, with tracing on, to the trace as a ``fault`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fiscosim.faults import byzantine
from fiscosim.node.clock import schedule

US = 1_000_000


def schedule_faults(world: Any) -> None:
    """Schedules every fault of ``world.scenario`` (in the order given; ties keep that order)."""
    names = world.names
    for fault in world.scenario.faults:
        targets = [names.index(name) for name in fault.nodes]
        start, undo = _actions(world, fault, targets, names)
        _at(world, fault.at_s, start, _describe(fault))
        if fault.until_s is not None and undo is not None:
            _at(world, fault.until_s, undo, f"undo {_describe(fault)}")


def _at(world: Any, at_s: float, action: Callable[[], None], text: str) -> None:
    def fire() -> None:
        action()
        world.fault_log.append({"t_s": world.env.now / US, "fault": text})
        if world.trace is not None:
            world.trace("fault", {"node": -1, "text": text})

    schedule(world.env, round(at_s * US), fire)


def _describe(fault: Any) -> str:
    parts = [fault.kind]
    if fault.nodes:
        parts.append(",".join(fault.nodes))
    if fault.groups:
        parts.append(" | ".join(",".join(group) for group in fault.groups))
    for field in ("behaviour", "rate", "delay_ms", "factor"):
        value = getattr(fault, field)
        if value is not None:
            parts.append(f"{field}={value}")
    return " ".join(parts)


def _actions(
    world: Any, fault: Any, targets: list[int], names: list[str]
) -> tuple[Callable[[], None], Callable[[], None] | None]:
    network = world.network
    kind = fault.kind

    def each(act: Callable[[Any], Any]) -> Callable[[], None]:
        # A fault names physical nodes; it hits the node in every group it is in.
        def run() -> None:
            for i in targets:
                for node in world.members_of(i):
                    act(node)

        return run

    if kind == "crash":
        return each(lambda node: node.crash()), each(lambda node: node.restart())
    if kind == "restart":
        return each(lambda node: node.restart()), None
    if kind == "partition":
        groups = [[names.index(name) for name in group] for group in fault.groups]
        return lambda: network.partition(groups), network.heal
    if kind == "heal":
        return network.heal, None
    if kind == "loss":
        before = network.loss_rate

        def lose() -> None:
            network.loss_rate = fault.rate

        def stop() -> None:
            network.loss_rate = before

        return lose, stop
    if kind == "delay":
        delay = round(fault.delay_ms * 1000)
        def delayed(us: int) -> Callable[[], None]:
            def run() -> None:
                for i in targets:
                    network.set_extra_delay(i, us)
            return run

        return delayed(delay), delayed(0)
    if kind == "byzantine":
        behaviour = fault.behaviour
        delay = round((fault.delay_ms if fault.delay_ms is not None
                       else byzantine.DEFAULT_REORDER_MS) * 1000)
        return (each(lambda node: node.set_byzantine(behaviour, True, delay)),
                each(lambda node: node.set_byzantine(behaviour, False)))
    if kind == "slow":
        def slow(factor: float) -> Callable[[], None]:
            def run() -> None:
                for i in targets:
                    world.cpus[i].slowdown = factor
            return run

        return slow(fault.factor), slow(1.0)
    raise ValueError(f"unknown fault kind {kind!r}")
