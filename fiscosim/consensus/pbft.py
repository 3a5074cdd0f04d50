"""FISCO BCOS 3.x PBFT, normal case, as a sans-I/O state machine (DESIGN.md rule 1).

:class:`PbftCore` is one consensus node's protocol: messages and runtime reports go in, a list
of :mod:`~fiscosim.consensus.actions` comes out. It reads no clock (``now`` is passed in, integer
µs), sends nothing and holds no transaction objects — a block's transactions stay one read-only
int64 array inside its :class:`~fiscosim.consensus.messages.Proposal`.

One block, as FISCO.md §1.5 describes it (four network rounds)::

    leader: SealRange ─► propose ─► PrePrepare ─┐   (leader handles its own, no verification)
    replica: PrePrepare ─► VerifyProposal ─► on_proposal_verified ─► Prepare
    prepare weight ≥ Q (same view, same hash) ─► "precommit" ─► Commit
    commit weight ≥ Q ─► committed by consensus ─► SealRange to the next leader (§1.6)
                                               └─► Execute, strictly one at a time, in order
    on_executed ─► CheckPoint(executed hash)
    checkpoint weight ≥ Q on our own executed hash ─► stable ─► CommitBlock, strictly in order
    on_committed ─► committed index advances, state ≤ index is dropped, the window moves

Rules and where they come from:

- **Weights and quorum** (§1.3): every vote is counted by its sender's weight, distinct senders
  only; a phase completes at weight ≥ Q = W − ⌊(W − 1)/3⌋ (:func:`fiscosim.chain.config.quorum`).
- **Leader** (§1.4): ``leader(i) = (i // leader_period + view) % n``.
- **Pipeline** (§1.6): the sealing side only hands out indexes below the high water mark
  ``committed + 1 + pipeline_size``; with ``leader_period = 1`` the next leader is told to seal
  as soon as the previous block reaches the *commit* quorum, before it is executed, so block
  i+1 is ordered while i executes and i−1 is stored. A leader whose turn falls beyond the high
  water mark waits until a commit moves the window.
- **Out of order delivery is normal**: votes that arrive before their PrePrepare are kept
  (per index, per (view, hash)) and count once the proposal is accepted.
- **Execution** (§1.5 step 6, §2.8) is serial and in index order; **ledger commit** (step 8)
  too: a stable checkpoint waits for every earlier block to be committed.
- **The view timer** (§1.7) runs only while proposals are in flight; it is restarted on
  progress (proposal accepted, precommit, commit quorum, execution finished, block committed) and
  cancelled when nothing is in flight. When it fires while an execution or a ledger commit is
  under way it is just restarted (``onTimeout``); otherwise the core emits
  ``Note("timeout")`` and :class:`~fiscosim.consensus.actions.ViewChangeNeeded`. View change
  itself (ViewChange/NewView, §1.7) is a later issue: ``view`` is kept in every message and in
  the state, and ``change_cycle`` is kept for the 1.5× back-off.

Deviations from FISCO, each deliberate:

- Receive-side bound. FISCO checks only a lower bound on a received PrePrepare (§1.5 step 3)
  and leaves the upper bound to the sealing side. We also drop messages for indexes at or above
  ``committed + 1 + RECEIVE_SLACK`` (:data:`RECEIVE_SLACK` = max(1000, 20 × pipeline_size)), a
  memory bound against a faulty peer's spam, far enough that an honest node whose ledger lags
  the others never drops a message it will need: a dropped PrePrepare is only recovered by
  block sync (a later issue; §1.6 ``isSyncingHigher``). An earlier bound of 2 × pipeline_size
  stalled a lagging node for good under random delivery orders (found by the property test).
- CheckPoints are counted by executed hash whatever their view: the executed hash does not
  depend on the view, and a stable checkpoint is a property of the hash (§1.5 step 8).
- Not modelled yet: system proposals that stall the pipeline (§1.6), checkpoint re-broadcast
  after ``checkpoint_timeout`` and the f+1 checkpoint fetch (§1.5). The txpool-size trigger of
  the timer exists (:meth:`PbftCore.on_pool_size`) but the runtime does not call it yet, so
  the timer runs only while proposals are in flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fiscosim.chain.config import max_faulty, quorum
from fiscosim.consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    CommitBlock,
    Execute,
    Note,
    SealRange,
    SetTimer,
    VerifyProposal,
    ViewChangeNeeded,
)
from fiscosim.consensus.messages import (
    PBFT_TIMER,
    CheckPoint,
    Commit,
    Prepare,
    PrePrepare,
    Proposal,
)

MAX_CHANGE_CYCLE = 10
"""Cap of the timeout back-off exponent (FISCO.md §1.7, ``PBFTTimer``)."""

# A block's proposal, as this node sees it.
_EMPTY = 0  # no PrePrepare accepted yet (votes may already be waiting)
_VERIFYING = 1  # PrePrepare passed the checks; the txpool is filling the proposal
_ACCEPTED = 2  # verified (or our own): our Prepare is out, votes for its hash count
_REJECTED = 3  # the txpool said no; waits for a view change


class _Votes:
    """Distinct voters for one (view, hash) and their summed weight."""

    __slots__ = ("voters", "weight")

    def __init__(self) -> None:
        self.voters: set[int] = set()
        self.weight = 0


class _Slot:
    """Everything this node knows about one block index above its committed index."""

    __slots__ = (
        "checkpoints",
        "commit_quorum",
        "commits",
        "executed_hash",
        "index",
        "precommitted",
        "prepares",
        "proposal",
        "stable",
        "state",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.proposal: Proposal | None = None
        self.state = _EMPTY
        self.prepares: dict[tuple[int, bytes], _Votes] = {}
        self.commits: dict[tuple[int, bytes], _Votes] = {}
        self.checkpoints: dict[bytes, _Votes] = {}
        self.precommitted = False
        self.commit_quorum = False
        self.executed_hash: bytes | None = None
        self.stable: tuple[int, ...] | None = None  # the stable checkpoint's signers


def receive_slack(pipeline_size: int) -> int:
    """How far above the committed block a received message may be (module docstring)."""
    return max(1000, 20 * pipeline_size)


def _short(digest: bytes) -> str:
    return digest[:4].hex()


class PbftCore:
    """One consensus node's PBFT (FISCO BCOS 3.x, normal case), messages in, actions out.

    ``index`` is this node's position in the consensus list (nodeID order, FISCO.md §1.3) and
    ``weights`` every sealer's vote weight in that order. ``committed_index`` is the ledger's
    height at start. With ``notes=False`` no :class:`~fiscosim.consensus.actions.Note` is built.

    >>> core = PbftCore(0, [1, 1, 1, 1], notes=False)
    >>> core.quorum, core.leader_of(1), core.leader_of(2)
    (3, 1, 2)
    >>> core.start(0)   # block 1's leader is node 1, not us
    []
    """

    def __init__(
        self,
        index: int,
        weights: Sequence[int],
        leader_period: int = 1,
        pipeline_size: int = 50,
        timeout_us: int = 3_000_000,
        committed_index: int = 0,
        view: int = 0,
        notes: bool = True,
    ) -> None:
        weights = tuple(int(weight) for weight in weights)
        self._quorum = quorum(weights)  # also validates the weights
        self._max_faulty = max_faulty(weights)
        if not 0 <= index < len(weights):
            raise ValueError(f"node index {index} is not in a consensus list of {len(weights)}")
        if leader_period < 1:
            raise ValueError(f"leader_period must be at least 1, got {leader_period}")
        if pipeline_size < 1:
            raise ValueError(f"pipeline_size must be at least 1, got {pipeline_size}")
        if timeout_us < 1:
            raise ValueError(f"timeout_us must be at least 1, got {timeout_us}")
        if committed_index < 0 or view < 0:
            raise ValueError("committed_index and view cannot be negative")
        self._index = index
        self._weights = weights
        self._n = len(weights)
        self._leader_period = leader_period
        self._pipeline_size = pipeline_size
        self._receive_window = receive_slack(pipeline_size)  # see the module docstring
        self._timeout_us = timeout_us
        self._view = view
        self._change_cycle = 0  # back-off exponent; the view-change issue moves it
        self._committed = committed_index
        self._executed = committed_index
        self._executing: int | None = None
        self._committing: int | None = None
        # The highest index this node was told to seal (FISCO's notifySealer marker): with
        # leader_period 1 the next leader is notified at commit quorum, and must not be again
        # when the block is later committed.
        self._sealed_up_to = committed_index
        self._waiting_seal: int | None = None  # our turn, blocked by the high water mark
        self._slots: dict[int, _Slot] = {}
        self._active = 0  # slots with a proposal (verifying, accepted or rejected)
        self._timer_armed = False
        self._progressed = False  # set by a step that restarts the view timer
        self._notes = notes

    # -- read-only state ------------------------------------------------------------------------
    @property
    def index(self) -> int:
        """This node's consensus index."""
        return self._index

    @property
    def n(self) -> int:
        """Number of consensus nodes."""
        return self._n

    @property
    def weights(self) -> tuple[int, ...]:
        """Every consensus node's vote weight, by index."""
        return self._weights

    @property
    def quorum(self) -> int:
        """Q, the weight every phase must reach (FISCO.md §1.3)."""
        return self._quorum

    @property
    def max_faulty(self) -> int:
        """f, the faulty weight tolerated (FISCO.md §1.3)."""
        return self._max_faulty

    @property
    def view(self) -> int:
        return self._view

    @property
    def change_cycle(self) -> int:
        """The timeout back-off exponent (FISCO.md §1.7); 0 until view change exists."""
        return self._change_cycle

    @property
    def committed_index(self) -> int:
        """The highest block written to the ledger."""
        return self._committed

    @property
    def executed_index(self) -> int:
        """The highest block executed (≥ committed_index)."""
        return self._executed

    @property
    def leader_period(self) -> int:
        return self._leader_period

    @property
    def pipeline_size(self) -> int:
        return self._pipeline_size

    @property
    def high_water_mark(self) -> int:
        """The first index a leader may not propose yet: committed + 1 + pipeline_size (§1.6)."""
        return self._committed + 1 + self._pipeline_size

    @property
    def sealed_up_to(self) -> int:
        """The highest index this node has been told to seal (committed_index if none)."""
        return self._sealed_up_to

    @property
    def timer_armed(self) -> bool:
        """Whether the PBFT view timer is running, as far as the core has asked."""
        return self._timer_armed

    @property
    def timeout_us(self) -> int:
        """The current view timeout: base × 1.5^change_cycle, cycle capped at 10 (§1.7)."""
        cycle = min(self._change_cycle, MAX_CHANGE_CYCLE)
        return self._timeout_us * 3**cycle // 2**cycle

    def leader_of(self, index: int, view: int | None = None) -> int:
        """The leader of block ``index`` in ``view`` (default: ours) (FISCO.md §1.4)."""
        if view is None:
            view = self._view
        return (index // self._leader_period + view) % self._n

    def is_leader(self, index: int) -> bool:
        """Whether this node leads block ``index`` in the current view."""
        return (index // self._leader_period + self._view) % self._n == self._index

    # -- entry points ---------------------------------------------------------------------------
    def start(self, now: int) -> list[Action]:
        """Boot: a SealRange if this node leads the first block above the committed one."""
        acts: list[Action] = []
        self._try_notify(self._committed + 1, acts)
        return acts

    def propose(self, proposal: Proposal, now: int) -> list[Action]:
        """The sealer's block: broadcast its PrePrepare and our Prepare (FISCO.md §1.5 step 2).

        Refused (with a Note) unless this node leads ``proposal.index`` and the index is
        above what it executed and below the high water mark (§1.6). The leader does not verify
        its own proposal.
        """
        acts: list[Action] = []
        index = proposal.index
        if not self.is_leader(index):
            self._ignore(acts, "PrePrepare", index, "not_leader",
                         f"we are not the leader of block {index} in view {self._view}")
            return acts
        if index <= self._executed:
            self._ignore(acts, "PrePrepare", index, "stale",
                         f"block {index} is already executed (executed {self._executed})")
            return acts
        if index >= self._committed + 1 + self._pipeline_size:
            self._ignore(acts, "PrePrepare", index, "out_of_window",
                         f"block {index} is beyond the high water mark "
                         f"{self._committed + 1 + self._pipeline_size}")
            return acts
        slot = self._slot(index)
        if slot.state != _EMPTY:
            self._ignore_second_proposal(acts, slot, proposal)
            return acts
        slot.proposal = proposal
        slot.state = _ACCEPTED
        self._active += 1
        if self._notes:
            acts.append(Note(
                "proposal_sent",
                f"node {self._index} proposes block {index} in view {self._view} "
                f"({len(proposal.tx_ids)} txs, hash {_short(proposal.hash)})",
                {"index": index, "view": self._view, "leader": self._index,
                 "txs": len(proposal.tx_ids), "hash": proposal.hash},
            ))
        acts.append(Broadcast(PrePrepare(self._view, index, self._index, proposal)))
        self._progressed = True
        self._send_prepare(slot, acts)
        self._end(acts)
        return acts

    def handle(self, message: Any, now: int) -> list[Action]:
        """A PBFT message from another consensus node (any order, duplicates allowed)."""
        kind = type(message)
        if kind is Prepare:
            return self._on_prepare(message)
        if kind is Commit:
            return self._on_commit(message)
        if kind is CheckPoint:
            return self._on_checkpoint(message)
        if kind is PrePrepare:
            return self._on_pre_prepare(message)
        acts: list[Action] = []
        self._ignore(acts, kind.__name__, getattr(message, "index", -1), "unknown_message",
                     f"{kind.__name__} is not a PBFT message this core handles")
        return acts

    def on_proposal_verified(self, index: int, hash: bytes, ok: bool, now: int) -> list[Action]:
        """The txpool's verdict on a received proposal (FISCO.md §1.5 step 3, §2.7).

        ok: accept it and broadcast our Prepare. Not ok: a Note; the proposal stays in flight
        so the view timer fires (FISCO then changes view).
        """
        acts: list[Action] = []
        slot = self._slots.get(index)
        if slot is None or slot.state != _VERIFYING or slot.proposal.hash != hash:
            self._ignore(acts, "verification", index, "unexpected",
                         f"no proposal {_short(hash)} for block {index} awaits verification")
            return acts
        if not ok:
            slot.state = _REJECTED
            if self._notes:
                acts.append(Note(
                    "proposal_rejected",
                    f"proposal {_short(hash)} for block {index} failed verification; "
                    "waiting for a view change",
                    {"index": index, "view": self._view, "hash": hash},
                ))
            return acts
        slot.state = _ACCEPTED
        if self._notes:
            acts.append(Note(
                "proposal_verified",
                f"proposal {_short(hash)} for block {index} verified: sending Prepare",
                {"index": index, "view": self._view, "hash": hash},
            ))
        self._progressed = True
        self._send_prepare(slot, acts)
        self._end(acts)
        return acts

    def on_executed(self, index: int, executed_hash: bytes, now: int) -> list[Action]:
        """Execution of block ``index`` finished: broadcast our CheckPoint (§1.5 step 7)."""
        acts: list[Action] = []
        if index != self._executing:
            self._ignore(acts, "execution", index, "unexpected",
                         f"block {index} is not the one executing ({self._executing})")
            return acts
        slot = self._slots[index]
        self._executing = None
        self._executed = index
        slot.executed_hash = executed_hash
        if self._notes:
            acts.append(Note(
                "checkpoint_sent",
                f"block {index} executed (hash {_short(executed_hash)}): sending CheckPoint",
                {"index": index, "view": self._view, "executed_hash": executed_hash},
            ))
        acts.append(Broadcast(CheckPoint(self._view, index, self._index, executed_hash)))
        self._add_vote(slot.checkpoints, executed_hash, self._index)
        self._progressed = True
        self._check_stable(slot, acts)
        self._try_execute(acts)
        self._end(acts)
        return acts

    def on_committed(self, index: int, now: int) -> list[Action]:
        """The ledger stored block ``index``: advance, drop its state, move the window (§1.5 9)."""
        acts: list[Action] = []
        if index != self._committing:
            self._ignore(acts, "ledger commit", index, "unexpected",
                         f"block {index} is not the one being committed ({self._committing})")
            return acts
        self._committing = None
        self._committed = index
        slot = self._slots.pop(index)
        if slot.state != _EMPTY:
            self._active -= 1
        if self._notes:
            acts.append(Note(
                "committed",
                f"block {index} committed to the ledger; window now "
                f"[{index + 1}, {index + 1 + self._pipeline_size})",
                {"index": index, "view": self._view,
                 "high_water_mark": index + 1 + self._pipeline_size},
            ))
        self._progressed = True
        self._try_commit(acts)
        # The window moved: a leader that was waiting for room may seal now.
        waiting = self._waiting_seal
        if waiting is not None:
            self._waiting_seal = None
            self._try_notify(waiting, acts)
        self._try_notify(self._committed + 1, acts)
        self._end(acts)
        return acts

    def on_timer(self, name: str, now: int) -> list[Action]:
        """A timer fired (FISCO.md §1.7 ``onTimeout``)."""
        acts: list[Action] = []
        if name != PBFT_TIMER or not self._timer_armed:
            self._ignore(acts, "timer", self._committed + 1, "stale_timer",
                         f"timer {name!r} is not armed in this core")
            return acts
        self._timer_armed = False
        if self._executing is not None or self._committing is not None:
            # onTimeout: a block executing or being stored is progress, not a stuck leader.
            delay = self.timeout_us
            acts.append(SetTimer(PBFT_TIMER, delay))
            self._timer_armed = True
            if self._notes:
                acts.append(Note(
                    "timeout_extended",
                    f"view timer fired while block {self._executing or self._committing} is "
                    f"executing or being stored: restarted for {delay} µs",
                    {"index": self._committed + 1, "view": self._view, "delay_us": delay},
                ))
            return acts
        to_view = self._view + 1
        if self._notes:
            acts.append(Note(
                "timeout",
                f"view timer fired in view {self._view} with block {self._committed + 1} "
                f"not committed: a view change to view {to_view} is needed",
                {"index": self._committed + 1, "view": self._view, "to_view": to_view},
            ))
        acts.append(ViewChangeNeeded(to_view, self._committed + 1, "timeout"))
        return acts

    def on_pool_size(self, pending: int, now: int) -> list[Action]:
        """The txpool's size report (FISCO.md §1.7 ``setTxsSize``): pending txs arm the timer.

        FISCO runs the view timer while transactions are pending even if no proposal arrived,
        so a crashed leader is noticed. Optional: a runtime that never calls this gets a timer
        that runs only while proposals are in flight.
        """
        acts: list[Action] = []
        if pending > 0 and not self._timer_armed:
            self._arm(acts, "transactions are pending")
        elif pending == 0 and self._active == 0 and self._timer_armed:
            self._cancel(acts)
        return acts

    # -- messages -------------------------------------------------------------------------------
    def _on_pre_prepare(self, message: PrePrepare) -> list[Action]:
        acts: list[Action] = []
        index = message.index
        if not self._checked_index(message, acts, "PrePrepare", self._executed):
            return acts
        if not self._checked_view(message, acts, "PrePrepare"):
            return acts
        proposal = message.proposal
        if proposal.index != index:
            self._ignore(acts, "PrePrepare", index, "malformed",
                         f"PrePrepare for block {index} carries block {proposal.index}")
            return acts
        leader = self.leader_of(index)
        if message.sender != leader:
            self._ignore(acts, "PrePrepare", index, "wrong_leader",
                         f"PrePrepare for block {index} from node {message.sender}, but the "
                         f"leader in view {self._view} is node {leader}",
                         sender=message.sender, leader=leader)
            return acts
        slot = self._slot(index)
        if slot.state != _EMPTY:
            self._ignore_second_proposal(acts, slot, proposal)
            return acts
        slot.proposal = proposal
        slot.state = _VERIFYING
        self._active += 1
        if self._notes:
            acts.append(Note(
                "proposal_received",
                f"PrePrepare for block {index} from leader {leader} in view {self._view} "
                f"({len(proposal.tx_ids)} txs, hash {_short(proposal.hash)}): verifying",
                {"index": index, "view": self._view, "leader": leader,
                 "txs": len(proposal.tx_ids), "hash": proposal.hash},
            ))
        acts.append(VerifyProposal(proposal))
        if not self._timer_armed:
            self._arm(acts, f"proposal {index} in flight")
        return acts

    def _on_prepare(self, message: Prepare) -> list[Action]:
        acts: list[Action] = []
        if not self._checked_index(message, acts, "Prepare", self._committed):
            return acts
        if not self._checked_view(message, acts, "Prepare"):
            return acts
        slot = self._slot(message.index)
        if not self._counted(slot.prepares, (message.view, message.hash), message, acts):
            return acts
        if slot.state == _ACCEPTED and not slot.precommitted:
            self._check_prepared(slot, acts)
            self._end(acts)
        return acts

    def _on_commit(self, message: Commit) -> list[Action]:
        acts: list[Action] = []
        if not self._checked_index(message, acts, "Commit", self._committed):
            return acts
        if not self._checked_view(message, acts, "Commit"):
            return acts
        slot = self._slot(message.index)
        if not self._counted(slot.commits, (message.view, message.hash), message, acts):
            return acts
        if slot.precommitted and not slot.commit_quorum:
            self._check_commit_quorum(slot, acts)
            self._end(acts)
        return acts

    def _on_checkpoint(self, message: CheckPoint) -> list[Action]:
        acts: list[Action] = []
        if not self._checked_index(message, acts, "CheckPoint", self._committed):
            return acts
        slot = self._slot(message.index)
        executed_hash = message.executed_hash
        if not self._counted(slot.checkpoints, executed_hash, message, acts):
            return acts
        if slot.stable is None and slot.executed_hash is not None:
            if executed_hash == slot.executed_hash:
                self._check_stable(slot, acts)
            elif self._notes:
                votes = slot.checkpoints[executed_hash]
                weight = self._weights[message.sender]
                if votes.weight >= self._quorum > votes.weight - weight:
                    acts.append(Note(
                        "checkpoint_mismatch",
                        f"CheckPoints of weight {votes.weight} agree on executed hash "
                        f"{_short(executed_hash)} for block {message.index}, but we executed "
                        f"{_short(slot.executed_hash)}",
                        {"index": message.index, "executed_hash": executed_hash,
                         "ours": slot.executed_hash, "weight": votes.weight},
                    ))
        return acts

    # -- checks ---------------------------------------------------------------------------------
    def _checked_index(self, message: Any, acts: list[Action], what: str, low: int) -> bool:
        """Stale (≤ low), beyond the receive window or from an unknown sender → ignored."""
        index = message.index
        if index <= low:
            if self._notes:
                self._ignore(acts, what, index, "stale",
                             f"{what} for block {index} from node {message.sender}: already "
                             f"{'executed' if low == self._executed else 'committed'} "
                             f"up to {low}", sender=message.sender)
            return False
        limit = self._committed + 1 + self._receive_window
        if index >= limit:
            if self._notes:
                self._ignore(acts, what, index, "out_of_window",
                             f"{what} for block {index} from node {message.sender} is beyond "
                             f"the window (< {limit})", sender=message.sender)
            return False
        sender = message.sender
        if not 0 <= sender < self._n:
            self._ignore(acts, what, index, "unknown_sender",
                         f"{what} for block {index} from node {sender}, not a consensus node",
                         sender=sender)
            return False
        return True

    def _checked_view(self, message: Any, acts: list[Action], what: str) -> bool:
        view = message.view
        if view == self._view:
            return True
        if self._notes:
            reason = "future_view" if view > self._view else "stale_view"
            self._ignore(acts, what, message.index, reason,
                         f"{what} for block {message.index} from node {message.sender} is in "
                         f"view {view}, we are in view {self._view}",
                         sender=message.sender, message_view=view)
        return False

    def _counted(self, table: dict, key: Any, message: Any, acts: list[Action]) -> bool:
        """Adds the sender's vote under ``key``; False (and a Note) for a duplicate."""
        votes = table.get(key)
        if votes is None:
            votes = table[key] = _Votes()
        sender = message.sender
        if sender in votes.voters:
            if self._notes:
                self._ignore(acts, message.kind, message.index, "duplicate",
                             f"{message.kind} for block {message.index} from node {sender} "
                             "already counted", sender=sender)
            return False
        votes.voters.add(sender)
        votes.weight += self._weights[sender]
        return True

    def _ignore_second_proposal(self, acts: list[Action], slot: _Slot, proposal: Proposal) -> None:
        held = slot.proposal
        assert held is not None
        if held.hash == proposal.hash:
            self._ignore(acts, "PrePrepare", slot.index, "duplicate",
                         f"PrePrepare for block {slot.index} already received")
        else:
            self._ignore(acts, "PrePrepare", slot.index, "conflicting",
                         f"second PrePrepare for block {slot.index} in view {self._view} with "
                         f"another hash ({_short(proposal.hash)}, we hold {_short(held.hash)})",
                         hash=proposal.hash)

    def _ignore(self, acts: list[Action], what: str, index: int, reason: str, text: str,
                **fields: Any) -> None:
        if self._notes:
            acts.append(Note("ignored", f"ignored: {text}",
                             {"index": index, "view": self._view, "message": what,
                              "reason": reason, **fields}))

    # -- phases ---------------------------------------------------------------------------------
    def _slot(self, index: int) -> _Slot:
        slot = self._slots.get(index)
        if slot is None:
            slot = self._slots[index] = _Slot(index)
        return slot

    def _add_vote(self, table: dict, key: Any, sender: int) -> None:
        votes = table.get(key)
        if votes is None:
            votes = table[key] = _Votes()
        if sender not in votes.voters:
            votes.voters.add(sender)
            votes.weight += self._weights[sender]

    def _send_prepare(self, slot: _Slot, acts: list[Action]) -> None:
        proposal = slot.proposal
        assert proposal is not None
        acts.append(Broadcast(Prepare(self._view, slot.index, self._index, proposal.hash)))
        self._add_vote(slot.prepares, (self._view, proposal.hash), self._index)
        self._check_prepared(slot, acts)

    def _check_prepared(self, slot: _Slot, acts: list[Action]) -> None:
        """Prepare weight ≥ Q on our accepted hash → precommit, send Commit (§1.5 step 4)."""
        hash_ = slot.proposal.hash
        votes = slot.prepares.get((self._view, hash_))
        if votes is None or votes.weight < self._quorum:
            return
        slot.precommitted = True
        self._progressed = True
        if self._notes:
            acts.append(self._quorum_note("prepare_quorum", "prepare", slot, votes,
                                          "sending Commit"))
        acts.append(Broadcast(Commit(self._view, slot.index, self._index, hash_)))
        self._add_vote(slot.commits, (self._view, hash_), self._index)
        self._check_commit_quorum(slot, acts)

    def _check_commit_quorum(self, slot: _Slot, acts: list[Action]) -> None:
        """Commit weight ≥ Q → committed by consensus: notify the next leader, execute (§1.5 5)."""
        votes = slot.commits.get((self._view, slot.proposal.hash))
        if votes is None or votes.weight < self._quorum:
            return
        slot.commit_quorum = True
        self._progressed = True
        if self._notes:
            acts.append(self._quorum_note("commit_quorum", "commit", slot, votes,
                                          "committed by consensus"))
        self._try_notify(slot.index + 1, acts)
        self._try_execute(acts)

    def _quorum_note(self, code: str, phase: str, slot: _Slot, votes: _Votes, then: str) -> Note:
        voters = tuple(sorted(votes.voters))
        return Note(
            code,
            f"{phase} quorum for block {slot.index} in view {self._view} (weight "
            f"{votes.weight}/{self._quorum}: nodes {','.join(map(str, voters))}): {then}",
            {"index": slot.index, "view": self._view, "weight": votes.weight,
             "quorum": self._quorum, "voters": voters, "hash": slot.proposal.hash},
        )

    def _try_execute(self, acts: list[Action]) -> None:
        """Execute the next block if it is committed by consensus and nothing executes (§1.5 6)."""
        if self._executing is not None:
            return
        index = self._executed + 1
        slot = self._slots.get(index)
        if slot is None or not slot.commit_quorum:
            return
        self._executing = index
        if self._notes:
            acts.append(Note(
                "execute",
                f"executing block {index} ({len(slot.proposal.tx_ids)} txs)",
                {"index": index, "view": self._view, "txs": len(slot.proposal.tx_ids)},
            ))
        acts.append(Execute(slot.proposal))

    def _check_stable(self, slot: _Slot, acts: list[Action]) -> None:
        """CheckPoint weight ≥ Q on our executed hash → stable checkpoint (§1.5 step 8)."""
        votes = slot.checkpoints.get(slot.executed_hash)
        if votes is None or votes.weight < self._quorum:
            return
        slot.stable = tuple(sorted(votes.voters))
        if self._notes:
            waiting = slot.index != self._committed + 1 or self._committing is not None
            acts.append(Note(
                "stable_checkpoint",
                f"stable checkpoint for block {slot.index} (weight {votes.weight}/"
                f"{self._quorum}: nodes {','.join(map(str, slot.stable))})"
                + (": waiting for earlier blocks to commit" if waiting else ""),
                {"index": slot.index, "view": self._view, "weight": votes.weight,
                 "quorum": self._quorum, "voters": slot.stable,
                 "executed_hash": slot.executed_hash},
            ))
        self._try_commit(acts)

    def _try_commit(self, acts: list[Action]) -> None:
        """Ledger commit of the next block once stable, one at a time (§1.5 step 8)."""
        if self._committing is not None:
            return
        index = self._committed + 1
        slot = self._slots.get(index)
        if slot is None or slot.stable is None:
            return
        self._committing = index
        if self._notes:
            acts.append(Note(
                "ledger_commit",
                f"writing block {index} to the ledger with {len(slot.stable)} signatures",
                {"index": index, "view": self._view, "signers": slot.stable},
            ))
        acts.append(CommitBlock(index, slot.proposal, slot.executed_hash, slot.stable))

    def _try_notify(self, start: int, acts: list[Action]) -> None:
        """FISCO's ``notifySealer``: tell our sealer to seal from ``start`` (FISCO.md §1.6).

        ``end = min(end of start's leader period, high water mark − 1)``. Each index is handed
        out once (``sealed_up_to``); a turn beyond the high water mark waits for a commit.
        """
        if start <= self._sealed_up_to or start <= self._committed:
            return
        if (start // self._leader_period + self._view) % self._n != self._index:
            return
        high = self._committed + 1 + self._pipeline_size
        if start >= high:
            if self._waiting_seal is None or start < self._waiting_seal:
                self._waiting_seal = start
                if self._notes:
                    acts.append(Note(
                        "window_full",
                        f"our turn to seal block {start}, but the pipeline is full (high water "
                        f"mark {high}): waiting for a commit",
                        {"index": start, "view": self._view, "high_water_mark": high},
                    ))
            return
        period_end = (start // self._leader_period + 1) * self._leader_period - 1
        end = min(period_end, high - 1)
        if end < period_end:
            self._waiting_seal = end + 1  # the rest of our period, once the window moves
        self._sealed_up_to = end
        if self._notes:
            acts.append(Note(
                "seal_notified",
                f"node {self._index} leads blocks {start}..{end} in view {self._view}: "
                "sealer notified",
                {"index": start, "end": end, "view": self._view},
            ))
        acts.append(SealRange(start, end))

    # -- the view timer (FISCO.md §1.7) ---------------------------------------------------------
    def _end(self, acts: list[Action]) -> None:
        """After a step: restart the view timer if it made progress, or cancel it when idle."""
        if not self._progressed:
            return
        self._progressed = False
        if self._active:
            self._arm(acts, "progress")
        elif self._timer_armed:
            self._cancel(acts)

    def _arm(self, acts: list[Action], why: str) -> None:
        delay = self.timeout_us
        if self._notes and not self._timer_armed:
            acts.append(Note(
                "timer_set",
                f"view timer set for {delay} µs ({why})",
                {"index": self._committed + 1, "view": self._view, "delay_us": delay},
            ))
        self._timer_armed = True
        acts.append(SetTimer(PBFT_TIMER, delay))

    def _cancel(self, acts: list[Action]) -> None:
        self._timer_armed = False
        if self._notes:
            acts.append(Note(
                "timer_cancelled",
                "view timer cancelled: nothing in flight",
                {"index": self._committed + 1, "view": self._view},
            ))
        acts.append(CancelTimer(PBFT_TIMER))


__all__ = ["MAX_CHANGE_CYCLE", "PbftCore"]
