"""Open-loop clients: they submit transactions at a rate, whatever the chain does with them.

The other client modes (closed loop, java-sdk-demo's count under a QPS cap) are subclasses in
:mod:`fiscosim.workload.modes` that change only how many transactions a tick brings; what a
transaction is, and how a tick's batches are formed, is this module's for every mode.

Each client has its own random stream (spawned from the scenario's seed, docs/architecture.md rule
6). Time is cut into ticks (``workload.tick_ms``): the arrivals of one tick — a Poisson draw, or a
constant rate with the fractional remainder carried over — are allocated ids in the run-wide
:class:`~fiscosim.node.txtable.TxTable` and sent together to one node's RPC, the client's
targets taken in turn (clients sending to the same node in one tick share a batch,
:func:`emit_tick`). The tick is a modelling granularity: a transaction's submit time is the
moment its batch is sent, so latencies do not include the wait inside the tick. The batch
reaches the node's RPC one client hop later (``workload.client_latency_ms``; the world's
client loop delivers it).

A transaction's ``block_limit`` is the target node's block number + 500, as FISCO's SDKs set
it (docs/fisco-reference.md §2.1); its nonce is fresh (``nonce_owner`` = itself).

Each transaction also calls a contract method (``workload.contract``): the client draws the
method from the run's :class:`~fiscosim.contracts.MethodTable` and the account keys the
method takes (``accounts`` 0, 1 or 2) from :class:`ZipfAccounts` (``workload.account_skew``),
into the table's ``method``, ``account_a`` and ``account_b`` columns. These draws use a stream
of their own, spawned from the client's (``Generator.spawn``), never the client's stream
itself: adding them changed none of the draws runs made before (arrivals, senders, nonces,
tampering), so every earlier result is reproduced byte for byte.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fiscosim.contracts import MAX_ACCOUNT_SKEW
from fiscosim.node.txtable import TxTable

if TYPE_CHECKING:
    from fiscosim.contracts import MethodTable

PAIR_BLOCK = 8192
"""Account pairs a client draws at once for the common one-method workload (see
:meth:`OpenLoopClient.calls`)."""

SDK_BLOCK_LIMIT_RANGE = 500
"""``BLOCK_LIMIT_RANGE`` of the Java and C++ SDKs (docs/fisco-reference.md §2.1)."""

Submit = Callable[[int, np.ndarray], None]
"""``submit(target, ids)``: hands a batch of new transaction ids to node ``target``'s RPC."""


@functools.lru_cache(maxsize=16)
def _zipf_cdf(accounts: int, skew: float) -> np.ndarray:
    # Shared by every client of a run (one array of `accounts` floats, not one per client).
    weights = np.arange(1, accounts + 1, dtype=np.float64) ** -skew
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    cdf.flags.writeable = False
    return cdf


class ZipfAccounts:
    """Draws account ranks ``0 .. accounts - 1`` with a Zipf skew: rank k (1-based) with
    probability proportional to 1 / k^skew; ``skew`` 0 is uniform.

    Vectorised by inverse CDF: the CDF is computed once for (accounts, skew) and shared by the
    clients; a draw is one uniform number and a binary search per account.

    >>> rng = np.random.default_rng(7)
    >>> draws = ZipfAccounts(1000, 1.2).draw(rng, 100_000)
    >>> round(float(np.mean(draws == 0)), 2)  # 1 / H(1000, 1.2) = 0.231
    0.23
    """

    def __init__(self, accounts: int, skew: float = 0.0) -> None:
        if accounts < 1:
            raise ValueError("accounts must be at least 1")
        if not 0 <= skew <= MAX_ACCOUNT_SKEW:
            raise ValueError(f"account skew must be from 0 to {MAX_ACCOUNT_SKEW}")
        self.accounts = accounts
        self.skew = float(skew)
        self._cdf = _zipf_cdf(accounts, self.skew) if self.skew > 0 else None

    def share(self, rank: int) -> float:
        """The probability of rank ``rank`` (0-based) in one draw."""
        if self._cdf is None:
            return 1.0 / self.accounts
        return float(self._cdf[rank] - (self._cdf[rank - 1] if rank else 0.0))

    def ranks(self, uniform: np.ndarray) -> np.ndarray:
        """The account ranks (int32) of uniform numbers in [0, 1), by inverse CDF."""
        if self._cdf is None:
            # u < 1 and accounts < 2^53, so u * accounts rounds below accounts: no clipping.
            return (uniform * self.accounts).astype(np.int32)
        # cdf[-1] is exactly 1 and the uniforms are below 1: every index is a rank.
        return np.searchsorted(self._cdf, uniform, side="right").astype(np.int32)

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` account ranks (int32), independently."""
        return self.ranks(rng.random(count))

    def redraw_clashes(self, rng: np.random.Generator, first: np.ndarray, second: np.ndarray,
                       rows: np.ndarray) -> None:
        """Makes ``second[rows]`` differ from ``first[rows]``: where the two are equal, the
        second is drawn again (as :meth:`draw` draws) until it differs, so a pair is two draws
        without replacement, never the first shifted. Needs at least two accounts."""
        if len(rows) and self.accounts < 2:
            raise ValueError("two distinct accounts need workload.accounts >= 2")
        while len(rows):
            second[rows] = self.draw(rng, len(rows))
            rows = rows[second[rows] == first[rows]]

    def draw_other(self, rng: np.random.Generator, first: np.ndarray) -> np.ndarray:
        """For each rank in ``first``, a second rank distinct from it (:meth:`redraw_clashes`)."""
        if self.accounts < 2:
            raise ValueError("two distinct accounts need workload.accounts >= 2")
        second = self.draw(rng, len(first))
        self.redraw_clashes(rng, first, second, np.flatnonzero(second == first))
        return second


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
        methods: MethodTable | None = None,
        account_skew: float = 0.0,
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
        self.methods = methods
        """The run's contract methods; None: the rows' ``method`` and accounts stay -1."""
        self.calls_rng = rng.spawn(1)[0]
        """The stream of the contract calls: spawned from the client's, so the client's own
        draws are the ones runs made before contract calls existed."""
        self.account_draws = ZipfAccounts(accounts, account_skew)
        self._uniforms_per_call = 0
        self._one_pair = (methods is not None and methods.only >= 0 and account_skew == 0
                          and methods.most_accounts == 2 and accounts >= 2)
        self._pairs: tuple[np.ndarray, np.ndarray] = (np.empty(0, np.int32),
                                                      np.empty(0, np.int32))
        self._pairs_used = 0
        if methods is not None:
            self._uniforms_per_call = (methods.only < 0) + methods.most_accounts
        if methods is not None and accounts < 2:
            pairs = np.flatnonzero((methods.accounts == 2) & (methods.probability > 0))
            if len(pairs):
                raise ValueError(f"{methods.names[pairs[0]]} takes two distinct accounts and "
                                 "there is only one")
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
        method = account_a = account_b = None
        if self.methods is not None:
            method, account_a, account_b = self.calls(count)
        table.submit(ids, now, size, sender, nonce, height + SDK_BLOCK_LIMIT_RANGE,
                     self._last_target, corpus_row, tampered, method, account_a, account_b)

    def calls(self, count: int) -> tuple[np.ndarray | int, np.ndarray, np.ndarray]:
        """The contract calls of ``count`` transactions, from :attr:`calls_rng`: method ids
        (int16; one int when the run calls one method of two accounts, the common case) and the
        two account columns (int32, -1 where the method takes fewer).

        One block of uniform numbers per batch: a column of them for the methods (none when
        one method has all the weight), one per account a method may take; a second account
        equal to the first is drawn again (:meth:`ZipfAccounts.redraw_clashes`)."""
        methods = self.methods
        assert methods is not None
        rng, draws, width = self.calls_rng, self.account_draws, self._uniforms_per_call
        if self._one_pair:
            # The common case: one method of two uniform accounts. Batches are small (one per
            # client per tick), so the pairs are drawn ahead in blocks of PAIR_BLOCK and handed
            # out in order: a slice per batch instead of a handful of numpy calls. The values a
            # row gets depend only on the stream and how many rows came before: deterministic.
            start = self._pairs_used
            if start + count > len(self._pairs[0]):
                kept = (self._pairs[0][start:], self._pairs[1][start:])
                size = max(PAIR_BLOCK, count)
                pair = rng.integers(0, self.accounts, size=2 * size, dtype=np.int32)
                fresh_a, fresh_b = pair[:size], pair[size:]
                clash = np.flatnonzero(fresh_a == fresh_b)
                if len(clash):
                    draws.redraw_clashes(rng, fresh_a, fresh_b, clash)
                self._pairs = (np.concatenate([kept[0], fresh_a]),
                               np.concatenate([kept[1], fresh_b]))
                start = 0
            self._pairs_used = start + count
            return (methods.only, self._pairs[0][start:start + count],
                    self._pairs[1][start:start + count])
        uniform = rng.random(count * width) if width else None
        used = 0
        if methods.only >= 0:
            method = np.full(count, methods.only, dtype=np.int16)
        else:
            method = methods.ids(uniform[:count])
            used = count
        most = methods.most_accounts
        if most == 0:
            none = np.full(count, -1, dtype=np.int32)
            return method, none, none.copy()
        ranks = draws.ranks(uniform[used:])
        account_a = ranks[:count]
        # Masks only where the methods drawn take different numbers of accounts.
        need = methods.accounts[method] if methods.least_accounts < most else None
        if need is not None:
            account_a[need < 1] = -1
        if most == 1:
            return method, account_a, np.full(count, -1, dtype=np.int32)
        account_b = ranks[count:]
        clash = account_a == account_b
        if need is not None:
            two = need == 2
            account_b[~two] = -1
            clash &= two
        draws.redraw_clashes(rng, account_a, account_b, np.flatnonzero(clash))
        return method, account_a, account_b


def emit_tick(
    clients: Sequence[OpenLoopClient],
    tick_us: int,
    now: int,
    table: TxTable,
    height_of: Callable[[int], int],
    owners: list[np.ndarray] | None = None,
) -> list[tuple[int, np.ndarray]]:
    """One tick of every client: ``[(target node, ids)]``, one batch per target node.

    Clients whose batches go to the same node in this tick share one batch (their ids are
    allocated together, each client filling its own slice): it is one arrival at that node's
    RPC either way, and one push instead of several. ``owners``, when given, gets one array
    per batch, in the same order: the ``index`` of the client of each id (int32), which
    closed-loop bookkeeping needs (:class:`fiscosim.workload.modes.Backlog`).
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
        if owners is not None:
            owners.append(np.repeat(np.array([client.index for client, _ in members], np.int32),
                                    [count for _, count in members]))
    return batches
