"""What a protocol core asks its runtime to do: small frozen dataclasses (docs/architecture.md rule
1).

The core never sends, sleeps, executes or stores anything itself; every method of
:class:`~fiscosim.consensus.pbft.PbftCore` returns a list of these, in the order they must be
carried out, and the runtime reports back through the core's ``on_*`` methods:

======================= ==================================== ==================================
action                  the runtime does                     and then calls
======================= ==================================== ==================================
:class:`Broadcast`      send to every *other* consensus node  (receivers: ``handle``)
:class:`Send`           send to one consensus node            (receiver: ``handle``)
:class:`SetTimer`       (re)arm the named timer               ``on_timer(name)``
:class:`CancelTimer`    disarm it                             —
:class:`VerifyProposal` fill the proposal from the txpool,    ``on_proposal_verified(index,
                        fetch missing txs (docs/fisco-reference.md §2.7)     hash, ok)``
:class:`Unseal`         put the proposal's txs back to        —
                        pending (§2.7)
:class:`Execute`        execute the block (§2.8)              ``on_executed(index, hash)``
:class:`CommitBlock`    write the block to the ledger (§2.9)  ``on_committed(index)``
:class:`SealRange`      tell the sealer to seal [start, end]  ``propose(proposal)``
:class:`Event`          write it to the trace (built only     —
                        with ``events=True``; consensus.events)
:class:`ViewChangeNeeded` record it: a view change started   —
======================= ==================================== ==================================

Broadcasts never include the sender: the core applies its own votes locally, as FISCO handles
its own PrePrepare and Prepare locally (docs/fisco-reference.md §1.5 step 2).

The runtime also reports what the core cannot see: ``on_pool_size(pending)`` (the
txpool's pending count, which keeps the view timer running, §1.7) and
``on_leader_unreachable()`` (the leader is disconnected or ≥ 50 blocks behind, §1.7, §7).
"""

from __future__ import annotations

from dataclasses import dataclass

from fiscosim.consensus.events import Event
from fiscosim.consensus.messages import PbftMessage, Proposal


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``message`` to every consensus node but this one (docs/fisco-reference.md §1.1: sealers
    only)."""

    message: PbftMessage


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to the consensus node with index ``dest``."""

    dest: int
    message: PbftMessage


@dataclass(frozen=True, slots=True)
class SetTimer:
    """(Re)start timer ``name`` to fire ``delay_us`` from now; a pending firing is replaced."""

    name: str
    delay_us: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm timer ``name`` (a no-op when it is not armed)."""

    name: str


@dataclass(frozen=True, slots=True)
class VerifyProposal:
    """Check a received proposal against the txpool (docs/fisco-reference.md §1.5 step 3, §2.7).

    Look every transaction id up in the pool, fetch the missing ones from ``fetch_from`` (a
    consensus index; ``None`` means ``proposal.leader``) and verify those; reject if a
    transaction is already sealed for another block. Answer with
    ``core.on_proposal_verified(proposal.index, proposal.hash, ok)``.

    ``fetch_from`` is set for a NewView's re-proposal: its original leader may be the node that
    failed, so the transactions come from a node that precommitted it (FISCO requests the
    missing data from that node, ``requestPrecommitData``, §1.7).
    """

    proposal: Proposal
    fetch_from: int | None = None


@dataclass(frozen=True, slots=True)
class Unseal:
    """The node gave ``proposal`` up: its transactions are no longer sealed (docs/fisco-reference.md
    §2.7).

    Emitted when a view change abandons a proposal this node accepted (or whose verification
    was under way and then succeeded) and the NewView does not re-propose it, and when
    :meth:`~fiscosim.consensus.pbft.PbftCore.propose` refuses a sealed block. The runtime puts
    the transactions back to pending so a later leader can seal them
    (``asyncResetTxsFlag(block, false)``).
    """

    proposal: Proposal


@dataclass(frozen=True, slots=True)
class Execute:
    """Execute block ``proposal.index`` (the core issues these one at a time, in index order).

    Answer with ``core.on_executed(proposal.index, executed_hash)``, where
    ``executed_hash`` is the executed header's hash (roots filled in, docs/fisco-reference.md §2.6).
    """

    proposal: Proposal


@dataclass(frozen=True, slots=True)
class CommitBlock:
    """Write block ``index`` to the ledger: it has a stable checkpoint (docs/fisco-reference.md §1.5
    step 8).

    ``signatures`` are the consensus indices of the sealers whose CheckPoints formed the stable
    checkpoint, ascending: the block header's signature list (§1.2). Issued strictly in index
    order, one at a time; answer with ``core.on_committed(index)``.
    """

    index: int
    proposal: Proposal
    executed_hash: bytes
    signatures: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SealRange:
    """This node now leads blocks ``start``..``end`` inclusive: FISCO's ``notifySealer`` (§1.6).

    The sealer seals them when it has transactions (never an empty block, §1.7) and hands each
    to ``core.propose(proposal)``. After a view change a range may start at or below the
    end of an earlier one: the sealer drops its earlier range and starts at ``start`` (FISCO's
    ``notifyResetSealing`` + ``reNotifySealer``).
    """

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ViewChangeNeeded:
    """A view change to ``to_view`` started: this node broadcast its ViewChange (§1.7).

    ``index`` is the lowest block not yet committed, ``reason`` says why: ``"timeout"``,
    ``"fast_view_change"`` (f + 1 others are ahead) or ``"leader_unreachable"``. Information
    only; the runtime records it.
    """

    to_view: int
    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class ViewEntered:
    """This node acts in ``view`` again after a view change or a recovery (§1.7).

    Emitted when a NewView is accepted or a quorum of RecoverResponses is adopted (also when
    that is the view the node had left). Information only: the runtime times view changes.
    """

    view: int
    index: int


Action = (
    Broadcast
    | Send
    | SetTimer
    | CancelTimer
    | VerifyProposal
    | Unseal
    | Execute
    | CommitBlock
    | SealRange
    | Event
    | ViewChangeNeeded
    | ViewEntered
)
"""Anything a core's method may return in its list."""

__all__ = [
    "Action",
    "Broadcast",
    "CancelTimer",
    "CommitBlock",
    "Event",
    "Execute",
    "SealRange",
    "Send",
    "SetTimer",
    "Unseal",
    "VerifyProposal",
    "ViewChangeNeeded",
    "ViewEntered",
]
