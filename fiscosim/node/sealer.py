"""A node's sealer (docs/fisco-reference.md §2.5): packs pending transactions into proposals.

The core tells the sealer which block numbers this node leads (``SealRange``). It seals when
pending ≥ ``tx_count_limit``, or when something is pending and ``min_seal_time`` has passed
since it was told to seal or last sealed; never an empty block. Sealing takes the ``sealer``
lane's time, then the proposal goes to the core.

FISCO 2.x (docs/fisco2.md) differs in three ways: the ``min_seal_time`` clock starts when the
node is told to seal, which is when the block below is stored or a view is entered
(``m_lastConsensusTime``); with nothing pending for ``empty_block_us`` the leader seals an
empty block (which changes the view); and the most transactions it seals follows
:class:`BlockSizeControl` (``enable_dynamic_block_size``).

Talks to: the node context (below; it reads the core's view); :attr:`Sealer.propose` with
each proposal it builds (the runtime hands it to the core).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fiscosim.consensus import messages as msg
from fiscosim.node.context import NodeContext, Stage, unwired

_NO_TXS = np.empty(0, dtype=np.int64)


class BlockSizeControl:
    """FISCO 2.x's dynamic block size (``PBFTSealer::onTimeout``, ``onCommitBlock``,
    ``increaseMaxTxsCanSeal``, ``attempIncreaseTimeoutTx``; FB@v2.9.0
    `libconsensus/pbft/PBFTSealer.cpp`): a view timeout with a block in flight halves the most
    transactions a leader seals; each commit without a pending timeout grows it by half, up to
    the smallest size that timed out and at most ``tx_count_limit``.

    >>> size = BlockSizeControl(1000)
    >>> size.on_timeout(1000); size.can_seal
    500
    >>> size.on_commit(1, 500); size.can_seal   # the commit pays back the timeout
    500
    >>> size.on_commit(2, 500); size.can_seal   # 500 + 250, under the 1,000 that timed out
    750
    >>> size.on_commit(3, 750); size.on_commit(4, 750); size.can_seal
    1000
    """

    INCREASE_RATIO = 0.5
    """``m_blockSizeIncreaseRatio`` (FB@v2.9.0 `PBFTSealer.h`)."""

    __slots__ = ("_last_block", "_last_timeout_tx", "_max_no_timeout_tx", "_timeouts",
                 "can_seal", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.can_seal = limit
        """The most transactions the next block may hold (``m_maxBlockCanSeal``)."""
        self._last_timeout_tx = 0
        self._max_no_timeout_tx = 0
        self._timeouts = 0
        self._last_block = 0

    def on_timeout(self, sealing_txs: int) -> None:
        """A view timeout while a block of ``sealing_txs`` transactions was in flight."""
        self._timeouts += 1
        if sealing_txs > 0 and (self._last_timeout_tx == 0 or (
                self._last_timeout_tx > sealing_txs > self._max_no_timeout_tx)):
            self._last_timeout_tx = sealing_txs
        if self.can_seal > 2:
            self.can_seal //= 2

    def on_commit(self, number: int, sealing_txs: int) -> None:
        """Block ``number`` of ``sealing_txs`` transactions was stored."""
        if number <= self._last_block:
            return
        self._last_block = number
        if self._timeouts > 0:
            self._timeouts -= 1
            return
        if sealing_txs > 0 and self._max_no_timeout_tx < sealing_txs:
            self._max_no_timeout_tx = sealing_txs
        if self.can_seal >= self.limit:
            self.can_seal = self.limit
            return
        if self._last_timeout_tx <= self._max_no_timeout_tx:
            self._raise_timeout_bound()
        if self._last_timeout_tx != 0 and self.can_seal >= self._last_timeout_tx:
            return
        self._increase()

    def _raise_timeout_bound(self) -> None:
        """``attempIncreaseTimeoutTx``: a size that timed out once may work now (CPU noise)."""
        if self._last_timeout_tx >= self.limit:
            self._last_timeout_tx = self.limit
            return
        if self._max_no_timeout_tx == self.limit:
            self._last_timeout_tx = self._max_no_timeout_tx
            return
        if self._max_no_timeout_tx * 0.1 > 1:
            self._last_timeout_tx = int(self._max_no_timeout_tx * 1.1)
        else:
            self._last_timeout_tx *= 2
        self._last_timeout_tx = min(self._last_timeout_tx, self.limit)

    def _increase(self) -> None:
        grow = self.INCREASE_RATIO * self.can_seal
        self.can_seal += int(grow) if grow > 1 else 1
        if 0 < self._last_timeout_tx < self.can_seal:
            self.can_seal = self._last_timeout_tx
        if self.can_seal < self._max_no_timeout_tx:
            self.can_seal = self._max_no_timeout_tx
        self.can_seal = min(self.can_seal, self.limit)


class Sealer(Stage):
    """The sealing state of one node (FISCO's ``SealingManager``)."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.params = ctx.shared.params
        self.propose: Callable[[msg.Proposal], None] = unwired
        """Hands a sealed proposal to the core (set by the runtime)."""
        self._last_seal_time = 0
        self.block_size: BlockSizeControl | None = (
            BlockSizeControl(self.params.tx_count_limit) if self.params.dynamic_block_size
            else None)
        """2.x's dynamic block size, or None (3.x seals up to ``tx_count_limit``)."""
        self.reset()

    def reset(self) -> None:
        """Forgets the ranges and the sealing under way (a rebuilt core notifies again)."""
        self._next = 0
        self._end = -1
        self._check_at: int | None = None
        self._sealing = False

    def notify(self, start: int, end: int) -> None:
        """The core's ``SealRange``: this node leads blocks ``start``..``end``."""
        continues = start == self._end + 1 and self._next > self._end
        if not continues or self.params.execute_first:
            # Not a continuation of this node's previous range: the min_seal_time clock restarts
            # (SealingManager::resetSealingInfo). After a view change a range may also start at
            # or below the old one's end: the old range is dropped (reset, then renotify).
            self._last_seal_time = self.env.now
        if start <= self._end or start > self._next or continues:
            self._next = start
        self._end = end
        self.ctx.trace("seal_notified", start=start, end=end)
        self.maybe_seal()

    def maybe_seal(self) -> None:
        """Seals now if the rule allows, or checks again when ``min_seal_time`` is up."""
        pool = self.ctx.pool
        if self._sealing or self._next > self._end:
            return
        now = self.env.now
        if pool.pending == 0:
            empty_after = self.params.empty_block_us
            if empty_after:
                ready_at = self._last_seal_time + empty_after
                if now >= ready_at:
                    self._seal_empty(now)
                else:
                    self._check_again(ready_at)
            return
        ready_at = self._last_seal_time + self.params.min_seal_time_us
        if pool.pending >= self._most() or now >= ready_at:
            self._seal(now)
        else:
            self._check_again(ready_at)

    def _most(self) -> int:
        size = self.block_size
        return self.params.tx_count_limit if size is None else size.can_seal

    def _check_again(self, at: int) -> None:
        if self._check_at is None or self._check_at > at:
            self._check_at = at
            self.later(at, self._check)

    def _check(self) -> None:
        self._check_at = None
        self.maybe_seal()

    def _seal(self, now: int) -> None:
        number = self._next
        ids = self.ctx.pool.take(self._most(), number, now)
        if len(ids) == 0:
            return  # never an empty block (Sealer::submitProposal)
        self._sealing = True
        self._next += 1
        self._last_seal_time = now
        work = self.costs.seal(len(ids))
        done = self.cpu.run(now, work, lane="sealer")
        self.later(done, self._sealed, number, ids)

    def _seal_empty(self, now: int) -> None:
        """2.x: nothing pending since the last block or view change: an empty block, which
        the core broadcasts and which changes the view (``reachBlockIntervalTime``)."""
        number = self._next
        self._sealing = True
        self._next += 1
        self._last_seal_time = now
        done = self.cpu.run(now, self.costs.seal(0), lane="sealer")
        self.later(done, self._sealed, number, _NO_TXS)

    def _sealed(self, number: int, ids: np.ndarray) -> None:
        self._sealing = False
        ctx = self.ctx
        assert ctx.core is not None
        parent = ctx.proposal_hashes.get(number - 1, b"\0" * 32)
        timestamp_us = self.env.now
        proposal = msg.Proposal(
            index=number,
            view=ctx.core.view,
            leader=ctx.index,
            hash=msg.proposal_hash(number, parent, ids, timestamp_us, ctx.index),
            parent_hash=parent,
            tx_ids=ids,
            timestamp_us=timestamp_us,
        )
        if len(ids):
            ctx.proposal_hashes[number] = proposal.hash
            self.shared.on_seal(ctx, proposal)
        else:  # 2.x's empty block: never voted on, never a parent, never in the block log
            self.stats.empty_blocks += 1
        ctx.trace("seal", index=number, txs=len(ids))
        self.propose(proposal)
        self.maybe_seal()


__all__ = ["BlockSizeControl", "Sealer"]
