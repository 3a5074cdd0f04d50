"""A node's transaction pool: FISCO BCOS 3.x admission, the pending queue, sealing and removal.

Admission follows ``MemoryStorage::verifyAndSubmitTransaction`` (FISCO.md §2.2) in its order:
duplicate → signature → nonce (pool and the last ``block_limit`` blocks, §2.3) → block limit
window → pool limit (RPC transactions only). Rejections are counted under FISCO's own status
names. The pool holds transaction *ids* (see :mod:`fiscosim.workload.table`): its state is one
int8 per id, the pending queue a list of id arrays in arrival order, so admitting, sealing and
removing a thousand transactions are a few array operations.

The pool decides; it does not keep time. The node runtime charges the verification time to the
node's CPU and calls :meth:`TxPool.admit` when that work is done.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from fiscosim.workload.table import TxTable


class TxState(IntEnum):
    UNKNOWN = 0
    PENDING = 1
    """In the pool, not in any proposal (FISCO's unsealed map)."""
    SEALED = 2
    """In a proposal this node sealed or accepted (FISCO's sealed map, §2.7)."""
    COMMITTED = 3
    REJECTED = 4


class Reject(IntEnum):
    """FISCO's transaction status codes for rejections (``TransactionStatus.h``, FISCO.md §2.2)."""

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


REJECT_CODES = {reason: index for index, reason in enumerate(Reject)}
"""Reason → small integer stored in :attr:`TxTable.reject_reason`."""
REJECT_BY_CODE = list(Reject)


class TxPool:
    """The pool of one node. See the module docstring for the rules and their sources."""

    def __init__(
        self,
        table: TxTable,
        *,
        limit: int = 15_000,
        block_limit: int = 1000,
        expiry_us: int = 600_000_000,
    ) -> None:
        self.table = table
        self.limit = limit
        self.block_limit = block_limit
        self.expiry_us = expiry_us
        self.state = np.zeros(1024, dtype=np.int8)
        self._queue: list[np.ndarray] = []
        self.pending = 0
        self.sealed = 0
        self.rejected = np.zeros(len(Reject), dtype=np.int64)
        """Rejections counted by reason (index: position in :class:`Reject`)."""

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
    def admit(
        self,
        ids: np.ndarray,
        signature_ok: np.ndarray,
        height: int,
        now: int,
        from_rpc: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Admits what passes FISCO's checks; returns (admitted ids, reasons of the rejected).

        ``signature_ok`` is the verification verdict per row (the real core's, or the modelled
        one). ``height`` is this node's committed block number. Rejected rows get a
        :class:`Reject` index in the second array (-1 for admitted rows).
        """
        self._ensure(ids)
        table = self.table
        reasons = np.full(len(ids), -1, dtype=np.int16)
        state = self.state[ids]
        in_pool = (state == TxState.PENDING) | (state == TxState.SEALED)
        reasons[in_pool] = REJECT_CODES[Reject.AlreadyInTxPool]
        reasons[(reasons < 0) & (state == TxState.COMMITTED)] = REJECT_CODES[
            Reject.TxAlreadyInChain
        ]
        reasons[(reasons < 0) & ~signature_ok] = REJECT_CODES[Reject.InvalidSignature]

        owners = table.nonce_owner[ids]
        replay = (owners != ids) & (owners >= 0)
        if replay.any():
            self._ensure(owners)
            owner_state = self.state[owners]
            owner_block = table.commit_block[owners]
            live = (owner_state == TxState.PENDING) | (owner_state == TxState.SEALED)
            recent = (owner_state == TxState.COMMITTED) & (owner_block > height - self.block_limit)
            reasons[(reasons < 0) & replay & (live | recent)] = REJECT_CODES[Reject.NonceCheckFail]

        limits = table.block_limit[ids]
        window = (limits > height) & (limits <= height + self.block_limit)
        reasons[(reasons < 0) & ~window] = REJECT_CODES[Reject.BlockLimitCheckFail]

        accepted = reasons < 0
        if from_rpc:
            # FISCO enforces the pool limit for RPC transactions only (checkPoolLimit, §2.2).
            room = max(0, self.limit - len(self))
            over = np.flatnonzero(accepted)[room:]
            reasons[over] = REJECT_CODES[Reject.TxPoolIsFull]
            accepted[over] = False

        admitted = ids[accepted]
        rejected = ~accepted & ~in_pool & (state != TxState.COMMITTED)
        self.state[ids[rejected]] = TxState.REJECTED
        if len(admitted):
            self.state[admitted] = TxState.PENDING
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
            live = chunk[self.state[chunk] == TxState.PENDING]
            expired = now - table.submit_time[live] > self.expiry_us
            too_late = table.block_limit[live] < next_block
            dropped = expired | too_late
            if dropped.any():
                self._drop(live[expired], Reject.TransactionPoolTimeout)
                self._drop(live[too_late & ~expired], Reject.BlockLimitCheckFail)
                live = live[~dropped]
            need = limit - count
            if len(live) > need:
                taken.append(live[:need])
                self._queue[0] = live[need:]
                count = limit
                break
            taken.append(live)
            count += len(live)
            self._queue.pop(0)
        ids = np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)
        self.state[ids] = TxState.SEALED
        self.pending -= len(ids)
        self.sealed += len(ids)
        return ids

    def _drop(self, ids: np.ndarray, reason: Reject) -> None:
        if len(ids):
            self.state[ids] = TxState.REJECTED
            self.pending -= len(ids)
            self.rejected[REJECT_CODES[reason]] += len(ids)

    def missing(self, ids: np.ndarray) -> np.ndarray:
        """The ids of a proposal this pool does not hold (to fetch from the leader, §2.7)."""
        self._ensure(ids)
        state = self.state[ids]
        return ids[(state != TxState.PENDING) & (state != TxState.SEALED)]

    def mark_sealed(self, ids: np.ndarray) -> None:
        """Marks a verified proposal's transactions sealed (``asyncResetTxsFlag``, §2.7).

        Ids the pool did not hold (fetched from the leader) are imported as sealed.
        """
        self._ensure(ids)
        state = self.state[ids]
        was_pending = int(np.count_nonzero(state == TxState.PENDING))
        new = int(np.count_nonzero(state != TxState.SEALED))
        self.state[ids] = TxState.SEALED
        self.pending -= was_pending
        self.sealed += new

    def remove_committed(self, ids: np.ndarray) -> None:
        """Removes a committed block's transactions (``batchRemoveSealedTxs``, §2.9)."""
        self._ensure(ids)
        state = self.state[ids]
        self.pending -= int(np.count_nonzero(state == TxState.PENDING))
        self.sealed -= int(np.count_nonzero(state == TxState.SEALED))
        self.state[ids] = TxState.COMMITTED

    def rejections(self) -> dict[str, int]:
        """Rejections so far by FISCO's status name (only reasons that occurred)."""
        return {reason.name: int(n) for reason, n in zip(Reject, self.rejected, strict=True) if n}
