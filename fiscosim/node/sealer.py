"""A node's sealer (docs/fisco-reference.md §2.5): packs pending transactions into proposals.

The core tells the sealer which block numbers this node leads (``SealRange``). It seals when
pending ≥ ``tx_count_limit``, or when something is pending and ``min_seal_time`` has passed
since it was told to seal or last sealed; never an empty block. Sealing takes the ``sealer``
lane's time, then the proposal goes to the core.

Talks to: the node context (below; it reads the core's view); :attr:`Sealer.propose` with
each proposal it builds (the runtime hands it to the core).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fiscosim.consensus import messages as msg
from fiscosim.node.context import NodeContext, Stage, unwired


class Sealer(Stage):
    """The sealing state of one node (FISCO's ``SealingManager``)."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.params = ctx.shared.params
        self.propose: Callable[[msg.Proposal], None] = unwired
        """Hands a sealed proposal to the core (set by the runtime)."""
        self._last_seal_time = 0
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
        if not continues:
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
        if self._sealing or self._next > self._end or pool.pending == 0:
            return
        now = self.env.now
        ready_at = self._last_seal_time + self.params.min_seal_time_us
        if pool.pending >= self.params.tx_count_limit or now >= ready_at:
            self._seal(now)
        elif self._check_at is None or self._check_at > ready_at:
            self._check_at = ready_at
            self.later(ready_at, self._check)

    def _check(self) -> None:
        self._check_at = None
        self.maybe_seal()

    def _seal(self, now: int) -> None:
        number = self._next
        ids = self.ctx.pool.take(self.params.tx_count_limit, number, now)
        if len(ids) == 0:
            return  # never an empty block (Sealer::submitProposal)
        self._sealing = True
        self._next += 1
        self._last_seal_time = now
        work = self.costs.seal(len(ids))
        done = self.cpu.run(now, work, lane="sealer")
        self.later(done, self._sealed, number, ids)

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
        ctx.proposal_hashes[number] = proposal.hash
        self.shared.on_seal(ctx, proposal)
        ctx.trace("seal", index=number, txs=len(ids))
        self.propose(proposal)
        self.maybe_seal()


__all__ = ["Sealer"]
