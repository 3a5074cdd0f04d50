"""A node's transaction intake: RPC, transaction push, verification and txpool admission.

RPC (docs/fisco-reference.md §2.2) pushes a client's raw transactions to every other consensus
node first, then verifies and admits them locally; a pushed batch (§2.4) is verified and
admitted the same way. Every transaction is decoded and hashed; those the pool does not hold yet
and has room for (:meth:`~fiscosim.node.txpool.TxPool.gate`: FISCO up to 3.12 refuses the rest
with TxPoolIsFull before verifying them) are verified and inserted, over all cores (the
``txpool`` lane); the pool (:class:`~fiscosim.node.txpool.TxPool`) decides. A byzantine
``forge_txs`` peer's transactions are judged by the forged verdicts.

Talks to: the node context (below); :attr:`Intake.on_admitted` when new transactions are
pending (the runtime reports the pool to the core and wakes the sealer).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fiscosim.node.context import NodeContext, Stage, unwired
from fiscosim.node.messages import BatchFacts, TxPush
from fiscosim.node.txpool import ALL_FULL, POOL_FULL_CODE, REJECT_CODES, Reject


class Intake(Stage):
    """RPC and push intake of one node (see the module docstring)."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.on_admitted: Callable[[], None] = unwired
        """New transactions are pending (set by the runtime)."""

    def rpc_submit(self, ids: np.ndarray) -> None:
        """A client's batch reaches this node's RPC (docs/fisco-reference.md §2.2): push first,
        then admit."""
        ctx = self.ctx
        table = self.shared.table
        if not ctx.up:
            # The SDK's connection fails: the client learns at once, nothing is submitted.
            table.reject(ids, REJECT_CODES[Reject.RpcUnreachable])
            return
        payload = int(table.size[ids].sum(dtype=np.int64))
        limits = table.block_limit[ids]
        facts = BatchFacts(
            first=int(ids[0]),
            count=len(ids),
            clean=not table.tampered[ids].any() and bool((table.nonce_owner[ids] == ids).all()),
            limit_lo=int(limits.min()),
            limit_hi=int(limits.max()),
        ) if len(ids) and int(ids[-1]) - int(ids[0]) == len(ids) - 1 else None
        forged = "forge_txs" in ctx.byzantine
        push = TxPush(ids, payload, None if forged else facts, forged)
        targets = ctx.other_sealers
        if targets:
            ctx.broadcast_after(self.costs.encode(push.wire_size()), "rpc", targets, push,
                                push.wire_size())
        self._verify_and_admit(ids, payload, True, facts)

    def receive_push(self, push: TxPush) -> None:
        """A peer's transaction push (§2.4): admitted as RPC's are, pool limit included (FISCO
        submits it through ``submitTransaction``, §2.2); a refused one is just not in this
        pool."""
        if push.forged:
            passed, full = self.ctx.pool.gate(push.ids, None)
            verify_us = self._batch_verify_us(push.ids, passed, full, None, forged=True)
            self._charge(push.payload_bytes, passed, verify_us, self._admit_forged, push.ids,
                         full, passed)
            return
        self._verify_and_admit(push.ids, push.payload_bytes, False, push.facts)

    def _batch_verify_us(self, ids: np.ndarray, passed: int, full: np.ndarray | None,
                         facts: BatchFacts | None, forged: bool = False) -> int | None:
        """``chain.verify_mode: batch``: the µs to verify the rows the pool's gate passed, one
        source's batch (:meth:`NodeContext.batch_verify_us`); None otherwise (one recovery
        each)."""
        if not self.shared.params.batch_verify or passed == 0:
            return None
        ctx = self.ctx
        rows = ids if passed == len(ids) else ids[ctx.pool.gated_rows(ids, full)]
        if forged:
            assert self.shared.forged_verdicts is not None
            ok = self.shared.forged_verdicts(rows)
        else:
            ok = ctx.signature_verdicts(rows, facts if passed == len(ids) else None)
        return ctx.batch_verify_us(rows, ok)

    def _charge(self, payload: int, passed: int, verify_us: int | None,
                then: Callable[..., None], *args: object) -> None:
        """Decoding and hashing the batch, verifying and inserting the ``passed`` rows (those
        past the duplicate check and the pool limit), over all cores; then ``then(*args)``.
        ``verify_us``: the batch verifier's cost of the rows (None: one recovery each)."""
        work = self.costs.admit(payload, passed, verify_us)
        self.stats.verified += passed
        done = self.cpu.run(self.env.now, work, parallelism=self.cpu.cores, lane="txpool")
        self.later(done, then, *args)

    def _admit_forged(self, ids: np.ndarray, full: np.ndarray | None, reserved: int) -> None:
        """Transactions whose signatures a byzantine peer forged: the verdicts decide (a
        transaction this pool holds already is a duplicate and is not verified again)."""
        ctx = self.ctx
        if full is ALL_FULL:
            ctx.pool.refuse_all(ids)
            return
        assert self.shared.forged_verdicts is not None
        ok = self.shared.forged_verdicts(ids)
        admitted, reasons = ctx.pool.admit(ids, ok, ctx.height, self.env.now, None, full,
                                           reserved)
        if reasons is not None:
            self.stats.forged_txs_rejected += int(
                (reasons == REJECT_CODES[Reject.InvalidSignature]).sum())
        if len(admitted):
            self.on_admitted()

    def _verify_and_admit(self, ids: np.ndarray, payload: int, from_rpc: bool,
                          facts: BatchFacts | None = None) -> None:
        # The pool's duplicate and limit checks come first: a refused transaction costs its
        # decoding and hash only.
        passed, full = self.ctx.pool.gate(ids, facts)
        if full is ALL_FULL:
            # A full pool's usual batch, refused whole: its decoding and hash are charged, but
            # nothing waits for them (nothing is stored, the client's error carries no time),
            # so the refusal is recorded now, without an event per batch.
            self.cpu.run(self.env.now, self.costs.admit(payload, 0),
                         parallelism=self.cpu.cores, lane="txpool")
            self._admit(ids, from_rpc, facts, full, passed)
            return
        verify_us = self._batch_verify_us(ids, passed, full, facts)
        self._charge(payload, passed, verify_us, self._admit, ids, from_rpc, facts, full, passed)

    def _admit(self, ids: np.ndarray, from_rpc: bool, facts: BatchFacts | None,
               full: np.ndarray | None, reserved: int) -> None:
        ctx = self.ctx
        if full is ALL_FULL:  # a full pool's usual batch, refused whole and never verified
            ctx.pool.refuse_all(ids)
            if from_rpc:
                self.shared.table.reject(ids, POOL_FULL_CODE)
            return
        # A batch refused whole was never verified: no verdicts to look up (in real-crypto mode
        # they would cost the host a verification each).
        refused = full is not None and bool(full.all())
        ok = None if refused else ctx.signature_verdicts(ids, facts)
        admitted, reasons = ctx.pool.admit(ids, ok, ctx.height, self.env.now, facts, full,
                                           reserved)
        if from_rpc and reasons is not None:
            rejected = reasons >= 0
            if rejected.any():
                table = self.shared.table
                table.reject(ids[rejected], reasons[rejected])
        if len(admitted):
            ctx.trace("admitted", count=len(admitted), rpc=from_rpc)
            self.on_admitted()


__all__ = ["Intake"]
