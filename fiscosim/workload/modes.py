"""Client modes: when clients send, as FISCO BCOS's benchmarking tools decide it (docs/clients.md).

``workload.mode`` picks one:

- ``open`` — :class:`~fiscosim.workload.clients.OpenLoopClient`: a rate, Poisson or constant,
  whatever the chain does (Caliper's fixed-rate controller).
- ``closed`` — :class:`ClosedLoopClient` with the group's :class:`Backlog`: each client keeps
  ``outstanding`` transactions in flight and sends one more for each that completes (Caliper's
  fixed-backlog and fixed-load controllers).
- ``sdk_demo`` — :class:`SdkDemoClient`: ``total_txs`` transactions paced evenly at
  ``rate_tps`` at most, then no more (java-sdk-demo's PerformanceOk and its siblings: a count
  and a Guava ``RateLimiter``).

Each mode changes only how many transactions a client's tick brings (``arrivals_in``); what the
transactions are and how they are batched is :mod:`fiscosim.workload.clients`'s, the same
draws from the same streams in every mode.

A closed-loop client learns that a transaction completed from the run-wide table, once per tick
and for every client at once (:meth:`Backlog.settle`): no event or Python object per
transaction. A receipt reaches it ``hop`` after its RPC node committed the block
(``receipt_time`` + hop). A rejection's time is not recorded in the table, so the client counts
one that the table shows at its tick if it was sent at least two hops before (the batch's way
there and the answer's way back). The world's client loop reads the table one hop after the
tick (it wakes when the tick's batches arrive), so a rejection may be counted up to two hops
early, or up to a tick late: the tick is the finer error at the default hop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fiscosim.node.txtable import TxTable
from fiscosim.workload.clients import OpenLoopClient

RATE_EPSILON = 1e-12
"""Relative slack when an sdk_demo client turns elapsed time × rate into a count: the float
product of a whole count can land a hair below it, which would hold one transaction back a
tick (and at the last tick, for good)."""


class ClosedLoopClient(OpenLoopClient):
    """A client that keeps :attr:`outstanding` transactions in flight: its tick sends as many
    as :attr:`free` says (all of them at the first tick), and the group's :class:`Backlog`
    frees one for each that completes."""

    def __init__(self, *, outstanding: int, **kwargs: Any) -> None:
        super().__init__(rate_tps=0.0, arrivals="constant", **kwargs)
        self.outstanding = outstanding
        self.free = outstanding
        """Transactions this client may send at its next tick."""

    def arrivals_in(self, tick_us: int) -> int:
        count, self.free = self.free, 0
        return count


class SdkDemoClient(OpenLoopClient):
    """A client that sends :attr:`total` transactions at :attr:`rate_tps` at most, paced
    evenly (a rate limiter), then nothing: by the end of its k-th tick it has sent
    ⌊k · tick · rate⌋ of them, or all."""

    def __init__(self, *, total: int, **kwargs: Any) -> None:
        super().__init__(arrivals="constant", **kwargs)
        self.total = total
        self.sent_txs = 0
        self._ticks = 0

    def arrivals_in(self, tick_us: int) -> int:
        # From the elapsed time, not by adding each tick's share, so no error accumulates.
        self._ticks += 1
        due = int(self._ticks * tick_us * self.rate_tps / 1e6 * (1 + RATE_EPSILON))
        count = min(due, self.total) - self.sent_txs
        self.sent_txs += count
        return count

    @property
    def finished(self) -> bool:
        """Whether the whole count is sent."""
        return self.sent_txs >= self.total


class Backlog:
    """The transactions a group's closed-loop clients have in flight, as columns: ids, the
    owning client's index, in send order. See the module docstring for when a transaction
    counts as completed."""

    def __init__(self, clients: Sequence[ClosedLoopClient], hop_us: int) -> None:
        self.clients = list(clients)
        self.hop_us = hop_us
        self.ids = np.empty(0, dtype=np.int64)
        self.owner = np.empty(0, dtype=np.int32)

    def in_flight(self) -> np.ndarray:
        """Transactions each client has in flight (by client index)."""
        return np.bincount(self.owner, minlength=len(self.clients))

    def settle(self, table: TxTable, now: int) -> None:
        """Frees a slot of its client for each transaction whose answer has reached it by
        ``now``, and forgets those transactions."""
        ids = self.ids
        if not len(ids):
            return
        hop = self.hop_us
        receipt = table.receipt_time[ids]
        done = (receipt >= 0) & (receipt <= now - hop)
        refused = np.flatnonzero(table.reject_reason[ids] >= 0)
        if len(refused):
            done[refused[table.submit_time[ids[refused]] <= now - 2 * hop]] = True
        if not done.any():
            return
        counts = np.bincount(self.owner[done], minlength=len(self.clients))
        clients = self.clients
        for index in np.flatnonzero(counts).tolist():
            clients[index].free += int(counts[index])
        keep = ~done
        self.ids = ids[keep]
        self.owner = self.owner[keep]

    def track(self, batches: Sequence[tuple[int, np.ndarray]],
              owners: Sequence[np.ndarray]) -> None:
        """Adds a tick's batches (as :func:`~fiscosim.workload.clients.emit_tick` returned
        them, with the owners it filled in)."""
        if not batches:
            return
        self.ids = np.concatenate([self.ids, *(ids for _, ids in batches)])
        self.owner = np.concatenate([self.owner, *owners])


def build_clients(workload: Any, targets: Sequence[int], rngs: Sequence[np.random.Generator],
                  corpus: Any = None, methods: Any = None) -> list[OpenLoopClient]:
    """The clients of ``workload`` (a ``WorkloadConfig``), one per random stream in ``rngs``,
    of its mode's class. The rate (or the count) is shared evenly: the first clients take
    the remainder of a count that does not divide."""
    count = len(rngs)
    shared: dict[str, Any] = dict(targets=targets, tx_size=workload.tx_size_bytes,
                                  accounts=workload.accounts,
                                  invalid_fraction=workload.invalid_fraction, corpus=corpus,
                                  methods=methods, account_skew=workload.account_skew)
    if workload.mode == "closed":
        return [ClosedLoopClient(index=i, rng=rng, outstanding=workload.backlog, **shared)
                for i, rng in enumerate(rngs)]
    rate = workload.rate_tps / count
    if workload.mode == "sdk_demo":
        each, extra = divmod(workload.total_txs, count)
        return [SdkDemoClient(index=i, rng=rng, rate_tps=rate, total=each + (i < extra),
                              **shared) for i, rng in enumerate(rngs)]
    return [OpenLoopClient(index=i, rng=rng, rate_tps=rate, arrivals=workload.arrivals,
                           **shared) for i, rng in enumerate(rngs)]
