"""Where a run's capacity went: utilisation per lane and link, the bound, and saturation.

Definitions (docs/bottleneck.md has them with examples):

- A *lane*'s utilisation is its tasks' full-speed time inside the measured window (each task's
  ``work / threads``, :mod:`fiscosim.node.cpu`) over the window: a serial lane (``pbft``, a
  serial ``executor``, ``storage``, ``sealer``, ``rpc``) is busy that fraction of the window;
  the ``verifier`` pool (all cores) uses that fraction of the node's core time; a DAG
  executor that fraction of the cores each block keeps busy. ``occupied`` is the fraction of
  the window a lane had a task in progress, time-slicing included.
- A node's ``cpu`` is its core time in the window over its cores × the window (its share of
  its machine's cores where nodes share one; ``host_cpu`` is then the machine's).
- ``uplink`` / ``loopback`` are the fraction of the window the machine's sending queue was
  serialising; ``downlink`` the bytes the machine received from other machines in the window
  at its uplink's rate, over the window (:mod:`fiscosim.net.network`).
- ``max`` is the busiest lane or link; ``bound_by`` its kind (:data:`LANE_KINDS`) when it is
  busy :data:`SATURATED` of the window or more, ``"cpu"`` when none is but a node's cores are
  (or a lane was occupied that long while its own work was not: it waited for cores); when
  neither holds but the run is saturated (below), ``"consensus"``: the protocol's critical
  path bounds it, not a busy resource (blocks in flight × the time each block's rounds,
  execution and write take in a row: FISCO 2.9's one block in flight, a WAN's round trips, a
  stall); else null.
- ``saturation.backlog_growth`` is the least-squares slope, over the window, of the backlog
  (submitted − resolved: a transaction is resolved at its block's first commit or, when
  rejected, at its submission; sampled just after each block commit) over the offered rate;
  ``saturated`` is a growth above :data:`BACKLOG_GROWTH_LIMIT` or TxPoolIsFull rejections
  above :data:`POOL_FULL_LIMIT` of the window's submissions.

Deterministic: figures are rounded to 4 decimals and ties break in node and lane order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fiscosim.node.txpool import REJECT_CODES, Reject

SATURATED = 0.9
"""A lane or link busy this fraction of the window or more is saturated (it names the bound)."""
BACKLOG_GROWTH_LIMIT = 0.01
"""A backlog growing faster than this fraction of the offered rate means the chain falls
behind."""
POOL_FULL_LIMIT = 0.001
"""TxPoolIsFull rejections above this fraction of the window's submissions mean saturation."""
BACKLOG_POINTS = 100
"""Time points of the backlog's least-squares slope where too few blocks commit in the window
(evenly spaced over it)."""
MIN_BLOCKS = 3
"""Block commits in the window needed to sample the backlog at them (:func:`saturation`)."""

LANE_KINDS = {
    "verifier": "verification",
    "txpool": "verification",
    "executor": "execution",
    "storage": "storage",
    "pbft": "consensus",
    "sealer": "consensus",
    "sync": "consensus",
    "rpc": "rpc",
    "light": "rpc",
    "uplink": "network",
    "downlink": "network",
    "loopback": "network",
}
"""The kind of resource each lane or link is (``bound_by``); an unknown lane is ``"other"``."""

LINKS = ("uplink", "downlink", "loopback")

_POOL_FULL = REJECT_CODES[Reject.TxPoolIsFull]


def kind_of(lane: str) -> str:
    """The kind of a lane or link, also when a group's prefix names it (``group1/pbft``)."""
    return LANE_KINDS.get(lane.rsplit("/", 1)[-1], "other")


def _machine(cpu: Any) -> Any:
    """The physical CPU under a node's CPU view (itself for a plain CPU)."""
    return cpu.machine() if hasattr(cpu, "machine") else cpu


def utilisation(entries: Sequence[tuple[str, Any, int]], network: Any, start_us: int,
                end_us: int) -> dict[str, Any]:
    """``{"window_s", "nodes", "max"}`` for nodes given as ``(name, cpu, net_id)``.

    ``cpu`` is the node's CPU or its view of a shared one (a group's, a host's share):
    only that view's lanes count, under their names in that view.
    """
    window = end_us - start_us
    nodes: dict[str, Any] = {}
    best: tuple[float, str, str, float | None] | None = None
    if window <= 0:
        return {"window_s": 0.0, "nodes": {}, "max": None}
    for name, cpu, net_id in entries:
        usage = cpu.window_usage()
        machine = _machine(cpu)
        lanes: dict[str, float] = {}
        occupied: dict[str, float] = {}
        threads: dict[str, float] = {}
        core_us = 0.0
        for lane in sorted(usage, key=lambda lane: (lane is None, lane or "")):
            work, busy, core = usage[lane]
            label = "other" if lane in (None, "~") else lane
            lanes[label] = round(min(1.0, work / window), 4)
            occupied[label] = round(min(1.0, busy / window), 4)
            if work > 0:
                threads[label] = round(core / work, 2)
            core_us += core
        entry: dict[str, Any] = {
            "cpu": round(min(1.0, core_us / (machine.cores * window)), 4),
            "lanes": lanes,
            "occupied": occupied,
        }
        if machine is not cpu:
            total = sum(u[2] for u in machine.window_usage().values())
            entry["host_cpu"] = round(min(1.0, total / (machine.cores * window)), 4)
        for link, busy in network.link_usage(net_id).items():
            entry[link] = round(min(1.0, busy / window), 4)
        nodes[name] = entry
        for resource, value in [*lanes.items(), *((k, entry[k]) for k in LINKS if k in entry)]:
            if best is None or value > best[0]:
                best = (value, name, resource, threads.get(resource))
    top = None
    if best is not None:
        value, name, resource, mean_threads = best
        top = {"resource": f"{name}.{resource}", "kind": kind_of(resource),
               "utilisation": value}
        if mean_threads is not None:
            # the mean threads its tasks ran on: 1 for a serial lane
            top["threads"] = mean_threads
    return {"window_s": round(window / 1e6, 6), "nodes": nodes, "max": top}


def bound_by(util: dict[str, Any], saturated: bool = False) -> str | None:
    """The kind of resource that bounds the run (module docstring), or None; ``saturated``:
    whether the run fell behind (:func:`saturation`)."""
    top = util.get("max")
    if top is not None and top["utilisation"] >= SATURATED:
        return top["kind"]
    for entry in util["nodes"].values():
        if max(entry["cpu"], entry.get("host_cpu", 0.0)) >= SATURATED:
            return "cpu"
        if any(busy >= SATURATED for busy in entry["occupied"].values()):
            return "cpu"  # a lane in progress all the window at less than full speed
    return "consensus" if saturated else None


def saturation(table: Any, commit_us_by_block: dict[int, int], start_us: int, end_us: int,
               offered_tps: float) -> dict[str, Any]:
    """``{"backlog_growth", "pool_full_ratio", "saturated"}`` (module docstring).

    A transaction leaves the backlog when its block is first committed, or, rejected, at its
    submission (the table keeps no rejection time; RPC rejections come within a verification
    of it). The backlog is sampled just after each block commit in the window: the backlog
    then is what the chain left behind, while between commits it climbs by a block's worth
    and drops back, a sawtooth that would tilt a slope over a few seconds by several percent.
    With fewer than :data:`MIN_BLOCKS` commits in the window (a stalled chain), it is sampled
    at :data:`BACKLOG_POINTS` even times instead.
    """
    window_s = (end_us - start_us) / 1e6
    submit = table.column("submit_time")
    block = table.column("commit_block")
    rejected = table.column("reject_reason") >= 0
    resolved = np.full(len(submit), -1, dtype=np.int64)
    on_chain = block >= 0
    if on_chain.any():
        top = int(block.max())
        commit = np.full(top + 1, -1, dtype=np.int64)
        for number, at in commit_us_by_block.items():
            if 0 <= number <= top:
                commit[number] = at
        resolved[on_chain] = commit[block[on_chain]]
    gone = (resolved < 0) & rejected & ~on_chain
    resolved[gone] = submit[gone]
    in_window = (submit >= start_us) & (submit < end_us)
    submitted = int(in_window.sum())
    pool_full = int((in_window & (table.column("reject_reason") == _POOL_FULL)).sum())
    growth = 0.0
    if window_s > 0 and offered_tps > 0 and len(submit):
        commits = np.unique(np.array([at for at in commit_us_by_block.values()
                                      if start_us <= at < end_us], dtype=np.int64))
        times = (commits if len(commits) >= MIN_BLOCKS
                 else np.linspace(start_us, end_us, BACKLOG_POINTS))
        arrived = np.searchsorted(np.sort(submit), times, side="right")
        left = np.searchsorted(np.sort(resolved[resolved >= 0]), times, side="right")
        backlog = (arrived - left).astype(np.float64)
        slope_per_us = np.polyfit(times.astype(np.float64) - start_us, backlog, 1)[0]
        growth = float(slope_per_us) * 1e6 / offered_tps
    ratio = pool_full / submitted if submitted else 0.0
    return {
        "backlog_growth": round(growth, 4) + 0.0,  # never -0.0
        "pool_full_ratio": round(ratio, 6),
        "saturated": bool(growth > BACKLOG_GROWTH_LIMIT or ratio > POOL_FULL_LIMIT),
    }
