"""A node's transaction pool: FISCO BCOS 3.x admission, the pending queue, sealing and removal.

Admission follows ``MemoryStorage::verifyAndSubmitTransaction`` (docs/fisco-reference.md §2.2) in
its order: duplicate → pool limit (FISCO up to 3.12; RPC and pushed transactions alike) →
signature → nonce (pool and the last ``block_limit`` blocks, §2.3) → block limit window.
Rejections are counted under FISCO's own status names. The pool holds transaction *ids* (see
:mod:`fiscosim.node.txtable`): its state is one int8 per id, the pending queue a list of id
arrays in arrival order, so admitting, sealing and removing a thousand transactions are a few
array operations.

The pool decides; it does not keep time. Admission is two calls around the node's work:
:meth:`TxPool.gate` when a batch reaches the pool (the duplicate and pool-limit checks, which
say how many transactions the node must verify), then :meth:`TxPool.admit` when the node's CPU
has decoded, hashed and verified them. A proposal's missing transactions are imported by
:meth:`TxPool.mark_sealed`, whatever the limit (FISCO's enforced import).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np

from fiscosim.node.txtable import TxTable


class TxState(IntEnum):
    UNKNOWN = 0
    PENDING = 1
    """In the pool, not in any proposal (FISCO's unsealed map)."""
    SEALED = 2
    """In a proposal this node sealed or accepted (FISCO's sealed map, §2.7)."""
    COMMITTED = 3
    REJECTED = 4


class Reject(IntEnum):
    """FISCO's transaction status codes for rejections (``TransactionStatus.h``,
    docs/fisco-reference.md §2.2)."""

    NonceCheckFail = 10000
    BlockLimitCheckFail = 10001
    TxPoolIsFull = 10002
    Malformed = 10003
    AlreadyInTxPool = 10004
    TxAlreadyInChain = 10005
    InvalidChainId = 10006
    InvalidGroupId = 10007
    InvalidSignature = 10008
    TransactionPoolTimeout = 10010
    RpcUnreachable = -1
    """Not a FISCO status: the client's SDK could not reach the RPC node (it was down)."""


# Plain ints for the hot paths: an IntEnum member lookup goes through the enum metaclass and
# cost more than the array operations themselves in a 100-node run.
UNKNOWN, PENDING, SEALED, COMMITTED, REJECTED = (int(state) for state in TxState)

REJECT_CODES = {reason: index for index, reason in enumerate(Reject)}
"""Reason → small integer stored in :attr:`TxTable.reject_reason`."""
REJECT_BY_CODE = list(Reject)
_POOL_FULL = REJECT_CODES[Reject.TxPoolIsFull]
POOL_FULL_CODE = _POOL_FULL
"""FISCO's TxPoolIsFull status code, as the transaction table records it."""
ALL_FULL = np.ones(0, dtype=bool)
"""The mask :meth:`TxPool.gate` returns for a batch refused whole, every row new and the pool
full (compared by identity; a real mask is never this object)."""


class TxPool:
    """The pool of one node. See the module docstring for the rules and their sources."""

    def __init__(
        self,
        table: TxTable,
        *,
        limit: int | None = 15_000,
        block_limit: int = 1000,
        expiry_us: int = 600_000_000,
    ) -> None:
        self.table = table
        self.limit = limit
        """New transactions are refused (TxPoolIsFull) while the pool holds this many, sealed
        ones included; None: no limit (FISCO from 3.13, docs/fisco-reference.md §2.2)."""
        self.reserved = 0
        """Slots of transactions past :meth:`gate` whose verification is under way: FISCO
        checks each transaction's limit when its turn comes, after those before it were
        inserted, so a batch still being verified counts as if it were in the pool."""
        self.block_limit = block_limit
        self.expiry_us = expiry_us
        self.state = np.zeros(1024, dtype=np.int8)
        self._queue: list[np.ndarray] = []
        self.pending = 0
        self.sealed = 0
        self.rejected = np.zeros(len(Reject), dtype=np.int64)
        """Rejections counted by reason (index: position in :class:`Reject`)."""
        self.since_id = 0
        """Ids below this were submitted before this pool existed (a restarted node's pool):
        it can never have been asked to admit them, which tells the summary a transaction lost
        in a crash from one still being verified (:mod:`fiscosim.metrics.summary`)."""

    def fresh(self) -> TxPool:
        """An empty pool with the same settings (a restarted node's: the pool is in memory)."""
        pool = TxPool(self.table, limit=self.limit, block_limit=self.block_limit,
                      expiry_us=self.expiry_us)
        # Ids are allocated in submission order, so the table's count now is the first id a
        # client can submit to the restarted node.
        pool.since_id = self.table.count
        return pool

    # -- sizes ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.pending + self.sealed

    def _ensure(self, ids: np.ndarray) -> None:
        if len(ids) and ids.max() >= len(self.state):
            grown = np.zeros(max(len(self.state) * 2, int(ids.max()) + 1), dtype=np.int8)
            grown[: len(self.state)] = self.state
            self.state = grown

    def states(self, ids: np.ndarray) -> np.ndarray:
        """This pool's state of each id (UNKNOWN for ids it never saw)."""
        self._ensure(ids)
        return self.state[ids]

    # -- admission -----------------------------------------------------------------------------
    def gate(self, ids: np.ndarray, facts: Any = None) -> tuple[int, np.ndarray | None]:
        """FISCO's first two admission checks, when a batch reaches the pool and before any of
        it is verified (``verifyAndSubmitTransaction``, docs/fisco-reference.md §2.2).

        The duplicate check: a transaction the pool holds (or saw committed) goes no further.
        A batch every row of which is new and finds the pool full gets :data:`ALL_FULL` for its
        mask (:meth:`refuse_all` then, not :meth:`admit`).
        The pool limit, for every other one: while the pool holds :attr:`limit` transactions,
        sealed ones included (FISCO's ``m_txsTable.size()``), it is refused with TxPoolIsFull
        and costs no verification. Returns (how many rows passed both: the ones to verify and
        insert; a mask of the rows refused as full, or None when there are none), to hand to
        :meth:`admit` when the verification is done. The passed rows' slots are
        :attr:`reserved` until then. ``facts`` lets an ordinary batch skip the per-row work.
        """
        new = None  # which rows are new to the pool; None: every row
        if facts is not None:
            count, stop = facts.count, facts.first + facts.count
            if stop > len(self.state):
                self._ensure(ids)
            window = self.state[facts.first : stop]
            # count_nonzero, not any(): no ufunc reduction on the path every batch takes
            if np.count_nonzero(window):
                new = (window == UNKNOWN) | (window == REJECTED)
        else:
            count = len(ids)
            state = self.states(ids)
            if np.count_nonzero(state):
                new = (state == UNKNOWN) | (state == REJECTED)
        fresh = count if new is None else int(np.count_nonzero(new))
        full = None
        if self.limit is not None:
            room = max(0, self.limit - self.pending - self.sealed - self.reserved)
            if fresh > room:
                # In arrival order, as FISCO checks them one by one: the first `room` new rows
                # get in, the others find the pool full.
                if new is None and room == 0:
                    return 0, ALL_FULL  # a full pool's usual batch: no mask to build
                if new is None:
                    full = np.ones(count, dtype=bool)
                    full[:room] = False
                else:
                    full = new.copy()
                    full[np.flatnonzero(new)[:room]] = False
                fresh = room
        self.reserved += fresh
        return fresh, full

    def gated_rows(self, ids: np.ndarray, full: np.ndarray | None) -> np.ndarray:
        """The rows :meth:`gate` just passed (to be verified), as indices into ``ids``: the new
        ones not refused as full (``full``: gate's mask). Called before :meth:`admit`, while the
        pool's states are still those gate saw."""
        state = self.states(ids)
        new = (state == UNKNOWN) | (state == REJECTED)
        if full is not None:
            new &= ~full
        return np.flatnonzero(new)

    def refuse_all(self, ids: np.ndarray) -> None:
        """Every row of a batch :meth:`gate` found the pool full for (:data:`ALL_FULL`): counted,
        nothing stored (FISCO keeps no trace of a refused transaction)."""
        self.rejected[_POOL_FULL] += len(ids)

    def admit(
        self,
        ids: np.ndarray,
        signature_ok: np.ndarray | None,
        height: int,
        now: int,
        facts: Any = None,
        full: np.ndarray | None = None,
        reserved: int = 0,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Admits what passes FISCO's checks; returns (admitted ids, reasons of the rejected).

        ``signature_ok`` is the verification verdict per row (the real core's, or the modelled
        one; None: all valid). ``height`` is this node's committed block number. ``full`` and
        ``reserved`` are what :meth:`gate` returned for the batch: the rows refused as full
        (TxPoolIsFull, whatever else holds of them) and the slots it reserved, given back now.
        Rejected rows get a :class:`Reject` index in the second array (-1 for admitted rows);
        the second array is None when every row was admitted. ``facts`` (a
        :class:`~fiscosim.node.messages.BatchFacts`) lets an ordinary batch skip the per-row
        checks; the outcome is the same.
        """
        self.reserved -= reserved
        if full is not None and full.all():
            # A full pool's usual batch: nothing of it got past the limit, nothing is stored
            # (FISCO keeps no trace of a refused transaction).
            self.rejected[_POOL_FULL] += len(ids)
            return ids[:0], np.full(len(ids), _POOL_FULL, dtype=np.int16)
        if (
            full is None
            and facts is not None
            and facts.clean
            and facts.limit_lo > height
            and facts.limit_hi <= height + self.block_limit
            and (signature_ok is None or signature_ok.all())
        ):
            first, stop = facts.first, facts.first + facts.count
            if stop > len(self.state):
                self._ensure(ids)
            window = self.state[first:stop]
            # count_nonzero, not any(): no ufunc reduction on the path every batch takes
            if not np.count_nonzero(window):
                window[:] = PENDING
                self._queue.append(ids)
                self.pending += facts.count
                return ids, None
        if signature_ok is None:
            signature_ok = np.ones(len(ids), dtype=bool)
        self._ensure(ids)
        table = self.table
        state = self.state[ids]
        owners = table.nonce_owner[ids]
        limits = table.block_limit[ids]
        if (
            full is None
            and not state.any()
            and signature_ok.all()
            and (owners == ids).all()
            and limits.min() > height
            and limits.max() <= height + self.block_limit
        ):
            # The common case, fresh valid transactions: one pass of cheap checks above.
            self.state[ids] = PENDING
            self._queue.append(ids)
            self.pending += len(ids)
            return ids, None
        return self._admit_rows(ids, signature_ok, state, owners, limits, height, full)

    def _admit_rows(self, ids: np.ndarray, signature_ok: np.ndarray, state: np.ndarray,
                    owners: np.ndarray, limits: np.ndarray, height: int,
                    full: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`admit` row by row, in FISCO's order of checks: a batch with some row that
        fails one (``state``, ``owners``, ``limits``: the rows' pool states, nonce owners and
        block limits; ``full``: the rows :meth:`gate` refused)."""
        table = self.table
        reasons = np.full(len(ids), -1, dtype=np.int16)
        if full is not None:
            reasons[full] = _POOL_FULL
        in_pool = (state == PENDING) | (state == SEALED)
        reasons[(reasons < 0) & in_pool] = REJECT_CODES[Reject.AlreadyInTxPool]
        reasons[(reasons < 0) & (state == COMMITTED)] = REJECT_CODES[
            Reject.TxAlreadyInChain
        ]
        reasons[(reasons < 0) & ~signature_ok] = REJECT_CODES[Reject.InvalidSignature]

        replay = (owners != ids) & (owners >= 0)
        if replay.any():
            self._ensure(owners)
            owner_state = self.state[owners]
            owner_block = table.commit_block[owners]
            live = (owner_state == PENDING) | (owner_state == SEALED)
            recent = (owner_state == COMMITTED) & (owner_block > height - self.block_limit)
            reasons[(reasons < 0) & replay & (live | recent)] = REJECT_CODES[Reject.NonceCheckFail]

        window = (limits > height) & (limits <= height + self.block_limit)
        reasons[(reasons < 0) & ~window] = REJECT_CODES[Reject.BlockLimitCheckFail]

        accepted = reasons < 0
        admitted = ids[accepted]
        rejected = ~accepted & ~in_pool & (state != COMMITTED)
        if full is not None:
            rejected &= ~full  # refused before any check: the pool keeps no trace of them
        self.state[ids[rejected]] = REJECTED
        if len(admitted):
            self.state[admitted] = PENDING
            self._queue.append(admitted)
            self.pending += len(admitted)
        self._count(reasons)
        return admitted, reasons

    def _count(self, reasons: np.ndarray) -> None:
        counted = reasons[reasons >= 0]
        if len(counted):
            self.rejected += np.bincount(counted, minlength=len(Reject))

    # -- sealing -------------------------------------------------------------------------------
    def take(self, limit: int, next_block: int, now: int) -> np.ndarray:
        """Up to ``limit`` pending ids in arrival order, marked sealed (``Sealer`` fetch, §2.5).

        Expired transactions (older than ``txs_expiration_time``) and those whose block limit
        no longer admits ``next_block`` are dropped on the way, as FISCO's sealer skips them.
        """
        taken: list[np.ndarray] = []
        count = 0
        table = self.table
        while self._queue and count < limit:
            chunk = self._queue[0]
            live = chunk[self.state[chunk] == PENDING]
            expired = now - table.submit_time[live] > self.expiry_us
            too_late = table.block_limit[live] < next_block
            dropped = expired | too_late
            if dropped.any():
                self._drop(live[expired], Reject.TransactionPoolTimeout)
                self._drop(live[too_late & ~expired], Reject.BlockLimitCheckFail)
                live = live[~dropped]
            need = limit - count
            if len(live) > need:
                live, rest = live[:need], live[need:]
                self._queue[0] = rest
            else:
                self._queue.pop(0)
            # Sealed at once: an id can sit in two chunks (unsealed back to the front while
            # its first chunk still holds it), and must not be taken twice.
            self.state[live] = SEALED
            taken.append(live)
            count += len(live)
        ids = np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)
        self.pending -= len(ids)
        self.sealed += len(ids)
        return ids

    def _drop(self, ids: np.ndarray, reason: Reject) -> None:
        """Drops pending ids this pool will never seal; the table keeps the reason so that the
        summary can count them as expired rather than pending (the client is not told)."""
        if len(ids):
            code = REJECT_CODES[reason]
            self.state[ids] = REJECTED
            self.pending -= len(ids)
            self.rejected[code] += len(ids)
            self.table.drop(ids, code)

    def missing(self, ids: np.ndarray) -> np.ndarray:
        """The ids of a proposal this pool does not hold (to fetch from the leader, §2.7)."""
        self._ensure(ids)
        state = self.state[ids]
        return ids[(state != PENDING) & (state != SEALED)]

    def mark_sealed(self, ids: np.ndarray) -> None:
        """Marks a verified proposal's transactions sealed (``asyncResetTxsFlag``, §2.7).

        Ids the pool did not hold (fetched from the leader) are imported as sealed.
        """
        self._ensure(ids)
        state = self.state[ids]
        was_pending = int(np.count_nonzero(state == PENDING))
        new = int(np.count_nonzero(state != SEALED))
        self.state[ids] = SEALED
        self.pending -= was_pending
        self.sealed += new

    def unseal(self, ids: np.ndarray) -> None:
        """Puts an abandoned proposal's transactions back to pending (docs/fisco-reference.md §2.7:
        "on view change/failed proposal they are reset to unsealed"), at the front of the queue so
        they are sealed first. Transactions already committed or never held are left alone."""
        self._ensure(ids)
        back = ids[self.state[ids] == SEALED]
        if len(back):
            self.state[back] = PENDING
            self.sealed -= len(back)
            self.pending += len(back)
            self._queue.insert(0, back)

    def remove_committed(self, ids: np.ndarray) -> None:
        """Removes a committed block's transactions (``batchRemoveSealedTxs``, §2.9)."""
        self._ensure(ids)
        state = self.state[ids]
        self.pending -= int(np.count_nonzero(state == PENDING))
        self.sealed -= int(np.count_nonzero(state == SEALED))
        self.state[ids] = COMMITTED

    def rejections(self) -> dict[str, int]:
        """Rejections so far by FISCO's status name (only reasons that occurred)."""
        return {reason.name: int(n) for reason, n in zip(Reject, self.rejected, strict=True) if n}
