"""Execution and commit (docs/fisco-reference.md §2.6, §2.8, §2.9): the ledger side of a block.

The core says when a block is executed (``Execute``: the serial ``executor`` lane, per
transaction cost) and when it is committed (``CommitBlock``: the ``storage`` lane). Execution
builds the executed block with :func:`fiscosim.chain.block.executed_block` on top of the
block below it, as FISCO's scheduler does: the receipts (a
:class:`~fiscosim.chain.receipt.ReceiptBatch`), the header's transaction root, receipt root
(a Merkle root over the receipts' hashes) and state root, and the header's hash (keccak256 or
SM3 over the encoded header, docs/fisco-reference.md §2.6), which is the executed hash the
node's CheckPoint signs, the block hash blocks.csv shows, and the parent hash of the next
block. The commit writes the block into
the ledger (the node context's chain), takes its transactions out of the pool and records it
(the run's ``on_commit``: receipts, the block log, the safety checker).

The transaction root is the Merkle root of the transactions' hashes whenever the run reads it:
light nodes check proofs against it, and in real-crypto mode the hashes are those of really
signed transactions. Otherwise (:attr:`~fiscosim.node.context.Shared.merkle_txs_root` false)
nothing checks it, and the header holds the proposal's hash, which commits to the same
transactions: a Merkle tree of 1,000 hashes costs about 1.5 ms of this host's time per block
(1,000 keccak256 calls), a third more wall time at 50,000 TPS for a value no one reads.

What is modelled here, until execution models contracts and state: every transaction succeeds
and reports no gas (``gasUsed`` 0), and the state root is the hash of the parent's state root
and the proposal's hash (the state after a block is a function of the state before it and of
the transactions, which the proposal hash commits to).

Talks to: the node context (below); :attr:`Execution.on_executed` and
:attr:`Execution.on_committed` (the runtime hands them to the core, announces the block and
wakes the sealer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fiscosim.chain.block import Block, executed_block, txs_root
from fiscosim.chain.receipt import ReceiptBatch
from fiscosim.node.context import LedgerEntry, NodeContext, Stage, unwired


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
        block = self.block_for(proposal)
        self.ctx.executed[proposal.index] = block
        self.stats.executed_blocks += 1
        self.on_executed(proposal.index, block.hash)

    def block_for(self, proposal: Any) -> Block:
        """``proposal`` executed on top of this node's block below it."""
        ctx = self.ctx
        parent = ctx.block_at(proposal.index - 1)
        if parent is None:
            raise RuntimeError(f"{ctx.name} executes block {proposal.index} without block "
                               f"{proposal.index - 1}")
        shared = self.shared
        key = (proposal.hash, parent.hash)
        block = shared.built_blocks.get(key)
        if block is None:
            suite = shared.suite
            if shared.merkle_txs_root:
                transactions_root = txs_root(shared.tx_hashes(proposal.tx_ids), suite)
            else:
                # Nothing in this run reads the root (see the module docstring): the proposal's
                # digest of the transaction ids commits to them instead.
                transactions_root = proposal.hash
            block = executed_block(
                parent,
                timestamp_ms=proposal.timestamp_us // 1000,
                sealer=proposal.leader,
                transactions_root=transactions_root,
                receipts=ReceiptBatch.uniform(len(proposal.tx_ids), proposal.index),
                # Modelled (see the module docstring): a function of the state before and the
                # transactions, which the proposal's hash commits to.
                state_root=suite.hash(parent.header.state_root + proposal.hash),
                suite=suite,
            )
            shared.built_blocks[key] = block
        return block

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
        block = ctx.executed.get(action.index)
        if block is None or block.hash != action.executed_hash:
            raise RuntimeError(f"{ctx.name} commits block {action.index} with hash "
                               f"{action.executed_hash.hex()[:16]}, which it did not execute")
        entry = LedgerEntry(block, proposal, tuple(action.signatures))
        ctx.store_block(action.index, entry)
        ctx.last_commit_at = self.env.now
        self.shared.on_commit(ctx, action.index, entry)
        ctx.trace("commit", index=action.index, txs=len(proposal.tx_ids))
        self.on_committed(action.index, action.executed_hash)


__all__ = ["Execution"]
