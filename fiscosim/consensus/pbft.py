"""FISCO BCOS 3.x PBFT, normal case and failure handling, as a sans-I/O state machine.

:class:`PbftCore` is one consensus node's protocol (docs/architecture.md rule 1): messages and
runtime reports go in, a list of :mod:`~fiscosim.consensus.actions` comes out. It reads no clock
(``now`` is passed in, integer µs), sends nothing and holds no transaction objects — a block's
transactions stay one read-only int64 array inside its
:class:`~fiscosim.consensus.messages.Proposal`.

One block, as docs/fisco-reference.md §1.5 describes it (four network rounds)::

    leader: SealRange ─► propose ─► PrePrepare ─┐   (leader handles its own, no verification)
    replica: PrePrepare ─► VerifyProposal ─► on_proposal_verified ─► Prepare
    prepare weight ≥ Q (same view, same hash) ─► "precommit" ─► Commit
    commit weight ≥ Q ─► committed by consensus ─► SealRange to the next leader (§1.6)
                                               └─► Execute, strictly one at a time, in order
    on_executed ─► CheckPoint(executed hash)
    checkpoint weight ≥ Q on our own executed hash ─► stable ─► CommitBlock, strictly in order
    on_committed ─► committed index advances, state ≤ index is dropped, the window moves

When a leader fails (docs/fisco-reference.md §1.7)::

    view timer fires ─► to_view += 1, change_cycle += 1 ─► ViewChange(to_view, committed,
                        prepared proofs) to all; old-view PrePrepare/Prepare/Commit ignored
    ViewChanges for v of weight ≥ f + 1 above our to_view ─► fast view change: join the smallest
    leader of v holds ViewChanges for v of weight ≥ Q ─► NewView(v, the ViewChanges,
                        re-proposals of every prepared index, empty proposals at gaps)
    NewView accepted ─► view = v, change_cycle = 0; abandoned proposals ─► Unseal;
                        re-proposals handled like PrePrepares; sealing resumes once they commit

Rules and where they come from:

- **Weights and quorum** (§1.3): every vote is counted by its sender's weight, distinct senders
  only; a phase completes at weight ≥ Q = W − ⌊(W − 1)/3⌋ (:func:`fiscosim.chain.config.quorum`).
- **Leader** (§1.4): ``leader(i) = (i // leader_period + view) % n``. The leader of a new view
  ``v`` is ``leaderIndexInNewViewPeriod``: ``(p // leader_period + v) % n`` with ``p`` the
  highest committed index among the ViewChanges it holds for ``v``, plus one.
- **Pipeline** (§1.6): the sealing side only hands out indexes below the high water mark
  ``committed + 1 + pipeline_size``; with ``leader_period = 1`` the next leader is told to seal
  as soon as the previous block reaches the *commit* quorum, before it is executed, so block
  i+1 is ordered while i executes and i−1 is stored. A leader whose turn falls beyond the high
  water mark waits until a commit moves the window.
- **Out of order delivery is normal**: votes that arrive before their PrePrepare are kept
  (per index, per (view, hash)) and count once the proposal is accepted; messages of a view
  this node has not reached yet are kept too (votes counted, one PrePrepare per index) and
  used when it gets there (FISCO accepts messages of a higher view, ``checkPBFTMsgState``).
- **Execution** (§1.5 step 6, §2.8) is serial and in index order; **ledger commit** (step 8)
  too: a stable checkpoint waits for every earlier block to be committed.
- **The view timer** (§1.7) runs only while there is work: proposals in flight, transactions
  pending in the txpool (:meth:`PbftCore.on_pool_size`, FISCO's ``setUnSealedTxsSize``) or a
  view change under way. It is restarted on progress of the lowest block not in the ledger
  (proposal accepted, precommit, commit quorum, execution finished; any block committed) and
  cancelled when idle. Its delay is
  ``timeout × 1.5^change_cycle`` with the cycle capped (``PBFTTimer``). When it fires while an
  execution or a ledger commit is under way it is just restarted (``onTimeout``); otherwise the
  node starts a view change (``triggerTimeout``).
- **View change** (§1.7): a ViewChange carries the committed index and hash and a
  :class:`~fiscosim.consensus.messages.PreparedProof` for every block this node precommitted
  but has not committed. It is valid (``isValidViewChangeMsg``) if its view is above ours, its
  committed index is not below ours, its committed hash agrees with ours at the same index and
  every proof's voters are distinct consensus nodes of weight ≥ Q. A node that has not timed out
  answers every ViewChange with a RecoverResponse (its view), so a node that timed out alone
  can come back (weight ≥ Q of responses for one view). A node in a view change sends its own
  ViewChange to a sender two or more views behind (``sendViewChange``). ViewChanges whose
  committed index falls below ours are dropped when a block commits (``removeInvalidViewChange``).
- **Fast view change** (§1.7, ``tryToTriggerFastViewChange``): ViewChanges of weight ≥ f + 1 for
  one view above our ``to_view`` make us join the smallest such view at once (the back-off
  cycle does not grow). :meth:`PbftCore.on_leader_unreachable` does the same for a leader the
  runtime finds disconnected or ≥ 50 blocks behind (``tryTriggerFastViewChange``).
- **NewView** (``checkAndTryIntoNewView``, ``generatePrePrepareMsg``): the leader of ``v``, with
  ViewChanges for ``v`` of weight ≥ Q (its own among them), re-proposes every index from the
  highest committed one among them + 1 to the highest prepared one: the prepared proposal of
  the highest view, or an empty proposal at a gap
  (:func:`~fiscosim.consensus.messages.empty_proposal`). Receivers check the view, the
  ViewChanges' weight, the sender and the re-proposals (recomputed from the ViewChanges), move
  to ``v`` (``change_cycle = 0``) and handle each re-proposal like a PrePrepare; the leader
  handles its own NewView the same way (``reHandlePrePrepareProposals``). Sealing resumes once
  the last re-proposed index is committed (``waitResealUntil``).
- **Unseal** (§2.7): a proposal this node accepted that the new view does not re-propose is
  abandoned and its transactions go back to pending; so do the transactions of a sealed block
  :meth:`PbftCore.propose` refuses (``asyncResetTxsFlag(block, false)``).
- **Checkpoint re-broadcast** (§1.5): while an executed block has no stable checkpoint, a
  second timer (``"checkpoint"``, ``checkpoint_timeout``, default 3 s) re-broadcasts this node's
  CheckPoints when it fires (``tryToResendCheckPoint``).
- **Committed-proposal fetch** (§1.5, ``shouldRequestCheckPoint``): CheckPoints of weight
  ≥ f + 1 on one executed hash for a block this node has not precommitted (any CheckPoint
  during a view change) → CommittedProposalRequest to their senders; a node holding the block
  at its Commit quorum answers with the proposal and the quorum's voters; the receiver checks
  the voters' weight ≥ Q, fills the proposal through the txpool and executes it without
  voting. A proposal it held for that index (from an equivocating leader) is unsealed.
- **Recovery** (§1.7): a (re)started node broadcasts a RecoverRequest; every node answers with
  a RecoverResponse (its view and committed index); the node adopts a view reported by weight
  ≥ Q (``checkAndTryToRecover``). It seals nothing until then.

Deviations from FISCO, each deliberate:

- Receive-side bound. FISCO checks only a lower bound on a received PrePrepare (§1.5 step 3)
  and leaves the upper bound to the sealing side. We also drop messages for indexes at or above
  ``committed + 1 + RECEIVE_SLACK`` (:data:`RECEIVE_SLACK` = max(1000, 20 × pipeline_size)), a
  memory bound against a faulty peer's spam, far enough that an honest node whose ledger lags
  the others never drops a message it will need: a dropped PrePrepare is only recovered by
  block sync (a later issue; §1.6 ``isSyncingHigher``). An earlier bound of 2 × pipeline_size
  stalled a lagging node for good under random delivery orders (found by the property test).
  Views above ``to_view + max(50, pipeline_size)`` are dropped too (FISCO: ``waterMarkLimit``).
- CheckPoints are counted by executed hash whatever their view: the executed hash does not
  depend on the view, and a stable checkpoint is a property of the hash (§1.5 step 8).
- While a view change is under way (``to_view > view``) this node ignores PrePrepare, Prepare
  and Commit of its old view: it has left that view. FISCO keeps handling them but refuses to
  precommit or commit in its timeout state (``PBFTCache::checkAndPreCommit``); the effect on
  the outcome is the same, without caching votes that a new view throws away. A proposal whose
  verification finishes during a view change is accepted without a Prepare.
- A PrePrepare of a view this node has not reached is kept (one per index, the highest view)
  and handled on arrival in that view. FISCO checks it against the leader of its *current*
  view and so drops it; under our seeded random delivery orders a NewView can arrive after the
  new view's first PrePrepare, which would stall the node until the next view change.
- Prepared proofs carry the proposal's transaction ids (FISCO's are without data and fetched
  on demand, PreparedProposalRequest 0x07/0x08); messages.py charges their bytes honestly.
  A re-proposal is verified through the txpool like a PrePrepare, fetching missing
  transactions from a node that precommitted it (``VerifyProposal.fetch_from``), unless this
  node already accepted the same proposal (FISCO verifies again; the pool lookups cost little).
  Empty proposals need no verification.
- The NewView's sender and re-proposals are checked against the leader formula and a
  recomputation from its ViewChanges (FISCO leaves "check the prePrepared message" a TODO and
  takes the sender as the leader). ViewChanges nested in a NewView are checked for structure
  and weight only, not against our committed index: a receiver that committed more than some
  of them skips the indexes it has (FISCO would reject the whole NewView and catch up later).
- A later ViewChange from a sender for the same view replaces the earlier one when it is
  fresher (higher committed index, then more proofs, then higher proof views); FISCO keeps the
  first. A node that came back from a lone timeout (RecoverResponses) may send a ViewChange
  for the same view again, and a stale one must not hide a block it precommitted since.
- A proposal this node precommitted that the accepted NewView does not re-propose is abandoned
  (and unsealed): the NewView is authoritative, and the PBFT argument makes this safe (a block
  committed anywhere is precommitted by an honest member of every ViewChange quorum). FISCO
  keeps it and rejects the conflicting re-proposal (``conflictWithPrecommitReq``), then needs
  block sync to move on. A block this node holds at the commit quorum takes part in the new
  view's Prepare and Commit again (without executing twice), so the others can reach Q for it.
- Recovery adopts view 0 too (FISCO's ``checkAndTryToRecover`` skips view 0: its chains reach
  view 1 at start-up, every node broadcasting a ViewChange when it starts). Our chains start in
  view 0 with no view change; a restarted node asks with a RecoverRequest.
- The view timer restarts on progress of the lowest block not in the ledger only, where FISCO
  restarts it on any proposal's progress. Under message loss a block can stall (its Commits
  lost at the nodes that precommitted it) while later blocks keep committing by consensus;
  with FISCO's rule the timer then never fires until the 50-block pipeline is full (fuzz seed
  312: 25 s at 2 blocks/s). Later blocks cannot reach the ledger before the lowest one.
- The checkpoint timer (re-broadcast) is started, not restarted, when an execution finishes:
  it measures how long the oldest unstable block has waited. FISCO restarts it per execution
  (``onProposalApplySuccess``), so a block that cannot become stable is not re-broadcast while
  later blocks execute.
- A precommitted node also asks for a committed proposal when a CheckPoint for it is
  re-broadcast (FISCO waits for its own Commit quorum; a lost Commit leaves it waiting).
- Block sync (§7) moves the core's committed index up without rebuilding it
  (:meth:`PbftCore.on_synced`, FISCO's ``finalizeConsensus`` with a synced block), and then a
  node in a view change broadcasts its ViewChange for the same view again, carrying the new
  committed index; a node in a live view sends a RecoverRequest. FISCO keeps the ViewChange it
  sent while behind, which every peer whose ledger is ahead refuses as committed below its own
  (``isValidViewChangeMsg``), so the view change waits for the next, backed-off timeout: 7.5 s
  without a block under 2 % loss (docs/faults.md, fuzz with ``--loss``).
- ``change_cycle`` is capped at :data:`MAX_CHANGE_CYCLE` = 10, FISCO's ``c_maxChangeCycle``
  (``PBFTTimer.h``, docs/fisco-reference.md §1.7); ``max_change_cycle`` changes it.
- Not modelled: system proposals that stall the pipeline (§1.6). Block sync (§7) lives in the
  runtime (:mod:`fiscosim.node.runtime`); the committed-proposal fetch (§1.5) is answered by
  the core from blocks at their Commit quorum, not from the ledger: a block already in the
  responder's ledger has a stable checkpoint, and block sync serves it.
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
    Send,
    SetTimer,
    Unseal,
    VerifyProposal,
    ViewChangeNeeded,
    ViewEntered,
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

MAX_CHANGE_CYCLE = 10
"""Cap of the timeout back-off exponent (docs/fisco-reference.md §1.7, ``PBFTTimer``)."""
VIEW_SLACK = 50
"""How many views above ``to_view`` a message may be: FISCO's ``waterMarkLimit`` default
(``handlePrePrepareMsg`` refuses a view beyond ``view + waterMarkLimit``)."""

_ZERO_HASH = bytes(HASH_SIZE)

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
        "asked",
        "checkpoints",
        "commit_quorum",
        "commit_view",
        "commit_voters",
        "commits",
        "executed_hash",
        "fetched",
        "index",
        "precommitted",
        "prepares",
        "proof",
        "proof_view",
        "proof_votes",
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
        self.precommitted = False  # in the current view
        self.commit_quorum = False
        self.executed_hash: bytes | None = None
        self.stable: tuple[int, ...] | None = None  # the stable checkpoint's signers
        # The latest precommit, kept across views for ViewChanges (FISCO's m_precommit).
        self.proof: Proposal | None = None
        self.proof_view = -1
        self.proof_votes: _Votes | None = None
        # The Commit quorum, kept to answer a CommittedProposalRequest (§1.5).
        self.commit_view = -1
        self.commit_voters: tuple[int, ...] = ()
        # Committed-proposal fetch: nodes asked, and whether the proposal came that way.
        self.asked: set[int] | None = None
        self.fetched = False


def receive_slack(pipeline_size: int) -> int:
    """How far above the committed block a received message may be (module docstring)."""
    return max(1000, 20 * pipeline_size)


def _short(digest: bytes) -> str:
    return digest[:4].hex()


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
    for their view (:meth:`recover`). With ``notes=False`` no
    :class:`~fiscosim.consensus.actions.Note` is built. ``labels`` (one per consensus index)
    are how Note *texts* name the nodes, e.g. "sealer 2 (node3)"; without them a text says
    "node 2", the consensus index. Note ``fields`` always hold consensus indexes.

    >>> core = PbftCore(0, [1, 1, 1, 1], notes=False)
    >>> core.quorum, core.leader_of(1), core.leader_of(2)
    (3, 1, 2)
    >>> core.start(0)   # block 1's leader is node 1, not us
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
        "_executed",
        "_executing",
        "_future",
        "_index",
        "_labels",
        "_leader_period",
        "_live_view",
        "_max_change_cycle",
        "_max_faulty",
        "_n",
        "_notes",
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
        "_vc_quorum_noted",
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
        notes: bool = True,
        checkpoint_timeout_us: int = 3_000_000,
        recovering: bool = False,
        max_change_cycle: int = MAX_CHANGE_CYCLE,
        labels: Sequence[str] | None = None,
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
        if checkpoint_timeout_us < 1:
            raise ValueError(
                f"checkpoint_timeout_us must be at least 1, got {checkpoint_timeout_us}"
            )
        if max_change_cycle < 0:
            raise ValueError(f"max_change_cycle cannot be negative, got {max_change_cycle}")
        if committed_index < 0 or view < 0:
            raise ValueError("committed_index and view cannot be negative")
        if labels is not None and len(labels) != len(weights):
            raise ValueError(f"{len(labels)} labels for a consensus list of {len(weights)}")
        self._index = index
        self._weights = weights
        self._n = len(weights)
        self._leader_period = leader_period
        self._pipeline_size = pipeline_size
        self._receive_window = receive_slack(pipeline_size)  # see the module docstring
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
        self._active = 0  # slots with a proposal (verifying, accepted or rejected)
        self._pending = 0  # the txpool's last reported pending count
        self._timer_armed = False
        self._checkpoint_armed = False
        self._progressed = False  # set by a step that restarts the view timer
        # View change state (FISCO's PBFTCacheProcessor caches).
        self._view_changes: dict[int, dict[int, ViewChange]] = {}  # view → sender → message
        self._vc_weight: dict[int, int] = {}
        self._vc_quorum_noted = -1
        self._recover_votes: dict[int, _Votes] = {}
        self._recover_index: dict[int, int] = {}  # view → highest committed index reported
        self._recovering = recovering
        self._future: dict[int, PrePrepare] = {}  # index → PrePrepare of a view not reached
        # Proposals abandoned while the txpool was verifying them: unsealed if it says ok.
        self._abandoned: dict[tuple[int, bytes], Proposal] = {}
        self._notes = notes
        self._labels: tuple[str, ...] | None = None if labels is None else tuple(labels)

    # -- names in Note texts --------------------------------------------------------------------
    def _who(self, index: int, prefix: str = "node ") -> str:
        """How a Note text names consensus node ``index``: its label when the core was given
        labels, else ``prefix`` and the index ("node 3"). An index outside the consensus list
        (a stray sender) is always written as a number."""
        labels = self._labels
        if labels is not None and 0 <= index < len(labels):
            return labels[index]
        return f"{prefix}{index}"

    def _whos(self, indexes: Any, prefix: str = "nodes ") -> str:
        """Several consensus nodes in a Note text: "nodes 0,1,2", or their labels."""
        if self._labels is None:
            return prefix + ",".join(map(str, indexes))
        return ", ".join(self._who(i) for i in indexes)

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

    @property
    def current_leader(self) -> int:
        """The leader this node waits for (the runtime checks it for :meth:`on_leader_unreachable`).

        The leader of block committed + 1 in our view, or during a view change the leader of
        ``to_view`` (``leaderIndexInNewViewPeriod`` with our own committed index, §1.4).
        """
        view = self._view if self._live_view is not None else self._to_view
        return ((self._committed + 1) // self._leader_period + view) % self._n

    def leader_of(self, index: int, view: int | None = None) -> int:
        """The leader of block ``index`` in ``view`` (default: ours) (docs/fisco-reference.md
        §1.4)."""
        if view is None:
            view = self._view
        return (index // self._leader_period + view) % self._n

    def is_leader(self, index: int) -> bool:
        """Whether this node leads block ``index`` in the current view."""
        return (index // self._leader_period + self._view) % self._n == self._index

    # -- entry points ---------------------------------------------------------------------------
    def start(self, now: int) -> list[Action]:
        """Boot: a SealRange if this node leads the first block above the committed one.

        A core built with ``recovering=True`` asks for the others' view first (:meth:`recover`).
        """
        if self._recovering:
            return self.recover(now)
        acts: list[Action] = []
        self._try_notify(self._committed + 1, acts)
        return acts

    def recover(self, now: int) -> list[Action]:
        """A (re)started node asks for the current view: broadcast a RecoverRequest (§1.7).

        Until RecoverResponses of weight ≥ Q report one view (or a NewView arrives) the node
        seals nothing; then it adopts that view (``checkAndTryToRecover``).
        """
        acts: list[Action] = []
        self._recovering = True
        if self._notes:
            acts.append(Note(
                "recover_sent",
                f"{self._who(self._index)} (view {self._view}, committed {self._committed}) asks "
                "the others for their view",
                {"index": self._committed + 1, "view": self._view},
            ))
        acts.append(Broadcast(RecoverRequest(self._view, self._committed, self._index)))
        if self._weights[self._index] >= self._quorum:
            # A group this node alone can make a quorum of: nobody else to ask.
            self._adopt_view(self._view, self._committed, acts)
        return acts

    def propose(self, proposal: Proposal, now: int) -> list[Action]:
        """The sealer's block: broadcast its PrePrepare and our Prepare (docs/fisco-reference.md
        §1.5 step 2).

        Refused (with a Note and an :class:`~fiscosim.consensus.actions.Unseal` of the block)
        during a view change or a recovery, unless this node leads ``proposal.index``, and
        unless the index is above what it executed and below the high water mark (§1.6). The
        leader does not verify its own proposal.
        """
        acts: list[Action] = []
        index = proposal.index
        if self._live_view is None or self._recovering:
            self._refuse(acts, proposal, "in_view_change",
                         f"block {index}: a view change or recovery is under way "
                         f"(view {self._view}, to_view {self._to_view})")
            return acts
        if not self.is_leader(index):
            self._refuse(acts, proposal, "not_leader",
                         f"we are not the leader of block {index} in view {self._view}")
            return acts
        if index <= self._executed:
            self._refuse(acts, proposal, "stale",
                         f"block {index} is already executed (executed {self._executed})")
            return acts
        if index >= self._committed + 1 + self._pipeline_size:
            self._refuse(acts, proposal, "out_of_window",
                         f"block {index} is beyond the high water mark "
                         f"{self._committed + 1 + self._pipeline_size}")
            return acts
        slot = self._slot(index)
        if slot.state != _EMPTY:
            self._ignore_second_proposal(acts, slot, proposal)
            if slot.proposal.hash != proposal.hash:
                acts.append(Unseal(proposal))
            return acts
        slot.proposal = proposal
        slot.state = _ACCEPTED
        self._active += 1
        if self._notes:
            acts.append(Note(
                "proposal_sent",
                f"{self._who(self._index)} proposes block {index} in view {self._view} "
                f"({len(proposal.tx_ids)} txs, hash {_short(proposal.hash)})",
                {"index": index, "view": self._view, "leader": self._index,
                 "txs": len(proposal.tx_ids), "hash": proposal.hash},
            ))
        acts.append(Broadcast(PrePrepare(self._view, index, self._index, proposal)))
        self._progress(index)
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
        self._ignore(acts, kind.__name__, getattr(message, "index", -1), "unknown_message",
                     f"{kind.__name__} is not a PBFT message this core handles")
        return acts

    def on_proposal_verified(self, index: int, hash: bytes, ok: bool, now: int) -> list[Action]:
        """The txpool's verdict on a received proposal (docs/fisco-reference.md §1.5 step 3, §2.7).

        ok: accept it and broadcast our Prepare (withheld during a view change). Not ok: a
        Note; the proposal stays in flight so the view timer fires (FISCO then changes view).
        A verdict on a proposal a view change abandoned meanwhile: if ok, Unseal it.
        """
        acts: list[Action] = []
        slot = self._slots.get(index)
        if slot is None or slot.state != _VERIFYING or slot.proposal.hash != hash:
            abandoned = self._abandoned.pop((index, hash), None) if self._abandoned else None
            if abandoned is not None:
                if ok:
                    self._unseal(abandoned, acts, "its verification finished after a view "
                                 "change abandoned it")
                return acts
            self._ignore(acts, "verification", index, "unexpected",
                         f"no proposal {_short(hash)} for block {index} awaits verification")
            return acts
        if slot.fetched:
            self._fetched_verified(slot, ok, acts)
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
        if self._live_view is None:
            if self._notes:
                acts.append(Note(
                    "proposal_verified",
                    f"proposal {_short(hash)} for block {index} verified; no Prepare: a view "
                    f"change to view {self._to_view} is under way",
                    {"index": index, "view": self._view, "hash": hash},
                ))
            return acts
        if self._notes:
            acts.append(Note(
                "proposal_verified",
                f"proposal {_short(hash)} for block {index} verified: sending Prepare",
                {"index": index, "view": self._view, "hash": hash},
            ))
        self._progress(index)
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
        self._progress(index)
        self._check_stable(slot, acts)
        self._try_execute(acts)
        # FISCO restarts the checkpoint timer when an execution finishes (onProposalApplySuccess);
        # we only start it, so it measures how long the oldest unstable block has waited: with
        # a restart per execution a block that cannot become stable is never re-broadcast while
        # later blocks execute (module docstring, deviations).
        self._checkpoint_timer(acts, restart=False)
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
        self._committed_hash = slot.executed_hash
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

    def on_synced(self, index: int, ledger_hash: bytes, now: int) -> list[Action]:
        """Block sync wrote blocks up to ``index`` to the ledger (docs/faults.md, block sync).

        FISCO's ``finalizeConsensus(ledgerConfig, syncedBlock=true)`` → ``resetConfig``: the
        committed index and hash move up, the caches at or below it go
        (``removeConsensusedCache``, ``removeInvalidViewChange``), and the engine keeps its
        view, its view-change state and its timer. Blocks above ``index`` that this node
        already holds go on from where they were.

        Two additions (module docstring, deviations): a node in a view change broadcasts its
        ViewChange for the same view again, now carrying the synced committed index (the one it
        sent before is refused by every peer whose ledger is ahead: ``isValidViewChangeMsg``);
        a node in a live view asks its peers for their view (a RecoverRequest), so a node that
        fell behind across a view change joins the current view without waiting for its timer.
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
            if self._slots.pop(stale).state != _EMPTY:
                self._active -= 1
        if self._sealed_up_to < index:
            self._sealed_up_to = index
        if self._waiting_seal is not None and self._waiting_seal <= index:
            self._waiting_seal = None
        self._forget_up_to(index)
        if self._notes:
            acts.append(Note(
                "synced",
                f"block sync brought the ledger to block {index}; window now "
                f"[{index + 1}, {index + 1 + self._pipeline_size})",
                {"index": index, "view": self._view,
                 "high_water_mark": index + 1 + self._pipeline_size},
            ))
        if not self._recovering:
            if self._live_view is None:
                view_change = self._make_view_change()
                if self._notes:
                    acts.append(Note(
                        "view_change_resent",
                        f"{self._who(self._index)} asks again to move to view {self._to_view}, now "
                        f"with committed {index}",
                        {"index": index + 1, "view": self._view, "to_view": self._to_view},
                    ))
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

    def on_timer(self, name: str, now: int) -> list[Action]:
        """A timer fired: the view timer (§1.7 ``onTimeout``) or the checkpoint timer (§1.5)."""
        if name == PBFT_TIMER and self._timer_armed:
            return self._on_view_timeout()
        if name == CHECKPOINT_TIMER and self._checkpoint_armed:
            return self._on_checkpoint_timeout()
        acts: list[Action] = []
        self._ignore(acts, "timer", self._committed + 1, "stale_timer",
                     f"timer {name!r} is not armed in this core")
        return acts

    def on_pool_size(self, pending: int, now: int) -> list[Action]:
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

    def on_leader_unreachable(self, now: int) -> list[Action]:
        """The runtime finds :attr:`current_leader` disconnected or ≥ 50 blocks behind (§1.7).

        Start a view change at once, without waiting for the timer and without growing the
        back-off (FISCO's ``tryTriggerFastViewChange`` → ``triggerTimeout(false)``). The runtime
        calls again while the next leader is unreachable too.
        """
        acts: list[Action] = []
        leader = self.current_leader
        if leader == self._index:
            self._ignore(acts, "leader check", self._committed + 1, "own_leadership",
                         f"{self._who(self._index)} is the leader it was told is unreachable")
            return acts
        if self._notes:
            acts.append(Note(
                "leader_unreachable",
                f"leader {self._who(leader, '')} is unreachable: view change to view "
                f"{self._to_view + 1} now",
                {"index": self._committed + 1, "view": self._view, "leader": leader,
                 "to_view": self._to_view + 1},
            ))
        self._start_view_change(self._to_view + 1, "leader_unreachable", acts, backoff=False)
        return acts

    # -- normal-case messages -------------------------------------------------------------------
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
                         f"PrePrepare for block {index} from {self._who(message.sender)}, but the "
                         f"leader in view {self._view} is {self._who(leader)}",
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
                f"PrePrepare for block {index} from leader {self._who(leader, '')} "
                f"in view {self._view} "
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
            if not slot.commit_quorum:
                self._maybe_fetch(slot, executed_hash, acts, message.sender, resent=True)
            return acts
        if not slot.commit_quorum:
            self._maybe_fetch(slot, executed_hash, acts, message.sender, resent=False)
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

    # -- view change messages (docs/fisco-reference.md §1.7)
    # ---------------------------------------------------
    def _on_view_change(self, message: ViewChange) -> list[Action]:
        acts: list[Action] = []
        sender = message.sender
        view = message.view
        if not 0 <= sender < self._n or sender == self._index:
            self._ignore(acts, "ViewChange", message.index, "unknown_sender",
                         f"ViewChange from {self._who(sender)}, not another consensus node",
                         sender=sender)
            return acts
        if message.index < self._committed:
            self._ignore(acts, "ViewChange", message.index, "stale_committed",
                         f"ViewChange to view {view} from {self._who(sender)} has committed index "
                         f"{message.index}, below ours ({self._committed})",
                         sender=sender, to_view=view)
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
        if view <= self._view:
            self._ignore(acts, "ViewChange", message.index, "stale_view",
                         f"ViewChange to view {view} from {self._who(sender)}: we are in view "
                         f"{self._view}", sender=sender, to_view=view)
            return acts
        if view > self._to_view + self._view_slack:
            self._ignore(acts, "ViewChange", message.index, "far_future_view",
                         f"ViewChange to view {view} from {self._who(sender)} is more than "
                         f"{self._view_slack} views ahead", sender=sender, to_view=view)
            return acts
        ours = self._committed_hash
        if (message.index == self._committed and ours is not None
                and message.committed_hash not in (ours, _ZERO_HASH)):
            self._ignore(acts, "ViewChange", message.index, "conflicting_committed_hash",
                         f"ViewChange from {self._who(sender)} commits block {message.index} with "
                         f"hash {_short(message.committed_hash)}, we have {_short(ours)}",
                         sender=sender, to_view=view)
            return acts
        bad = self._bad_proofs(message)
        if bad is not None:
            self._ignore(acts, "ViewChange", message.index, bad[0],
                         f"ViewChange to view {view} from {self._who(sender)}: {bad[1]}",
                         sender=sender, to_view=view)
            return acts
        if not self._store_view_change(message):
            self._ignore(acts, "ViewChange", message.index, "duplicate",
                         f"ViewChange to view {view} from {self._who(sender)} already held",
                         sender=sender, to_view=view)
            return acts
        if self._notes:
            weight = self._vc_weight[view]
            acts.append(Note(
                "view_change_received",
                f"ViewChange to view {view} from {self._who(sender)} (committed {message.index}, "
                f"{len(message.prepared)} prepared): weight {weight}/{self._quorum} for view "
                f"{view}",
                {"index": message.index, "view": self._view, "to_view": view,
                 "sender": sender, "weight": weight, "quorum": self._quorum,
                 "prepared": tuple(proof.index for proof in message.prepared)},
            ))
        target = self._fast_view_target()
        if target is not None:
            if self._notes:
                acts.append(Note(
                    "fast_view_change",
                    f"ViewChanges of weight {self._vc_weight[target]} ≥ f + 1 = "
                    f"{self._max_faulty + 1} ask for view {target}: joining at once",
                    {"index": self._committed + 1, "view": self._view, "to_view": target,
                     "weight": self._vc_weight[target]},
                ))
            self._start_view_change(target, "fast_view_change", acts, backoff=False)
        else:
            self._try_new_view(acts)
        return acts

    def _on_new_view(self, message: NewView) -> list[Action]:
        acts: list[Action] = []
        sender = message.sender
        view = message.view
        if not 0 <= sender < self._n or sender == self._index:
            self._ignore(acts, "NewView", self._committed + 1, "unknown_sender",
                         f"NewView from {self._who(sender)}, not another consensus node",
                         sender=sender)
            return acts
        if view <= self._view:
            self._ignore(acts, "NewView", self._committed + 1, "stale_view",
                         f"NewView for view {view} from {self._who(sender)}: we are in view "
                         f"{self._view}", sender=sender, to_view=view)
            return acts
        if view > self._to_view + self._view_slack:
            self._ignore(acts, "NewView", self._committed + 1, "far_future_view",
                         f"NewView for view {view} from {self._who(sender)} is more than "
                         f"{self._view_slack} views ahead", sender=sender, to_view=view)
            return acts
        bad = self._bad_new_view(message)
        if bad is not None:
            self._ignore(acts, "NewView", self._committed + 1, bad[0],
                         f"NewView for view {view} from {self._who(sender)}: {bad[1]}",
                         sender=sender, to_view=view)
            return acts
        if self._notes:
            acts.append(Note(
                "new_view_accepted",
                f"NewView for view {view} from {self._who(sender)} accepted "
                f"({len(message.view_changes)} ViewChanges, re-proposing "
                f"{[pre.index for pre in message.pre_prepares]})",
                {"index": self._committed + 1, "view": self._view, "to_view": view,
                 "sender": sender,
                 "reproposed": tuple(pre.index for pre in message.pre_prepares)},
            ))
        self._accept_new_view(message, acts)
        return acts

    def _on_recover_request(self, message: RecoverRequest) -> list[Action]:
        acts: list[Action] = []
        sender = message.sender
        if not 0 <= sender < self._n or sender == self._index:
            self._ignore(acts, "RecoverRequest", message.index, "unknown_sender",
                         f"RecoverRequest from {self._who(sender)}, not another consensus node",
                         sender=sender)
            return acts
        self._send_status(sender, acts)  # handleRecoverRequest: always answered
        return acts

    def _on_recover_response(self, message: RecoverResponse) -> list[Action]:
        acts: list[Action] = []
        sender = message.sender
        view = message.view
        if not 0 <= sender < self._n or sender == self._index:
            self._ignore(acts, "RecoverResponse", message.index, "unknown_sender",
                         f"RecoverResponse from {self._who(sender)}, not another consensus node",
                         sender=sender)
            return acts
        if view < self._view or view > self._to_view + self._view_slack:
            self._ignore(acts, "RecoverResponse", message.index, "stale_view",
                         f"RecoverResponse from {self._who(sender)} reports view {view}; we are in "
                         f"view {self._view}", sender=sender, to_view=view)
            return acts
        votes = self._recover_votes.get(view)
        if votes is None:
            votes = self._recover_votes[view] = _Votes()
        if sender in votes.voters:
            self._ignore(acts, "RecoverResponse", message.index, "duplicate",
                         f"RecoverResponse from {self._who(sender)} already counted", sender=sender)
            return acts
        votes.voters.add(sender)
        votes.weight += self._weights[sender]
        self._recover_index[view] = max(self._recover_index.get(view, 0), message.index)
        if votes.weight < self._quorum:
            return acts
        if view > self._view or self._live_view is None or self._recovering:
            self._adopt_view(view, self._recover_index[view], acts)
        return acts

    # -- committed-proposal fetch (docs/fisco-reference.md §1.5)
    # ----------------------------------------------
    def _maybe_fetch(self, slot: _Slot, executed_hash: bytes, acts: list[Action], sender: int,
                     resent: bool) -> None:
        """``shouldRequestCheckPoint``: ask CheckPoint senders for a block's committed proposal.

        FISCO asks when CheckPoints of weight ≥ f + 1 agree on an executed hash for a block this
        node has not precommitted, or on any CheckPoint while it is in a view change. At least
        one of f + 1 is honest and executed the block, so it was committed by consensus;
        without its proposal this node could never execute it, and with fewer than Q nodes
        executing it no stable checkpoint (and so no block sync) would form.

        A precommitted node waits for its Commit quorum (FISCO: "wait for generating local
        checkPoint"). Deviation: a CheckPoint *re-broadcast* (``resent``: its sender found no
        stable checkpoint for ``checkpoint_timeout``) makes it ask too. A lost Commit otherwise
        leaves it without the quorum while later blocks keep its view timer from firing, until
        the pipeline fills 50 blocks later (fuzz seed 253). Each sender is asked once per
        CheckPoint it sends.
        """
        if slot.fetched and slot.state != _REJECTED:
            return
        votes = slot.checkpoints[executed_hash]
        if self._live_view is not None:  # not in a view change (FISCO: m_config->timeout())
            if votes.weight <= self._max_faulty:
                return
            if slot.precommitted and not resent:
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
        if self._notes:
            acts.append(Note(
                "committed_proposal_requested",
                f"CheckPoints of weight {votes.weight} for block {slot.index} ("
                + ("re-broadcast" if resent else "in a view change" if votes.weight <=
                   self._max_faulty else f"> f = {self._max_faulty}, not precommitted")
                + f"): asking {self._whos(targets)} for its committed proposal",
                {"index": slot.index, "view": self._view, "weight": votes.weight,
                 "dests": tuple(targets), "executed_hash": executed_hash},
            ))
        request = CommittedProposalRequest(self._view, slot.index, self._index)
        for dest in targets:
            acts.append(Send(dest, request))

    def _on_committed_proposal_request(self, message: CommittedProposalRequest) -> list[Action]:
        """``onReceiveCommittedProposalRequest``: answer with the proposal and its Commit quorum."""
        acts: list[Action] = []
        sender = message.sender
        index = message.index
        if not 0 <= sender < self._n or sender == self._index:
            self._ignore(acts, "CommittedProposalRequest", index, "unknown_sender",
                         f"CommittedProposalRequest from {self._who(sender)}, not another "
                         "consensus node", sender=sender)
            return acts
        slot = self._slots.get(index)
        if slot is None or not slot.commit_quorum or not slot.commit_voters:
            # A block already in our ledger is served by block sync (§7), not by the core.
            self._ignore(acts, "CommittedProposalRequest", index, "not_committed_here",
                         f"{self._who(sender)} asks for block {index}'s committed proposal: "
                         "we hold none with a Commit quorum"
                         + (" (it is in our ledger: block sync serves it)"
                            if index <= self._committed else ""), sender=sender)
            return acts
        proof = PreparedProof(index, slot.commit_view, slot.proposal, slot.commit_voters)
        if self._notes:
            acts.append(Note(
                "committed_proposal_sent",
                f"sending block {index}'s committed proposal ({_short(slot.proposal.hash)}, "
                f"Commit quorum of view {slot.commit_view}) to {self._who(sender)}",
                {"index": index, "view": self._view, "dest": sender,
                 "hash": slot.proposal.hash},
            ))
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
        slot = self._slots.get(index)
        if slot is None or slot.asked is None or message.sender not in slot.asked:
            self._ignore(acts, what, index, "unexpected",
                         f"{what} for block {index} from {self._who(message.sender)}: not asked",
                         sender=message.sender)
            return acts
        if slot.commit_quorum or (slot.fetched and slot.state != _REJECTED):
            self._ignore(acts, what, index, "duplicate",
                         f"{what} for block {index} from {self._who(message.sender)}: we have it",
                         sender=message.sender)
            return acts
        proof = message.proof
        proposal = proof.proposal
        bad = self._bad_commit_proof(message)
        if bad is not None:
            self._ignore(acts, what, index, "bad_proof",
                         f"{what} for block {index} from {self._who(message.sender)}: {bad}",
                         sender=message.sender)
            return acts
        held = slot.proposal
        if held is not None and held.hash == proposal.hash and slot.state == _ACCEPTED:
            slot.fetched = True
            slot.commit_view, slot.commit_voters = proof.view, proof.voters
            self._fetched_verified(slot, True, acts)
            return acts
        if held is not None:
            # Our proposal for this index is not the committed one (an equivocating leader).
            if slot.state == _ACCEPTED:
                self._unseal(held, acts, f"block {index} was committed with another proposal")
            elif slot.state == _VERIFYING:
                self._abandoned[(index, held.hash)] = held
        else:
            self._active += 1
        slot.proposal = proposal
        slot.state = _VERIFYING
        slot.fetched = True
        slot.commit_view, slot.commit_voters = proof.view, proof.voters  # to answer others
        if self._notes:
            acts.append(Note(
                "committed_proposal_received",
                f"block {index}'s committed proposal ({_short(proposal.hash)}, Commit quorum "
                f"{self._whos(proof.voters, '')} in view {proof.view}) from "
                f"{self._who(message.sender)}: verifying",
                {"index": index, "view": self._view, "hash": proposal.hash,
                 "voters": proof.voters, "sender": message.sender},
            ))
        acts.append(VerifyProposal(proposal, message.sender))
        return acts

    def _bad_commit_proof(self, message: CommittedProposalResponse) -> str | None:
        proof = message.proof
        if proof.index != message.index or proof.proposal.index != message.index:
            return f"its proof is for block {proof.index} (proposal {proof.proposal.index})"
        weight = 0
        seen: set[int] = set()
        for voter in proof.voters:
            if not 0 <= voter < self._n or voter in seen:
                return f"its proof names voters {proof.voters}"
            seen.add(voter)
            weight += self._weights[voter]
        if weight < self._quorum:
            return f"its proof has Commit weight {weight} < Q = {self._quorum}"
        return None

    def _fetched_verified(self, slot: _Slot, ok: bool, acts: list[Action]) -> None:
        """A fetched committed proposal is filled: it is committed by consensus here too."""
        index = slot.index
        if not ok:
            slot.state = _REJECTED
            slot.fetched = False  # the next re-broadcast CheckPoint asks again
            if self._notes:
                acts.append(Note(
                    "proposal_rejected",
                    f"fetched proposal {_short(slot.proposal.hash)} for block {index} failed "
                    "verification",
                    {"index": index, "view": self._view, "hash": slot.proposal.hash},
                ))
            return
        slot.state = _ACCEPTED
        slot.commit_quorum = True
        self._progress(index)
        if self._notes:
            acts.append(Note(
                "committed_proposal_accepted",
                f"block {index}'s committed proposal {_short(slot.proposal.hash)} is filled: "
                "committed by consensus",
                {"index": index, "view": self._view, "hash": slot.proposal.hash},
            ))
        self._try_notify(index + 1, acts)
        self._try_execute(acts)
        self._end(acts)

    # -- checks ---------------------------------------------------------------------------------
    def _checked_index(self, message: Any, acts: list[Action], what: str, low: int) -> bool:
        """Stale (≤ low), beyond the receive window or from an unknown sender → ignored."""
        index = message.index
        if index <= low:
            if self._notes:
                self._ignore(acts, what, index, "stale",
                             f"{what} for block {index} from {self._who(message.sender)}: already "
                             f"{'executed' if low == self._executed else 'committed'} "
                             f"up to {low}", sender=message.sender)
            return False
        limit = self._committed + 1 + self._receive_window
        if index >= limit:
            if self._notes:
                self._ignore(acts, what, index, "out_of_window",
                             f"{what} for block {index} from {self._who(message.sender)} is beyond "
                             f"the window (< {limit})", sender=message.sender)
            return False
        sender = message.sender
        if not 0 <= sender < self._n:
            self._ignore(acts, what, index, "unknown_sender",
                         f"{what} for block {index} from {self._who(sender)}, not a consensus node",
                         sender=sender)
            return False
        return True

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
        if self._notes:
            if view > self._view:
                reason = "far_future_view"
            elif view == self._view:
                reason = "in_view_change"  # we left this view: its votes no longer count
            else:
                reason = "stale_view"
            self._ignore(acts, what, message.index, reason,
                         f"{what} for block {message.index} from {self._who(message.sender)} is in "
                         f"view {view}, we are in view {self._view}"
                         + (f" moving to view {self._to_view}" if reason == "in_view_change"
                            else ""),
                         sender=message.sender, message_view=view)
        return False

    def _defer(self, message: Any, acts: list[Action], what: str) -> None:
        """Keeps a message of a view this node has not reached yet (module docstring)."""
        index = message.index
        if what == "PrePrepare":
            held = self._future.get(index)
            if held is not None and held.view >= message.view:
                self._ignore(acts, what, index, "duplicate",
                             f"a PrePrepare for block {index} in view {held.view} is already "
                             "held", sender=message.sender)
                return
            self._future[index] = message
            text = "held until we reach that view"
        else:
            slot = self._slot(index)
            table = slot.prepares if what == "Prepare" else slot.commits
            if not self._counted(table, (message.view, message.hash), message, acts):
                return
            text = "counted for that view"
        if self._notes:
            acts.append(Note(
                "deferred",
                f"{what} for block {index} from {self._who(message.sender)} is in view "
                f"{message.view}, we are in view {self._view}: {text}",
                {"index": index, "view": self._view, "message": what,
                 "reason": "future_view", "sender": message.sender,
                 "message_view": message.view},
            ))

    def _counted(self, table: dict, key: Any, message: Any, acts: list[Action]) -> bool:
        """Adds the sender's vote under ``key``; False (and a Note) for a duplicate."""
        votes = table.get(key)
        if votes is None:
            votes = table[key] = _Votes()
        sender = message.sender
        if sender in votes.voters:
            if self._notes:
                self._ignore(acts, message.kind, message.index, "duplicate",
                             f"{message.kind} for block {message.index} from {self._who(sender)} "
                             "already counted", sender=sender)
            return False
        votes.voters.add(sender)
        votes.weight += self._weights[sender]
        return True

    def _bad_proofs(self, message: ViewChange) -> tuple[str, str] | None:
        """Why a ViewChange's prepared proofs are invalid, or None (``checkPrecommitWeight``)."""
        for proof in message.prepared:
            index = proof.index
            if (index != proof.proposal.index or proof.view > message.view or index < 1
                    or index > message.index + self._receive_window):
                return "malformed_proof", (
                    f"proof for block {index} (view {proof.view}, proposal for block "
                    f"{proof.proposal.index}) does not fit a ViewChange to view {message.view}"
                )
            weight = 0
            seen: set[int] = set()
            for voter in proof.voters:
                if not 0 <= voter < self._n or voter in seen:
                    return "bad_voters", (
                        f"proof for block {index} names voters {proof.voters}"
                    )
                seen.add(voter)
                weight += self._weights[voter]
            if weight < self._quorum:
                return "proof_below_quorum", (
                    f"proof for block {index} has Prepare weight {weight} < Q = {self._quorum}"
                )
        return None

    def _bad_new_view(self, message: NewView) -> tuple[str, str] | None:
        """Why a NewView is invalid, or None (``isValidNewViewMsg``, plus its re-proposals)."""
        weight = 0
        senders: set[int] = set()
        for vc in message.view_changes:
            if vc.view != message.view:
                return "bad_view_changes", f"it holds a ViewChange to view {vc.view}"
            if not 0 <= vc.sender < self._n or vc.sender in senders:
                return ("bad_view_changes",
                        f"it holds a ViewChange from {self._who(vc.sender)} twice")
            bad = self._bad_proofs(vc)
            if bad is not None:
                return "bad_view_changes", f"the ViewChange from {self._who(vc.sender)}: {bad[1]}"
            senders.add(vc.sender)
            weight += self._weights[vc.sender]
        if weight < self._quorum:
            return "no_quorum", f"its ViewChanges weigh {weight} < Q = {self._quorum}"
        view_changes = tuple(sorted(message.view_changes, key=lambda vc: vc.sender))
        leader = self._new_view_leader(view_changes, message.view)
        if message.sender != leader:
            return "wrong_leader", f"the leader of view {message.view} is {self._who(leader)}"
        expected = self._reproposals(view_changes, message.view, leader)
        got = message.pre_prepares
        if len(got) != len(expected) or any(
            (a.view, a.index, a.sender, a.proposal.hash)
            != (b.view, b.index, b.sender, b.proposal.hash)
            for a, b in zip(got, expected, strict=True)
        ):
            return "bad_reproposals", (
                f"it re-proposes {[pre.index for pre in got]}, its ViewChanges give "
                f"{[pre.index for pre in expected]} (or other proposals)"
            )
        return None

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

    def _refuse(self, acts: list[Action], proposal: Proposal, reason: str, text: str) -> None:
        """propose() refuses a sealed block: its transactions go back to pending (§2.7)."""
        self._ignore(acts, "PrePrepare", proposal.index, reason, text)
        acts.append(Unseal(proposal))

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
        # The proof a ViewChange carries (PBFTCache::intoPrecommit); the voter set is shared.
        slot.proof = slot.proposal
        slot.proof_view = self._view
        slot.proof_votes = votes
        self._progress(slot.index)
        if self._notes:
            acts.append(self._quorum_note("prepare_quorum", "prepare", slot, votes,
                                          "sending Commit"))
        acts.append(Broadcast(Commit(self._view, slot.index, self._index, hash_)))
        self._add_vote(slot.commits, (self._view, hash_), self._index)
        if not slot.commit_quorum:  # a block re-proposed after its commit quorum: once is enough
            self._check_commit_quorum(slot, acts)

    def _check_commit_quorum(self, slot: _Slot, acts: list[Action]) -> None:
        """Commit weight ≥ Q → committed by consensus: notify the next leader, execute (§1.5 5)."""
        votes = slot.commits.get((self._view, slot.proposal.hash))
        if votes is None or votes.weight < self._quorum:
            return
        slot.commit_quorum = True
        slot.commit_view = self._view
        slot.commit_voters = tuple(sorted(votes.voters))
        self._progress(slot.index)
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
            f"{votes.weight}/{self._quorum}: {self._whos(voters)}): {then}",
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
                f"{self._quorum}: {self._whos(slot.stable)})"
                + (": waiting for earlier blocks to commit" if waiting else ""),
                {"index": slot.index, "view": self._view, "weight": votes.weight,
                 "quorum": self._quorum, "voters": slot.stable,
                 "executed_hash": slot.executed_hash},
            ))
        self._try_commit(acts)
        if self._checkpoint_armed:
            self._checkpoint_timer(acts, restart=False)

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
        """FISCO's ``notifySealer``: tell our sealer to seal from ``start`` (docs/fisco-reference.md
        §1.6).

        ``end = min(end of start's leader period, high water mark − 1)``. Each index is handed
        out once (``sealed_up_to``); a turn beyond the high water mark waits for a commit.
        Nothing is handed out during a view change or a recovery, nor after a NewView until its
        re-proposals are committed (``canHandleNewProposal``: ``waitResealUntil``).
        """
        if start <= self._sealed_up_to or start <= self._committed:
            return
        if (start // self._leader_period + self._view) % self._n != self._index:
            return
        if self._live_view is None or self._recovering or self._committed < self._reseal_until:
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
                f"{self._who(self._index)} leads blocks {start}..{end} in view {self._view}: "
                "sealer notified",
                {"index": start, "end": end, "view": self._view},
            ))
        acts.append(SealRange(start, end))

    # -- view change (docs/fisco-reference.md §1.7)
    # ------------------------------------------------------------
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
        if self._notes:
            acts.append(Note(
                "view_change_sent",
                f"{self._who(self._index)} asks to move from view {self._view} to view {to_view} "
                f"({reason}): committed {self._committed}, prepared "
                f"{[proof.index for proof in view_change.prepared]}",
                {"index": self._committed + 1, "view": self._view, "to_view": to_view,
                 "reason": reason, "change_cycle": self._change_cycle,
                 "prepared": tuple(proof.index for proof in view_change.prepared)},
            ))
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

    def _store_view_change(self, message: ViewChange) -> bool:
        """Adds a ViewChange to the cache (``addViewChangeReq``); False if nothing new."""
        by_sender = self._view_changes.get(message.view)
        if by_sender is None:
            by_sender = self._view_changes[message.view] = {}
        held = by_sender.get(message.sender)
        if held is not None:
            if _freshness(message) <= _freshness(held):
                return False
            by_sender[message.sender] = message  # fresher: replaces (module docstring)
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
        """The smallest view above ``to_view`` with ViewChanges of weight ≥ f + 1, if any."""
        threshold = self._max_faulty + 1
        best = None
        for view, weight in self._vc_weight.items():
            if view > self._to_view and weight >= threshold and (best is None or view < best):
                best = view
        return best

    def _new_view_leader(self, view_changes: Sequence[ViewChange], view: int) -> int:
        """``leaderIndexInNewViewPeriod``: led by the highest committed index among them + 1."""
        progressed = max(vc.index for vc in view_changes) + 1
        return (progressed // self._leader_period + view) % self._n

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
        if self._notes and self._vc_quorum_noted != view:
            self._vc_quorum_noted = view
            senders = self._whos(vc.sender for vc in view_changes)
            acts.append(Note(
                "view_change_quorum",
                f"ViewChanges for view {view} of weight {weight}/{self._quorum} ("
                f"{senders}): {self._who(leader)} leads view {view}",
                {"index": self._committed + 1, "view": self._view, "to_view": view,
                 "weight": weight, "quorum": self._quorum, "leader": leader,
                 "voters": tuple(vc.sender for vc in view_changes)},
            ))
        if leader != self._index:
            return
        pre_prepares = self._reproposals(view_changes, view, leader)
        new_view = NewView(view, self._index, view_changes, pre_prepares)
        if self._notes:
            acts.append(Note(
                "new_view_sent",
                f"{self._who(self._index)} starts view {view}: re-proposing "
                f"{[pre.index for pre in pre_prepares]}"
                f"{' (empty: ' if any(not len(p.proposal.tx_ids) for p in pre_prepares) else ''}"
                + ",".join(str(p.index) for p in pre_prepares if not len(p.proposal.tx_ids))
                + (")" if any(not len(p.proposal.tx_ids) for p in pre_prepares) else ""),
                {"index": self._committed + 1, "view": self._view, "to_view": view,
                 "reproposed": tuple(pre.index for pre in pre_prepares),
                 "empty": tuple(p.index for p in pre_prepares if not len(p.proposal.tx_ids))},
            ))
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
        older views' votes and abandon the proposals the new view does not carry on.

        ``keep``: a NewView's re-proposals by index (None for a recovery, which keeps what we
        precommitted). Blocks up to ``final_up_to`` are committed elsewhere: kept as they are.
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
            slot.precommitted = False
            if slot.prepares:
                slot.prepares = {k: v for k, v in slot.prepares.items() if k[0] >= view}
            if slot.commits:
                slot.commits = {k: v for k, v in slot.commits.items() if k[0] >= view}
            if slot.state == _EMPTY or slot.commit_quorum or slot.fetched or index <= final_up_to:
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
        if slot.state == _ACCEPTED:
            self._unseal(proposal, acts, f"view {self._view} does not re-propose it")
        elif slot.state == _VERIFYING:
            self._abandoned[(slot.index, proposal.hash)] = proposal
        slot.proposal = None
        slot.state = _EMPTY
        self._active -= 1

    def _unseal(self, proposal: Proposal, acts: list[Action], why: str) -> None:
        if self._notes:
            acts.append(Note(
                "unsealed",
                f"proposal {_short(proposal.hash)} for block {proposal.index} abandoned ({why}):"
                f" its {len(proposal.tx_ids)} transactions go back to pending",
                {"index": proposal.index, "view": self._view, "hash": proposal.hash,
                 "txs": len(proposal.tx_ids)},
            ))
        acts.append(Unseal(proposal))

    def _take_reproposal(self, pre: PrePrepare, acts: list[Action]) -> None:
        """A NewView's re-proposal, handled like a PrePrepare of the new view."""
        index = pre.index
        proposal = pre.proposal
        slot = self._slot(index)
        if slot.state != _EMPTY:
            held = slot.proposal
            if held.hash != proposal.hash:
                # Only a block at its commit quorum (or fetched with its proof) keeps its
                # proposal against a NewView, and
                # PBFT's quorum intersection says the NewView re-proposes exactly that block.
                self._ignore(acts, "NewView", index, "conflicting",
                             f"NewView re-proposes {_short(proposal.hash)} for block {index}, "
                             f"committed by consensus with {_short(held.hash)}")
                return
            if self._notes:
                acts.append(Note(
                    "reproposal",
                    f"block {index} re-proposed in view {self._view}: we hold it already "
                    f"({_short(held.hash)})",
                    {"index": index, "view": self._view, "hash": held.hash},
                ))
            if slot.state == _ACCEPTED:
                self._send_prepare(slot, acts)
            elif slot.state == _REJECTED:
                slot.state = _VERIFYING
                acts.append(VerifyProposal(held, pre.sender))
            return  # _VERIFYING: the Prepare goes out when the txpool answers
        slot.proposal = proposal
        self._active += 1
        empty = len(proposal.tx_ids) == 0
        if self._notes:
            acts.append(Note(
                "reproposal",
                f"block {index} re-proposed in view {self._view} "
                + ("(an empty proposal: no transactions to verify)" if empty else
                   f"({len(proposal.tx_ids)} txs, hash {_short(proposal.hash)}): verifying"),
                {"index": index, "view": self._view, "hash": proposal.hash,
                 "txs": len(proposal.tx_ids)},
            ))
        if empty:
            slot.state = _ACCEPTED
            self._send_prepare(slot, acts)
        else:
            slot.state = _VERIFYING
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
                if slot.state != _ACCEPTED or slot.commit_quorum:
                    continue
                votes = slot.prepares.get((view, slot.proposal.hash))
                if votes is None or self._index not in votes.voters:
                    self._send_prepare(slot, acts)
        else:
            self._enter_view(view, acts, None, final_up_to)
            self._replay_future(acts)
        if self._notes:
            acts.append(Note(
                "recovered",
                f"nodes of weight ≥ {self._quorum} are in view {view}: {self._who(self._index)} "
                f"continues in view {view}",
                {"index": self._committed + 1, "view": view},
            ))
        start = self._committed + 1
        while (slot := self._slots.get(start)) is not None and slot.commit_quorum:
            start += 1
        self._try_notify(max(start, self._sealed_up_to + 1), acts)
        self._progressed = True
        self._end(acts)

    def _send_status(self, dest: int, acts: list[Action]) -> None:
        """``sendRecoverResponse``: our view and committed index, to ``dest``."""
        if self._notes:
            acts.append(Note(
                "recover_response_sent",
                f"telling {self._who(dest)} we are in view {self._view} "
                f"(committed {self._committed})",
                {"index": self._committed + 1, "view": self._view, "dest": dest},
            ))
        acts.append(Send(dest, RecoverResponse(self._view, self._committed, self._index)))

    # -- timers (docs/fisco-reference.md §1.5, §1.7)
    # -----------------------------------------------------------
    def _on_view_timeout(self) -> list[Action]:
        acts: list[Action] = []
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
        to_view = self._to_view + 1
        if self._notes:
            stuck = (f"view change to view {self._to_view} did not complete"
                     if self._live_view is None else
                     f"block {self._committed + 1} not committed")
            acts.append(Note(
                "timeout",
                f"view timer fired in view {self._view} ({stuck}): a view change to view "
                f"{to_view} is needed",
                {"index": self._committed + 1, "view": self._view, "to_view": to_view},
            ))
        self._start_view_change(to_view, "timeout", acts, backoff=True)
        return acts

    def _on_checkpoint_timeout(self) -> list[Action]:
        """``tryToResendCheckPoint``: no stable checkpoint yet → our CheckPoints again (§1.5)."""
        acts: list[Action] = []
        self._checkpoint_armed = False
        for index in range(self._committed + 1, self._executed + 1):
            slot = self._slots.get(index)
            if slot is None or slot.stable is not None or slot.executed_hash is None:
                continue
            if self._notes:
                votes = slot.checkpoints.get(slot.executed_hash)
                acts.append(Note(
                    "checkpoint_resent",
                    f"no stable checkpoint for block {index} after "
                    f"{self._checkpoint_timeout_us} µs (weight {votes.weight}/{self._quorum}): "
                    "sending our CheckPoint again",
                    {"index": index, "view": self._view, "weight": votes.weight,
                     "executed_hash": slot.executed_hash},
                ))
            acts.append(Broadcast(CheckPoint(self._view, index, self._index, slot.executed_hash)))
        self._checkpoint_timer(acts, restart=True)
        return acts

    def _checkpoint_timer(self, acts: list[Action], restart: bool) -> None:
        """Keeps the checkpoint timer running while an executed block is not stable."""
        unstable = False
        for index in range(self._committed + 1, self._executed + 1):
            slot = self._slots.get(index)
            if slot is not None and slot.stable is None:
                unstable = True
                break
        if unstable:
            if restart or not self._checkpoint_armed:
                self._checkpoint_armed = True
                acts.append(SetTimer(CHECKPOINT_TIMER, self._checkpoint_timeout_us))
        elif self._checkpoint_armed:
            self._checkpoint_armed = False
            acts.append(CancelTimer(CHECKPOINT_TIMER))

    def _progress(self, index: int) -> None:
        """A step on block ``index`` restarts the view timer only for the lowest block not in
        the ledger: later blocks cannot be committed before it (module docstring)."""
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


__all__ = ["MAX_CHANGE_CYCLE", "VIEW_SLACK", "PbftCore", "receive_slack"]
