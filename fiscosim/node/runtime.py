"""The node runtime: carries out what the PBFT core decides, with simulated CPU and network.

It holds no protocol rules (docs/architecture.md rule 1): the
:class:`~fiscosim.consensus.pbft.PbftCore` decides; :class:`Node` routes each of the core's
actions to the stage that carries it out, and hands each stage's result back to the core. The
stages, each modelled on FISCO BCOS 3.x and each a module over the shared node context
(:mod:`fiscosim.node.context`; docs/architecture.md, decision 24):

- intake (:mod:`.intake`): RPC (docs/fisco-reference.md §2.2), transaction push (§2.4),
  verification and txpool admission (:mod:`.txpool`);
- the sealer (:mod:`.sealer`, §2.5);
- proposal fill (:mod:`.fill`, §2.7), and serving other nodes' fetches;
- execution and commit (:mod:`.execution`, §2.8, §2.9);
- block sync (:mod:`.sync`, §7), and light nodes' requests (:func:`.light.serve`).

The runtime itself owns the PBFT side: consensus messages in (charged to the ``pbft`` lane,
forged ones dropped) and out (signed, encoded; a byzantine node's through
:class:`~fiscosim.node.context.ByzantineSender`), the core's timers, and the hooks the world and
the faults use (``start``, ``crash``, ``restart``, ``check_leader``, ``set_byzantine``,
``rpc_submit``, ``receive``).

Work lanes (FISCO's threads): ``pbft`` — one thread for every consensus message (§1.2);
``txpool`` — signature checks over all cores; ``sealer``; ``executor`` — serial; ``storage``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from fiscosim.consensus import actions as act
from fiscosim.consensus import messages as msg
from fiscosim.engine import Timer
from fiscosim.node import light
from fiscosim.node.context import (
    ByzantineSender,
    ChainParams,
    NodeContext,
    NodeStats,
    Shared,
    Stage,
)
from fiscosim.node.cpu import Cpu
from fiscosim.node.execution import Execution
from fiscosim.node.fill import ProposalFill
from fiscosim.node.intake import Intake
from fiscosim.node.messages import Envelope
from fiscosim.node.sealer import Sealer
from fiscosim.node.sync import BlockSync
from fiscosim.node.txpool import REJECT_CODES, Reject, TxPool

_VOTES = (msg.Prepare, msg.Commit, msg.CheckPoint)
"""What ``network.votes: aggregate`` posts to inboxes instead of delivering one by one."""

_LIGHT_REQUESTS = frozenset(
    ("LightHeadersRequest", "LightQueryRequest", "LightSendTransactions")
)
"""What light nodes ask full nodes (:mod:`fiscosim.node.light`)."""


def _in_context(name: str, doc: str, writable: bool = True) -> Any:
    """A node attribute kept in its context (for the world, the faults and the metrics)."""
    setter = (lambda node, value: setattr(node.ctx, name, value)) if writable else None
    return property(attrgetter(f"ctx.{name}"), setter, doc=doc)


class Node(Stage):
    """One simulated node of a group: a sealer (with a PBFT core) or an observer (none).

    The wiring of its stages, and itself the stage that talks to the PBFT core.
    """

    net_id = _in_context("net_id", "The network id (the scenario's node position).", False)
    name = _in_context("name", "The scenario's name of the node.", False)
    index = _in_context("index", "The consensus index (−1: an observer).", False)
    ledger = _in_context("ledger", "The committed blocks: number → ledger entry (block, "
                         "proposal, signers).", False)
    height = _in_context("height", "The ledger's height.")
    up = _in_context("up", "False while the process is down.")
    pool = _in_context("pool", "The txpool (a fresh one after a restart).")
    core = _in_context("core", "The PBFT core (None on an observer; rebuilt on a restart).")
    byzantine = _in_context("byzantine", "The active byzantine behaviours.")

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
        ctx = NodeContext(net_id, name, shared, cpu, costs, pool, core)
        super().__init__(ctx)  # ctx, and env, cpu, costs, shared, stats, later from it
        self.timers: dict[str, Timer] = {}
        self._late_votes: list[tuple[np.ndarray, np.ndarray]] = []
        """Aggregated votes that came after their quorum, handed over at their phase's end and
        not charged yet: (arrival times, costs)."""
        self.core_factory: Callable[[int], Any] | None = None
        """Builds this node's core again after a crash or a restart: ``factory(committed_index)``
        (the world sets it for a sealer)."""
        # byzantine behaviour (fiscosim.faults.byzantine): its random stream, reorder's delay
        self.byzantine_rng: Any = None
        self.byzantine_delay_us = 0
        self._receive_costs: dict[tuple[str, int], int] = {}
        self._reported_pending = False
        self._leader_checked: tuple[int, int] | None = None
        self._view_change_since: int | None = None
        self._in_flight = (0, 0)
        """The last proposal this node verified: (number, transactions), 2.x's
        ``m_sealingNumber``."""
        self._wire_stages(ctx)

    def _wire_stages(self, ctx: NodeContext) -> None:
        """Builds the stages over ``ctx`` and connects their callbacks; the bound methods the
        hot paths call are looked up once, here."""
        self.intake = intake = Intake(ctx)
        self.sealer = sealer = Sealer(ctx)
        self.fill = fill = ProposalFill(ctx)
        self.execution = execution = Execution(ctx)
        self.sync = sync = BlockSync(ctx)
        intake.on_admitted = self._pool_changed
        sealer.propose = self._propose
        fill.on_filled = (self._proposal_filled if not ctx.shared.params.execute_first
                          else self._filled_execute_first)
        execution.on_executed = self._executed
        execution.on_committed = self._committed
        sync.on_synced = self._synced
        self.rpc_submit = intake.rpc_submit
        """A client's batch reaches this node's RPC (:meth:`.intake.Intake.rpc_submit`)."""
        self.sync_lost = sync.lost
        """The network's callback when a block request of this node, or its answer, is lost."""
        self._receive_push = intake.receive_push
        self._serve_fetch = fill.serve
        self._receive_fetch = fill.receive
        self._serve_blocks = sync.serve
        self._receive_blocks = sync.receive
        self._status = sync.status
        self._heard = sync.heard
        self._heard_checkpoints = sync.heard_checkpoints
        self._verify_proposal = fill.verify
        self._execute = execution.execute
        self._commit = execution.commit
        self._notify_seal = sealer.notify
        self._maybe_seal = sealer.maybe_seal

    def start(self) -> None:
        if self.ctx.core is not None:
            self._apply(self.ctx.core.start())
        self.sync.start()

    # -- crash and restart (faults) ------------------------------------------------------------
    def crash(self) -> None:
        """The process dies: in-memory work, timers, pool and consensus state are lost.

        The ledger (committed blocks, ``height``) survives on disk. The network drops what is
        sent to or by a down node.
        """
        ctx = self.ctx
        if not ctx.up:
            return
        ctx.up = False
        ctx.epoch += 1
        ctx.executed.clear()  # executed but uncommitted blocks were in memory
        self._late_votes = []
        if self.shared.votes is not None:
            self.shared.votes.forget_late(ctx.net_id)
        for timer in self.timers.values():
            timer.cancel()
        self.shared.network.set_node_up(ctx.net_id, False)
        ctx.trace("crash", height=ctx.height)
        self.sync.forget_download()
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
        core = self.ctx.core
        if core is None or not self.ctx.up:
            return
        leader = core.current_leader
        key = (leader, core.to_view)
        if key == self._leader_checked:
            return
        network_id = self.shared.sealer_net_ids[leader]
        if network_id != self.ctx.net_id and not self.shared.network.is_up(network_id):
            self._leader_checked = key
            self._apply(core.on_leader_unreachable())
            self.check_leader()  # the next leader may be down too

    def restart(self) -> None:
        """The process starts again from its ledger: an empty pool, a fresh PBFT core that
        recovers the current view from its peers (docs/fisco-reference.md §1.7 Recover)."""
        ctx = self.ctx
        if ctx.up:
            return
        ctx.up = True
        self.shared.network.set_node_up(ctx.net_id, True)
        ctx.pool = ctx.pool.fresh()
        self.cpu.reset(self.env.now)
        self._rebuild_core()
        ctx.trace("restart", height=ctx.height)
        self.start()

    def _rebuild_core(self) -> None:
        """A fresh PBFT core at the ledger's height (recovering the view), and everything the
        old one had under way forgotten: sealing, proposal fills, timers, reports."""
        ctx = self.ctx
        ctx.epoch += 1
        for timer in self.timers.values():
            timer.cancel()
        self.fill.reset()
        self.execution.reset()
        self.sealer.reset()
        self._reported_pending = False
        self._leader_checked = None
        if self.core_factory is not None:
            ctx.core = self.core_factory(ctx.height)

    # -- the core's actions, routed to the stages ------------------------------------------------
    def trace_state(self) -> dict[str, Any]:
        """This node's state as a trace's ``state`` record says it (tracing only): the core's
        view, the view it moves to, whom it waits for (a consensus index), its committed and
        executed heights and its timeout back-off exponent."""
        core = self.ctx.core
        if core is None:
            return {"up": self.ctx.up, "committed": self.ctx.height}
        return {"up": self.ctx.up, "view": core.view, "to_view": core.to_view,
                "leader": core.current_leader, "committed": core.committed_index,
                "executed": core.executed_index, "cycle": core.change_cycle}

    def _apply(self, actions: list, state: dict[str, Any] | None = None) -> None:
        """Carries out the core's actions. Tracing, the node's state follows them: ``state``,
        taken when the core produced them (a message's actions wait for the PBFT thread while
        the core has moved on), else the core's state now."""
        self._carry_out(actions)
        if self.shared.trace is not None:
            self.ctx.trace("state", **(state if state is not None else self.trace_state()))

    def _carry_out(self, actions: list) -> None:
        for action in actions:
            kind = type(action)
            if kind is act.Broadcast:
                self._send_pbft(action.message, None)
            elif kind is act.Send:
                self._send_pbft(action.message, action.dest)
            elif kind is act.VerifyProposal:
                self._verify_proposal(action.proposal, action.fetch_from)
                self._in_flight = (action.proposal.index, len(action.proposal.tx_ids))
            elif kind is act.Unseal:
                self.ctx.pool.unseal(action.proposal.tx_ids)
                self._pool_changed()
            elif kind is act.Execute:
                self._execute(action.proposal)
            elif kind is act.CommitBlock:
                self._commit(action)
            elif kind is act.SealRange:
                self._notify_seal(action.start, action.end)
            elif kind is act.SetTimer:
                self._timer(action.name).set(action.delay_us)
                self.ctx.trace("timer_set", name=action.name, delay_us=action.delay_us)
            elif kind is act.CancelTimer:
                timer = self.timers.get(action.name)
                if timer is not None and timer.armed:
                    timer.cancel()
                    self.ctx.trace("timer_cancelled", name=action.name)
            elif kind is act.ViewChangeNeeded:
                self.stats.view_changes_wanted += 1
                size = self.sealer.block_size
                if (size is not None and action.reason == "timeout"
                        and self._in_flight[0] > self.ctx.height):
                    # 2.x's onTimeout: only a timeout with a block in flight shrinks blocks
                    size.on_timeout(self._in_flight[1])
                if self._view_change_since is None:
                    self._view_change_since = self.env.now
            elif kind is act.ViewEntered:
                if self._view_change_since is not None:
                    self.stats.view_change_us.append(self.env.now - self._view_change_since)
                    self._view_change_since = None
            elif isinstance(action, act.Event):
                # The core's events (built only when tracing): the trace keeps them as data;
                # fiscosim.trace.narrate words them when the trace is read.
                if self.shared.trace is not None:
                    self.ctx.trace("core", step=action)
            else:  # pragma: no cover - a new action type must be wired here
                raise TypeError(f"the runtime does not know action {kind.__name__}")

    def _timer(self, name: str) -> Timer:
        timer = self.timers.get(name)
        if timer is None:
            timer = self.timers[name] = Timer(self.env, lambda: self._on_timer(name))
        return timer

    def _on_timer(self, name: str) -> None:
        ctx = self.ctx
        if not ctx.up:
            return
        ctx.trace("timer_fired", name=name)
        assert ctx.core is not None
        self._apply(ctx.core.on_timer(name))

    # -- the stages' results, handed to the core -------------------------------------------------
    def _report_pool(self) -> None:
        """Tells the core whether transactions are pending (``setTxsSize``, docs/fisco-reference.md
        §1.7).

        FISCO's txpool reports its size every 100 ms and the view timer runs while it is not
        empty, so a crashed leader is noticed even when no proposal arrives. Only the changes
        between empty and not empty matter to the core, so only those are reported.
        """
        ctx = self.ctx
        pending = ctx.pool.pending > 0
        if ctx.core is not None and pending != self._reported_pending:
            self._reported_pending = pending
            self._apply(ctx.core.on_pool_size(ctx.pool.pending))

    def _pool_changed(self) -> None:
        """Transactions became pending (admitted, unsealed) or left the pool (committed)."""
        self._report_pool()
        self._maybe_seal()

    def _propose(self, proposal: msg.Proposal) -> None:
        assert self.ctx.core is not None
        self._apply(self.ctx.core.propose(proposal))

    def _proposal_filled(self, proposal: Any, ok: bool) -> None:
        if ok:
            self._report_pool()
        assert self.ctx.core is not None
        self._apply(self.ctx.core.on_proposal_verified(proposal.index, proposal.hash, ok))

    def _filled_execute_first(self, proposal: Any, ok: bool) -> None:
        """2.x: a filled proposal is executed before the core hears it is verified (its
        Prepare, 2.x's SignReq, names an executed block)."""
        if ok:
            self.execution.execute_before_sign(proposal, self._proposal_filled)
        else:
            self._proposal_filled(proposal, ok)

    def _executed(self, index: int, executed_hash: bytes) -> None:
        assert self.ctx.core is not None
        self._apply(self.ctx.core.on_executed(index, executed_hash))

    def _committed(self, index: int, executed_hash: bytes) -> None:
        size = self.sealer.block_size
        if size is not None:
            size.on_commit(index, len(self.ctx.ledger[index].proposal.tx_ids))
        self.sync.announce(index, executed_hash)
        assert self.ctx.core is not None
        self._apply(self.ctx.core.on_committed(index))
        self.check_leader()
        self._pool_changed()

    def _synced(self, height: int, executed_hash: bytes) -> None:
        self.execution.resume_up_to(height)
        core = self.ctx.core
        if core is not None:
            # FISCO's finalizeConsensus(syncedBlock=true): the core moves its committed index
            # up and keeps its view and view-change state (PbftCore.on_synced).
            self._apply(core.on_synced(height, executed_hash))

    # -- PBFT messages -------------------------------------------------------------------------
    def _send_pbft(self, message: Any, dest: int | None) -> None:
        if self.ctx.byzantine:
            self.shared.byzantine_send(self, message, dest)
        else:
            self.emit(message, self.pbft_dests(dest))

    def executed_hash_of(self, proposal: msg.Proposal) -> bytes:
        """The hash ``proposal`` has once executed on this node's chain (what an equivocating
        node's CheckPoint names for a proposal it did not execute)."""
        return self.execution.block_for(proposal).hash

    def pbft_dests(self, dest: int | None) -> Sequence[int]:
        """Network ids a PBFT message goes to: consensus node ``dest``, or every other sealer."""
        if dest is None:
            return self.ctx.other_sealers
        return (self.shared.sealer_net_ids[dest],)

    def emit(self, message: Any, targets: Sequence[int], forged: bool = False,
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
        ctx = self.ctx
        active = set(ctx.byzantine)
        if on:
            active.add(behaviour)
            if behaviour == "reorder":
                self.byzantine_delay_us = delay_us
        else:
            active.discard(behaviour)
        ctx.byzantine = frozenset(active)
        coalition = self.shared.coalition
        if coalition is not None and behaviour == "equivocate" and ctx.index >= 0:
            (coalition.members.add if on else coalition.members.discard)(ctx.index)
        ctx.trace("byzantine", behaviour=behaviour, on=on)

    def _transmit(self, targets: list[int], message: Any, size: int) -> None:
        shared = self.shared
        board = shared.votes
        if board is not None and type(message.message) in _VOTES:
            self._post_votes(board, targets, message, size)
            return
        shared.network.broadcast(self.ctx.net_id, targets, message, size, shared.nodes_deliver)

    def _post_votes(self, board: Any, targets: Sequence[int], envelope: Any,
                    size: int) -> None:
        """``network.votes: aggregate``: the vote's copies are timed on the network and posted
        to its phase (:mod:`fiscosim.net.aggregate`), not delivered one by one."""
        network = self.shared.network
        src = self.ctx.net_id
        dsts = np.asarray(targets, dtype=np.intp)
        arrivals = network.broadcast_arrivals(src, dsts, envelope, size)
        vote = envelope.message
        if type(vote) is msg.CheckPoint:  # counted by executed hash, whatever its view
            key: tuple = ("CheckPoint", vote.index, vote.executed_hash)
        else:
            key = (vote.kind, vote.view, vote.index, vote.hash)
        board.post(src, dsts, arrivals, envelope, key, vote.index, envelope.size, vote)

    def receive(self, src: int, message: Any) -> None:
        """Network delivery: hand the message to its stage, or charge the handling of a PBFT
        message and give it to the core."""
        ctx = self.ctx
        if not ctx.up:
            return
        kind = message.kind
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
            light.serve(ctx, src, message, self.rpc_submit)
        elif kind == "BlockStatus":
            self._status(src, message)
        elif ctx.core is not None:
            # A PBFT message: charged to the PBFT thread, then given to the core.
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
            done = self.cpu.run(self.env.now, work, lane="pbft")
            if forged:
                # The signature check fails: dropped before the core sees it
                # (docs/fisco-reference.md §1.2).
                self.stats.forged_messages_rejected += 1
                ctx.trace("forged_rejected", kind=kind, src=src)
                return
            if type(message) is msg.PrePrepare:
                ctx.proposal_hashes[message.index] = message.proposal.hash
            elif kind == "CheckPoint" or kind == "ViewChange":
                self._heard(src, kind, message.index)  # what it says of the sender's height
            # The core takes the message now and its actions happen when the PBFT thread has
            # handled it (`done`). The thread is FIFO, so the core sees messages in the order
            # the thread would; most votes produce no action at all, and this saves an event
            # per message (half of a 100-node run's events).
            actions = ctx.core.handle(message)
            if actions:
                self.later(done, self._apply, actions,
                           self.trace_state() if self.shared.trace is not None else None)
                if kind in ("ViewChange", "NewView"):
                    self.later(done, self.check_leader)

    def receive_votes(self, arrivals: np.ndarray, senders: np.ndarray, votes: np.ndarray,
                      envelope: Any) -> None:
        """A phase's votes at this node's quorum instant (``network.votes: aggregate``,
        :mod:`fiscosim.net.aggregate`), in arrival order: their arrival times, senders and
        messages, and one of their envelopes. The last one's verification is a task on the
        PBFT thread from its arrival, as in the exact mode; the others' are charged to the
        cores only (see below); the core counts them in order, and their actions happen when
        the last one's task is done."""
        ctx = self.ctx
        core = ctx.core
        if not ctx.up or core is None:
            return
        work = self._vote_cost(envelope)
        self._charge_late_votes()
        count = len(votes)
        if count > 1:
            # The votes before the last were verified as they came, while the PBFT thread had
            # nothing else to do; charged now, on the thread, they would queue behind work that
            # arrived after them. Their cores are charged, the thread is not held (so the
            # summary's utilisation shows this work under "other", not "pbft").
            self.cpu.run(int(arrivals[0]), work * (count - 1))
        done = self.cpu.run(int(arrivals[-1]), work, lane="pbft")
        if envelope.kind == "CheckPoint":
            self._heard_checkpoints(senders.tolist(), votes[0].index)
        actions = core.handle_votes(votes)
        if actions:
            self.later(done, self._apply, actions,
                       self.trace_state() if self.shared.trace is not None else None)

    def late_votes(self, arrivals: np.ndarray, sizes: np.ndarray, envelope: Any) -> None:
        """Votes of one kind that reached this node after their phase's quorum, handed over
        when the phase ended (aggregated votes; the rest it takes from the board itself when
        it is next handed a quorum): the core never counts them, and their verification is
        charged to the PBFT thread with the next quorum's, before it, once they have arrived
        (charged now, a task in the future would hold the thread for work that comes before
        it)."""
        if self.ctx.up:
            self._late_votes.append((arrivals, self._costs_of(envelope.kind, sizes)))

    def _charge_late_votes(self) -> None:
        now = self.env.now
        chunks = [(arrivals, self._costs_of(envelope.kind, sizes))
                  for arrivals, sizes, envelope in self.shared.votes.take_late(self.ctx.net_id,
                                                                               now)]
        if self._late_votes:
            chunks += self._late_votes
            self._late_votes = []
        if not chunks:
            return
        arrivals = np.concatenate([chunk[0] for chunk in chunks])
        works = np.concatenate([chunk[1] for chunk in chunks])
        due = arrivals <= now
        if not due.all():
            # Handed over at a phase's end before they arrived: kept for a later quorum.
            keep = ~due
            self._late_votes = [(arrivals[keep], works[keep])]
            arrivals, works = arrivals[due], works[due]
            if not len(arrivals):
                return
        last = int(np.lexsort((works, arrivals))[-1])  # the last in (arrival, work) order
        work = int(works.sum())
        start = max(int(arrivals.min()), int(arrivals[last]) - work + int(works[last]))
        self.cpu.run(start, work, lane="pbft")

    def _costs_of(self, kind: str, sizes: np.ndarray) -> np.ndarray:
        """The receive costs of votes of ``kind`` with payloads ``sizes``."""
        # A vote's size varies only with its sender's encoded index: a few distinct sizes.
        distinct, which = np.unique(sizes, return_inverse=True)
        costs = np.array([self._cost_of(kind, int(size)) for size in distinct], dtype=np.int64)
        return costs[which]

    def _cost_of(self, kind: str, size: int) -> int:
        key = (kind, size)
        work = self._receive_costs.get(key)
        if work is None:
            work = self._receive_costs[key] = self.costs.receive_message(*key)
        return work

    def _vote_cost(self, envelope: Any) -> int:
        return self._cost_of(envelope.kind, envelope.size)


__all__ = ["REJECT_CODES", "ByzantineSender", "ChainParams", "Node", "NodeStats", "Reject",
           "Shared"]
