"""What a run will need before it starts: its peak memory and its events, from the scenario alone.

A scenario's ranges bound each field; what they allow *together* (a million TPS for a day, a
thousand sealers in a full mesh) can still need terabytes. :func:`estimate_run` adds up what
dominates a run's resident memory, and :func:`check_fits` refuses, in one line naming the
largest part and what to reduce, a run whose estimate exceeds the memory this machine has
available. :func:`fiscosim.scenario.load_scenario` calls it for every scenario file it loads.

The model (trace off; every figure measured on CPython 3.11, numpy 2, 64-bit Linux, from the
peak RSS of runs of 4 to 200 nodes and 10,000 to 3,000,000 transactions, tests/test_estimate.py
keeps it within 2x of the measured peak):

- **the interpreter and libraries**: :data:`BASE_BYTES`, what ``fiscosim run`` holds before
  the world is built (Python, numpy, simpy, networkx, pydantic, rich);
- **the transaction table** (:class:`~fiscosim.node.txtable.TxTable`): :data:`TX_ROW_BYTES`
  per row of its capacity (1.2x the expected submissions), plus :data:`TX_OTHER_BYTES` per
  transaction for what a run keeps or makes per transaction besides (the block proposals'
  id arrays, the summary's masks over the whole table), plus each full node's txpool state,
  one byte per transaction id, grown by doubling;
- **network links**: :data:`LINK_BYTES` per directed link that carries traffic (its latency
  and loss streams, each a numpy Generator with a 256-draw buffer, its queue, the graph's
  edge): n(n-1) in a full mesh, which is what makes 1,000 nodes cost ~5 GB;
- **block records**: :data:`VOTE_BYTES` per block, full node and sealer (the signer lists
  each node keeps in its ledger, the votes of the proposals in flight);
- with ``network.votes: aggregate``: links of :data:`SHARED_LINK_BYTES` (no latency stream of
  their own), block records of :data:`AGGREGATE_VOTE_BYTES` (a quorum's signers; no vote
  messages kept), and the vote phases' sender x receiver arrival matrices
  (:data:`PHASES_IN_FLIGHT` of them, plus one of last arrivals; fiscosim.net.aggregate);
- **the signed corpus** in real crypto mode: the signed rows a run needs
  (:mod:`fiscosim.workload.corpus`), twice over while it is built.

Events (simpy's plus the network's deliveries, what the summary's ``events`` counts) are a
rougher guide, within 0.8-1.2x on the measured runs but not at overload (fewer blocks are
committed than offered): a tick per group, each batch's verification and its pushes to the
other full nodes, and three broadcasts of votes per block.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiscosim.schema import Scenario, ScenarioError
from fiscosim.schema.errors import short

BASE_BYTES = 68 << 20
"""Resident memory of ``fiscosim run`` before the world is built (measured: 66-70 MB)."""
TX_ROW_BYTES = 83
"""Bytes of one row of the transaction table: its 16 columns' item sizes (a test keeps this
equal to :data:`fiscosim.node.txtable._COLUMNS`; importing it here would import numpy)."""
TABLE_HEADROOM = 1.2
"""The table is allocated for 1.2x the expected submissions (fiscosim.sim.world)."""
TX_OTHER_BYTES = 50
"""Per submitted transaction, besides its table row and pool states (measured: 43-54 bytes)."""
LINK_BYTES = 5_400
"""Per directed link with traffic (measured: 5.3-5.4 KB from 50 to 200 nodes)."""
SHARED_LINK_BYTES = 1_200
"""Per directed link when latencies are drawn per sender (``network.votes: aggregate``):
traced 870 bytes a link and 136 for its graph edge at 300 nodes, against 4,380 + 136 for a
link with its own stream, whose measured share of the peak is LINK_BYTES: scaled alike."""
AGGREGATE_VOTE_BYTES = 8
"""Per block, full node and sealer with aggregated votes: a reference in the ledger's signer
list (1,000 sealers, 84 blocks: the peak was 1.75 GB, 1.2 GB of it the links)."""
PHASES_IN_FLIGHT = 8
"""Vote phases (n x n int64 matrices) alive at once with aggregated votes: three a block, a
block or two in flight, and phases kept until their last vote."""
ROUTE_BYTES = 250
"""Per (source, destination) pair routed through relays in a random topology."""
VOTE_BYTES = 60
"""Per block, full node and sealer (measured: ~6 KB per block and node at 100 sealers)."""
NODE_BYTES = 20_000
"""Per node and group: its runtime, PBFT core, txpool and CPU objects."""
SIGNATURE_BYTES = {"secp256k1": 65, "sm2": 128}
CORPUS_ROW_BYTES = 32 + 4 + 8 + 4
"""A signed corpus row besides its signature: hash, sender, nonce, size."""

EVENTS_PER_BATCH = 8.0
"""Events of a client batch at its RPC node: arrival, verification, admission, the pushes."""
EVENTS_PER_PUSH = 1.5
"""Events of a batch pushed to one more full node: the delivery and its verification."""
EVENTS_PER_AGGREGATE_VOTE = 0.012
"""With ``network.votes: aggregate``, events per vote message counted: a wake per quorum
instant and the actions of a quorum, not a delivery each (1,000 sealers, 84 blocks: ~4.2
million events besides the pushes for 252 million votes)."""
EVENTS_PER_VOTE = 0.85
"""Events per consensus message sent (a least-squares fit over the measured runs: deliveries
to nodes that already moved on cost no further event)."""


@dataclass(frozen=True)
class Part:
    """One part of a run's memory: what it is, its bytes, and what makes it that large."""

    what: str
    bytes: int
    driver: str


@dataclass(frozen=True)
class RunEstimate:
    """What a run is expected to need. ``parts``, largest first, add up to ``peak_bytes``."""

    sealers: int
    nodes: int
    duration_s: float
    transactions: int
    events: int
    peak_bytes: int
    parts: tuple[Part, ...]

    def describe(self) -> str:
        """One line, e.g. ``4 sealers, 10 s, ~5,000 transactions, ~14,000 events, ~72 MB peak``."""
        others = self.nodes - self.sealers
        who = f"{self.sealers:,} sealers" + (f" + {others:,} other nodes" if others else "")
        return (f"{who}, {self.duration_s:,g} s, ~{_rounded(self.transactions)} transactions, "
                f"~{_rounded(self.events)} events, ~{format_bytes(self.peak_bytes)} peak")


def estimate_run(scenario: Scenario) -> RunEstimate:
    """The peak memory and events of running ``scenario`` (see the module docstring)."""
    specs = scenario.nodes.specs()
    n = len(specs)
    groups = scenario.group_specs()
    workload_s = scenario.duration_s
    aggregate = scenario.network.votes == "aggregate"
    table = corpus = votes = signed = 0.0
    transactions = events = blocks_total = 0.0
    for group in groups:
        workload = group.workload
        full = len(group.sealers) + len(group.observers)
        sealers = len(group.sealers)
        expected = workload.rate_tps * workload_s
        capacity = max(1024, int(expected * TABLE_HEADROOM))
        table += capacity * TX_ROW_BYTES + expected * TX_OTHER_BYTES
        table += full * _pool_bytes(expected) + (full + len(group.light)) * NODE_BYTES
        transactions += expected
        # Blocks come while transactions arrive, and one or two more to drain the pools.
        blocks = _blocks(workload.rate_tps, scenario) * workload_s + (workload.rate_tps > 0)
        votes += blocks * full * sealers * (AGGREGATE_VOTE_BYTES if aggregate else VOTE_BYTES)
        blocks_total += blocks
        events += _events(workload, group, blocks, workload_s, aggregate)
        if scenario.chain.crypto_mode == "real":
            rows = expected + 6 * math.sqrt(expected) + 1000
            row = CORPUS_ROW_BYTES + SIGNATURE_BYTES[scenario.chain.crypto_suite]
            if 2 * rows * row > corpus:  # groups share one corpus: the busiest group's
                corpus, signed = 2 * rows * row, rows
    topology = scenario.network.topology
    if topology.kind == "random" and topology.degree is not None:
        count = n * (topology.degree + 1)
        links = count * LINK_BYTES + n * n * ROUTE_BYTES
    else:
        count = n * (n - 1)
        links = count * (SHARED_LINK_BYTES if aggregate else LINK_BYTES)
    sealers_all = len({name for group in groups for name in group.sealers})
    parts = [
        Part("the interpreter and libraries", BASE_BYTES, "what an empty run holds"),
        Part("the transaction table", int(table), f"~{_rounded(transactions)} transactions"),
        Part("network links", int(links), f"{count:,} links between {n:,} nodes"),
        Part("block records", int(votes),
             f"~{_rounded(blocks_total)} blocks signed by {sealers_all:,} sealers"),
    ]
    if aggregate:
        parts.append(Part("vote phases", (PHASES_IN_FLIGHT + 1) * n * n * 8,
                          f"{PHASES_IN_FLIGHT + 1} matrices of {n:,} x {n:,} arrival times"))
    if corpus:
        parts.append(Part("the signed corpus", int(corpus),
                          f"~{_rounded(signed)} signed transactions"))
    ordered = tuple(sorted(parts, key=lambda part: -part.bytes))
    return RunEstimate(
        sealers=sealers_all,
        nodes=n,
        duration_s=scenario.duration_s,
        transactions=int(transactions),
        events=int(events),
        peak_bytes=sum(part.bytes for part in ordered),
        parts=ordered,
    )


def _pool_bytes(expected: float) -> float:
    """A txpool's state: one byte per transaction id, grown by doubling from 1,024."""
    if expected <= 1024:
        return 1024
    return 1024 * 2 ** math.ceil(math.log2(expected / 1024))


def _blocks(rate_tps: float, scenario: Scenario) -> float:
    """Blocks a second: a leader seals when a block is full or min_seal_time has passed with
    transactions pending; none without transactions."""
    if rate_tps <= 0:
        return 0.0
    return max(rate_tps / scenario.chain.tx_count_limit, 1000 / scenario.chain.min_seal_time_ms)


def _events(workload: Any, group: Any, blocks: float, workload_s: float,
            aggregate: bool = False) -> float:
    ticks = workload_s * 1000 / workload.tick_ms
    full = len(group.sealers) + len(group.observers)
    sealers = len(group.sealers)
    if isinstance(workload.targets, list):
        targets = len(workload.targets)
    else:
        targets = sealers if workload.targets == "sealers" else full + len(group.light)
    # A tick sends a batch per target its clients picked (none when nothing arrives).
    per_tick = min(workload.clients, targets, workload.rate_tps * workload.tick_ms / 1000)
    batches = ticks * per_tick
    # Each batch: verified by its RPC node, pushed to every other full node, verified there.
    batch_events = batches * (EVENTS_PER_BATCH + EVENTS_PER_PUSH * max(0, full - 1))
    # Each block: a proposal to all, then Prepare, Commit and CheckPoint from every sealer to
    # every other; observers and light nodes are sent the block. A query is three messages.
    block_messages = blocks * (full + 3 * sealers * max(0, sealers - 1)
                               + (full - sealers + len(group.light)) * 2)
    queries = workload.query_rate * workload_s * 3
    if aggregate:
        votes = blocks * 3 * sealers * max(0, sealers - 1)
        return (ticks + batch_events + EVENTS_PER_AGGREGATE_VOTE * votes
                + EVENTS_PER_VOTE * (block_messages - votes + queries))
    return ticks + batch_events + EVENTS_PER_VOTE * (block_messages + queries)


def available_bytes() -> int | None:
    """Memory this process may still use: the least of Linux's MemAvailable and the limit
    left in its cgroup (v2 or v1); the physical memory elsewhere; None when unknown."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit != "max" and int(limit) < 1 << 60:
                found.append(max(0, int(limit) - int(Path(usage_file).read_text().strip())))
        except (OSError, ValueError):
            pass
    if not found:
        try:
            found.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            return None
    return min(found)


# What to reduce for each part: (the field the error names, the fix).
_REDUCE = {
    "the transaction table": ("workload.rate_tps", "reduce workload.rate_tps or duration_s"),
    "network links": ("nodes", "use fewer nodes: a full mesh of n nodes holds n(n-1) links of "
                      "~5 KB"),
    "block records": ("duration_s", "shorten duration_s or use fewer sealers"),
    "the signed corpus": ("chain.crypto_mode", "reduce workload.rate_tps or duration_s, or use "
                          "chain.crypto_mode: modelled"),
    "the interpreter and libraries": ("", "free some memory: this is what an empty run needs"),
}


_SIZE_FIELDS = ("workload.rate_tps", "duration_s", "nodes.count", "nodes.list", "groups",
                "chain.crypto_mode")
"""Overrides that change a run's size: the error says which one asked for it."""


def check_fits(scenario: Scenario, source: str = "", overrides: Sequence[tuple[str, str]] = (),
               available: int | None = None) -> RunEstimate:
    """The run's estimate; raises ScenarioError when its peak exceeds ``available`` bytes
    (default: :func:`available_bytes`; nothing is refused when that is unknown)."""
    estimate = estimate_run(scenario)
    if available is None:
        available = available_bytes()
    if available is None or estimate.peak_bytes <= available:
        return estimate
    largest = estimate.parts[0]
    field, fix = _REDUCE[largest.what]
    if field == "nodes":
        field = "nodes.count" if scenario.nodes.count is not None else "nodes.list"
        if scenario.network.topology.kind == "random":
            fix = "use fewer nodes or a lower network.topology.degree"
    elif field == "workload.rate_tps" and scenario.groups is not None:
        # The busiest group's own workload, when it has one, is the rate to reduce.
        rates = [(g.workload or scenario.workload).rate_tps for g in scenario.groups]
        busiest = rates.index(max(rates))
        if scenario.groups[busiest].workload is not None:
            field = f"groups.{busiest}.workload.rate_tps"
    for path, text in overrides:
        if path == field or path in _SIZE_FIELDS:
            fix = f"{fix}; --set {short(text)} asked for it"
            break
    raise ScenarioError(
        source or f"<scenario {scenario.name}>", field or "scenario",
        f"the run would need ~{format_bytes(estimate.peak_bytes)} of memory and "
        f"{format_bytes(available)} is available; the largest part: {largest.what}, "
        f"~{format_bytes(largest.bytes)} for {largest.driver}", fix)


def format_bytes(size: float) -> str:
    """Decimal units, two significant figures above 10: ``73 MB``, ``2.6 GB``, ``7.6 TB``."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            value = size / scale
            return f"{value:,.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{int(size)} bytes"


def _rounded(count: float) -> str:
    """Two significant figures, with thousands separators: 4,925 -> 4,900."""
    if count < 100:
        return f"{round(count):,}"
    digits = math.floor(math.log10(count)) - 1
    return f"{int(round(count, -digits)):,}"


__all__ = ["Part", "RunEstimate", "available_bytes", "check_fits", "estimate_run",
           "format_bytes"]
