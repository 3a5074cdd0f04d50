"""Execution and commit (docs/fisco-reference.md §2.8, §2.9): the ledger side of a block.

The core says when a block is executed (``Execute``: the serial ``executor`` lane, per
transaction cost) and when it is committed (``CommitBlock``: the ``storage`` lane). Execution
yields the block's executed hash; the commit writes the block into the ledger (the node
context's chain), takes its transactions out of the pool and records it (the run's
``on_commit``: receipts, the block log, the safety checker).

Talks to: the node context (below); :attr:`Execution.on_executed` and
:attr:`Execution.on_committed` (the runtime hands them to the core, announces the block and
wakes the sealer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fiscosim.consensus import messages as msg
from fiscosim.node.context import NodeContext, Stage, unwired


class Execution(Stage):
    """The executor and the storage commit of one node."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.on_executed: Callable[[int, bytes], None] = unwired
        """``on_executed(index, executed_hash)`` (set by the runtime)."""
        self.on_committed: Callable[[int, bytes], None] = unwired
        """``on_committed(index, executed_hash)``: the block is in the ledger (set by the
        runtime)."""

    def execute(self, proposal: Any) -> None:
        """The core's ``Execute``."""
        work = self.costs.execute_block(len(proposal.tx_ids))
        done = self.cpu.run(self.env.now, work, lane="executor")
        self.ctx.trace("execute", index=proposal.index, txs=len(proposal.tx_ids))
        self.later(done, self._executed, proposal)

    def _executed(self, proposal: Any) -> None:
        executed = msg.executed_hash(proposal.hash)
        self.stats.executed_blocks += 1
        self.on_executed(proposal.index, executed)

    def commit(self, action: Any) -> None:
        """The core's ``CommitBlock``."""
        work = self.costs.storage_commit(len(action.proposal.tx_ids))
        done = self.cpu.run(self.env.now, work, lane="storage")
        self.later(done, self._committed, action)

    def _committed(self, action: Any) -> None:
        ctx = self.ctx
        proposal = action.proposal
        if action.index <= ctx.height:
            return  # block sync already wrote it
        ctx.store_block(action.index, proposal, action.executed_hash, action.signatures)
        ctx.last_commit_at = self.env.now
        self.shared.on_commit(ctx, action.index, proposal, action.executed_hash)
        ctx.trace("commit", index=action.index, txs=len(proposal.tx_ids))
        self.on_committed(action.index, action.executed_hash)


__all__ = ["Execution"]
