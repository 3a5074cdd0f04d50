"""What the PBFT core tells a trace at each step: small frozen dataclasses, data and no sentences.

A :class:`~fiscosim.consensus.pbft.PbftCore` built with ``events=True`` returns these among its
actions; the runtime never acts on them, it writes them to the trace. Each has a :attr:`code`
(``"prepare_quorum"``, ``"ignored"``, ...) and :meth:`Event.fields`, the numbers behind it, in
the order the trace writes them; the sentence a person reads is made one layer up, by
:mod:`fiscosim.trace.narrate`. Fields marked :data:`TEXT` are only for that sentence (the
trace does not write them). A field whose value is ``None`` is not written either.

Consensus indexes throughout (``leader``, ``sender``, ``dest``, ``voters``, ``dests``);
``index`` is a block number and ``view`` the node's view when it happened. Field names never
use the trace's own keys (``code``, ``text``, ``node``, ``t``, ``event``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

TEXT = {"text_only": True}
"""Metadata of a field the narration reads and the trace does not write."""

_TRACED: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the protocol, for traces and teaching; never acted upon."""

    code: ClassVar[str] = ""

    def fields(self) -> dict[str, Any]:
        """The trace fields, in order: every field not marked :data:`TEXT` whose value is set."""
        names = _TRACED.get(type(self))
        if names is None:
            names = _TRACED[type(self)] = tuple(
                f.name for f in fields(self) if not f.metadata.get("text_only"))
        values = {}
        for name in names:
            value = getattr(self, name)
            if value is not None:
                values[name] = value
        return values


# -- the normal case: PrePrepare, Prepare, Commit, execute, CheckPoint, ledger commit ------------


@dataclass(frozen=True, slots=True)
class SealNotified(Event):
    """This node leads blocks ``index``..``end``: its sealer is told (``notifySealer``)."""

    code: ClassVar[str] = "seal_notified"
    index: int
    end: int
    view: int


@dataclass(frozen=True, slots=True)
class WindowFull(Event):
    """This node's turn to seal ``index`` is at or beyond the high water mark: it waits."""

    code: ClassVar[str] = "window_full"
    index: int
    view: int
    high_water_mark: int


@dataclass(frozen=True, slots=True)
class ProposalSent(Event):
    """The leader broadcasts its PrePrepare (and its own Prepare)."""

    code: ClassVar[str] = "proposal_sent"
    index: int
    view: int
    leader: int
    txs: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class ProposalReceived(Event):
    """A PrePrepare passed the checks; the txpool fills the proposal."""

    code: ClassVar[str] = "proposal_received"
    index: int
    view: int
    leader: int
    txs: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class ProposalVerified(Event):
    """The txpool filled the proposal: our Prepare goes out, unless a view change to
    ``to_view`` is under way (then ``to_view`` is set and no Prepare is sent)."""

    code: ClassVar[str] = "proposal_verified"
    index: int
    view: int
    hash: bytes
    to_view: int | None = field(default=None, metadata=TEXT)
    executed: bool = field(default=False, metadata=TEXT)
    """FISCO 2.x: the block was executed too, before the Prepare (2.x's SignReq)."""


@dataclass(frozen=True, slots=True)
class ProposalRejected(Event):
    """The txpool refused the proposal (``fetched``: a fetched committed proposal)."""

    code: ClassVar[str] = "proposal_rejected"
    index: int
    view: int
    hash: bytes
    fetched: bool = field(default=False, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class QuorumReached(Event):
    """Prepares (``phase="prepare"``: precommit, Commit sent) or Commits (``"commit"``:
    committed by consensus) of weight ≥ Q for one hash in this view; ``voters`` made it."""

    phase: str = field(metadata=TEXT)
    index: int
    view: int
    weight: int
    quorum: int
    voters: tuple[int, ...]
    hash: bytes

    @property
    def code(self) -> str:  # type: ignore[override]
        return f"{self.phase}_quorum"


@dataclass(frozen=True, slots=True)
class Executing(Event):
    """Block ``index`` goes to the executor (one at a time, in order)."""

    code: ClassVar[str] = "execute"
    index: int
    view: int
    txs: int


@dataclass(frozen=True, slots=True)
class CheckPointSent(Event):
    """Block ``index`` is executed: our CheckPoint on its executed hash goes out."""

    code: ClassVar[str] = "checkpoint_sent"
    index: int
    view: int
    executed_hash: bytes


@dataclass(frozen=True, slots=True)
class CheckpointMismatch(Event):
    """CheckPoints of weight ≥ Q agree on an executed hash that is not ours."""

    code: ClassVar[str] = "checkpoint_mismatch"
    index: int
    executed_hash: bytes
    ours: bytes
    weight: int


@dataclass(frozen=True, slots=True)
class StableCheckpoint(Event):
    """CheckPoints of weight ≥ Q on our executed hash; ``waiting``: earlier blocks are not in
    the ledger yet."""

    code: ClassVar[str] = "stable_checkpoint"
    index: int
    view: int
    weight: int
    quorum: int
    voters: tuple[int, ...]
    executed_hash: bytes
    waiting: bool = field(default=False, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class LedgerCommit(Event):
    """Block ``index`` goes to the ledger with the stable checkpoint's ``signers``."""

    code: ClassVar[str] = "ledger_commit"
    index: int
    view: int
    signers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Committed(Event):
    """The ledger stored block ``index``; the window moved."""

    code: ClassVar[str] = "committed"
    index: int
    view: int
    high_water_mark: int


# -- timers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimerSet(Event):
    """The view timer starts (``why``)."""

    code: ClassVar[str] = "timer_set"
    index: int
    view: int
    delay_us: int
    why: str = field(default="", metadata=TEXT)


@dataclass(frozen=True, slots=True)
class TimerCancelled(Event):
    """The view timer stops: nothing in flight."""

    code: ClassVar[str] = "timer_cancelled"
    index: int
    view: int


@dataclass(frozen=True, slots=True)
class TimeoutExtended(Event):
    """The view timer fired while block ``busy`` executes or is stored: restarted."""

    code: ClassVar[str] = "timeout_extended"
    index: int
    view: int
    delay_us: int
    busy: int | None = field(default=None, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class Timeout(Event):
    """The view timer fired: a view change to ``to_view`` is needed (``in_view_change``: the
    previous one did not complete)."""

    code: ClassVar[str] = "timeout"
    index: int
    view: int
    to_view: int
    in_view_change: bool = field(default=False, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class CheckpointResent(Event):
    """No stable checkpoint for block ``index`` after ``after_us``: our CheckPoint again."""

    code: ClassVar[str] = "checkpoint_resent"
    index: int
    view: int
    weight: int
    executed_hash: bytes
    quorum: int = field(default=0, metadata=TEXT)
    after_us: int = field(default=0, metadata=TEXT)


# -- view change --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewChangeSent(Event):
    """This node asks to move to ``to_view`` (``reason``), with the blocks it ``prepared``."""

    code: ClassVar[str] = "view_change_sent"
    index: int
    view: int
    to_view: int
    reason: str
    change_cycle: int
    prepared: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ViewChangeResent(Event):
    """After a block sync, our ViewChange for ``to_view`` again with the new committed index."""

    code: ClassVar[str] = "view_change_resent"
    index: int
    view: int
    to_view: int


@dataclass(frozen=True, slots=True)
class ViewChangeReceived(Event):
    """A valid ViewChange; ``weight`` is what this node now holds for ``to_view``."""

    code: ClassVar[str] = "view_change_received"
    index: int
    view: int
    to_view: int
    sender: int
    weight: int
    quorum: int
    prepared: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FastViewChange(Event):
    """ViewChanges of weight ≥ ``threshold`` (f + 1) ask for ``to_view``: joining at once."""

    code: ClassVar[str] = "fast_view_change"
    index: int
    view: int
    to_view: int
    weight: int
    threshold: int = field(default=0, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class LeaderUnreachable(Event):
    """The runtime found ``leader`` unreachable: a view change to ``to_view`` now."""

    code: ClassVar[str] = "leader_unreachable"
    index: int
    view: int
    leader: int
    to_view: int


@dataclass(frozen=True, slots=True)
class EmptyBlock(Event):
    """FISCO 2.x: ``leader``'s block ``index`` holds no transaction. Nobody votes on it: every
    node moves to ``to_view``, so the next leader seals (docs/fisco-reference.md §1.7)."""

    code: ClassVar[str] = "empty_block"
    index: int
    view: int
    leader: int
    to_view: int


@dataclass(frozen=True, slots=True)
class ViewChangeQuorum(Event):
    """ViewChanges of weight ≥ Q for ``to_view`` from ``voters``: ``leader`` leads it."""

    code: ClassVar[str] = "view_change_quorum"
    index: int
    view: int
    to_view: int
    weight: int
    quorum: int
    leader: int
    voters: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NewViewSent(Event):
    """As leader of ``to_view`` this node re-proposes ``reproposed`` (``empty`` among them)."""

    code: ClassVar[str] = "new_view_sent"
    index: int
    view: int
    to_view: int
    reproposed: tuple[int, ...]
    empty: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NewViewAccepted(Event):
    """A valid NewView for ``to_view`` from ``sender`` (holding ``view_changes`` ViewChanges)."""

    code: ClassVar[str] = "new_view_accepted"
    index: int
    view: int
    to_view: int
    sender: int
    reproposed: tuple[int, ...]
    view_changes: int = field(default=0, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class Reproposal(Event):
    """A NewView's re-proposal of block ``index``. ``held``: this node holds that proposal
    already (``txs`` is then not written); else it has ``txs`` transactions (none: nothing to
    verify)."""

    code: ClassVar[str] = "reproposal"
    index: int
    view: int
    hash: bytes
    txs: int | None = None
    held: bool = field(default=False, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class Unsealed(Event):
    """A proposal this node gave up: its transactions go back to pending. ``cause`` is
    ``"not_reproposed"`` (the new view does not carry it on), ``"late_verdict"`` (its
    verification finished after a view change abandoned it) or ``"committed_elsewhere"`` (the
    block was committed with another proposal)."""

    code: ClassVar[str] = "unsealed"
    index: int
    view: int
    hash: bytes
    txs: int
    cause: str = field(default="", metadata=TEXT)


@dataclass(frozen=True, slots=True)
class Deferred(Event):
    """A message of a view not reached yet, kept: a PrePrepare held, a vote counted."""

    code: ClassVar[str] = "deferred"
    index: int
    view: int
    message: str
    reason: str
    sender: int
    message_view: int


# -- recovery -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecoverSent(Event):
    """This node asks every sealer for its view (RecoverRequest)."""

    code: ClassVar[str] = "recover_sent"
    index: int
    view: int


@dataclass(frozen=True, slots=True)
class RecoverResponseSent(Event):
    """This node tells ``dest`` its view and committed index."""

    code: ClassVar[str] = "recover_response_sent"
    index: int
    view: int
    dest: int


@dataclass(frozen=True, slots=True)
class Recovered(Event):
    """Nodes of weight ≥ ``quorum`` are in ``view``: this node continues there."""

    code: ClassVar[str] = "recovered"
    index: int
    view: int
    quorum: int = field(default=0, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class Synced(Event):
    """Block sync brought the ledger to block ``index``."""

    code: ClassVar[str] = "synced"
    index: int
    view: int
    high_water_mark: int


# -- committed-proposal fetch -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommittedProposalRequested(Event):
    """This node asks ``dests`` for block ``index``'s committed proposal. ``cause``:
    ``"resent"`` (a re-broadcast CheckPoint), ``"view_change"`` (any CheckPoint during a view
    change) or ``"not_precommitted"`` (weight > f = ``max_faulty``)."""

    code: ClassVar[str] = "committed_proposal_requested"
    index: int
    view: int
    weight: int
    dests: tuple[int, ...]
    executed_hash: bytes
    cause: str = field(default="", metadata=TEXT)
    max_faulty: int = field(default=0, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class CommittedProposalSent(Event):
    """This node answers ``dest`` with block ``index``'s proposal and its Commit quorum (of
    ``commit_view``)."""

    code: ClassVar[str] = "committed_proposal_sent"
    index: int
    view: int
    dest: int
    hash: bytes
    commit_view: int = field(default=0, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class CommittedProposalReceived(Event):
    """A committed proposal with a valid Commit quorum (``voters`` in ``proof_view``) arrived
    from ``sender``: the txpool fills it."""

    code: ClassVar[str] = "committed_proposal_received"
    index: int
    view: int
    hash: bytes
    voters: tuple[int, ...]
    sender: int
    proof_view: int = field(default=0, metadata=TEXT)


@dataclass(frozen=True, slots=True)
class CommittedProposalAccepted(Event):
    """The fetched committed proposal is filled: committed by consensus here too."""

    code: ClassVar[str] = "committed_proposal_accepted"
    index: int
    view: int
    hash: bytes


# -- messages and reports left aside ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ignored(Event):
    """A ``message`` (a PBFT message's kind, or a report such as ``"verification"``) that
    changes nothing, and why (``reason``). ``detail`` holds what the sentence needs beyond the
    written fields (which values, per reason: :mod:`fiscosim.trace.narrate`)."""

    code: ClassVar[str] = "ignored"
    index: int
    view: int
    message: str
    reason: str
    sender: int | None = None
    leader: int | None = None
    to_view: int | None = None
    message_view: int | None = None
    hash: bytes | None = None
    detail: tuple = field(default=(), metadata=TEXT)


@dataclass(frozen=True, slots=True)
class ProposalRefused(Ignored):
    """:meth:`~fiscosim.consensus.pbft.PbftCore.propose` refuses our sealer's block (its
    transactions are unsealed); ``message`` is ``"PrePrepare"``."""


__all__ = [
    "TEXT",
    "CheckPointSent",
    "CheckpointMismatch",
    "CheckpointResent",
    "Committed",
    "CommittedProposalAccepted",
    "CommittedProposalReceived",
    "CommittedProposalRequested",
    "CommittedProposalSent",
    "Deferred",
    "EmptyBlock",
    "Event",
    "Executing",
    "FastViewChange",
    "Ignored",
    "LeaderUnreachable",
    "LedgerCommit",
    "NewViewAccepted",
    "NewViewSent",
    "ProposalReceived",
    "ProposalRefused",
    "ProposalRejected",
    "ProposalSent",
    "ProposalVerified",
    "QuorumReached",
    "RecoverResponseSent",
    "RecoverSent",
    "Recovered",
    "Reproposal",
    "SealNotified",
    "StableCheckpoint",
    "Synced",
    "Timeout",
    "TimeoutExtended",
    "TimerCancelled",
    "TimerSet",
    "Unsealed",
    "ViewChangeQuorum",
    "ViewChangeReceived",
    "ViewChangeResent",
    "ViewChangeSent",
    "WindowFull",
]
