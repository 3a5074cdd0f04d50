"""FISCO BCOS 3.x PBFT as a sans-I/O state machine: messages and reports in, actions out.

:class:`PbftCore` is one consensus node's protocol (docs/architecture.md rule 1). It reads no
clock, sends nothing and holds no transaction objects (a block's transactions stay one
read-only int64 array inside its :class:`~fiscosim.consensus.messages.Proposal`): every method
returns a list of :mod:`~fiscosim.consensus.actions` for the runtime to carry out, and the
runtime reports back through the ``on_*`` methods.

docs/pbft.md explains the protocol, with FISCO's sources (docs/fisco-reference.md §1.3–§1.7)
and every place where fiscosim knowingly differs from FISCO and why. A block's phases and the
moves between them are :mod:`~fiscosim.consensus.phases`; what the core tells a trace is
:mod:`~fiscosim.consensus.events` (data; :mod:`fiscosim.trace.narrate` words it).

This file tells the story in order:

1. the normal case, phase by phase: sealing and the PrePrepare, Prepare, Commit, execution,
   CheckPoint and the stable checkpoint, ledger commit (§1.5, the pipeline §1.6);
2. the checks every PrePrepare, Prepare, Commit and CheckPoint passes;
3. the view timer (§1.7);
4. view change: ViewChange, fast view change, NewView (§1.7);
5. recovery and block sync (§1.7, §7);
6. the committed-proposal fetch (§1.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from fiscosim.chain.config import max_faulty, quorum
from fiscosim.consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    CommitBlock,
    Execute,
    SealRange,
    Send,
    SetTimer,
    Unseal,
    VerifyProposal,
    ViewChangeNeeded,
    ViewEntered,
)
from fiscosim.consensus.events import (
    CheckpointMismatch,
    CheckpointResent,
    CheckPointSent,
    Committed,
    CommittedProposalAccepted,
    CommittedProposalReceived,
    CommittedProposalRequested,
    CommittedProposalSent,
    Deferred,
    EmptyBlock,
    Executing,
    FastViewChange,
    Ignored,
    LeaderUnreachable,
    LedgerCommit,
    NewViewAccepted,
    NewViewSent,
    ProposalReceived,
    ProposalRefused,
    ProposalRejected,
    ProposalSent,
    ProposalVerified,
    QuorumReached,
    Recovered,
    RecoverResponseSent,
    RecoverSent,
    Reproposal,
    SealNotified,
    StableCheckpoint,
    Synced,
    Timeout,
    TimeoutExtended,
    TimerCancelled,
    TimerSet,
    Unsealed,
    ViewChangeQuorum,
    ViewChangeReceived,
    ViewChangeResent,
    ViewChangeSent,
    WindowFull,
)
from fiscosim.consensus.messages import (
    CHECKPOINT_TIMER,
    HASH_SIZE,
    PBFT_TIMER,
    CheckPoint,
    Commit,
    CommittedProposalRequest,
    CommittedProposalResponse,
    NewView,
    Prepare,
    PreparedProof,
    PrePrepare,
    Proposal,
    RecoverRequest,
    RecoverResponse,
    ViewChange,
    empty_proposal,
)
from fiscosim.consensus.phases import (
    ACCEPTED,
    COMMITTED,
    EMPTY,
    EXECUTED,
    FETCHING,
    PRECOMMITTED,
    REJECTED,
    STABLE,
    VERIFYING,
    Phase,
    check_move,
)

MAX_CHANGE_CYCLE = 10
"""Cap of the timeout back-off exponent (docs/fisco-reference.md §1.7, ``PBFTTimer``)."""
VIEW_SLACK = 50
"""How many views above ``to_view`` a message may be: FISCO's ``waterMarkLimit`` default
(``handlePrePrepareMsg`` refuses a view beyond ``view + waterMarkLimit``)."""

_ZERO_HASH = bytes(HASH_SIZE)


_VOTE_KEY = attrgetter("__class__", "index", "view", "hash")
_CHECKPOINT_KEY = attrgetter("__class__", "index", "executed_hash")
_SENDER = attrgetter("sender")


class _Votes:
    """Distinct voters for one (view, hash) and their summed weight."""

    __slots__ = ("voters", "weight")

    def __init__(self) -> None:
        self.voters: set[int] = set()
        self.weight = 0


class _Slot:
    """Everything this node knows about one block index above its committed index.

    ``phase`` says where the block stands (:class:`~fiscosim.consensus.phases.Phase`; only
    :meth:`PbftCore._move` changes it). The rest is data, not flags: the votes, the executed
    hash and the stable checkpoint's signers, and two records that outlive a view:

    - ``proof``/``proof_view``/``proof_votes``: the latest precommit, kept across views for
      ViewChanges (FISCO's ``m_precommit``). ``proof_view == view`` also says whether this node
      precommitted the block *in the current view*, which is orthogonal to the phase: a block
      committed by consensus stays COMMITTED (or further) when a new view re-proposes it, and
      takes part in that view's Prepare and Commit once more (docs/pbft.md).
    - ``commit_view``/``commit_voters``: the Commit quorum, kept to answer a
      CommittedProposalRequest (§1.5); ``asked``: the nodes asked for the committed proposal.
    """

    __slots__ = (
        "asked",
        "checkpoints",
        "commit_view",
        "commit_voters",
        "commits",
        "executed_hash",
        "index",
        "phase",
        "prepares",
        "proof",
        "proof_view",
        "proof_votes",
        "proposal",
        "signers",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.phase = EMPTY
        self.proposal: Proposal | None = None
        self.prepares: dict[tuple[int, bytes], _Votes] = {}
        self.commits: dict[tuple[int, bytes], _Votes] = {}
        self.checkpoints: dict[bytes, _Votes] = {}
        self.executed_hash: bytes | None = None
        self.signers: tuple[int, ...] = ()  # the stable checkpoint's
        self.proof: Proposal | None = None
        self.proof_view = -1
        self.proof_votes: _Votes | None = None
        self.commit_view = -1
        self.commit_voters: tuple[int, ...] = ()
        self.asked: set[int] | None = None


def receive_slack(pipeline_size: int) -> int:
    """How far above the committed block a received message may be (docs/pbft.md, "Where
    fiscosim differs from FISCO")."""
    return max(1000, 20 * pipeline_size)


def _freshness(vc: ViewChange) -> tuple[int, int, int]:
    """Orders one sender's ViewChanges for a view: an honest node's later one is never lower.

    Its committed index only grows; at one committed index its precommitted blocks only grow
    in number or are precommitted again in a higher view.
    """
    return vc.index, len(vc.prepared), sum(proof.view for proof in vc.prepared)


class PbftCore:
    """One consensus node's PBFT (FISCO BCOS 3.x), messages in, actions out.

    ``index`` is this node's position in the consensus list (nodeID order, docs/fisco-reference.md
    §1.3) and ``weights`` every sealer's vote weight in that order. ``committed_index`` is the
    ledger's height at start. ``timeout_us`` is the view timer's base (``consensus_timeout``),
    ``checkpoint_timeout_us`` the checkpoint re-broadcast delay, ``max_change_cycle`` the cap of
    the back-off exponent (§1.7). With ``recovering=True`` the node starts by asking the others
    for their view (:meth:`recover`). With ``events=False`` no
    :class:`~fiscosim.consensus.events.Event` is built (a run without a trace).

    ``execute_first=True`` runs FISCO 2.x's order instead (docs/fisco-reference.md §1.8,
    docs/fisco2.md): a node executes a block before its Prepare (2.x's SignReq), the leader
    too, so "verified" (:meth:`on_proposal_verified`) means filled *and* executed; the Commit
    quorum makes the block final and it goes to the ledger at once, without a CheckPoint
    round; an empty proposal is not voted on: every node that sees it changes view
    (:class:`~fiscosim.consensus.events.EmptyBlock`). With ``pipeline_size=1`` one block is
    in flight, as in 2.x.

    >>> core = PbftCore(0, [1, 1, 1, 1], events=False)
    >>> core.quorum, core.leader_of(1), core.leader_of(2)
    (3, 1, 2)
    >>> core.start()   # block 1's leader is node 1, not us
    []
    """

    # Slots, not an instance dict: past 30 attributes CPython stops specialising attribute
    # loads on a dict-backed instance, and the vote path reads a dozen of them (~20 % slower).
    __slots__ = (
        "_abandoned",
        "_active",
        "_change_cycle",
        "_checkpoint_armed",
        "_checkpoint_timeout_us",
        "_committed",
        "_committed_hash",
        "_committing",
        "_events",
        "_execute_first",
        "_executed",
        "_executing",
        "_future",
        "_index",
        "_leader_period",
        "_live_view",
        "_max_change_cycle",
        "_max_faulty",
        "_n",
        "_pending",
        "_pipeline_size",
        "_progressed",
        "_quorum",
        "_receive_window",
        "_recover_index",
        "_recover_votes",
        "_recovering",
        "_reseal_until",
        "_sealed_up_to",
        "_slots",
        "_timeout_us",
        "_timer_armed",
        "_to_view",
        "_vc_quorum_told",
        "_vc_weight",
        "_view",
        "_view_changes",
        "_view_slack",
        "_waiting_seal",
        "_weights",
    )

    def __init__(
        self,
        index: int,
        weights: Sequence[int],
        leader_period: int = 1,
        pipeline_size: int = 50,
        timeout_us: int = 3_000_000,
        committed_index: int = 0,
        view: int = 0,
        events: bool = True,
        checkpoint_timeout_us: int = 3_000_000,
        recovering: bool = False,
        max_change_cycle: int = MAX_CHANGE_CYCLE,
        execute_first: bool = False,
    ) -> None:
        weights = tuple(int(weight) for weight in weights)
        self._quorum = quorum(weights)  # also validates the weights
        self._max_faulty = max_faulty(weights)
        if not 0 <= index < len(weights):
            raise ValueError(f"node index {index} is not in a consensus list of {len(weights)}")
        for name, value, least in (("leader_period", leader_period, 1),
                                   ("pipeline_size", pipeline_size, 1),
                                   ("timeout_us", timeout_us, 1),
                                   ("checkpoint_timeout_us", checkpoint_timeout_us, 1)):
            if value < least:
                raise ValueError(f"{name} must be at least {least}, got {value}")
        if max_change_cycle < 0:
            raise ValueError(f"max_change_cycle cannot be negative, got {max_change_cycle}")
        if committed_index < 0 or view < 0:
            raise ValueError("committed_index and view cannot be negative")
        self._index = index
        self._weights = weights
        self._n = len(weights)
        self._leader_period = leader_period
        self._pipeline_size = pipeline_size
        self._receive_window = receive_slack(pipeline_size)
        self._view_slack = max(VIEW_SLACK, pipeline_size)
        self._timeout_us = timeout_us
        self._checkpoint_timeout_us = checkpoint_timeout_us
        self._max_change_cycle = max_change_cycle
        self._view = view
        self._to_view = view
        # The view whose PrePrepare/Prepare/Commit this node acts on: its view, or None while a
        # view change is under way (one comparison on the vote path).
        self._live_view: int | None = view
        self._change_cycle = 0  # back-off exponent (§1.7)
        self._committed = committed_index
        self._committed_hash: bytes | None = None  # the ledger hash of the committed block
        self._executed = committed_index
        self._executing: int | None = None
        self._committing: int | None = None
        # The highest index this node was told to seal (FISCO's notifySealer marker): with
        # leader_period 1 the next leader is notified at commit quorum, and must not be again
        # when the block is later committed.
        self._sealed_up_to = committed_index
        self._waiting_seal: int | None = None  # our turn, blocked by the high water mark
        self._reseal_until = committed_index  # FISCO's waitResealUntil after a NewView
        self._slots: dict[int, _Slot] = {}
        self._active = 0  # slots holding a proposal (phase not EMPTY), kept by _move
        self._pending = 0  # the txpool's last reported pending count
        self._timer_armed = False
        self._checkpoint_armed = False
        self._progressed = False  # set by a step that restarts the view timer
        # View change state (FISCO's PBFTCacheProcessor caches).
        self._view_changes: dict[int, dict[int, ViewChange]] = {}  # view → sender → message
        self._vc_weight: dict[int, int] = {}
        self._vc_quorum_told = -1
        self._recover_votes: dict[int, _Votes] = {}
        self._recover_index: dict[int, int] = {}  # view → highest committed index reported
        self._recovering = recovering
        self._future: dict[int, PrePrepare] = {}  # index → PrePrepare of a view not reached
        # Proposals abandoned while the txpool was verifying them: unsealed if it says ok.
        self._abandoned: dict[tuple[int, bytes], Proposal] = {}
        self._events = events
        self._execute_first = execute_first

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
        """Q, the weight every phase must reach (docs/fisco-reference.md §1.3)."""
        return self._quorum

    @property
    def max_faulty(self) -> int:
        """f, the faulty weight tolerated (docs/fisco-reference.md §1.3)."""
        return self._max_faulty

    @property
    def view(self) -> int:
        """The view this node is in (the last one it reached)."""
        return self._view

    @property
    def to_view(self) -> int:
        """The view this node is moving to: ``view`` unless a view change is under way."""
        return self._to_view

    @property
    def in_view_change(self) -> bool:
        """Whether this node sent a ViewChange and has not reached that view yet (§1.7)."""
        return self._live_view is None

    @property
    def recovering(self) -> bool:
        """Whether this node waits for RecoverResponses of weight ≥ Q (§1.7)."""
        return self._recovering

    @property
    def change_cycle(self) -> int:
        """The timeout back-off exponent (docs/fisco-reference.md §1.7): +1 per timeout, 0 in a new
        view."""
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
    def checkpoint_timer_armed(self) -> bool:
        """Whether the checkpoint re-broadcast timer is running (§1.5)."""
        return self._checkpoint_armed

    @property
    def timeout_us(self) -> int:
        """The current view timeout: base × 1.5^change_cycle, cycle capped (§1.7)."""
        cycle = min(self._change_cycle, self._max_change_cycle)
        return self._timeout_us * 3**cycle // 2**cycle

    @property
    def checkpoint_timeout_us(self) -> int:
        """Delay before this node re-broadcasts CheckPoints without a stable checkpoint (§1.5)."""
        return self._checkpoint_timeout_us

    def phase(self, index: int) -> Phase:
        """Where block ``index`` stands at this node (EMPTY for a block it holds nothing of)."""
        slot = self._slots.get(index)
        return EMPTY if slot is None else slot.phase

    # -- who leads ------------------------------------------------------------------------------
    def _leader(self, index: int, view: int) -> int:
        """The leader formula (docs/fisco-reference.md §1.4): ``(index // leader_period + view)
        % n``. A new view's leader is this formula at the highest committed index + 1
        (``leaderIndexInNewViewPeriod``)."""
        return (index // self._leader_period + view) % self._n

    def leader_of(self, index: int, view: int | None = None) -> int:
        """The leader of block ``index`` in ``view`` (default: ours) (§1.4)."""
        return self._leader(index, self._view if view is None else view)

    def is_leader(self, index: int) -> bool:
        """Whether this node leads block ``index`` in the current view."""
        return self._leader(index, self._view) == self._index

    @property
    def current_leader(self) -> int:
        """The leader this node waits for (the runtime checks it for :meth:`on_leader_unreachable`).

        The leader of block committed + 1 in our view, or during a view change the leader of
        ``to_view`` (``leaderIndexInNewViewPeriod`` with our own committed index, §1.4).
        """
        view = self._view if self._live_view is not None else self._to_view
        return self._leader(self._committed + 1, view)

    # -- messages in ----------------------------------------------------------------------------
    def handle(self, message: Any) -> list[Action]:
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
        if kind is ViewChange:
            return self._on_view_change(message)
        if kind is NewView:
            return self._on_new_view(message)
        if kind is RecoverRequest:
            return self._on_recover_request(message)
        if kind is RecoverResponse:
            return self._on_recover_response(message)
        if kind is CommittedProposalRequest:
            return self._on_committed_proposal_request(message)
        if kind is CommittedProposalResponse:
            return self._on_committed_proposal_response(message)
        acts: list[Action] = []
        self._ignore(acts, kind.__name__, getattr(message, "index", -1), "unknown_message")
        return acts

    def handle_votes(self, messages: Sequence[Any]) -> list[Action]:
        """Votes of one phase (Prepare, Commit or CheckPoint; one block, one view and hash),
        in arrival order: exactly what :meth:`handle` on each in turn returns, counted in one
        step where that cannot differ (the aggregated vote mode hands a node a phase's votes
        at its quorum instant; counted one by one they were 2 million calls a block at
        1,000 sealers).

        All but the last are added to the voter set at once when, together, they stay below
        the quorum: below it a vote has no effect but its count (no action, no timer, no
        event), provided the block is in the receive window, the view is our live one and,
        for a CheckPoint, the block is committed by consensus already (before that a
        CheckPoint may fetch it). The last vote, and every vote whenever one of those does
        not hold or the trace's events are on, goes through :meth:`handle`.
        """
        if len(messages) > 2 and not self._events:
            first = messages[0]
            kind = type(first)
            index = first.index
            if (self._committed < index < self._committed + 1 + self._receive_window
                    and self._counted_at_once(kind, first, index, messages)):
                return self.handle(messages[-1])
        acts: list[Action] = []
        for message in messages:
            acts += self.handle(message)
        return acts

    def _counted_at_once(self, kind: type, first: Any, index: int,
                         messages: Sequence[Any]) -> bool:
        """Adds the votes before the last in one step if :meth:`handle_votes` may; says if it
        did."""
        if kind is CheckPoint:
            slot = self._slots.get(index)
            if slot is None or slot.phase < COMMITTED:
                return False
            table = slot.checkpoints
            key: Any = first.executed_hash
        elif kind is Prepare or kind is Commit:
            if first.view != self._live_view:
                return False
            slot = self._slots.get(index)
            table = (slot.prepares if kind is Prepare else slot.commits) if slot else {}
            key = (first.view, first.hash)
        else:
            return False
        votes = table.get(key)
        voters = votes.voters if votes is not None else set()
        base = votes.weight if votes is not None else 0
        weights = self._weights
        prefix = messages[:-1]
        if kind is CheckPoint:
            keys = set(map(_CHECKPOINT_KEY, prefix))
            expected = (kind, index, key)
        else:
            keys = set(map(_VOTE_KEY, prefix))
            expected = (kind, index, *key)
        if len(keys) != 1 or keys.pop() != expected:
            return False  # not one phase's votes
        senders = set(map(_SENDER, prefix))
        if min(senders) < 0 or max(senders) >= self._n:
            return False  # a sender handle() would refuse
        added = senders - voters
        weight = base + sum(map(weights.__getitem__, added))
        if weight >= self._quorum:
            return False
        if votes is None:
            slot = self._slot(index)
            table = (slot.checkpoints if kind is CheckPoint
                     else slot.prepares if kind is Prepare else slot.commits)
            votes = table[key] = _Votes()
        votes.voters |= added
        votes.weight = weight
        return True

    # -- a block's phase ------------------------------------------------------------------------
    def _slot(self, index: int) -> _Slot:
        slot = self._slots.get(index)
        if slot is None:
            slot = self._slots[index] = _Slot(index)
        return slot

    def _move(self, slot: _Slot, phase: Phase) -> None:
        """The one place a block changes phase; an illegal move raises (phases.MOVES)."""
        old = slot.phase
        check_move(slot.index, old, phase)
        if old is EMPTY:
            self._active += 1
        elif phase is EMPTY:
            self._active -= 1
        slot.phase = phase

    def _drop(self, index: int) -> _Slot:
        """Forgets block ``index``: it is in the ledger."""
        slot = self._slots.pop(index)
        if slot.phase is not EMPTY:
            self._active -= 1
        return slot

    # ==========================================================================================
    # 1. The normal case (docs/fisco-reference.md §1.5, §1.6)
    # ==========================================================================================

    # -- sealing: whose turn, and the high water mark -------------------------------------------
    def start(self) -> list[Action]:
        """Boot: a SealRange if this node leads the first block above the committed one.

        A core built with ``recovering=True`` asks for the others' view first (:meth:`recover`).
        """
        if self._recovering:
            return self.recover()
        acts: list[Action] = []
        self._try_notify(self._committed + 1, acts)
        return acts

    def _try_notify(self, start: int, acts: list[Action]) -> None:
        """FISCO's ``notifySealer``: tell our sealer to seal from ``start`` (§1.6).

        ``end = min(end of start's leader period, high water mark − 1)``. Each index is handed
        out once (``sealed_up_to``); a turn beyond the high water mark waits for a commit.
        Nothing is handed out during a view change or a recovery, nor after a NewView until its
        re-proposals are committed (``canHandleNewProposal``: ``waitResealUntil``).
        """
        if start <= self._sealed_up_to or start <= self._committed:
            return
        if self._leader(start, self._view) != self._index:
            return
        if self._live_view is None or self._recovering or self._committed < self._reseal_until:
            return
        high = self.high_water_mark
        if start >= high:
            if self._waiting_seal is None or start < self._waiting_seal:
                self._waiting_seal = start
                if self._events:
                    acts.append(WindowFull(start, self._view, high))
            return
        period_end = (start // self._leader_period + 1) * self._leader_period - 1
        end = min(period_end, high - 1)
        if end < period_end:
            self._waiting_seal = end + 1  # the rest of our period, once the window moves
        self._sealed_up_to = end
        if self._events:
            acts.append(SealNotified(start, end, self._view))
        acts.append(SealRange(start, end))

    # -- PrePrepare -----------------------------------------------------------------------------
    def propose(self, proposal: Proposal) -> list[Action]:
        """The sealer's block: broadcast its PrePrepare and our Prepare (§1.5 step 2).

        Refused (a :class:`~fiscosim.consensus.events.ProposalRefused` and an
        :class:`~fiscosim.consensus.actions.Unseal` of the block) during a view change or a
        recovery, unless this node leads ``proposal.index``, and unless the index is above what
        it executed and below the high water mark (§1.6). The leader does not verify its own
        proposal.
        """
        acts: list[Action] = []
        index = proposal.index
        if self._live_view is None or self._recovering:
            self._refuse(acts, proposal, "in_view_change", self._to_view)
            return acts
        if not self.is_leader(index):
            self._refuse(acts, proposal, "not_leader")
            return acts
        if index <= self._executed:
            self._refuse(acts, proposal, "stale", self._executed)
            return acts
        if index >= self.high_water_mark:
            self._refuse(acts, proposal, "out_of_window", self.high_water_mark)
            return acts
        slot = self._slot(index)
        if slot.phase is not EMPTY:
            self._ignore_second_proposal(acts, slot, proposal)
            if slot.proposal.hash != proposal.hash:
                acts.append(Unseal(proposal))
            return acts
        if self._execute_first:
            return self._propose_to_execute(slot, proposal, acts)
        slot.proposal = proposal
        self._move(slot, ACCEPTED)
        if self._events:
            acts.append(ProposalSent(index, self._view, self._index, len(proposal.tx_ids),
                                     proposal.hash))
        acts.append(Broadcast(PrePrepare(self._view, index, self._index, proposal)))
        self._progress(index)
        self._send_prepare(slot, acts)
        self._end(acts)
        return acts

    def _propose_to_execute(self, slot: _Slot, proposal: Proposal,
                            acts: list[Action]) -> list[Action]:
        """2.x: the leader broadcasts its block and executes it like everyone else before its
        Prepare (``generateLocalPrepare`` → ``handlePrepareMsg`` → ``execBlock``). An empty
        block is broadcast and not voted on: the view changes (§1.7, ``m_omitEmptyBlock``)."""
        index = proposal.index
        if self._events:
            acts.append(ProposalSent(index, self._view, self._index, len(proposal.tx_ids),
                                     proposal.hash))
        acts.append(Broadcast(PrePrepare(self._view, index, self._index, proposal)))
        if len(proposal.tx_ids) == 0:
            self._empty_block(index, self._index, acts)
            return acts
        slot.proposal = proposal
        self._move(slot, VERIFYING)
        acts.append(VerifyProposal(proposal))
        self._progress(index)
        self._end(acts)
        return acts

    def _empty_block(self, index: int, leader: int, acts: list[Action]) -> None:
        """2.x: an empty block moves every node that sees it to the next view, at once and
        without growing the back-off (``changeViewForFastViewChange``, §1.7)."""
        if self._live_view is None:
            return  # already changing view
        if self._events:
            acts.append(EmptyBlock(index, self._view, leader, self._to_view + 1))
        self._start_view_change(self._to_view + 1, "empty_block", acts, backoff=False)

    def _refuse(self, acts: list[Action], proposal: Proposal, reason: str, *detail: Any) -> None:
        """propose() refuses a sealed block: its transactions go back to pending (§2.7)."""
        if self._events:
            acts.append(ProposalRefused(proposal.index, self._view, "PrePrepare", reason,
                                        detail=detail))
        acts.append(Unseal(proposal))

    def _on_pre_prepare(self, message: PrePrepare) -> list[Action]:
        """A leader's PrePrepare: checked, then the txpool fills it (VERIFYING)."""
        acts: list[Action] = []
        index = message.index
        if not self._checked_index(message, acts, "PrePrepare", self._executed):
            return acts
        if not self._checked_view(message, acts, "PrePrepare"):
            return acts
        proposal = message.proposal
        if proposal.index != index:
            self._ignore(acts, "PrePrepare", index, "malformed", detail=(proposal.index,))
            return acts
        leader = self._leader(index, self._view)
        if message.sender != leader:
            self._ignore(acts, "PrePrepare", index, "wrong_leader", sender=message.sender,
                         leader=leader)
            return acts
        slot = self._slot(index)
        if slot.phase is not EMPTY:
            self._ignore_second_proposal(acts, slot, proposal)
            return acts
        if self._execute_first and len(proposal.tx_ids) == 0:
            self._empty_block(index, leader, acts)
            return acts
        slot.proposal = proposal
        self._move(slot, VERIFYING)
        if self._events:
            acts.append(ProposalReceived(index, self._view, leader, len(proposal.tx_ids),
                                         proposal.hash))
        acts.append(VerifyProposal(proposal))
        if self._execute_first:
            # 2.x times a block from its PrepareReq's arrival, with execution in between
            # (TimeManager::isTimeout: m_lastAddRawPrepareTime)
            self._progress(index)
            self._end(acts)
        elif not self._timer_armed:
            self._arm(acts, f"proposal {index} in flight")
        return acts

    def _ignore_second_proposal(self, acts: list[Action], slot: _Slot, proposal: Proposal) -> None:
        held = slot.proposal
        assert held is not None
        if held.hash == proposal.hash:
            self._ignore(acts, "PrePrepare", slot.index, "duplicate")
        else:
            self._ignore(acts, "PrePrepare", slot.index, "conflicting", hash=proposal.hash,
                         detail=(held.hash,))

    def on_proposal_verified(self, index: int, hash: bytes, ok: bool) -> list[Action]:
        """The txpool's verdict on a received proposal (§1.5 step 3, §2.7).

        ok: ACCEPTED, and our Prepare goes out (withheld during a view change). Not ok:
        REJECTED; the proposal stays in flight so the view timer fires (FISCO then changes
        view). A verdict on a proposal a view change abandoned meanwhile: if ok, Unseal it.
        """
        acts: list[Action] = []
        slot = self._slots.get(index)
        if (slot is None or (slot.phase is not VERIFYING and slot.phase is not FETCHING)
                or slot.proposal.hash != hash):
            abandoned = self._abandoned.pop((index, hash), None) if self._abandoned else None
            if abandoned is not None:
                if ok:
                    self._unseal(abandoned, acts, "late_verdict")
                return acts
            self._ignore(acts, "verification", index, "unexpected", detail=(hash,))
            return acts
        if slot.phase is FETCHING:
            self._fetched_verified(slot, ok, acts)
            return acts
        if not ok:
            self._move(slot, REJECTED)
            if self._events:
                acts.append(ProposalRejected(index, self._view, hash))
            return acts
        self._move(slot, ACCEPTED)
        if self._live_view is None:
            if self._events:
                acts.append(ProposalVerified(index, self._view, hash, to_view=self._to_view))
            return acts
        if self._events:
            acts.append(ProposalVerified(index, self._view, hash,
                                         executed=self._execute_first))
        self._progress(index)
        self._send_prepare(slot, acts)
        self._end(acts)
        return acts

    # -- Prepare: weight ≥ Q on our accepted hash → PRECOMMITTED --------------------------------
    def _send_prepare(self, slot: _Slot, acts: list[Action]) -> None:
        proposal = slot.proposal
        assert proposal is not None
        acts.append(Broadcast(Prepare(self._view, slot.index, self._index, proposal.hash)))
        self._add_vote(slot.prepares, (self._view, proposal.hash), self._index)
        self._check_prepared(slot, acts)

    def _on_prepare(self, message: Prepare) -> list[Action]:
        acts: list[Action] = []
        if not self._checked_index(message, acts, "Prepare", self._committed):
            return acts
        if not self._checked_view(message, acts, "Prepare"):
            return acts
        slot = self._slot(message.index)
        if not self._counted(slot.prepares, (message.view, message.hash), message, acts):
            return acts
        phase = slot.phase
        # An accepted block, or one committed by consensus that this view re-proposed and that
        # has not voted Commit in this view yet (_Slot: proof_view).
        if phase is ACCEPTED or (phase >= COMMITTED and slot.proof_view != self._view):
            self._check_prepared(slot, acts)
            self._end(acts)
        return acts

    def _check_prepared(self, slot: _Slot, acts: list[Action]) -> None:
        """Prepare weight ≥ Q on our accepted hash → precommit, send Commit (§1.5 step 4)."""
        hash_ = slot.proposal.hash
        votes = slot.prepares.get((self._view, hash_))
        if votes is None or votes.weight < self._quorum:
            return
        if slot.phase is ACCEPTED:
            self._move(slot, PRECOMMITTED)
        # The proof a ViewChange carries (PBFTCache::intoPrecommit); the voter set is shared.
        slot.proof = slot.proposal
        slot.proof_view = self._view
        slot.proof_votes = votes
        self._progress(slot.index)
        if self._events:
            acts.append(self._quorum_reached("prepare", slot, votes))
        acts.append(Broadcast(Commit(self._view, slot.index, self._index, hash_)))
        self._add_vote(slot.commits, (self._view, hash_), self._index)
        if slot.phase < COMMITTED:  # a block re-proposed after its commit quorum: once is enough
            self._check_commit_quorum(slot, acts)

    def _quorum_reached(self, phase: str, slot: _Slot, votes: _Votes) -> QuorumReached:
        return QuorumReached(phase, slot.index, self._view, votes.weight, self._quorum,
                             tuple(sorted(votes.voters)), slot.proposal.hash)

    # -- Commit: weight ≥ Q → COMMITTED (committed by consensus) --------------------------------
    def _on_commit(self, message: Commit) -> list[Action]:
        acts: list[Action] = []
        if not self._checked_index(message, acts, "Commit", self._committed):
            return acts
        if not self._checked_view(message, acts, "Commit"):
            return acts
        slot = self._slot(message.index)
        if not self._counted(slot.commits, (message.view, message.hash), message, acts):
            return acts
        if slot.phase is PRECOMMITTED:
            self._check_commit_quorum(slot, acts)
            self._end(acts)
        return acts

    def _check_commit_quorum(self, slot: _Slot, acts: list[Action]) -> None:
        """Commit weight ≥ Q → committed by consensus: notify the next leader, execute (§1.5 5).

        The next leader is told to seal now, before execution: the pipeline (§1.6)."""
        votes = slot.commits.get((self._view, slot.proposal.hash))
        if votes is None or votes.weight < self._quorum:
            return
        self._move(slot, COMMITTED)
        slot.commit_view = self._view
        slot.commit_voters = tuple(sorted(votes.voters))
        self._progress(slot.index)
        if self._events:
            acts.append(self._quorum_reached("commit", slot, votes))
        self._try_notify(slot.index + 1, acts)
        self._try_execute(acts)

    # -- execution: serial, in index order → EXECUTED -------------------------------------------
    def _try_execute(self, acts: list[Action]) -> None:
        """Execute the next block if it is committed by consensus and nothing executes (§1.5 6)."""
        if self._executing is not None:
            return
        index = self._executed + 1
        slot = self._slots.get(index)
        if slot is None or slot.phase < COMMITTED:
            return
        self._executing = index
        if self._events and not self._execute_first:  # 2.x: executed before the Prepare
            acts.append(Executing(index, self._view, len(slot.proposal.tx_ids)))
        acts.append(Execute(slot.proposal))

    def on_executed(self, index: int, executed_hash: bytes) -> list[Action]:
        """Execution of block ``index`` finished: broadcast our CheckPoint (§1.5 step 7)."""
        acts: list[Action] = []
        if index != self._executing:
            self._ignore(acts, "execution", index, "unexpected", detail=(self._executing,))
            return acts
        slot = self._slots[index]
        self._executing = None
        self._executed = index
        slot.executed_hash = executed_hash
        self._move(slot, EXECUTED)
        if self._execute_first:
            # 2.x: the block was executed before our Prepare and the Prepare quorum agreed on
            # it; the Commit quorum is final and the block goes to the ledger (checkAndSave),
            # signed by the Commit voters.
            self._move(slot, STABLE)
            slot.signers = slot.commit_voters
            self._progress(index)
            self._try_commit(acts)
            self._try_execute(acts)
            self._end(acts)
            return acts
        if self._events:
            acts.append(CheckPointSent(index, self._view, executed_hash))
        acts.append(Broadcast(CheckPoint(self._view, index, self._index, executed_hash)))
        self._add_vote(slot.checkpoints, executed_hash, self._index)
        self._progress(index)
        self._check_stable(slot, acts)
        self._try_execute(acts)
        # Started, not restarted (docs/pbft.md, "Where fiscosim differs"): it measures how long
        # the oldest unstable block has waited.
        self._checkpoint_timer(acts, restart=False)
        self._end(acts)
        return acts

    # -- CheckPoint: weight ≥ Q on our executed hash → STABLE -----------------------------------
    def _on_checkpoint(self, message: CheckPoint) -> list[Action]:
        """Counted by executed hash whatever its view (docs/pbft.md); may fetch the block."""
        acts: list[Action] = []
        if not self._checked_index(message, acts, "CheckPoint", self._committed):
            return acts
        slot = self._slot(message.index)
        executed_hash = message.executed_hash
        if not self._counted(slot.checkpoints, executed_hash, message, acts):
            if slot.phase < COMMITTED:
                self._maybe_fetch(slot, executed_hash, acts, message.sender, resent=True)
            return acts
        if slot.phase < COMMITTED:
            self._maybe_fetch(slot, executed_hash, acts, message.sender, resent=False)
        if slot.phase is EXECUTED:
            if executed_hash == slot.executed_hash:
                self._check_stable(slot, acts)
            elif self._events:
                votes = slot.checkpoints[executed_hash]
                weight = self._weights[message.sender]
                if votes.weight >= self._quorum > votes.weight - weight:
                    acts.append(CheckpointMismatch(message.index, executed_hash,
                                                   slot.executed_hash, votes.weight))
        return acts

    def _check_stable(self, slot: _Slot, acts: list[Action]) -> None:
        """CheckPoint weight ≥ Q on our executed hash → stable checkpoint (§1.5 step 8)."""
        votes = slot.checkpoints.get(slot.executed_hash)
        if votes is None or votes.weight < self._quorum:
            return
        self._move(slot, STABLE)
        slot.signers = tuple(sorted(votes.voters))
        if self._events:
            waiting = slot.index != self._committed + 1 or self._committing is not None
            acts.append(StableCheckpoint(slot.index, self._view, votes.weight, self._quorum,
                                         slot.signers, slot.executed_hash, waiting))
        self._try_commit(acts)
        if self._checkpoint_armed:
            self._checkpoint_timer(acts, restart=False)

    def _on_checkpoint_timeout(self) -> list[Action]:
        """``tryToResendCheckPoint``: no stable checkpoint yet → our CheckPoints again (§1.5)."""
        acts: list[Action] = []
        self._checkpoint_armed = False
        for index in range(self._committed + 1, self._executed + 1):
            slot = self._slots.get(index)
            if slot is None or slot.phase is not EXECUTED:
                continue
            if self._events:
                votes = slot.checkpoints.get(slot.executed_hash)
                acts.append(CheckpointResent(index, self._view, votes.weight, slot.executed_hash,
                                             self._quorum, self._checkpoint_timeout_us))
            acts.append(Broadcast(CheckPoint(self._view, index, self._index, slot.executed_hash)))
        self._checkpoint_timer(acts, restart=True)
        return acts

    def _checkpoint_timer(self, acts: list[Action], restart: bool) -> None:
        """Keeps the checkpoint timer running while an executed block is not stable."""
        unstable = False
        for index in range(self._committed + 1, self._executed + 1):
            slot = self._slots.get(index)
            if slot is not None and slot.phase is not STABLE:
                unstable = True
                break
        if unstable:
            if restart or not self._checkpoint_armed:
                self._checkpoint_armed = True
                acts.append(SetTimer(CHECKPOINT_TIMER, self._checkpoint_timeout_us))
        elif self._checkpoint_armed:
            self._checkpoint_armed = False
            acts.append(CancelTimer(CHECKPOINT_TIMER))

    # -- ledger commit: strictly in order, then the window moves --------------------------------
    def _try_commit(self, acts: list[Action]) -> None:
        """Ledger commit of the next block once stable, one at a time (§1.5 step 8)."""
        if self._committing is not None:
            return
        index = self._committed + 1
        slot = self._slots.get(index)
        if slot is None or slot.phase is not STABLE:
            return
        self._committing = index
        if self._events:
            acts.append(LedgerCommit(index, self._view, slot.signers))
        acts.append(CommitBlock(index, slot.proposal, slot.executed_hash, slot.signers))

    def on_committed(self, index: int) -> list[Action]:
        """The ledger stored block ``index``: advance, drop its state, move the window (§1.5 9)."""
        acts: list[Action] = []
        if index != self._committing:
            self._ignore(acts, "ledger commit", index, "unexpected", detail=(self._committing,))
            return acts
        self._committing = None
        self._committed = index
        self._committed_hash = self._drop(index).executed_hash
        if self._events:
            acts.append(Committed(index, self._view, self.high_water_mark))
        self._forget_up_to(index)
        self._progressed = True
        self._try_commit(acts)
        # The window moved: a leader that was waiting for room may seal now.
        waiting = self._waiting_seal
        if waiting is not None:
            self._waiting_seal = None
            self._try_notify(waiting, acts)
        self._try_notify(self._committed + 1, acts)
        if self._checkpoint_armed:
            self._checkpoint_timer(acts, restart=True)  # finalizeConsensus restarts it
        self._end(acts)
        return acts

    def _forget_up_to(self, index: int) -> None:
        """Drops what is held for blocks at or below ``index``, now in the ledger: ViewChanges
        committed below it (``removeInvalidViewChange``), deferred PrePrepares, abandoned
        proposals awaiting their verdict."""
        if self._view_changes:
            self._prune_view_changes()
        if self._future:
            for stale in [i for i in self._future if i <= index]:
                del self._future[stale]
        if self._abandoned:
            for key in [key for key in self._abandoned if key[0] <= index]:
                del self._abandoned[key]

    # ==========================================================================================
    # 2. The checks every vote passes
    # ==========================================================================================
    def _checked_index(self, message: Any, acts: list[Action], what: str, low: int) -> bool:
        """Stale (≤ low), beyond the receive window or from an unknown sender → ignored."""
        index = message.index
        if index <= low:
            if self._events:
                self._ignore(acts, what, index, "stale", sender=message.sender,
                             detail=(low, low == self._executed))
            return False
        limit = self._committed + 1 + self._receive_window
        if index >= limit:
            if self._events:
                self._ignore(acts, what, index, "out_of_window", sender=message.sender,
                             detail=(limit,))
            return False
        return self._sender_ok(acts, what, index, message.sender, others=False)

    def _sender_ok(self, acts: list[Action], what: str, index: int, sender: int,
                   others: bool = True) -> bool:
        """The sender check: a consensus node, and (``others``) not this one."""
        if 0 <= sender < self._n and not (others and sender == self._index):
            return True
        self._ignore(acts, what, index, "unknown_sender", sender=sender)
        return False

    def _checked_view(self, message: Any, acts: list[Action], what: str) -> bool:
        """True for our live view. A view we have not reached is kept for later (votes are
        counted, a PrePrepare is held); our old view during a view change, or an older one,
        is ignored."""
        view = message.view
        if view == self._live_view:
            return True
        if self._view < view <= self._to_view + self._view_slack:
            self._defer(message, acts, what)
            return False
        if self._events:
            if view > self._view:
                reason = "far_future_view"
            elif view == self._view:
                reason = "in_view_change"  # we left this view: its votes no longer count
            else:
                reason = "stale_view"
            self._ignore(acts, what, message.index, reason, sender=message.sender,
                         message_view=view, detail=(self._to_view,))
        return False

    def _defer(self, message: Any, acts: list[Action], what: str) -> None:
        """Keeps a message of a view this node has not reached yet (docs/pbft.md)."""
        index = message.index
        if what == "PrePrepare":
            held = self._future.get(index)
            if held is not None and held.view >= message.view:
                self._ignore(acts, what, index, "duplicate", sender=message.sender,
                             detail=(held.view,))
                return
            self._future[index] = message
        else:
            slot = self._slot(index)
            table = slot.prepares if what == "Prepare" else slot.commits
            if not self._counted(table, (message.view, message.hash), message, acts):
                return
        if self._events:
            acts.append(Deferred(index, self._view, what, "future_view", message.sender,
                                 message.view))

    def _counted(self, table: dict, key: Any, message: Any, acts: list[Action]) -> bool:
        """Adds the sender's vote under ``key``; False (and an Ignored) for a duplicate."""
        votes = table.get(key)
        if votes is None:
            votes = table[key] = _Votes()
        sender = message.sender
        if sender in votes.voters:
            if self._events:
                self._ignore(acts, message.kind, message.index, "duplicate", sender=sender)
            return False
        votes.voters.add(sender)
        votes.weight += self._weights[sender]
        return True

    def _add_vote(self, table: dict, key: Any, sender: int) -> None:
        votes = table.get(key)
        if votes is None:
            votes = table[key] = _Votes()
        if sender not in votes.voters:
            votes.voters.add(sender)
            votes.weight += self._weights[sender]

    def _ignore(self, acts: list[Action], what: str, index: int, reason: str,
                **fields: Any) -> None:
        if self._events:
            acts.append(Ignored(index, self._view, what, reason, **fields))

    # ==========================================================================================
    # 3. The view timer (docs/fisco-reference.md §1.7)
    # ==========================================================================================
    def on_timer(self, name: str) -> list[Action]:
        """A timer fired: the view timer (§1.7 ``onTimeout``) or the checkpoint timer (§1.5)."""
        if name == PBFT_TIMER and self._timer_armed:
            return self._on_view_timeout()
        if name == CHECKPOINT_TIMER and self._checkpoint_armed:
            return self._on_checkpoint_timeout()
        acts: list[Action] = []
        self._ignore(acts, "timer", self._committed + 1, "stale_timer", detail=(name,))
        return acts

    def on_pool_size(self, pending: int) -> list[Action]:
        """The txpool's size report (docs/fisco-reference.md §1.7 ``setUnSealedTxsSize``).

        FISCO runs the view timer while transactions are pending even if no proposal arrived,
        so a crashed leader is noticed: pending > 0 arms the timer if it is not running;
        pending == 0 cancels it when no proposal is in flight and no view change is under way.
        A runtime that never calls this gets a timer that runs only while proposals are in
        flight.
        """
        acts: list[Action] = []
        self._pending = pending
        if pending > 0:
            if not self._timer_armed:
                self._arm(acts, "transactions are pending")
        elif self._timer_armed and not self._active and self._live_view is not None:
            self._cancel(acts)
        return acts

    def _on_view_timeout(self) -> list[Action]:
        acts: list[Action] = []
        self._timer_armed = False
        if self._executing is not None or self._committing is not None:
            # onTimeout: a block executing or being stored is progress, not a stuck leader.
            delay = self.timeout_us
            acts.append(SetTimer(PBFT_TIMER, delay))
            self._timer_armed = True
            if self._events:
                acts.append(TimeoutExtended(self._committed + 1, self._view, delay,
                                            self._executing or self._committing))
            return acts
        to_view = self._to_view + 1
        if self._events:
            acts.append(Timeout(self._committed + 1, self._view, to_view,
                                self._live_view is None))
        self._start_view_change(to_view, "timeout", acts, backoff=True)
        return acts

    def _progress(self, index: int) -> None:
        """A step on block ``index`` restarts the view timer only for the lowest block not in
        the ledger: later blocks cannot be committed before it (docs/pbft.md)."""
        if index <= self._committed + 1:
            self._progressed = True

    def _end(self, acts: list[Action]) -> None:
        """After a step: restart the view timer if it made progress, or cancel it when idle."""
        if not self._progressed:
            return
        self._progressed = False
        if self._active or self._pending or self._live_view is None:
            self._arm(acts, "progress")
        elif self._timer_armed:
            self._cancel(acts)

    def _arm(self, acts: list[Action], why: str) -> None:
        delay = self.timeout_us
        if self._events and not self._timer_armed:
            acts.append(TimerSet(self._committed + 1, self._view, delay, why))
        self._timer_armed = True
        acts.append(SetTimer(PBFT_TIMER, delay))

    def _cancel(self, acts: list[Action]) -> None:
        self._timer_armed = False
        if self._events:
            acts.append(TimerCancelled(self._committed + 1, self._view))
        acts.append(CancelTimer(PBFT_TIMER))

    # ==========================================================================================
    # 4. View change (docs/fisco-reference.md §1.7)
    # ==========================================================================================

    # -- leaving a view: our ViewChange ---------------------------------------------------------
    def on_leader_unreachable(self) -> list[Action]:
        """The runtime finds :attr:`current_leader` disconnected or ≥ 50 blocks behind (§1.7).

        Start a view change at once, without waiting for the timer and without growing the
        back-off (FISCO's ``tryTriggerFastViewChange`` → ``triggerTimeout(false)``). The runtime
        calls again while the next leader is unreachable too.
        """
        acts: list[Action] = []
        leader = self.current_leader
        if leader == self._index:
            self._ignore(acts, "leader check", self._committed + 1, "own_leadership")
            return acts
        if self._events:
            acts.append(LeaderUnreachable(self._committed + 1, self._view, leader,
                                          self._to_view + 1))
        self._start_view_change(self._to_view + 1, "leader_unreachable", acts, backoff=False)
        return acts

    def _start_view_change(self, to_view: int, reason: str, acts: list[Action],
                           backoff: bool) -> None:
        """``triggerTimeout``: move to ``to_view``, broadcast our ViewChange, restart the timer."""
        self._to_view = to_view
        if backoff:
            self._change_cycle = min(self._change_cycle + 1, self._max_change_cycle)
        self._live_view = None
        # Answers to an earlier RecoverRequest describe the view we are leaving: they must not
        # end this view change (only answers to this ViewChange may, ``checkAndTryToRecover``).
        self._recover_votes.clear()
        self._recover_index.clear()
        view_change = self._make_view_change()
        if self._events:
            acts.append(ViewChangeSent(self._committed + 1, self._view, to_view, reason,
                                       self._change_cycle,
                                       tuple(proof.index for proof in view_change.prepared)))
        acts.append(ViewChangeNeeded(to_view, self._committed + 1, reason))
        acts.append(Broadcast(view_change))
        self._store_view_change(view_change)
        self._arm(acts, f"view change to view {to_view}")  # restarted with the new back-off
        self._try_new_view(acts)

    def _make_view_change(self) -> ViewChange:
        """Our ViewChange for ``to_view``: every precommitted, uncommitted block's proof."""
        proofs = []
        for index in sorted(self._slots):
            slot = self._slots[index]
            if slot.proof is None or index <= self._committed:
                continue
            proofs.append(PreparedProof(index, slot.proof_view, slot.proof,
                                        tuple(sorted(slot.proof_votes.voters))))
        return ViewChange(self._to_view, self._committed, self._index,
                          self._committed_hash or _ZERO_HASH, tuple(proofs))

    # -- others' ViewChanges, and the fast view change ------------------------------------------
    def _on_view_change(self, message: ViewChange) -> list[Action]:
        acts: list[Action] = []
        sender = message.sender
        view = message.view
        if not self._sender_ok(acts, "ViewChange", message.index, sender):
            return acts
        if message.index < self._committed:
            self._ignore(acts, "ViewChange", message.index, "stale_committed", sender=sender,
                         to_view=view, detail=(self._committed,))
            return acts
        in_view_change = self._live_view is None
        if not in_view_change and not self._recovering:
            # isValidViewChangeMsg: a node that has not timed out tells the sender its view, so
            # a node that timed out alone can come back (RecoverResponses of weight ≥ Q).
            self._send_status(sender, acts)
        elif in_view_change and (view < self._view or view + 1 < self._to_view):
            # sendViewChange: a node whose view falls behind hears where we are going, which
            # counts towards its fast view change.
            own = self._make_view_change()
            self._store_view_change(own)
            acts.append(Send(sender, own))
        if not self._view_change_taken(message, acts):
            return acts
        if self._events:
            acts.append(ViewChangeReceived(
                message.index, self._view, view, sender, self._vc_weight[view], self._quorum,
                tuple(proof.index for proof in message.prepared)))
        target = self._fast_view_target()
        if target is not None:
            if self._events:
                acts.append(FastViewChange(self._committed + 1, self._view, target,
                                           self._vc_weight[target], self._max_faulty + 1))
            self._start_view_change(target, "fast_view_change", acts, backoff=False)
        else:
            self._try_new_view(acts)
        return acts

    def _view_change_taken(self, message: ViewChange, acts: list[Action]) -> bool:
        """``isValidViewChangeMsg`` and ``addViewChangeReq``: stores a valid, new ViewChange."""
        sender = message.sender
        view = message.view
        reason: str | None = None
        detail: tuple = ()
        ours = self._committed_hash
        if view <= self._view:
            reason = "stale_view"
        elif view > self._to_view + self._view_slack:
            reason, detail = "far_future_view", (self._view_slack,)
        elif (message.index == self._committed and ours is not None
                and message.committed_hash not in (ours, _ZERO_HASH)):
            reason, detail = "conflicting_committed_hash", (message.committed_hash, ours)
        else:
            flaw = self._bad_proofs(message)
            if flaw is not None:
                reason, detail = flaw
            elif not self._store_view_change(message):
                reason = "duplicate"
        if reason is None:
            return True
        self._ignore(acts, "ViewChange", message.index, reason, sender=sender, to_view=view,
                     detail=detail)
        return False

    def _bad_proofs(self, message: ViewChange) -> tuple[str, tuple] | None:
        """Why a ViewChange's prepared proofs are invalid, or None (``checkPrecommitWeight``):
        a reason and what narration needs."""
        for proof in message.prepared:
            index = proof.index
            if (index != proof.proposal.index or proof.view > message.view or index < 1
                    or index > message.index + self._receive_window):
                return "malformed_proof", (index, proof.view, proof.proposal.index, message.view)
            weight = 0
            seen: set[int] = set()
            for voter in proof.voters:
                if not 0 <= voter < self._n or voter in seen:
                    return "bad_voters", (index, proof.voters)
                seen.add(voter)
                weight += self._weights[voter]
            if weight < self._quorum:
                return "proof_below_quorum", (index, weight, self._quorum)
        return None

    def _store_view_change(self, message: ViewChange) -> bool:
        """Adds a ViewChange to the cache (``addViewChangeReq``); False if nothing new.

        A fresher one from the same sender replaces the one held (docs/pbft.md)."""
        by_sender = self._view_changes.get(message.view)
        if by_sender is None:
            by_sender = self._view_changes[message.view] = {}
        held = by_sender.get(message.sender)
        if held is not None:
            if _freshness(message) <= _freshness(held):
                return False
            by_sender[message.sender] = message
            return True
        by_sender[message.sender] = message
        self._vc_weight[message.view] = (
            self._vc_weight.get(message.view, 0) + self._weights[message.sender]
        )
        return True

    def _prune_view_changes(self) -> None:
        """``removeInvalidViewChange``: views we reached, and ViewChanges committed below us."""
        for view in list(self._view_changes):
            by_sender = self._view_changes[view]
            if view <= self._view:
                del self._view_changes[view]
                del self._vc_weight[view]
                continue
            for sender in [s for s, vc in by_sender.items() if vc.index < self._committed]:
                del by_sender[sender]
                self._vc_weight[view] -= self._weights[sender]

    def _fast_view_target(self) -> int | None:
        """``tryToTriggerFastViewChange``: the smallest view above ``to_view`` with ViewChanges
        of weight ≥ f + 1, if any."""
        threshold = self._max_faulty + 1
        best = None
        for view, weight in self._vc_weight.items():
            if view > self._to_view and weight >= threshold and (best is None or view < best):
                best = view
        return best

    # -- ViewChanges of weight ≥ Q: the new leader's NewView ------------------------------------
    def _new_view_leader(self, view_changes: Sequence[ViewChange], view: int) -> int:
        """``leaderIndexInNewViewPeriod``: led by the highest committed index among them + 1."""
        return self._leader(max(vc.index for vc in view_changes) + 1, view)

    def _try_new_view(self, acts: list[Action]) -> None:
        """``checkAndTryIntoNewView``: as leader of ``to_view`` with quorum, send the NewView."""
        if self._live_view is not None:
            return
        view = self._to_view
        weight = self._vc_weight.get(view, 0)
        if weight < self._quorum:
            return
        view_changes = tuple(vc for _, vc in sorted(self._view_changes[view].items()))
        leader = self._new_view_leader(view_changes, view)
        if self._events and self._vc_quorum_told != view:
            self._vc_quorum_told = view
            acts.append(ViewChangeQuorum(self._committed + 1, self._view, view, weight,
                                         self._quorum, leader,
                                         tuple(vc.sender for vc in view_changes)))
        if leader != self._index:
            return
        pre_prepares = self._reproposals(view_changes, view, leader)
        new_view = NewView(view, self._index, view_changes, pre_prepares)
        if self._events:
            acts.append(NewViewSent(
                self._committed + 1, self._view, view,
                tuple(pre.index for pre in pre_prepares),
                tuple(pre.index for pre in pre_prepares if not len(pre.proposal.tx_ids))))
        acts.append(Broadcast(new_view))
        self._accept_new_view(new_view, acts)

    def _reproposals(self, view_changes: Sequence[ViewChange], view: int,
                     leader: int) -> tuple[PrePrepare, ...]:
        """``generatePrePrepareMsg``: one PrePrepare per index from the highest committed + 1 to
        the highest prepared; the prepared proposal of the highest view wins, a gap gets an
        empty proposal. Deterministic in the ViewChanges (sorted by sender), so receivers can
        recompute it; a re-proposal's sender is the first node that proved it (it holds the
        transactions)."""
        max_committed = max(vc.index for vc in view_changes)
        parent = next(vc.committed_hash for vc in view_changes if vc.index == max_committed)
        best: dict[int, tuple[PreparedProof, int]] = {}
        for vc in view_changes:
            for proof in vc.prepared:
                if proof.index <= max_committed:
                    continue
                held = best.get(proof.index)
                if held is None or proof.view > held[0].view:
                    best[proof.index] = (proof, vc.sender)
        if not best:
            return ()
        out = []
        for index in range(max_committed + 1, max(best) + 1):
            entry = best.get(index)
            if entry is None:
                proposal, sender = empty_proposal(index, view, leader, parent), leader
            else:
                proposal, sender = entry[0].proposal, entry[1]
            out.append(PrePrepare(view, index, sender, proposal))
            parent = proposal.hash
        return tuple(out)

    def _on_new_view(self, message: NewView) -> list[Action]:
        acts: list[Action] = []
        sender = message.sender
        view = message.view
        index = self._committed + 1
        if not self._sender_ok(acts, "NewView", index, sender):
            return acts
        if view <= self._view:
            flaw: tuple[str, tuple] | None = ("stale_view", ())
        elif view > self._to_view + self._view_slack:
            flaw = ("far_future_view", (self._view_slack,))
        else:
            flaw = self._bad_new_view(message)
        if flaw is not None:
            self._ignore(acts, "NewView", index, flaw[0], sender=sender, to_view=view,
                         detail=flaw[1])
            return acts
        if self._events:
            acts.append(NewViewAccepted(index, self._view, view, sender,
                                        tuple(pre.index for pre in message.pre_prepares),
                                        len(message.view_changes)))
        self._accept_new_view(message, acts)
        return acts

    def _bad_new_view(self, message: NewView) -> tuple[str, tuple] | None:
        """Why a NewView is invalid, or None (``isValidNewViewMsg``, plus its re-proposals,
        recomputed from its ViewChanges: docs/pbft.md)."""
        weight = 0
        senders: set[int] = set()
        for vc in message.view_changes:
            if vc.view != message.view:
                return "bad_view_changes", ("view", vc.view)
            if not 0 <= vc.sender < self._n:
                return "bad_view_changes", ("sender", vc.sender)
            if vc.sender in senders:
                return "bad_view_changes", ("twice", vc.sender)
            flaw = self._bad_proofs(vc)
            if flaw is not None:
                return "bad_view_changes", ("proof", vc.sender, *flaw)
            senders.add(vc.sender)
            weight += self._weights[vc.sender]
        if weight < self._quorum:
            return "no_quorum", (weight, self._quorum)
        view_changes = tuple(sorted(message.view_changes, key=lambda vc: vc.sender))
        leader = self._new_view_leader(view_changes, message.view)
        if message.sender != leader:
            return "wrong_leader", (leader,)
        expected = self._reproposals(view_changes, message.view, leader)
        got = message.pre_prepares
        if len(got) != len(expected) or any(
            (a.view, a.index, a.sender, a.proposal.hash)
            != (b.view, b.index, b.sender, b.proposal.hash)
            for a, b in zip(got, expected, strict=True)
        ):
            return "bad_reproposals", (tuple(pre.index for pre in got),
                                       tuple(pre.index for pre in expected))
        return None

    # -- entering the new view ------------------------------------------------------------------
    def _accept_new_view(self, message: NewView, acts: list[Action]) -> None:
        """``reHandlePrePrepareProposals``: reach the view, re-handle the re-proposals."""
        view = message.view
        max_committed = max(vc.index for vc in message.view_changes)
        keep = {pre.index: pre for pre in message.pre_prepares if pre.index > self._committed}
        top = max(max_committed, *keep) if keep else max_committed
        self._enter_view(view, acts, keep, max_committed)
        # waitResealUntil: nothing new is sealed before the re-proposed blocks are committed.
        self._reseal_until = top
        self._sealed_up_to = max(self._committed, top)
        for index in sorted(keep):
            self._take_reproposal(keep[index], acts)
        self._replay_future(acts)
        self._try_notify(self._sealed_up_to + 1, acts)
        self._progressed = True
        self._end(acts)

    def _enter_view(self, view: int, acts: list[Action], keep: dict[int, PrePrepare] | None,
                    final_up_to: int) -> None:
        """``reachNewView`` / ``resetNewViewState``: view = to_view = ``view``, cycle 0; drop the
        older views' votes, void every precommit and abandon the proposals the new view does
        not carry on.

        ``keep``: a NewView's re-proposals by index (None for a recovery, which keeps what we
        precommitted). Blocks up to ``final_up_to`` are committed elsewhere: kept as they are,
        and so are blocks committed by consensus here and fetched committed proposals.
        """
        self._view = self._to_view = view
        self._live_view = view
        self._change_cycle = 0
        self._recovering = False
        acts.append(ViewEntered(view, self._committed + 1))
        for stale in [v for v in self._recover_votes if v <= view]:
            del self._recover_votes[stale]
            self._recover_index.pop(stale, None)
        self._prune_view_changes()
        for index, slot in self._slots.items():
            if slot.phase is PRECOMMITTED:
                self._move(slot, ACCEPTED)
            if slot.prepares:
                slot.prepares = {k: v for k, v in slot.prepares.items() if k[0] >= view}
            if slot.commits:
                slot.commits = {k: v for k, v in slot.commits.items() if k[0] >= view}
            phase = slot.phase
            if phase is EMPTY or phase is FETCHING or phase >= COMMITTED or index <= final_up_to:
                continue
            if keep is not None:
                pre = keep.get(index)
                if pre is not None and pre.proposal.hash == slot.proposal.hash:
                    continue
            elif slot.proof is not None and slot.proof.hash == slot.proposal.hash:
                continue
            self._abandon(slot, acts)
        # notifyResetSealing: the sealer's earlier range is void in the new view.
        self._sealed_up_to = max(self._committed, final_up_to)
        self._waiting_seal = None

    def _abandon(self, slot: _Slot, acts: list[Action]) -> None:
        """The new view does not carry this proposal on: drop it, unseal its transactions."""
        proposal = slot.proposal
        assert proposal is not None
        if slot.phase is ACCEPTED:
            self._unseal(proposal, acts, "not_reproposed")
        elif slot.phase is VERIFYING:
            self._abandoned[(slot.index, proposal.hash)] = proposal
        slot.proposal = None
        self._move(slot, EMPTY)

    def _unseal(self, proposal: Proposal, acts: list[Action], cause: str) -> None:
        if self._events:
            acts.append(Unsealed(proposal.index, self._view, proposal.hash,
                                 len(proposal.tx_ids), cause))
        acts.append(Unseal(proposal))

    def _take_reproposal(self, pre: PrePrepare, acts: list[Action]) -> None:
        """A NewView's re-proposal, handled like a PrePrepare of the new view."""
        index = pre.index
        proposal = pre.proposal
        slot = self._slot(index)
        if slot.phase is not EMPTY:
            held = slot.proposal
            if held.hash != proposal.hash:
                # Only a block at its commit quorum (or fetched with its proof) keeps its
                # proposal against a NewView, and PBFT's quorum intersection says the NewView
                # re-proposes exactly that block.
                self._ignore(acts, "NewView", index, "conflicting",
                             detail=(proposal.hash, held.hash))
                return
            if self._events:
                acts.append(Reproposal(index, self._view, held.hash, held=True))
            if slot.phase >= ACCEPTED:
                self._send_prepare(slot, acts)
            elif slot.phase is REJECTED:
                self._move(slot, VERIFYING)
                acts.append(VerifyProposal(held, pre.sender))
            return  # VERIFYING or FETCHING: the Prepare goes out when the txpool answers
        slot.proposal = proposal
        if self._events:
            acts.append(Reproposal(index, self._view, proposal.hash, len(proposal.tx_ids)))
        if len(proposal.tx_ids) == 0:
            self._move(slot, ACCEPTED)
            self._send_prepare(slot, acts)
        else:
            self._move(slot, VERIFYING)
            acts.append(VerifyProposal(proposal, pre.sender))

    def _replay_future(self, acts: list[Action]) -> None:
        """PrePrepares held for the view we just reached are handled now."""
        if not self._future:
            return
        for index in sorted(self._future):
            pre = self._future[index]
            if pre.view > self._view:
                continue
            del self._future[index]
            if pre.view == self._view:
                acts.extend(self._on_pre_prepare(pre))

    # ==========================================================================================
    # 5. Recovery and block sync (docs/fisco-reference.md §1.7, §7)
    # ==========================================================================================
    def recover(self) -> list[Action]:
        """A (re)started node asks for the current view: broadcast a RecoverRequest (§1.7).

        Until RecoverResponses of weight ≥ Q report one view (or a NewView arrives) the node
        seals nothing; then it adopts that view (``checkAndTryToRecover``).
        """
        acts: list[Action] = []
        self._recovering = True
        if self._events:
            acts.append(RecoverSent(self._committed + 1, self._view))
        acts.append(Broadcast(RecoverRequest(self._view, self._committed, self._index)))
        if self._weights[self._index] >= self._quorum:
            # A group this node alone can make a quorum of: nobody else to ask.
            self._adopt_view(self._view, self._committed, acts)
        return acts

    def _on_recover_request(self, message: RecoverRequest) -> list[Action]:
        acts: list[Action] = []
        if self._sender_ok(acts, "RecoverRequest", message.index, message.sender):
            self._send_status(message.sender, acts)  # handleRecoverRequest: always answered
        return acts

    def _send_status(self, dest: int, acts: list[Action]) -> None:
        """``sendRecoverResponse``: our view and committed index, to ``dest``."""
        if self._events:
            acts.append(RecoverResponseSent(self._committed + 1, self._view, dest))
        acts.append(Send(dest, RecoverResponse(self._view, self._committed, self._index)))

    def _on_recover_response(self, message: RecoverResponse) -> list[Action]:
        """Counts answers per view; weight ≥ Q for one view → adopt it."""
        acts: list[Action] = []
        sender = message.sender
        view = message.view
        if not self._sender_ok(acts, "RecoverResponse", message.index, sender):
            return acts
        if view < self._view or view > self._to_view + self._view_slack:
            self._ignore(acts, "RecoverResponse", message.index, "stale_view", sender=sender,
                         to_view=view)
            return acts
        votes = self._recover_votes.get(view)
        if votes is None:
            votes = self._recover_votes[view] = _Votes()
        if sender in votes.voters:
            self._ignore(acts, "RecoverResponse", message.index, "duplicate", sender=sender)
            return acts
        votes.voters.add(sender)
        votes.weight += self._weights[sender]
        self._recover_index[view] = max(self._recover_index.get(view, 0), message.index)
        if votes.weight < self._quorum:
            return acts
        if view > self._view or self._live_view is None or self._recovering:
            self._adopt_view(view, self._recover_index[view], acts)
        return acts

    def _adopt_view(self, view: int, final_up_to: int, acts: list[Action]) -> None:
        """``checkAndTryToRecover``: RecoverResponses of weight ≥ Q report ``view``."""
        if view == self._view:
            # Back to the view we never left: the ViewChange is off, the Prepares withheld
            # during it go out.
            self._to_view = view
            self._live_view = view
            self._change_cycle = 0
            self._recovering = False
            acts.append(ViewEntered(view, self._committed + 1))
            self._recover_votes.clear()
            self._recover_index.clear()
            self._prune_view_changes()
            for index in sorted(self._slots):
                slot = self._slots[index]
                if slot.phase is not ACCEPTED and slot.phase is not PRECOMMITTED:
                    continue
                votes = slot.prepares.get((view, slot.proposal.hash))
                if votes is None or self._index not in votes.voters:
                    self._send_prepare(slot, acts)
        else:
            self._enter_view(view, acts, None, final_up_to)
            self._replay_future(acts)
        if self._events:
            acts.append(Recovered(self._committed + 1, view, self._quorum))
        start = self._committed + 1
        while (slot := self._slots.get(start)) is not None and slot.phase >= COMMITTED:
            start += 1
        self._try_notify(max(start, self._sealed_up_to + 1), acts)
        self._progressed = True
        self._end(acts)

    def on_synced(self, index: int, ledger_hash: bytes) -> list[Action]:
        """Block sync wrote blocks up to ``index`` to the ledger (docs/faults.md, block sync).

        FISCO's ``finalizeConsensus(ledgerConfig, syncedBlock=true)`` → ``resetConfig``: the
        committed index and hash move up, the caches at or below it go
        (``removeConsensusedCache``, ``removeInvalidViewChange``), and the engine keeps its
        view, its view-change state and its timer. Blocks above ``index`` that this node
        already holds go on from where they were. Then (docs/pbft.md) a node in a view change
        broadcasts its ViewChange for the same view again, carrying the synced committed index;
        a node in a live view asks its peers for their view (a RecoverRequest).
        """
        acts: list[Action] = []
        if index <= self._committed:
            return acts
        self._committed = index
        self._committed_hash = ledger_hash
        if self._executed < index:
            self._executed = index
        if self._executing is not None and self._executing <= index:
            self._executing = None  # its result is void: on_executed will be ignored
        if self._committing is not None and self._committing <= index:
            self._committing = None
        for stale in [i for i in self._slots if i <= index]:
            self._drop(stale)
        if self._sealed_up_to < index:
            self._sealed_up_to = index
        if self._waiting_seal is not None and self._waiting_seal <= index:
            self._waiting_seal = None
        self._forget_up_to(index)
        if self._events:
            acts.append(Synced(index, self._view, self.high_water_mark))
        if not self._recovering:
            if self._live_view is None:
                view_change = self._make_view_change()
                if self._events:
                    acts.append(ViewChangeResent(index + 1, self._view, self._to_view))
                acts.append(Broadcast(view_change))
                self._store_view_change(view_change)
                self._try_new_view(acts)
            else:
                acts.append(Broadcast(RecoverRequest(self._view, self._committed, self._index)))
        self._progressed = True
        self._try_execute(acts)
        self._try_commit(acts)
        self._try_notify(self._committed + 1, acts)
        self._checkpoint_timer(acts, restart=False)
        self._end(acts)
        return acts

    # ==========================================================================================
    # 6. The committed-proposal fetch (docs/fisco-reference.md §1.5)
    # ==========================================================================================
    def _maybe_fetch(self, slot: _Slot, executed_hash: bytes, acts: list[Action], sender: int,
                     resent: bool) -> None:
        """``shouldRequestCheckPoint``: ask CheckPoint senders for a block's committed proposal.

        FISCO asks when CheckPoints of weight ≥ f + 1 agree on an executed hash for a block this
        node has not precommitted, or on any CheckPoint while it is in a view change. At least
        one of f + 1 is honest and executed the block, so it was committed by consensus;
        without its proposal this node could never execute it, and with fewer than Q nodes
        executing it no stable checkpoint (and so no block sync) would form. A precommitted
        node waits for its Commit quorum, unless the CheckPoint is a re-broadcast (``resent``,
        docs/pbft.md). Each sender is asked once per CheckPoint it sends.
        """
        if slot.phase is FETCHING:
            return
        votes = slot.checkpoints[executed_hash]
        if self._live_view is not None:  # not in a view change (FISCO: m_config->timeout())
            if votes.weight <= self._max_faulty:
                return
            if slot.phase is PRECOMMITTED and not resent:
                return
        asked = slot.asked
        if asked is None:
            asked = slot.asked = set()
        if resent:
            targets = [sender]
        else:
            targets = sorted(v for v in votes.voters if v != self._index and v not in asked)
        if not targets:
            return
        asked.update(targets)
        if self._events:
            cause = ("resent" if resent else "view_change" if votes.weight <= self._max_faulty
                     else "not_precommitted")
            acts.append(CommittedProposalRequested(slot.index, self._view, votes.weight,
                                                   tuple(targets), executed_hash, cause,
                                                   self._max_faulty))
        request = CommittedProposalRequest(self._view, slot.index, self._index)
        for dest in targets:
            acts.append(Send(dest, request))

    def _on_committed_proposal_request(self, message: CommittedProposalRequest) -> list[Action]:
        """``onReceiveCommittedProposalRequest``: answer with the proposal and its Commit quorum."""
        acts: list[Action] = []
        sender = message.sender
        index = message.index
        if not self._sender_ok(acts, "CommittedProposalRequest", index, sender):
            return acts
        slot = self._slots.get(index)
        if slot is None or slot.phase < COMMITTED or not slot.commit_voters:
            # A block already in our ledger is served by block sync (§7), not by the core.
            self._ignore(acts, "CommittedProposalRequest", index, "not_committed_here",
                         sender=sender, detail=(index <= self._committed,))
            return acts
        proof = PreparedProof(index, slot.commit_view, slot.proposal, slot.commit_voters)
        if self._events:
            acts.append(CommittedProposalSent(index, self._view, sender, slot.proposal.hash,
                                              slot.commit_view))
        acts.append(Send(sender, CommittedProposalResponse(self._view, index, self._index, proof)))
        return acts

    def _on_committed_proposal_response(self, message: CommittedProposalResponse
                                        ) -> list[Action]:
        """A committed proposal we asked for: check its Commit proof, then fill and execute it."""
        acts: list[Action] = []
        what = "CommittedProposalResponse"
        if not self._checked_index(message, acts, what, self._committed):
            return acts
        index = message.index
        sender = message.sender
        slot = self._slots.get(index)
        if slot is None or slot.asked is None or sender not in slot.asked:
            self._ignore(acts, what, index, "unexpected", sender=sender)
            return acts
        if slot.phase >= COMMITTED or slot.phase is FETCHING:
            self._ignore(acts, what, index, "duplicate", sender=sender)
            return acts
        proof = message.proof
        proposal = proof.proposal
        flaw = self._bad_commit_proof(message)
        if flaw is not None:
            self._ignore(acts, what, index, "bad_proof", sender=sender, detail=flaw)
            return acts
        held = slot.proposal
        accepted = slot.phase is ACCEPTED or slot.phase is PRECOMMITTED
        if held is not None and held.hash == proposal.hash and accepted:
            slot.commit_view, slot.commit_voters = proof.view, proof.voters
            self._fetched_verified(slot, True, acts)
            return acts
        if held is not None:
            # Our proposal for this index is not the committed one (an equivocating leader).
            if accepted:
                self._unseal(held, acts, "committed_elsewhere")
            elif slot.phase is VERIFYING:
                self._abandoned[(index, held.hash)] = held
        slot.proposal = proposal
        self._move(slot, FETCHING)
        slot.commit_view, slot.commit_voters = proof.view, proof.voters  # to answer others
        if self._events:
            acts.append(CommittedProposalReceived(index, self._view, proposal.hash, proof.voters,
                                                  sender, proof.view))
        acts.append(VerifyProposal(proposal, sender))
        return acts

    def _bad_commit_proof(self, message: CommittedProposalResponse) -> tuple | None:
        """Why a CommittedProposalResponse's Commit proof is invalid, or None."""
        proof = message.proof
        if proof.index != message.index or proof.proposal.index != message.index:
            return ("block", proof.index, proof.proposal.index)
        weight = 0
        seen: set[int] = set()
        for voter in proof.voters:
            if not 0 <= voter < self._n or voter in seen:
                return ("voters", proof.voters)
            seen.add(voter)
            weight += self._weights[voter]
        if weight < self._quorum:
            return ("weight", weight, self._quorum)
        return None

    def _fetched_verified(self, slot: _Slot, ok: bool, acts: list[Action]) -> None:
        """A fetched committed proposal is filled: COMMITTED here too (or REJECTED: the next
        re-broadcast CheckPoint asks again)."""
        index = slot.index
        if not ok:
            self._move(slot, REJECTED)
            if self._events:
                acts.append(ProposalRejected(index, self._view, slot.proposal.hash, True))
            return
        self._move(slot, COMMITTED)
        self._progress(index)
        if self._events:
            acts.append(CommittedProposalAccepted(index, self._view, slot.proposal.hash))
        self._try_notify(index + 1, acts)
        self._try_execute(acts)
        self._end(acts)


__all__ = ["MAX_CHANGE_CYCLE", "VIEW_SLACK", "PbftCore", "receive_slack"]
