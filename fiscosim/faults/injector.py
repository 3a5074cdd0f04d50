"""Carries out a scenario's ``faults:`` at their simulated times (and undoes them at ``until_s``).

Each fault acts through a hook of the layer that owns the behaviour: the network
(:meth:`~fiscosim.net.network.Network.partition`, ``heal``, ``loss_rate``,
``set_extra_delay``) or the node (:meth:`~fiscosim.node.runtime.Node.crash`, ``restart``, its
CPU's ``slowdown``, :meth:`~fiscosim.node.runtime.Node.set_byzantine` for the behaviours of
:mod:`fiscosim.faults.byzantine`). Every fault applied is written to the world's fault log
(reported in the summary) and, with tracing on, to the trace as a ``fault`` event.

**Overlapping faults compose** (docs/results.md). A fault that lasts holds its effect from
``at_s`` to ``until_s``; undoing it releases its own hold and recomputes the effect from what
is still held, never restores a value captured earlier:

- ``crash``: a node is up only while no crash holds it. An inner crash's ``until_s`` does not
  restart a node an outer crash still holds; a ``restart`` fault releases every hold on its
  nodes (and a later ``until_s`` of a released crash does nothing).
- ``loss``: independent losses: the rate is ``1 − (1 − base)·Π(1 − rate)`` over the scenario's
  ``network.loss_rate`` and the loss faults in force (one fault over a lossless network: its
  own rate, exactly).
- ``delay``: the extra delays in force on a node add up.
- ``slow``: the slowdown factors in force on a node multiply (1 when none).
- ``byzantine``: a behaviour stays on while any fault of that behaviour holds the node;
  ``reorder`` uses the delay of the latest one in force.
- ``partition`` and ``heal`` do not compose: a partition replaces the previous one, and its
  ``until_s`` (like ``heal``) heals every cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from fiscosim.engine import US, schedule
from fiscosim.faults.behaviours import DEFAULT_REORDER_MS
from fiscosim.net.network import Network
from fiscosim.node.cpu import Cpu
from fiscosim.node.runtime import Node


class FaultPlan(Protocol):
    """What the injector reads of a scenario: its faults (each a ``FaultSpec`` of the schema:
    kind, nodes, groups, at_s, at_block, block_event, until_s, for_s and the kind's value) and
    the nodes named in a byzantine fault."""

    @property
    def faults(self) -> Sequence[Any]: ...

    def byzantine_nodes(self) -> set[str]: ...


class Group(Protocol):
    """One ledger of the world: the injector tells its block log that a node went down."""

    @property
    def blocks(self) -> Any: ...


class FaultTarget(Protocol):
    """What the injector needs of a world (:class:`fiscosim.sim.world.World` is one): the
    clock, the nodes and their hooks, the network, and where to log. Written out so that the
    injector's reach is visible and it can be tested on a small stand-in."""

    env: Any
    """The simulation clock (``now`` in µs; :func:`~fiscosim.engine.clock.schedule` takes it)."""
    names: list[str]
    """Physical node names; a fault's ``nodes`` index into it."""
    scenario: FaultPlan
    network: Network
    cpus: list[Cpu]
    """Each physical node's CPU (``slowdown``)."""
    sealers: list[Node]
    """The sealers of every group, for resolving the ``leader`` and ``next_leader`` roles."""
    groups: Sequence[Group]
    block_watchers: dict[tuple[str, int], list[Callable[[], None]]]
    """Callbacks to run when a block is first sealed or committed (the world calls them)."""
    fault_log: list[dict[str, Any]]
    trace: Callable[[str, dict], None] | None

    def members_of(self, position: int) -> list[Node]:
        """The node objects of physical node ``position``, one per group it serves."""
        ...


class Holds:
    """The faults in force, by what they hold: ``(kind, node position)`` or ``(kind,)`` for
    network-wide ones → {fault number: its value}. Insertion order is the order they started."""

    def __init__(self) -> None:
        self.held: dict[tuple, dict[int, Any]] = {}

    def hold(self, key: tuple, fault: int, value: Any = None) -> bool:
        """Adds a hold; True when it is the first on ``key``."""
        entry = self.held.setdefault(key, {})
        entry[fault] = value
        return len(entry) == 1

    def release(self, key: tuple, fault: int) -> bool:
        """Releases one hold; True when it was held and was the last on ``key``."""
        entry = self.held.get(key)
        if not entry or fault not in entry:
            return False
        del entry[fault]
        return not entry

    def clear(self, key: tuple) -> None:
        self.held.pop(key, None)

    def values(self, key: tuple) -> list[Any]:
        return list(self.held.get(key, {}).values())


def schedule_faults(world: FaultTarget) -> None:
    """Schedules every fault of ``world.scenario`` (in the order given; ties keep that order).

    A fault starts at ``at_s``, or when block ``at_block`` is first sealed or committed by an
    honest sealer; it is undone at ``until_s`` or ``for_s`` after it started. Roles in its
    ``nodes`` (``leader``, ``next_leader``) are resolved to nodes when it starts, and the log
    names the node.
    """
    names = world.names
    holds = Holds()
    base_loss = world.network.loss_rate
    for number, fault in enumerate(world.scenario.faults):
        roles = any(name not in names for name in fault.nodes)  # validated: the rest are roles
        targets: list[int] = [] if roles else [names.index(name) for name in fault.nodes]
        start, undo = _actions(world, fault, number, targets, names, holds, base_loss)
        resolved: dict[str, str] = {}

        def begin(fault: Any = fault, targets: list[int] = targets, roles: bool = roles,
                  start: Callable[[], str | None] = start,
                  undo: Callable[[], str | None] | None = undo,
                  resolved: dict[str, str] = resolved) -> None:
            if roles:
                targets.extend(p for p in _resolve(world, fault.nodes, resolved)
                               if p not in targets)
            _fire(world, start, _describe(fault, resolved), resolved)
            if undo is not None and fault.for_s is not None:
                _at(world, world.env.now / US + fault.for_s, undo,
                    lambda: f"undo {_describe(fault, resolved)}")

        if fault.at_block is not None:
            _on_block(world, fault.at_block, fault.block_event or "committed", begin)
        else:
            schedule(world.env, round(fault.at_s * US), begin)
        if fault.until_s is not None and undo is not None:
            _at(world, fault.until_s, undo,
                lambda fault=fault, resolved=resolved: f"undo {_describe(fault, resolved)}")


def _resolve(world: FaultTarget, nodes: list[str], resolved: dict[str, str]) -> list[int]:
    """Positions of ``nodes``, roles resolved now (FaultSpec.nodes says what each role is:
    ``leader`` or ``next_leader``; the scenario refused any other name that is not a node's).

    The reference is the most advanced honest sealer that is up (highest committed block,
    then the first in node order): its view says who leads its lowest uncommitted block.
    """
    names = world.names
    dishonest = world.scenario.byzantine_nodes()
    live = [node for node in world.sealers
            if node.up and node.core is not None and node.name not in dishonest]
    positions = []
    for name in nodes:
        if name in names:
            positions.append(names.index(name))
            continue
        if not live:
            continue  # nobody leads: the fault hits no node (the log says so)
        # The ledger's height, not the core's committed index: a block-triggered fault starts
        # when the ledger has the block, before the core hears of it.
        ref = max(live, key=lambda node: (max(node.height, node.core.committed_index),
                                          -node.net_id))
        core = ref.core
        view = core.to_view if core.in_view_change else core.view
        lowest = max(ref.height, core.committed_index) + 1
        index = core.leader_of(lowest + (name == "next_leader"), view)
        position = ref.shared.sealer_net_ids[index]
        resolved[name] = names[position]
        if position not in positions:  # a role that is also named must not hit it twice
            positions.append(position)
    return positions


def _on_block(world: FaultTarget, number: int, event: str, callback: Callable[[], None]) -> None:
    """Calls ``callback`` once, when block ``number`` is first sealed (``event`` "sealed") or
    first committed by an honest sealer ("committed"), at that moment of simulated time."""
    world.block_watchers.setdefault((event, number), []).append(callback)


def _fire(world: FaultTarget, action: Callable[[], str | None], text: str | Callable[[], str],
          resolved: dict[str, str] | None = None) -> None:
    if callable(text):
        text = text()  # an undo's text names the nodes its fault's roles resolved to
    note = action()
    entry = text if not note else f"{text} ({note})"
    logged: dict[str, Any] = {"t_s": world.env.now / US, "fault": entry}
    if resolved:
        logged["roles"] = dict(resolved)  # which node each role named when the fault started
    world.fault_log.append(logged)
    if world.trace is not None:
        world.trace("fault", {"node": -1, "text": entry})


def _at(world: FaultTarget, at_s: float, action: Callable[[], str | None],
        text: str | Callable[[], str]) -> None:
    schedule(world.env, round(at_s * US), _fire, world, action, text)


def _describe(fault: Any, resolved: dict[str, str] | None = None) -> str:
    parts = [fault.kind]
    if fault.nodes:
        resolved = resolved or {}
        parts.append(",".join(f"{resolved[name]} (the {name})" if name in resolved
                              else name for name in fault.nodes))
    if fault.groups:
        parts.append(" | ".join(",".join(group) for group in fault.groups))
    for field in ("behaviour", "rate", "delay_ms", "factor"):
        value = getattr(fault, field)
        if value is not None:
            parts.append(f"{field}={value}")
    return " ".join(parts)


def combined_loss(base: float, rates: list[float]) -> float:
    """Independent losses together: ``1 − Π(1 − r)`` over the nonzero ones (a single rate is
    returned as it is, so that one fault over a lossless network draws exactly as before)."""
    rates = [r for r in (base, *rates) if r]
    if not rates:
        return 0.0
    if len(rates) == 1:
        return rates[0]
    return 1.0 - math.prod(1.0 - r for r in rates)


def _actions(
    world: FaultTarget, fault: Any, number: int, targets: list[int], names: list[str],
    holds: Holds,
    base_loss: float,
) -> tuple[Callable[[], str | None], Callable[[], str | None] | None]:
    """What the fault does at ``at_s`` and at ``until_s``; each returns a note for the log
    (why nothing changed) or None."""
    network = world.network
    kind = fault.kind

    def members(i: int) -> list[Any]:
        # A fault names physical nodes; it hits the node in every group it is in.
        return world.members_of(i)

    if kind in ("crash", "restart"):
        def crash() -> str | None:
            already = []
            for i in targets:
                if not holds.hold(("crash", i), number):
                    already.append(names[i])
                    continue
                for node in members(i):
                    node.crash()
            if len(already) < len(targets):
                for group in world.groups:  # blocks only the crashed node lacked are complete
                    group.blocks.node_down()
            return f"{', '.join(already)} already down" if already else None

        def release(everything: bool) -> Callable[[], str | None]:
            def run() -> str | None:
                held, gone = [], []
                for i in targets:
                    if everything:
                        holds.clear(("crash", i))
                    elif not holds.release(("crash", i), number):
                        # still held by another crash, or this hold was already released
                        (held if holds.values(("crash", i)) else gone).append(names[i])
                        continue
                    for node in members(i):
                        node.restart()
                notes = [f"{', '.join(held)} still held by another crash"] if held else []
                if gone:
                    notes.append(f"{', '.join(gone)} released earlier by a restart")
                return "; ".join(notes) or None
            return run

        if kind == "restart":
            return release(True), None
        return crash, release(False)
    if kind == "partition":
        groups = [[names.index(name) for name in group] for group in fault.groups]
        return _quiet(lambda: network.partition(groups)), _quiet(network.heal)
    if kind == "heal":
        return _quiet(network.heal), None
    if kind == "loss":
        def lose(on: bool) -> Callable[[], None]:
            def run() -> None:
                if on:
                    holds.hold(("loss",), number, fault.rate)
                else:
                    holds.release(("loss",), number)
                network.loss_rate = combined_loss(base_loss, holds.values(("loss",)))
            return run

        return _quiet(lose(True)), _quiet(lose(False))
    if kind == "delay":
        delay = round(fault.delay_ms * 1000)

        def delayed(on: bool) -> Callable[[], None]:
            def run() -> None:
                for i in targets:
                    if on:
                        holds.hold(("delay", i), number, delay)
                    else:
                        holds.release(("delay", i), number)
                    network.set_extra_delay(i, sum(holds.values(("delay", i))))
            return run

        return _quiet(delayed(True)), _quiet(delayed(False))
    if kind == "byzantine":
        behaviour = fault.behaviour
        delay = round((fault.delay_ms if fault.delay_ms is not None
                       else DEFAULT_REORDER_MS) * 1000)

        def misbehave(on: bool) -> Callable[[], None]:
            def run() -> None:
                for i in targets:
                    key = ("byzantine", i, behaviour)
                    if on:
                        holds.hold(key, number, delay)
                    else:
                        holds.release(key, number)
                    left = holds.values(key)
                    if left and not on and behaviour != "reorder":
                        continue  # still on, nothing to change (only reorder has a value)
                    for node in members(i):
                        if left:
                            node.set_byzantine(behaviour, True, left[-1])
                        else:
                            node.set_byzantine(behaviour, False)
            return run

        return _quiet(misbehave(True)), _quiet(misbehave(False))
    if kind == "slow":
        def slow(on: bool) -> Callable[[], None]:
            def run() -> None:
                for i in targets:
                    if on:
                        holds.hold(("slow", i), number, fault.factor)
                    else:
                        holds.release(("slow", i), number)
                    world.cpus[i].slowdown = float(math.prod(holds.values(("slow", i))))
            return run

        return _quiet(slow(True)), _quiet(slow(False))
    raise ValueError(f"unknown fault kind {kind!r}")


def _quiet(action: Callable[[], Any]) -> Callable[[], None]:
    """An action with nothing to add to its log entry."""
    def run() -> None:
        action()
    return run
