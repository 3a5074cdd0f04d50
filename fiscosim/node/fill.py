"""Proposal fill (docs/fisco-reference.md §2.7): a follower checks a proposal's transactions.

A follower looks the proposal's transaction ids up in its pool (no re-verification) and fetches
the missing ones from the leader (``TxsRequest``), verifying only those, over all cores, and
importing them even into a full pool (§2.2: the pool limit applies to submitted transactions,
not to a proposal's). A request unanswered within :data:`FILL_RETRY_US` is sent again, at most
:data:`FILL_RETRIES` times (docs/architecture.md, decision 21 (d)). It also serves other
nodes' fetches.

Talks to: the node context (below); :attr:`ProposalFill.on_filled` with each verdict (the
runtime reports the pool and hands the verdict to the core).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fiscosim.node.context import NodeContext, Stage, unwired
from fiscosim.node.messages import TxsRequest, TxsResponse

FILL_RETRY_US = 1_000_000
FILL_RETRIES = 10
"""A proposal's missing transactions are asked for again after 1 s, at most 10 times (an
assumption: FISCO's txpool fetch gives up on a timeout and the proposal then fails
verification; asking again keeps a lost message from costing a view change)."""


class ProposalFill(Stage):
    """The proposals one node is filling, and its answers to others' fetches."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.on_filled: Callable[[Any, bool], None] = unwired
        """``on_filled(proposal, ok)``: the proposal is checked (set by the runtime)."""
        self._fills: dict[tuple[int, bytes], Any] = {}

    def reset(self) -> None:
        """Forgets the fills under way (the core that asked for them is gone)."""
        self._fills.clear()

    def verify(self, proposal: Any, fetch_from: int | None = None) -> None:
        """The core's ``VerifyProposal``: fill it from the pool, fetching what is missing from
        its leader (or from consensus node ``fetch_from``)."""
        ctx = self.ctx
        missing = ctx.pool.missing(proposal.tx_ids)
        lookup = self.costs.fill(len(proposal.tx_ids))
        if len(missing) == 0:
            done = self.cpu.run(self.env.now, lookup, parallelism=2, lane="verifier")
            self.later(done, self._filled, proposal, True)
            return
        key = (proposal.index, proposal.hash)
        self._fills[key] = proposal
        request = TxsRequest(proposal.index, proposal.hash, missing)
        ctx.trace("fetch", index=proposal.index, missing=len(missing))
        source = proposal.leader if fetch_from is None else fetch_from
        self._send_request(key, self.shared.sealer_net_ids[source], request, FILL_RETRIES)

    def _send_request(self, key: tuple[int, bytes], dest: int, request: TxsRequest,
                      retries: int) -> None:
        """Sends a fill request and, unless answered within :data:`FILL_RETRY_US`, again: a
        lost request or answer would otherwise leave the proposal unverified for good."""
        ctx = self.ctx
        if key not in self._fills or request.index <= ctx.height:
            self._fills.pop(key, None)
            return
        self.shared.network.send(
            ctx.net_id, dest, request, request.wire_size(), self.shared.nodes_deliver
        )
        if retries > 0:
            self.later(self.env.now + FILL_RETRY_US, self._send_request, key, dest, request,
                       retries - 1)

    def serve(self, src: int, request: TxsRequest) -> None:
        """Answers another node's fetch with the transactions it asked for."""
        ctx = self.ctx
        payload = int(self.shared.table.size[request.ids].sum(dtype=np.int64))
        response = TxsResponse(request.index, request.proposal_hash, request.ids, payload,
                               "forge_txs" in ctx.byzantine)
        ctx.send_after(self.costs.encode(response.wire_size()), "sync", src, response,
                       response.wire_size())

    def receive(self, response: TxsResponse) -> None:
        """The fetched transactions: verified in parallel (tbb::parallel_for,
        importDownloadedTxs), then imported as sealed whatever the pool limit (FISCO's
        enforced import passes no pool-limit check, docs/fisco-reference.md §2.2)."""
        proposal = self._fills.pop((response.index, response.proposal_hash), None)
        if proposal is None:
            return
        verify_us = None
        if self.shared.params.batch_verify:  # a proposal's transactions: one source's batch
            if response.forged:
                assert self.shared.forged_verdicts is not None
                ok = self.shared.forged_verdicts(response.ids)
            else:
                ok = self.ctx.signature_verdicts(response.ids)
            verify_us = self.ctx.batch_verify_us(response.ids, ok)
        work = self.costs.admit(response.payload_bytes, len(response.ids), verify_us)
        self.stats.verified += len(response.ids)
        self.stats.fetched += len(response.ids)
        done = self.cpu.run(self.env.now, work, parallelism=self.cpu.cores, lane="verifier")
        self.later(done, self._fetched_verified, proposal, response.ids, response.forged)

    def _fetched_verified(self, proposal: Any, ids: np.ndarray, forged: bool = False) -> None:
        if forged:
            assert self.shared.forged_verdicts is not None
            verdicts = self.shared.forged_verdicts(ids)
            self.stats.forged_txs_rejected += int((~verdicts).sum())
        else:
            verdicts = self.ctx.signature_verdicts(ids)
        self._filled(proposal, verdicts is None or bool(verdicts.all()))

    def _filled(self, proposal: Any, ok: bool) -> None:
        ctx = self.ctx
        if ok:
            ctx.pool.mark_sealed(proposal.tx_ids)
            ctx.proposal_hashes[proposal.index] = proposal.hash
        else:
            self.stats.proposals_rejected += 1
        self.on_filled(proposal, ok)


__all__ = ["FILL_RETRIES", "FILL_RETRY_US", "ProposalFill"]
