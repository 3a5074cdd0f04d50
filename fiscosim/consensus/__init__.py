"""Consensus protocol cores as sans-I/O state machines, messages in and actions out.

They import no simpy, read no clock and touch no network (docs/architecture.md rule 1).

- :mod:`fiscosim.consensus.messages` — PBFT's packets (PrePrepare, Prepare, Commit, CheckPoint;
  ViewChange, NewView, RecoverRequest, RecoverResponse, CommittedProposalRequest and
  CommittedProposalResponse) and the
  :class:`~fiscosim.consensus.messages.Proposal` they agree on, with their msgpack encodings
  and sizes on the wire (docs/fisco-reference.md §1.1, §1.2);
- :mod:`fiscosim.consensus.actions` — what a core asks its runtime to do (broadcast, timers,
  verify a proposal, unseal an abandoned one, execute, commit, seal);
- :mod:`fiscosim.consensus.events` — what a core tells a trace at each step, as data (the
  words are :mod:`fiscosim.trace.narrate`'s);
- :mod:`fiscosim.consensus.phases` — a block's phases at one node and the moves between them;
- :mod:`fiscosim.consensus.pbft` — :class:`~fiscosim.consensus.pbft.PbftCore`, FISCO BCOS 3.x
  PBFT: weighted quorums, the leader formula, the 50-block pipeline, serial execution and the
  checkpoint after it, and the failure handling — view timer with back-off, view change, fast
  view change, NewView re-proposals, checkpoint re-broadcast, the committed-proposal fetch,
  recovery (docs/fisco-reference.md §1.3–§1.7, §9);
- :mod:`fiscosim.consensus.driver` — :class:`~fiscosim.consensus.driver.Driver`, the reference
  driver: n cores in memory, a virtual clock, a seeded delivery order; the tests and
  docs/pbft.md ("Driving the core by hand") use it.

Nothing here imports simpy, reads a clock or touches the network; ``docs/pbft.md`` explains the
protocol for teaching.
"""

from fiscosim.consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    CommitBlock,
    Event,
    Execute,
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
    PBFT_TIMER,
    CheckPoint,
    Commit,
    CommittedProposalRequest,
    CommittedProposalResponse,
    NewView,
    PbftMessage,
    Prepare,
    PreparedProof,
    PrePrepare,
    Proposal,
    RecoverRequest,
    RecoverResponse,
    ViewChange,
    empty_proposal,
    proposal_hash,
)
from fiscosim.consensus.pbft import PbftCore
from fiscosim.consensus.phases import Phase

__all__ = [
    "CHECKPOINT_TIMER",
    "PBFT_TIMER",
    "Action",
    "Broadcast",
    "CancelTimer",
    "CheckPoint",
    "Commit",
    "CommitBlock",
    "CommittedProposalRequest",
    "CommittedProposalResponse",
    "Event",
    "Execute",
    "NewView",
    "PbftCore",
    "PbftMessage",
    "Phase",
    "PrePrepare",
    "Prepare",
    "PreparedProof",
    "Proposal",
    "RecoverRequest",
    "RecoverResponse",
    "SealRange",
    "Send",
    "SetTimer",
    "Unseal",
    "VerifyProposal",
    "ViewChange",
    "ViewChangeNeeded",
    "ViewEntered",
    "empty_proposal",
    "proposal_hash",
]
