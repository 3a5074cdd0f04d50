"""Block sync (docs/fisco-reference.md §7; docs/architecture.md, decision 19): heights, requests,
responses.

A node learns its peers' heights from what it already receives (status packets; CheckPoint for
block i: the sender has block i − 1; ViewChange: the sender's committed index) and asks for
blocks once a peer is ahead and its own ledger has not moved for :data:`SYNC_STALL_US`. Shards
of :data:`SYNC_SHARD_BLOCKS` go to the peers at the highest height in turn, at most
:data:`SYNC_SHARDS_PER_PEER` in flight per peer; a shard unanswered for :data:`SYNC_TIMEOUT_US`
is asked again. Signature lists are checked (weight ≥ Q) and the blocks re-executed (charged)
and committed in order. Sealers announce each new block to the group's followers
(``BlockStatus``); a node answers a peer whose PBFT messages show it behind with its height.

Talks to: the node context (below; the chain it writes with ``store_block``);
:attr:`BlockSync.on_synced` after each synced batch (the runtime moves the core's committed
index up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fiscosim.engine import schedule
from fiscosim.node.context import NodeContext, Stage, unwired
from fiscosim.node.messages import BlockRequest, BlockResponse, BlockStatus

STATUS_REPLY_US = 200_000
"""At most one height answer per peer per this time: FISCO's status gossip period (200 ms,
``BlockSync::broadcastSyncStatus``, FISCO-BCOS 7608ab86 ``bcos-sync/bcos-sync/BlockSync.cpp``),
the delay within which a FISCO node would have heard it."""
SYNC_SHARD_BLOCKS = 8
"""Blocks per sync request (``MAX_REQUEST_BLOCKS_COUNT``, docs/fisco-reference.md §7)."""
SYNC_SHARDS_PER_PEER = 2
"""Shards in flight per peer (docs/fisco-reference.md §7: at most 2 per peer per round)."""
SYNC_TIMEOUT_US = 1_600_000
"""A sync request unanswered this long is given up and retried (200 ms × 8 blocks, §7)."""
SYNC_STALL_US = 1_000_000
"""A node is behind when a peer is known to be ahead and its own ledger has not moved for this
long: in normal pipelining a node trails its peers' checkpoints by a block, briefly."""


class BlockSync(Stage):
    """What one node knows of its peers' heights and the blocks it is downloading."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.on_synced: Callable[[int, bytes], None] = unwired
        """``on_synced(height, executed_hash)`` after a synced batch (set by the runtime)."""
        self.known_height = 0
        self._peer_heights: dict[int, int] = {}
        self._inflight: dict[int, tuple[int, int]] = {}  # shard's first block → (peer, token)
        self._downloaded: dict[int, tuple] = {}  # checked blocks waiting for the ones below
        self._queued_to = 0  # highest block handed to execution
        self._turn = 0
        self._token = 0
        self._behind_since: int | None = None
        self._told_height_at: dict[int, int] = {}  # peer → when we last sent it our height

    def start(self) -> None:
        if self.shared.params.sync_status_us:
            self.later(self.env.now + self.shared.params.sync_status_us, self._gossip_status)

    def forget_download(self) -> None:
        """The process died: its download is lost with it."""
        self._inflight.clear()
        self._downloaded.clear()
        self._queued_to = self.ctx.height
        self._behind_since = None

    # -- heights -------------------------------------------------------------------------------
    def _status(self) -> BlockStatus:
        ctx = self.ctx
        block = ctx.block_at(ctx.height)
        return BlockStatus(ctx.height, block.hash if block is not None else bytes(32))

    def _gossip_status(self) -> None:
        """FISCO's status gossip: this node's height to every other node of its group, every
        ``sync_status_ms`` (docs/fisco-reference.md §7)."""
        ctx = self.ctx
        shared = self.shared
        peers = [n for n in shared.sealer_net_ids + shared.follower_net_ids if n != ctx.net_id]
        status = self._status()
        size = status.wire_size()
        ctx.broadcast_after(self.costs.encode(size), "sync", peers, status, size)
        self.later(self.env.now + shared.params.sync_status_us, self._gossip_status)

    def announce(self, height: int, latest_hash: bytes) -> None:
        """Tells the observers this node's new height (a status packet, docs/fisco-reference.md §7).

        FISCO's nodes send their status to every peer every 200 ms and on each new block; here
        only sealers send, to observers only, on each new block (docs/architecture.md, decision
        19): sealers learn each other's heights from PBFT's CheckPoints and ViewChanges. 2.x has
        no CheckPoint: there every sealer sends its status to every other member on each new
        block (FB@v2.9.0 `libsync/SyncMaster.cpp` ``maintainBlocks``), as here with
        ``chain.version: '2.9'``.
        """
        shared = self.shared
        me = self.ctx.net_id
        observers = [n for n in shared.follower_net_ids if n != me]
        if shared.params.execute_first:
            observers += [n for n in shared.sealer_net_ids if n != me]
        if not observers:
            return
        status = BlockStatus(height, latest_hash)
        size = status.wire_size()
        self.ctx.broadcast_after(self.costs.encode(size), "sync", observers, status, size)

    def status(self, src: int, status: BlockStatus) -> None:
        """A peer's ``BlockStatus``."""
        self.peer_at(src, status.height)
        self.maybe_sync()

    def peer_at(self, peer: int, height: int) -> None:
        """Peer ``peer`` has block ``height`` (a status, a CheckPoint, a ViewChange)."""
        if height > self._peer_heights.get(peer, 0):
            self._peer_heights[peer] = height
            if height > self.known_height:
                self.known_height = height

    def heard(self, src: int, kind: str, index: int) -> None:
        """A CheckPoint or ViewChange from ``src`` for ``index``: what it says of its height."""
        ctx = self.ctx
        height = ctx.height
        # A CheckPoint for i: the sender executed i (so committed i − 1 at least); a
        # ViewChange carries its sender's committed index.
        seen = index - 1 if kind == "CheckPoint" else index
        if seen > self._peer_heights.get(src, 0):
            self.peer_at(src, seen)
        if seen < height and (
                kind == "ViewChange" or seen < height - 1
                or self.env.now - ctx.last_commit_at >= STATUS_REPLY_US):
            # The sender is behind our ledger (not just a moment slower than us).
            self._tell_height(src)
        self.maybe_sync()

    def heard_checkpoints(self, srcs: list[int], index: int) -> None:
        """:meth:`heard` of a CheckPoint for ``index`` from each of ``srcs`` in turn (a quorum
        of aggregated votes), in one step where that cannot differ: when no sender is behind
        our ledger and no download would start (then each call's ``maybe_sync`` returns at
        once, as the single one does)."""
        ctx = self.ctx
        seen = index - 1
        if seen < ctx.height or max(self.known_height, seen) > max(ctx.height, self._queued_to):
            for src in srcs:
                self.heard(src, "CheckPoint", index)
            return
        heights = self._peer_heights
        for src in srcs:
            if seen > heights.get(src, 0):
                heights[src] = seen
        if seen > self.known_height:
            self.known_height = seen
        self.maybe_sync()

    def _tell_height(self, peer: int) -> None:
        """Sends ``peer`` our height: it sent a CheckPoint or ViewChange for blocks our ledger
        already holds, so it is behind and may not know it.

        This stands in for FISCO's status gossip (every node's height to every peer each
        200 ms, STATUS_REPLY_US), which is off by default here (``chain.sync_status_ms``,
        docs/architecture.md decision 19): without it a node that missed a block's last
        messages would learn that its peers moved on only from a message that happens to
        carry their height. Answering the lagging node's own stale messages costs one small
        message, at most once per STATUS_REPLY_US per peer.
        """
        now = self.env.now
        if self.shared.params.sync_status_us or not self.ctx.up:
            return  # the gossip already tells it
        last = self._told_height_at.get(peer)
        if last is not None and now - last < STATUS_REPLY_US:
            return
        self._told_height_at[peer] = now
        status = self._status()
        size = status.wire_size()
        self.ctx.send_after(self.costs.encode(size), "sync", peer, status, size)

    # -- downloading ---------------------------------------------------------------------------
    def _queued_to_height(self) -> int:
        return max(self.ctx.height, self._queued_to)

    def maybe_sync(self) -> None:
        """Downloads what peers have and this node lacks (docs/fisco-reference.md §7).

        The range up to the highest known height is split in shards of 8 blocks; shards go to
        the peers at that height in turn, at most 2 in flight per peer; a shard unanswered
        after 1.6 s is asked again. A sealer waits SYNC_STALL_US before it calls itself behind
        (PBFT may still bring the block); an observer has no other way and asks at once.
        """
        ctx = self.ctx
        if not ctx.up or self.known_height <= max(ctx.height, self._queued_to):
            return  # (_queued_to_height inlined: this runs on every CheckPoint)
        if ctx.core is not None and self.env.now - ctx.last_commit_at < SYNC_STALL_US:
            return
        top = self.known_height
        peers = sorted(p for p, h in self._peer_heights.items() if h >= top)
        if not peers:
            return
        load = {p: 0 for p in peers}
        for peer, _ in self._inflight.values():
            if peer in load:
                load[peer] += 1
        first = self._queued_to_height() + 1
        while first <= top:
            last = min(top, first + SYNC_SHARD_BLOCKS - 1)
            if first not in self._inflight and first not in self._downloaded:
                free = [p for p in peers if load[p] < SYNC_SHARDS_PER_PEER]
                if not free:
                    break
                peer = free[self._turn % len(free)]
                self._turn += 1
                load[peer] += 1
                self._request_shard(peer, first, last)
            first = last + 1
        if self._inflight and self._behind_since is None and (
                ctx.core is not None or self.known_height - ctx.height > 1):
            # A catch-up; an observer one block behind is just following (its lag is counted).
            self._behind_since = self.env.now

    def _request_shard(self, peer: int, first: int, last: int) -> None:
        self._token += 1
        token = self._token
        self._inflight[first] = (peer, token)
        request = BlockRequest(first, last)
        self.ctx.trace("sync_request", first=first, last=last, peer=peer)
        self.shared.network.send(self.ctx.net_id, peer, request, request.wire_size(),
                                 self.shared.nodes_deliver, self.lost)
        # 200 ms per block (1,600 ms for a shard of 8), then the shard is asked for again
        schedule(self.env, self.env.now + SYNC_TIMEOUT_US, self._shard_timeout, first, token)

    def lost(self, src: int, dst: int, message: Any) -> None:
        """The network lost this node's request or its answer: the shard may be asked again."""
        first = message.first
        if first in self._inflight:
            del self._inflight[first]

    def _shard_timeout(self, first: int, token: int) -> None:
        entry = self._inflight.get(first)
        if entry is not None and entry[1] == token:
            del self._inflight[first]
            self.maybe_sync()

    def serve(self, src: int, request: BlockRequest) -> None:
        """Answers a peer's ``BlockRequest`` from the ledger (should the answer be lost, the
        network tells the requester: its node's ``sync_lost``)."""
        ctx = self.ctx
        ledger = ctx.ledger
        blocks = tuple(
            (number, ledger[number])
            for number in range(request.first, request.last + 1)
            if number in ledger
        )
        table = self.shared.table
        payload = sum(int(table.size[entry.proposal.tx_ids].sum(dtype=np.int64))
                      for _, entry in blocks)
        response = BlockResponse(blocks, payload, request.first)
        requester = self.shared.nodes[src]
        ctx.send_after(self.costs.encode(response.wire_size()), "sync", src, response,
                       response.wire_size(), requester.sync_lost)

    # -- applying downloaded blocks ------------------------------------------------------------
    def receive(self, response: BlockResponse) -> None:
        """Checks each block's signature list (weight ≥ Q, docs/fisco-reference.md §7) and queues
        it; blocks that follow the ledger without a gap are then executed and committed in
        order."""
        self._inflight.pop(response.first, None)
        blocks = [b for b in response.blocks if b[0] > self._queued_to_height()]
        weights, quorum = self.shared.weights, self.shared.quorum
        valid = [b for b in blocks if sum(weights[s] for s in set(b[1].signers)) >= quorum]
        if len(valid) < len(blocks):
            self.stats.sync_rejected += len(blocks) - len(valid)
        if not valid:
            self.maybe_sync()
            return
        work = (self.costs.decode(response.payload_bytes)
                + sum(self.costs.verify(len(block[1].signers)) for block in valid))
        done = self.cpu.run(self.env.now, work, lane="sync")
        for block in valid:
            self._downloaded[block[0]] = block
        self.later(done, self._apply_ready)

    def _apply_ready(self) -> None:
        """Executes the downloaded blocks that follow the ledger (re-executed,
        docs/fisco-reference.md §7)."""
        batch = []
        number = self._queued_to_height() + 1
        while number in self._downloaded:
            batch.append(self._downloaded.pop(number))
            number += 1
        if batch:
            self._queued_to = number - 1
            costs, shared = self.costs, self.shared
            work = 0
            for _, entry in batch:
                plan = shared.execution_plan(entry.proposal, costs.cores)
                work += (costs.execute_block(plan.work_us, plan.txs, plan.state_reads,
                                             plan.state_writes)
                         + costs.storage_commit(plan.txs, plan.state_writes))
            done = self.cpu.run(self.env.now, work, lane="sync")
            self.later(done, self._apply_synced, batch)
        self.maybe_sync()

    def _apply_synced(self, blocks: list) -> None:
        ctx = self.ctx
        synced_hash = None
        for number, entry in blocks:
            if number != ctx.height + 1:
                continue  # PBFT committed it meanwhile
            synced_hash = entry.block.hash
            ctx.store_block(number, entry)
            ctx.proposal_hashes[number] = entry.proposal.hash
            self.shared.on_commit(ctx, number, entry)
            self.stats.synced_blocks += 1
            ctx.trace("synced", index=number, txs=len(entry.proposal.tx_ids))
            self.announce(number, synced_hash)
        now = self.env.now
        ctx.last_commit_at = now
        if self._behind_since is not None and ctx.height >= self.known_height:
            self.stats.catch_up_us.append(now - self._behind_since)
            self._behind_since = None
        if synced_hash is not None:
            self.on_synced(ctx.height, synced_hash)
        self.maybe_sync()


__all__ = ["STATUS_REPLY_US", "SYNC_SHARDS_PER_PEER", "SYNC_SHARD_BLOCKS", "SYNC_STALL_US",
           "SYNC_TIMEOUT_US", "BlockSync"]
