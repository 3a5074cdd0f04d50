"""Open-loop clients: they submit transactions at a rate, whatever the chain does with them.

Each client has its own random stream (spawned from the scenario's seed, docs/architecture.md rule
6). Time is cut into ticks (``workload.tick_ms``): the arrivals of one tick — a Poisson draw, or a
constant rate with the fractional remainder carried over — are allocated ids in the run-wide
:class:`~fiscosim.node.txtable.TxTable` and sent together to one node's RPC, the client's
targets taken in turn (clients sending to the same node in one tick share a batch,
:func:`emit_tick`). The tick is a modelling granularity: a transaction's submit time is the
moment its batch is sent, so latencies do not include the wait inside the tick.

A transaction's ``block_limit`` is the target node's block number + 500, as FISCO's SDKs set
it (docs/fisco-reference.md §2.1); its nonce is fresh (``nonce_owner`` = itself).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fiscosim.node.txtable import TxTable

SDK_BLOCK_LIMIT_RANGE = 500
"""``BLOCK_LIMIT_RANGE`` of the Java and C++ SDKs (docs/fisco-reference.md §2.1)."""

Submit = Callable[[int, np.ndarray], None]
"""``submit(target, ids)``: hands a batch of new transaction ids to node ``target``'s RPC."""


class OpenLoopClient:
    """One client: its rate, arrival process, targets and random stream."""

    def __init__(
        self,
        index: int,
        rate_tps: float,
        arrivals: str,
        targets: Sequence[int],
        tx_size: int,
        accounts: int,
        rng: np.random.Generator,
        invalid_fraction: float = 0.0,
        corpus: Any = None,
    ) -> None:
        if not targets:
            raise ValueError("a client needs at least one target node")
        self.index = index
        self.rate_tps = rate_tps
        self.arrivals = arrivals
        self.targets = list(targets)
        self.tx_size = tx_size
        self.accounts = accounts
        self.rng = rng
        self.invalid_fraction = invalid_fraction
        self.corpus = corpus
        """Real-crypto mode: transaction id i is row i of this signed corpus."""
        self._carry = 0.0
        self._sent = 0
        self._last_target = -1

    def arrivals_in(self, tick_us: int) -> int:
        """How many transactions arrive in the next tick."""
        expected = self.rate_tps * tick_us / 1e6
        if self.arrivals == "poisson":
            return int(self.rng.poisson(expected))
        self._carry += expected
        count = int(self._carry)
        self._carry -= count
        return count

    def next_target(self) -> int:
        """The node this client's next batch goes to (its targets in turn)."""
        target = self.targets[(self.index + self._sent) % len(self.targets)]
        self._sent += 1
        return target

    def fill(self, ids: np.ndarray, now: int, table: TxTable, height: int) -> None:
        """Writes this client's transactions ``ids`` (already allocated) into the table."""
        count = len(ids)
        corpus_row = None
        if self.corpus is not None:
            if ids[-1] >= len(self.corpus.sizes):
                raise RuntimeError(
                    f"the signed corpus has {len(self.corpus.sizes):,} transactions and the run "
                    "needs more; this is a bug in corpus_size_for, please report it"
                )
            size: np.ndarray | int = self.corpus.sizes[ids]
            sender = self.corpus.senders[ids]
            corpus_row = ids
        else:
            size = self.tx_size
            sender = self.rng.integers(0, self.accounts, size=count, dtype=np.int32)
        nonce = self.rng.integers(0, 2**63 - 1, size=count, dtype=np.int64)
        tampered = (self.rng.random(count) < self.invalid_fraction
                    if self.invalid_fraction > 0 else None)
        table.submit(ids, now, size, sender, nonce, height + SDK_BLOCK_LIMIT_RANGE,
                     self._last_target, corpus_row, tampered)


def emit_tick(
    clients: Sequence[OpenLoopClient],
    tick_us: int,
    now: int,
    table: TxTable,
    height_of: Callable[[int], int],
) -> list[tuple[int, np.ndarray]]:
    """One tick of every client: ``[(target node, ids)]``, one batch per target node.

    Clients whose batches go to the same node in this tick share one batch (their ids are
    allocated together, each client filling its own slice): it is one arrival at that node's
    RPC either way, and one push instead of several.
    """
    groups: dict[int, list[tuple[OpenLoopClient, int]]] = {}
    for client in clients:
        count = client.arrivals_in(tick_us)
        if count:
            target = client.next_target()
            client._last_target = target
            groups.setdefault(target, []).append((client, count))
    batches = []
    for target, members in groups.items():
        ids = table.allocate(sum(count for _, count in members))
        height = height_of(target)
        offset = 0
        for client, count in members:
            client.fill(ids[offset : offset + count], now, table, height)
            offset += count
        batches.append((target, ids))
    return batches
