"""The node runtime: carries out what the PBFT core decides, with simulated CPU and network.

It holds no protocol rules (docs/architecture.md rule 1): the
:class:`~fiscosim.consensus.pbft.PbftCore` decides, this module charges the work to the node's
:class:`~fiscosim.node.cpu.Cpu` through its cost model, sends messages through the
:class:`~fiscosim.net.network.Network`, and calls the core back when the work is done. The pieces it
wires, each modelled on FISCO BCOS 3.x:

- RPC intake (docs/fisco-reference.md §2.2): push the raw transactions to every other consensus node
  first, then verify and admit them locally;
- the txpool (:mod:`fiscosim.node.txpool`) and transaction push receipt (§2.4);
- the sealer (§2.5): seal when pending ≥ ``tx_count_limit``, or when something is pending and
  ``min_seal_time`` has passed since this node was told to seal or last sealed; never empty;
- proposal fill (§2.7): a follower looks a proposal's transaction ids up in its pool and
  fetches the missing ones from the leader, verifying only those;
- serial execution (§2.8), the ledger commit and the receipts (§2.9).

Work lanes (FISCO's threads): ``pbft`` — one thread for every consensus message (§1.2);
``txpool`` — signature checks over all cores; ``sealer``; ``executor`` — serial; ``storage``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fiscosim.consensus import actions as act
from fiscosim.consensus import messages as msg
from fiscosim.engine import Timer, schedule
from fiscosim.node import light
from fiscosim.node.cpu import Cpu
from fiscosim.node.messages import (
    BatchFacts,
    BlockRequest,
    BlockResponse,
    BlockStatus,
    Envelope,
    TxPush,
    TxsRequest,
    TxsResponse,
)
from fiscosim.node.txpool import REJECT_CODES, Reject, TxPool

_LIGHT_REQUESTS = frozenset(
    ("LightHeadersRequest", "LightQueryRequest", "LightSendTransactions")
)
"""What light nodes ask full nodes (:mod:`fiscosim.node.light`)."""
STATUS_REPLY_US = 200_000
"""At most one height answer per peer per this time: FISCO's status gossip period (200 ms,
``BlockSync::broadcastSyncStatus``, FISCO-BCOS 7608ab86 ``bcos-sync/bcos-sync/BlockSync.cpp``),
the delay within which a FISCO node would have heard it."""
FILL_RETRY_US = 1_000_000
FILL_RETRIES = 10
"""A proposal's missing transactions are asked for again after 1 s, at most 10 times (an
assumption: FISCO's txpool fetch gives up on a timeout and the proposal then fails
verification; asking again keeps a lost message from costing a view change)."""
SYNC_SHARD_BLOCKS = 8
"""Blocks per sync request (``MAX_REQUEST_BLOCKS_COUNT``, docs/fisco-reference.md §7)."""
SYNC_SHARDS_PER_PEER = 2
"""Shards in flight per peer (docs/fisco-reference.md §7: at most 2 per peer per round)."""
SYNC_TIMEOUT_US = 1_600_000
"""A sync request unanswered this long is given up and retried (200 ms × 8 blocks, §7)."""
SYNC_STALL_US = 1_000_000
"""A node is behind when a peer is known to be ahead and its own ledger has not moved for this
long: in normal pipelining a node trails its peers' checkpoints by a block, briefly."""


@dataclass(frozen=True, slots=True)
class ChainParams:
    """The chain parameters the runtime needs (validated by the scenario)."""

    tx_count_limit: int = 1000
    min_seal_time_us: int = 500_000
    sync_status_us: int = 0
    """Status gossip to every group member this often (0: none, docs/fisco-reference.md §7)."""


@dataclass
class NodeStats:
    """What one node did; the metrics layer sums and reports these."""

    verified: int = 0
    fetched: int = 0
    executed_blocks: int = 0
    view_changes_wanted: int = 0
    proposals_rejected: int = 0
    view_change_us: list[int] = field(default_factory=list)
    """How long each of this node's view changes took (ViewChange sent → view entered)."""
    forged_messages_rejected: int = 0
    """PBFT messages dropped because their signature failed verification."""
    forged_txs_rejected: int = 0
    """Transactions from a peer rejected because their signature failed verification."""
    byzantine_dropped: int = 0
    """Messages this (byzantine) node's runtime withheld from its core's output."""
    equivocations: int = 0
    """Second proposals this (byzantine) node sent for an index it leads."""
    synced_blocks: int = 0
    """Blocks this node got by block sync."""
    sync_rejected: int = 0
    """Synced blocks refused: their signature list weighs less than the quorum."""
    catch_up_us: list[int] = field(default_factory=list)
    """Each time this node fell behind: from its first sync request to reaching the height its
    peers had announced."""
    follow_lag_us: list[int] = field(default_factory=list)
    """An observer: per block, its commit time minus the first sealer's."""
    light_bytes_served: int = 0
    """Bytes of headers, proofs and blocks this full node sent to light nodes."""


class ByzantineSender(Protocol):
    """How a byzantine node sends what its honest core produced: given the node, the message
    and its destination (a consensus index; None for every other sealer), it drops, rewrites,
    forges or delays it and sends the result with :meth:`Node.emit`. The node layer names only
    this interface; :func:`fiscosim.faults.byzantine.send` implements it and the world builder
    hands it to the nodes (:attr:`Shared.byzantine_send`)."""

    def __call__(self, node: Node, message: Any, dest: int | None) -> None: ...


def _no_byzantine_sender(node: Node, message: Any, dest: int | None) -> None:
    raise RuntimeError(f"{node.name} has byzantine behaviours {sorted(node.byzantine)} but the "
                       "world gave its nodes no Shared.byzantine_send")


@dataclass
class Shared:
    """What every node of a run shares: the clock, the network, the tables and the recorders."""

    env: Any
    network: Any
    table: Any
    params: ChainParams
    sealer_net_ids: list[int]
    """Network id of the sealer with each consensus index (nodeID order, docs/fisco-reference.md
    §1.3)."""
    on_commit: Callable[[Node, int, Any, bytes], None]
    """Called when a node commits block ``index`` (safety checker, metrics)."""
    on_seal: Callable[[Node, Any], None]
    verdicts: Callable[[np.ndarray], np.ndarray] | None = None
    """Real-crypto mode: the host's shared verdicts for transaction ids."""
    trace: Callable[[str, dict], None] | None = None
    nodes: list[Node] = field(default_factory=list)
    coalition: Any = None
    """The equivocating nodes' shared state (:class:`fiscosim.faults.byzantine.Coalition`),
    read and written only by ``byzantine_send`` and :meth:`Node.set_byzantine`."""
    byzantine_send: ByzantineSender = _no_byzantine_sender
    """What a node with byzantine behaviours sends instead of its core's messages."""
    sealer_index: dict[int, int] = field(default_factory=dict)
    """Consensus index of each sealer's network id (the inverse of ``sealer_net_ids``)."""
    forged_verdicts: Callable[[np.ndarray], np.ndarray] | None = None
    """Verdicts for transactions a ``forge_txs`` node sends (:func:`fiscosim.sim.realcrypto.
    forged_verdicts`)."""
    follower_net_ids: list[int] = field(default_factory=list)
    """Network ids of the group's observers and light nodes: sealers announce each new block
    to them."""
    group_id: str = "group0"
    real: Any = None
    """Real-crypto mode: the corpus (transaction hashes for light nodes' proofs)."""
    light_roots: dict[int, tuple] = field(default_factory=dict)
    """Host-side memo of each block's transaction hashes and roots (:mod:`.light`)."""
    first_commit_us: Callable[[int], int] = lambda number: -1
    """When block ``number`` was first committed in this group (−1: not yet)."""
    weights: tuple[int, ...] = ()
    """Consensus weights in consensus-index order: a synced block's signature list must reach
    ``quorum`` of them (docs/fisco-reference.md §7)."""
    quorum: int = 0

    def nodes_deliver(self, src: int, dst: int, message: Any) -> None:
        """The network's delivery callback: hands ``message`` to node ``dst``."""
        self.nodes[dst].receive(src, message)


class Node:
    """One simulated node of a group: a sealer (with a PBFT core) or an observer (none)."""

    def __init__(
        self,
        net_id: int,
        name: str,
        shared: Shared,
        cpu: Cpu,
        costs: Any,
        pool: TxPool,
        core: Any | None,
    ) -> None:
        self.net_id = net_id
        self.name = name
        self.shared = shared
        self.env = shared.env
        self.cpu = cpu
        self.costs = costs
        self.pool = pool
        self.core = core
        self.index = -1 if core is None else core.index
        self.height = 0
        self.stats = NodeStats()
        self.timers: dict[str, Timer] = {}
        self.proposal_hashes: dict[int, bytes] = {}
        self.up = True
        self._epoch = 0
        self.core_factory: Callable[[int], Any] | None = None
        """Builds this node's core again after a crash or a restart: ``factory(committed_index)``
        (the world sets it for a sealer)."""
        self.narrate: Callable[[Any], str] = repr
        """Words for the core's events in the trace; the world sets a
        :class:`fiscosim.trace.narrate.Narrator`."""
        self._receive_costs: dict[tuple[str, int], int] = {}
        self._reported_pending = False
        self._leader_checked: tuple[int, int] | None = None
        # block sync (docs/fisco-reference.md §7): the ledger it serves, what peers are known to
        # have
        self.ledger: dict[int, tuple[Any, bytes, tuple[int, ...]]] = {}
        self.known_height = 0
        self._peer_heights: dict[int, int] = {}
        self._last_commit_at = 0
        self._inflight: dict[int, tuple[int, int]] = {}  # shard's first block → (peer, token)
        self._downloaded: dict[int, tuple] = {}  # checked blocks waiting for the ones below
        self._queued_to = 0  # highest block handed to execution
        self._sync_turn = 0
        self._sync_token = 0
        self._behind_since: int | None = None
        self._told_height_at: dict[int, int] = {}  # peer → when we last sent it our height
        self._fills: dict[tuple[int, bytes], Any] = {}
        self._view_change_since: int | None = None
        # byzantine behaviour (fiscosim.faults.byzantine): the active ones, their random stream
        self.byzantine: frozenset[str] = frozenset()
        self.byzantine_rng: np.random.Generator | None = None
        self.byzantine_delay_us = 0
        # sealer state (docs/fisco-reference.md §2.5)
        self._seal_next = 0
        self._seal_end = -1
        self._last_seal_time = 0
        self._seal_check_at: int | None = None
        self._sealing = False

    # -- plumbing ------------------------------------------------------------------------------
    def _trace(self, event: str, **fields: Any) -> None:
        trace = self.shared.trace
        if trace is not None:
            # `node` is the network position (the scenario's node order); `sealer` is the
            # consensus index (nodeID order, docs/fisco-reference.md §1.3) that the PBFT core's
            # fields use; `node_name` is the scenario's name ("name" is taken: the timer events'
            # field).
            trace(event, {"node": self.net_id, "sealer": self.index, "node_name": self.name,
                          **fields})

    def later(self, at_us: int, fn: Any, *args: Any) -> None:
        """Calls ``fn(*args)`` at ``at_us`` unless this node crashes before then.

        Work in progress is in memory: a crash loses it (the epoch changes).
        """
        schedule(self.env, at_us, self._if_alive, self._epoch, fn, args)

    def _if_alive(self, epoch: int, fn: Any, args: tuple) -> None:
        if epoch == self._epoch:
            fn(*args)

    def start(self) -> None:
        if self.core is not None:
            self._apply(self.core.start())
        if self.shared.params.sync_status_us:
            self.later(self.env.now + self.shared.params.sync_status_us, self._gossip_status)

    def _gossip_status(self) -> None:
        """FISCO's status gossip: this node's height to every other node of its group, every
        ``sync_status_ms`` (docs/fisco-reference.md §7)."""
        shared = self.shared
        peers = [n for n in shared.sealer_net_ids + shared.follower_net_ids if n != self.net_id]
        entry = self.ledger.get(self.height)
        status = BlockStatus(self.height, entry[1] if entry is not None else bytes(32))
        size = status.wire_size()
        done = self.cpu.run(self.env.now, self.costs.encode(size), lane="sync")
        self.later(done, shared.network.broadcast, self.net_id, peers, status, size,
                    shared.nodes_deliver)
        self.later(self.env.now + shared.params.sync_status_us, self._gossip_status)

    # -- crash and restart (faults) ------------------------------------------------------------
    def crash(self) -> None:
        """The process dies: in-memory work, timers, pool and consensus state are lost.

        The ledger (committed blocks, ``height``) survives on disk. The network drops what is
        sent to or by a down node.
        """
        if not self.up:
            return
        self.up = False
        self._epoch += 1
        for timer in self.timers.values():
            timer.cancel()
        self.shared.network.set_node_up(self.net_id, False)
        self._trace("crash", height=self.height)
        # its download is lost with the process
        self._inflight.clear()
        self._downloaded.clear()
        self._queued_to = self.height
        self._behind_since = None
        for net_id in self.shared.sealer_net_ids:
            self.shared.nodes[net_id].check_leader()

    def check_leader(self) -> None:
        """Starts a view change at once if the leader this node waits for is disconnected.

        FISCO's gateway knows when a peer's session drops; PBFT then triggers a view change
        without waiting for its timer (``tryTriggerFastViewChange``, docs/fisco-reference.md §1.7).
        A crashed process closes its connections, so its peers know at once; a partition is not seen
        this way (only the timer finds it). Acts once per (leader, target view) found down; a
        leader found alive is checked again next time (it may have crashed since).
        """
        core = self.core
        if core is None or not self.up:
            return
        leader = core.current_leader
        key = (leader, core.to_view)
        if key == self._leader_checked:
            return
        network_id = self.shared.sealer_net_ids[leader]
        if network_id != self.net_id and not self.shared.network.is_up(network_id):
            self._leader_checked = key
            self._apply(core.on_leader_unreachable())
            self.check_leader()  # the next leader may be down too

    def restart(self) -> None:
        """The process starts again from its ledger: an empty pool, a fresh PBFT core that
        recovers the current view from its peers (docs/fisco-reference.md §1.7 Recover)."""
        if self.up:
            return
        self.up = True
        self.shared.network.set_node_up(self.net_id, True)
        self.pool = self.pool.fresh()
        self.cpu.reset(self.env.now)
        self._rebuild_core()
        self._trace("restart", height=self.height)
        self.start()

    def _rebuild_core(self) -> None:
        """A fresh PBFT core at the ledger's height (recovering the view), and everything the
        old one had under way forgotten: sealing, proposal fills, timers, reports."""
        self._epoch += 1
        for timer in self.timers.values():
            timer.cancel()
        self._fills.clear()
        self._seal_next, self._seal_end, self._sealing = 0, -1, False
        self._seal_check_at = None
        self._reported_pending = False
        self._leader_checked = None
        if self.core_factory is not None:
            self.core = self.core_factory(self.height)

    def _apply(self, actions: list) -> None:
        for action in actions:
            kind = type(action)
            if kind is act.Broadcast:
                self._send_pbft(action.message, None)
            elif kind is act.Send:
                self._send_pbft(action.message, action.dest)
            elif kind is act.VerifyProposal:
                self._verify_proposal(action.proposal, action.fetch_from)
            elif kind is act.Unseal:
                self.pool.unseal(action.proposal.tx_ids)
                self._report_pool()
                self._maybe_seal()
            elif kind is act.Execute:
                self._execute(action.proposal)
            elif kind is act.CommitBlock:
                self._commit(action)
            elif kind is act.SealRange:
                self._notify_seal(action.start, action.end)
            elif kind is act.SetTimer:
                self._timer(action.name).set(action.delay_us)
                self._trace("timer_set", name=action.name, delay_us=action.delay_us)
            elif kind is act.CancelTimer:
                timer = self.timers.get(action.name)
                if timer is not None and timer.armed:
                    timer.cancel()
                    self._trace("timer_cancelled", name=action.name)
            elif kind is act.ViewChangeNeeded:
                self.stats.view_changes_wanted += 1
                if self._view_change_since is None:
                    self._view_change_since = self.env.now
            elif kind is act.ViewEntered:
                if self._view_change_since is not None:
                    self.stats.view_change_us.append(self.env.now - self._view_change_since)
                    self._view_change_since = None
            elif isinstance(action, act.Event):
                # The core's events (built only when tracing): words from the narrator the
                # world gave this node (fiscosim.trace.narrate, a layer above this one).
                if self.shared.trace is not None:
                    self._trace("note", code=action.code, text=self.narrate(action),
                                **action.fields())
            else:  # pragma: no cover - a new action type must be wired here
                raise TypeError(f"the runtime does not know action {kind.__name__}")

    def _timer(self, name: str) -> Timer:
        timer = self.timers.get(name)
        if timer is None:
            timer = self.timers[name] = Timer(self.env, lambda: self._on_timer(name))
        return timer

    def _on_timer(self, name: str) -> None:
        if not self.up:
            return
        self._trace("timer_fired", name=name)
        assert self.core is not None
        self._apply(self.core.on_timer(name))

    def _report_pool(self) -> None:
        """Tells the core whether transactions are pending (``setTxsSize``, docs/fisco-reference.md
        §1.7).

        FISCO's txpool reports its size every 100 ms and the view timer runs while it is not
        empty, so a crashed leader is noticed even when no proposal arrives. Only the changes
        between empty and not empty matter to the core, so only those are reported.
        """
        pending = self.pool.pending > 0
        if self.core is not None and pending != self._reported_pending:
            self._reported_pending = pending
            self._apply(self.core.on_pool_size(self.pool.pending))

    # -- PBFT messages -------------------------------------------------------------------------
    def _send_pbft(self, message: Any, dest: int | None) -> None:
        if self.byzantine:
            self.shared.byzantine_send(self, message, dest)
        else:
            self.emit(message, self.pbft_dests(dest))

    def pbft_dests(self, dest: int | None) -> list[int]:
        """Network ids a PBFT message goes to: consensus node ``dest``, or every other sealer."""
        if dest is None:
            return [n for n in self.shared.sealer_net_ids if n != self.net_id]
        return [self.shared.sealer_net_ids[dest]]

    def emit(self, message: Any, targets: list[int], forged: bool = False,
             delay_us: int = 0) -> None:
        """Signs, encodes and sends a PBFT message to ``targets`` (network ids), ``delay_us``
        after the PBFT thread is done; ``forged``: its signature is invalid. The byzantine
        runtime's way out (:mod:`fiscosim.faults.byzantine`)."""
        if not targets:
            return
        size = message.wire_size()
        done = self.cpu.run(self.env.now, self.costs.send_message(message.kind, size), lane="pbft")
        self.later(done + delay_us, self._transmit, targets, Envelope(message, size, forged),
                    size)

    def set_byzantine(self, behaviour: str, on: bool, delay_us: int = 0) -> None:
        """Starts or stops one byzantine behaviour of this node (the fault injector's hook)."""
        active = set(self.byzantine)
        if on:
            active.add(behaviour)
            if behaviour == "reorder":
                self.byzantine_delay_us = delay_us
        else:
            active.discard(behaviour)
        self.byzantine = frozenset(active)
        coalition = self.shared.coalition
        if coalition is not None and behaviour == "equivocate" and self.index >= 0:
            (coalition.members.add if on else coalition.members.discard)(self.index)
        self._trace("byzantine", behaviour=behaviour, on=on)

    def _transmit(self, targets: list[int], message: Any, size: int) -> None:
        deliver = self.shared.network.broadcast
        deliver(self.net_id, targets, message, size, self.shared.nodes_deliver)

    def receive(self, src: int, message: Any) -> None:
        """Network delivery: charge the handling, then act on the message."""
        if not self.up:
            return
        kind = message.kind
        now = self.env.now
        if kind == "TxPush":
            self._receive_push(message)
        elif kind == "TxsRequest":
            self._serve_fetch(src, message)
        elif kind == "TxsResponse":
            self._receive_fetch(message)
        elif kind == "BlockRequest":
            self._serve_blocks(src, message)
        elif kind == "BlockResponse":
            self._receive_blocks(message)
        elif kind in _LIGHT_REQUESTS:
            light.serve(self, src, message)
        elif kind == "BlockStatus":
            self._peer_at(src, message.height)
            self._maybe_sync()
        elif self.core is not None:
            size = message.size
            forged = message.forged
            message = message.message
            counted = getattr(message, "signature_count", None)
            if counted is not None:
                # ViewChange and NewView carry signature proofs: their count varies.
                work = self.costs.verify(counted()) + self.costs.decode(size)
            else:
                work = self._receive_costs.get((kind, size))
                if work is None:
                    work = self.costs.receive_message(kind, size)
                    self._receive_costs[(kind, size)] = work
            done = self.cpu.run(now, work, lane="pbft")
            if forged:
                # The signature check fails: dropped before the core sees it
                # (docs/fisco-reference.md §1.2).
                self.stats.forged_messages_rejected += 1
                self._trace("forged_rejected", kind=kind, src=src)
                return
            if type(message) is msg.PrePrepare:
                self.proposal_hashes[message.index] = message.proposal.hash
            elif kind == "CheckPoint" or kind == "ViewChange":
                # A CheckPoint for i: the sender executed i (so committed i − 1 at least); a
                # ViewChange carries its sender's committed index.
                seen = message.index - 1 if kind == "CheckPoint" else message.index
                if seen > self._peer_heights.get(src, 0):
                    self._peer_at(src, seen)
                if seen < self.height and (
                        kind == "ViewChange" or seen < self.height - 1
                        or now - self._last_commit_at >= STATUS_REPLY_US):
                    # The sender is behind our ledger (not just a moment slower than us).
                    self._tell_height(src)
                self._maybe_sync()
            # The core takes the message now and its actions happen when the PBFT thread has
            # handled it (`done`). The thread is FIFO, so the core sees messages in the order
            # the thread would; most votes produce no action at all, and this saves an event
            # per message (half of a 100-node run's events).
            actions = self.core.handle(message)
            if actions:
                self.later(done, self._apply, actions)
                if kind in ("ViewChange", "NewView"):
                    self.later(done, self.check_leader)

    # -- transactions: RPC, push, admission ----------------------------------------------------
    def rpc_submit(self, ids: np.ndarray) -> None:
        """A client's batch reaches this node's RPC (docs/fisco-reference.md §2.2): push first,
        then admit."""
        table = self.shared.table
        if not self.up:
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
        forged = "forge_txs" in self.byzantine
        push = TxPush(ids, payload, None if forged else facts, forged)
        targets = [n for n in self.shared.sealer_net_ids if n != self.net_id]
        if targets:
            work = self.costs.encode(push.wire_size())
            done = self.cpu.run(self.env.now, work, lane="rpc")
            self.later(done, self.shared.network.broadcast, self.net_id, targets, push,
                     push.wire_size(), self.shared.nodes_deliver)
        self._verify_and_admit(ids, payload, True, facts)

    def _receive_push(self, push: TxPush) -> None:
        if push.forged:
            fresh = self.pool.fresh_count(push.ids, None)
            work = self.costs.admit(push.payload_bytes, fresh)
            self.stats.verified += fresh
            done = self.cpu.run(self.env.now, work, parallelism=self.cpu.cores, lane="txpool")
            self.later(done, self._admit_forged, push.ids)
            return
        self._verify_and_admit(push.ids, push.payload_bytes, False, push.facts)

    def _admit_forged(self, ids: np.ndarray) -> None:
        """Transactions whose signatures a byzantine peer forged: the verdicts decide (a
        transaction this pool holds already is a duplicate and is not verified again)."""
        assert self.shared.forged_verdicts is not None
        ok = self.shared.forged_verdicts(ids)
        admitted, reasons = self.pool.admit(ids, ok, self.height, self.env.now, False, None)
        if reasons is not None:
            self.stats.forged_txs_rejected += int(
                (reasons == REJECT_CODES[Reject.InvalidSignature]).sum())
        if len(admitted):
            self._report_pool()
            self._maybe_seal()

    def _signature_verdicts(self, ids: np.ndarray, facts: Any = None) -> np.ndarray | None:
        """Verdicts per row; None when all are valid (modelled mode, a clean batch)."""
        if self.shared.verdicts is not None:
            return self.shared.verdicts(ids)
        if facts is not None and facts.clean:
            return None
        return ~self.shared.table.tampered[ids]

    def _verify_and_admit(self, ids: np.ndarray, payload: int, from_rpc: bool,
                          facts: Any = None) -> None:
        # Only transactions the pool does not hold yet are decoded and verified.
        fresh = self.pool.fresh_count(ids, facts)
        work = self.costs.admit(payload, fresh)
        self.stats.verified += fresh
        done = self.cpu.run(self.env.now, work, parallelism=self.cpu.cores, lane="txpool")
        self.later(done, self._admit, ids, from_rpc, facts)

    def _admit(self, ids: np.ndarray, from_rpc: bool, facts: Any = None) -> None:
        ok = self._signature_verdicts(ids, facts)
        admitted, reasons = self.pool.admit(ids, ok, self.height, self.env.now, from_rpc, facts)
        if from_rpc and reasons is not None:
            rejected = reasons >= 0
            if rejected.any():
                table = self.shared.table
                table.reject(ids[rejected], reasons[rejected])
        if len(admitted):
            self._trace("admitted", count=len(admitted), rpc=from_rpc)
            self._report_pool()
            self._maybe_seal()

    # -- sealing (docs/fisco-reference.md §2.5)
    # ---------------------------------------------------------------
    def _notify_seal(self, start: int, end: int) -> None:
        continues = start == self._seal_end + 1 and self._seal_next > self._seal_end
        if not continues:
            # Not a continuation of this node's previous range: the min_seal_time clock restarts
            # (SealingManager::resetSealingInfo). After a view change a range may also start at
            # or below the old one's end: the old range is dropped (reset, then renotify).
            self._last_seal_time = self.env.now
        if start <= self._seal_end or start > self._seal_next or continues:
            self._seal_next = start
        self._seal_end = end
        self._trace("seal_notified", start=start, end=end)
        self._maybe_seal()

    def _maybe_seal(self) -> None:
        if self._sealing or self._seal_next > self._seal_end or self.pool.pending == 0:
            return
        now = self.env.now
        ready_at = self._last_seal_time + self.shared.params.min_seal_time_us
        if self.pool.pending >= self.shared.params.tx_count_limit or now >= ready_at:
            self._seal(now)
        elif self._seal_check_at is None or self._seal_check_at > ready_at:
            self._seal_check_at = ready_at
            self.later(ready_at, self._seal_check)

    def _seal_check(self) -> None:
        self._seal_check_at = None
        self._maybe_seal()

    def _seal(self, now: int) -> None:
        number = self._seal_next
        ids = self.pool.take(self.shared.params.tx_count_limit, number, now)
        if len(ids) == 0:
            return  # never an empty block (Sealer::submitProposal)
        self._sealing = True
        self._seal_next += 1
        self._last_seal_time = now
        work = self.costs.seal(len(ids))
        done = self.cpu.run(now, work, lane="sealer")
        self.later(done, self._propose, number, ids)

    def _propose(self, number: int, ids: np.ndarray) -> None:
        self._sealing = False
        assert self.core is not None
        parent = self.proposal_hashes.get(number - 1, b"\0" * 32)
        timestamp_us = self.env.now
        proposal = msg.Proposal(
            index=number,
            view=self.core.view,
            leader=self.index,
            hash=msg.proposal_hash(number, parent, ids, timestamp_us, self.index),
            parent_hash=parent,
            tx_ids=ids,
            timestamp_us=timestamp_us,
        )
        self.proposal_hashes[number] = proposal.hash
        self.shared.on_seal(self, proposal)
        self._trace("seal", index=number, txs=len(ids))
        self._apply(self.core.propose(proposal))
        self._maybe_seal()

    # -- proposal fill (docs/fisco-reference.md §2.7)
    # ---------------------------------------------------------
    def _verify_proposal(self, proposal: Any, fetch_from: int | None = None) -> None:
        missing = self.pool.missing(proposal.tx_ids)
        lookup = self.costs.fill(len(proposal.tx_ids))
        if len(missing) == 0:
            done = self.cpu.run(self.env.now, lookup, parallelism=2, lane="verifier")
            self.later(done, self._proposal_filled, proposal, True)
            return
        key = (proposal.index, proposal.hash)
        self._fills[key] = proposal
        request = TxsRequest(proposal.index, proposal.hash, missing)
        self._trace("fetch", index=proposal.index, missing=len(missing))
        source = proposal.leader if fetch_from is None else fetch_from
        self._send_fill(key, self.shared.sealer_net_ids[source], request, FILL_RETRIES)

    def _send_fill(self, key: tuple[int, bytes], dest: int, request: TxsRequest,
                   retries: int) -> None:
        """Sends a fill request and, unless answered within :data:`FILL_RETRY_US`, again: a
        lost request or answer would otherwise leave the proposal unverified for good."""
        if key not in self._fills or request.index <= self.height:
            self._fills.pop(key, None)
            return
        self.shared.network.send(
            self.net_id, dest, request, request.wire_size(), self.shared.nodes_deliver
        )
        if retries > 0:
            self.later(self.env.now + FILL_RETRY_US, self._send_fill, key, dest, request,
                        retries - 1)

    def _serve_fetch(self, src: int, request: TxsRequest) -> None:
        payload = int(self.shared.table.size[request.ids].sum(dtype=np.int64))
        response = TxsResponse(request.index, request.proposal_hash, request.ids, payload,
                               "forge_txs" in self.byzantine)
        done = self.cpu.run(self.env.now, self.costs.encode(response.wire_size()), lane="sync")
        self.later(done, self.shared.network.send, self.net_id, src, response,
                 response.wire_size(), self.shared.nodes_deliver)

    def _receive_fetch(self, response: TxsResponse) -> None:
        proposal = self._fills.pop((response.index, response.proposal_hash), None)
        if proposal is None:
            return
        # Fetched transactions are verified in parallel (tbb::parallel_for, importDownloadedTxs).
        work = self.costs.admit(response.payload_bytes, len(response.ids))
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
            verdicts = self._signature_verdicts(ids)
        self._proposal_filled(proposal, verdicts is None or bool(verdicts.all()))

    def _proposal_filled(self, proposal: Any, ok: bool) -> None:
        if ok:
            self.pool.mark_sealed(proposal.tx_ids)
            self.proposal_hashes[proposal.index] = proposal.hash
            self._report_pool()
        else:
            self.stats.proposals_rejected += 1
        assert self.core is not None
        self._apply(self.core.on_proposal_verified(proposal.index, proposal.hash, ok))

    # -- execution and commit (docs/fisco-reference.md §2.8, §2.9)
    # --------------------------------------------
    def _execute(self, proposal: Any) -> None:
        work = self.costs.execute_block(len(proposal.tx_ids))
        done = self.cpu.run(self.env.now, work, lane="executor")
        self._trace("execute", index=proposal.index, txs=len(proposal.tx_ids))
        self.later(done, self._executed, proposal)

    def _executed(self, proposal: Any) -> None:
        executed = msg.executed_hash(proposal.hash)
        self.stats.executed_blocks += 1
        assert self.core is not None
        self._apply(self.core.on_executed(proposal.index, executed))

    def _commit(self, action: Any) -> None:
        proposal = action.proposal
        work = self.costs.storage_commit(len(proposal.tx_ids))
        done = self.cpu.run(self.env.now, work, lane="storage")
        self.later(done, self._committed, action)

    def _committed(self, action: Any) -> None:
        proposal = action.proposal
        if action.index <= self.height:
            return  # block sync already wrote it
        ids = proposal.tx_ids
        self.pool.remove_committed(ids)
        self.height = action.index
        self.ledger[action.index] = (proposal, action.executed_hash, action.signatures)
        self._last_commit_at = self.env.now
        self.shared.on_commit(self, action.index, proposal, action.executed_hash)
        self._trace("commit", index=action.index, txs=len(ids))
        self._announce(action.index, action.executed_hash)
        assert self.core is not None
        self._apply(self.core.on_committed(action.index))
        self.check_leader()
        self._report_pool()
        self._maybe_seal()


    # -- block sync (docs/fisco-reference.md §7)
    # -------------------------------------------------------------
    def _announce(self, height: int, latest_hash: bytes) -> None:
        """Tells the observers this node's new height (a status packet, docs/fisco-reference.md §7).

        FISCO's nodes send their status to every peer every 200 ms and on each new block; here
        only sealers send, to observers only, on each new block (docs/architecture.md, decision
        19): sealers learn each other's heights from PBFT's CheckPoints and ViewChanges.
        """
        observers = [n for n in self.shared.follower_net_ids if n != self.net_id]
        if not observers:
            return
        status = BlockStatus(height, latest_hash)
        size = status.wire_size()
        done = self.cpu.run(self.env.now, self.costs.encode(size), lane="sync")
        self.later(done, self.shared.network.broadcast, self.net_id, observers, status, size,
                    self.shared.nodes_deliver)

    def _peer_at(self, peer: int, height: int) -> None:
        """Peer ``peer`` has block ``height`` (a status, a CheckPoint, a ViewChange)."""
        if height > self._peer_heights.get(peer, 0):
            self._peer_heights[peer] = height
            if height > self.known_height:
                self.known_height = height

    def _maybe_sync(self) -> None:
        """Downloads what peers have and this node lacks (docs/fisco-reference.md §7).

        The range up to the highest known height is split in shards of 8 blocks; shards go to
        the peers at that height in turn, at most 2 in flight per peer; a shard unanswered
        after 1.6 s is asked again. A sealer waits SYNC_STALL_US before it calls itself behind
        (PBFT may still bring the block); an observer has no other way and asks at once.
        """
        if not self.up or self.known_height <= self._queued_to_height():
            return
        if self.core is not None and self.env.now - self._last_commit_at < SYNC_STALL_US:
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
                peer = free[self._sync_turn % len(free)]
                self._sync_turn += 1
                load[peer] += 1
                self._request_shard(peer, first, last)
            first = last + 1
        if self._inflight and self._behind_since is None and (
                self.core is not None or self.known_height - self.height > 1):
            # A catch-up; an observer one block behind is just following (its lag is counted).
            self._behind_since = self.env.now

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
        if self.shared.params.sync_status_us or not self.up:
            return  # the gossip already tells it
        last = self._told_height_at.get(peer)
        if last is not None and now - last < STATUS_REPLY_US:
            return
        self._told_height_at[peer] = now
        entry = self.ledger.get(self.height)
        status = BlockStatus(self.height, entry[1] if entry is not None else bytes(32))
        size = status.wire_size()
        done = self.cpu.run(now, self.costs.encode(size), lane="sync")
        self.later(done, self.shared.network.send, self.net_id, peer, status, size,
                    self.shared.nodes_deliver)

    def _queued_to_height(self) -> int:
        return max(self.height, self._queued_to)

    def _request_shard(self, peer: int, first: int, last: int) -> None:
        self._sync_token += 1
        token = self._sync_token
        self._inflight[first] = (peer, token)
        request = BlockRequest(first, last)
        self._trace("sync_request", first=first, last=last, peer=peer)
        self.shared.network.send(self.net_id, peer, request, request.wire_size(),
                                 self.shared.nodes_deliver, self._sync_lost)
        # 200 ms per block (1,600 ms for a shard of 8), then the shard is asked for again
        schedule(self.env, self.env.now + SYNC_TIMEOUT_US, self._shard_timeout, first, token)

    def _sync_lost(self, src: int, dst: int, message: Any) -> None:
        first = message.first
        if first in self._inflight:
            del self._inflight[first]

    def _shard_timeout(self, first: int, token: int) -> None:
        entry = self._inflight.get(first)
        if entry is not None and entry[1] == token:
            del self._inflight[first]
            self._maybe_sync()

    def _serve_blocks(self, src: int, request: BlockRequest) -> None:
        blocks = tuple(
            (number, *self.ledger[number])
            for number in range(request.first, request.last + 1)
            if number in self.ledger
        )
        table = self.shared.table
        payload = sum(int(table.size[block[1].tx_ids].sum(dtype=np.int64)) for block in blocks)
        response = BlockResponse(blocks, payload, request.first)
        done = self.cpu.run(self.env.now, self.costs.encode(response.wire_size()), lane="sync")
        requester = self.shared.nodes[src]
        self.later(done, self.shared.network.send, self.net_id, src, response,
                    response.wire_size(), self.shared.nodes_deliver, requester._sync_lost)

    def _receive_blocks(self, response: BlockResponse) -> None:
        """Checks each block's signature list (weight ≥ Q, docs/fisco-reference.md §7) and queues
        it; blocks that follow the ledger without a gap are then executed and committed in
        order."""
        self._inflight.pop(response.first, None)
        blocks = [b for b in response.blocks if b[0] > self._queued_to_height()]
        weights, quorum = self.shared.weights, self.shared.quorum
        valid = [b for b in blocks if sum(weights[s] for s in set(b[3])) >= quorum]
        if len(valid) < len(blocks):
            self.stats.sync_rejected += len(blocks) - len(valid)
        if not valid:
            self._maybe_sync()
            return
        work = (self.costs.decode(response.payload_bytes)
                + sum(self.costs.verify(len(block[3])) for block in valid))
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
            txs = sum(len(block[1].tx_ids) for block in batch)
            work = self.costs.execute(txs) + sum(
                self.costs.storage_commit(len(block[1].tx_ids)) for block in batch)
            done = self.cpu.run(self.env.now, work, lane="sync")
            self.later(done, self._apply_synced, batch)
        self._maybe_sync()

    def _apply_synced(self, blocks: list) -> None:
        synced_hash = None
        for number, proposal, executed_hash, signers in blocks:
            if number != self.height + 1:
                continue  # PBFT committed it meanwhile
            synced_hash = executed_hash
            self.pool.remove_committed(proposal.tx_ids)
            self.height = number
            self.ledger[number] = (proposal, executed_hash, signers)
            self.proposal_hashes[number] = proposal.hash
            self.shared.on_commit(self, number, proposal, executed_hash)
            self.stats.synced_blocks += 1
            self._trace("synced", index=number, txs=len(proposal.tx_ids))
            self._announce(number, executed_hash)
        self._last_commit_at = self.env.now
        if self._behind_since is not None and self.height >= self.known_height:
            self.stats.catch_up_us.append(self.env.now - self._behind_since)
            self._behind_since = None
        if self.core is not None and synced_hash is not None:
            # FISCO's finalizeConsensus(syncedBlock=true): the core moves its committed index
            # up and keeps its view and view-change state (PbftCore.on_synced).
            self._apply(self.core.on_synced(self.height, synced_hash))
        self._maybe_sync()


__all__ = ["REJECT_CODES", "ChainParams", "Node", "NodeStats", "Reject", "Shared"]
