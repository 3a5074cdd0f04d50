"""Execution and commit (docs/fisco-reference.md §2.6, §2.8, §2.9): the ledger side of a block.

The core says when a block is executed (``Execute``) and when it is committed (``CommitBlock``:
the ``storage`` lane). Executing a block keeps the node's ``executor`` lane busy for its
transactions' contract calls: each call costs what its contract model says for its method
(:class:`fiscosim.contracts.MethodTable`, or ``chain.execution_us_per_tx`` for all), and
:mod:`fiscosim.execution` schedules them as FISCO does: one after another by default
(``is_serial_execute``), or the parallel contracts' calls as a DAG over the node's cores and
the rest by DMC. The executor's work goes to the node's CPU spread over as many threads as
the schedule keeps busy, so it competes with verification for the same cores.

Execution then builds the executed block with :func:`fiscosim.chain.block.executed_block` on
top of the block below it, as FISCO's scheduler does: the receipts (a
:class:`~fiscosim.chain.receipt.ReceiptBatch`: each call's gas from its method, status
success), the header's transaction root, receipt root and state root, and the header's hash
(keccak256 or SM3 over the encoded header, docs/fisco-reference.md §2.6), which is the executed
hash the node's CheckPoint signs, the block hash blocks.csv shows, and the parent hash of the
next block. The commit writes the block into the ledger (the node context's chain), takes its
transactions out of the pool and records it (the run's ``on_commit``: receipts, the block log,
the safety checker).

The roots are FISCO's Merkle roots whenever the run reads them: light nodes check proofs
against them, and in real-crypto mode the transaction hashes are those of really signed
transactions. Otherwise (:attr:`~fiscosim.node.context.Shared.merkle_roots` false) nothing
checks them, and the header holds one-hash commitments to the same data instead: the
proposal's hash for the transactions, :meth:`~fiscosim.chain.receipt.ReceiptBatch.digest`
for the receipts. A Merkle tree of 1,000 distinct hashes costs about 1.5 ms of this host's
time per block (1,000 keccak256 calls), a third more wall time at 50,000 TPS.

Modelled: the state root is the hash of the parent's state root and the proposal's hash (the
state after a block is a function of the state before it and of the transactions, which the
proposal hash commits to); every call succeeds.

Talks to: the node context (below); :attr:`Execution.on_executed` and
:attr:`Execution.on_committed` (the runtime hands them to the core, announces the block and
wakes the sealer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fiscosim.chain.block import Block, executed_block, txs_root
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
        self._ahead: dict[int, bytes] = {}
        """2.x: block number → hash of the proposal executed before the Sign."""
        self._waiting: dict[int, list[tuple[Any, Callable[[Any, bool], None]]]] = {}
        """2.x: parent number → filled proposals waiting for their parent to be stored."""

    def execute(self, proposal: Any) -> None:
        """The core's ``Execute``. A block this node executed before its Prepare (2.x,
        :meth:`execute_before_sign`) is executed already: the core hears so at once."""
        if self._ahead and self._ahead.pop(proposal.index, None) == proposal.hash:
            self.later(self.env.now, self._report, proposal.index)
            return
        self.later(self._charge(proposal), self._executed, proposal)

    def _charge(self, proposal: Any) -> int:
        """Puts ``proposal``'s execution on the executor lane; returns when it is done."""
        costs = self.costs
        plan = self.shared.execution_plan(proposal, costs.cores)
        work = costs.execute_block(plan.work_us, plan.txs, plan.state_reads, plan.state_writes)
        done = self.cpu.run(self.env.now, work, parallelism=plan.busy, lane="executor")
        self.ctx.trace("execute", index=proposal.index, txs=len(proposal.tx_ids), until=done)
        return done

    def _store(self, proposal: Any) -> Block:
        """The executed block of ``proposal``, kept as this node's executed block there."""
        block = self.block_for(proposal)
        self.ctx.executed[proposal.index] = block
        self.stats.executed_blocks += 1
        return block

    def _executed(self, proposal: Any) -> None:
        self.ctx.trace("executed", index=proposal.index, txs=len(proposal.tx_ids))
        self.on_executed(proposal.index, self._store(proposal).hash)

    def _report(self, index: int) -> None:
        block = self.ctx.executed.get(index)
        if block is not None:
            self.on_executed(index, block.hash)

    def execute_before_sign(self, proposal: Any, then: Callable[[Any, bool], None]) -> None:
        """FISCO 2.x: a filled proposal is executed before the node signs it (``execBlock`` in
        ``handlePrepareMsg``, docs/fisco-reference.md §1.8); ``then(proposal, True)`` follows.
        It executes on top of this node's ledger: a proposal whose parent is not stored here
        yet waits until it is (2.x keeps a PrepareReq above its height + 1 as a future block,
        ``isValidPrepare``, ``handleFutureBlock``), never on an executed block a view change
        may still have abandoned."""
        if self.ctx.height < proposal.index - 1:
            self._waiting.setdefault(proposal.index - 1, []).append((proposal, then))
            return
        self.later(self._charge(proposal), self._executed_ahead, proposal, then)

    def _executed_ahead(self, proposal: Any, then: Callable[[Any, bool], None]) -> None:
        self._store(proposal)
        self._ahead[proposal.index] = proposal.hash
        then(proposal, True)

    def resume_up_to(self, height: int) -> None:
        """Blocks up to ``height`` are stored (committed here or synced): the proposals
        waiting for them execute."""
        if self._waiting:
            for parent in sorted(p for p in self._waiting if p <= height):
                for waiting in self._waiting.pop(parent):
                    self.execute_before_sign(*waiting)

    def reset(self) -> None:
        """Forgets what was executed ahead or waits (the core that asked is gone)."""
        self._ahead.clear()
        self._waiting.clear()

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
            receipts = shared.execution_plan(proposal, self.costs.cores).receipts
            if shared.merkle_roots:
                width = shared.merkle_width
                transactions_root = txs_root(shared.tx_hashes(proposal.tx_ids), suite, width)
                receipts_root = receipts.root(suite, width)
            else:
                # Nothing in this run reads the roots (see the module docstring).
                transactions_root = proposal.hash
                receipts_root = receipts.digest(suite)
            block = executed_block(
                parent,
                timestamp_ms=proposal.timestamp_us // 1000,
                sealer=proposal.leader,
                transactions_root=transactions_root,
                receipts=receipts,
                receipts_root=receipts_root,
                # Modelled (see the module docstring).
                state_root=suite.hash(parent.header.state_root + proposal.hash),
                suite=suite,
            )
            shared.built_blocks[key] = block
        return block

    def commit(self, action: Any) -> None:
        """The core's ``CommitBlock``."""
        plan = self.shared.execution_plan(action.proposal, self.costs.cores)
        work = self.costs.storage_commit(plan.txs, plan.state_writes)
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
        ctx.trace("commit", index=action.index, txs=len(proposal.tx_ids),
                  hash=action.executed_hash, sigs=len(entry.signers))
        self.on_committed(action.index, action.executed_hash)
        self.resume_up_to(action.index)


__all__ = ["Execution"]
