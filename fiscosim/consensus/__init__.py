"""Consensus protocol cores as sans-I/O state machines (DESIGN.md rule 1): messages in, actions out.

- :mod:`fiscosim.consensus.messages` — PBFT's packets (PrePrepare, Prepare, Commit, CheckPoint)
  and the :class:`~fiscosim.consensus.messages.Proposal` they agree on, with their msgpack
  encodings and sizes on the wire (FISCO.md §1.1, §1.2);
- :mod:`fiscosim.consensus.actions` — what a core asks its runtime to do (broadcast, timers,
  verify a proposal, execute, commit, seal, notes for the trace);
- :mod:`fiscosim.consensus.pbft` — :class:`~fiscosim.consensus.pbft.PbftCore`, FISCO BCOS 3.x
  PBFT in the normal case: weighted quorums, the leader formula, the 50-block pipeline, serial
  execution and the checkpoint after it (FISCO.md §1.3–§1.7, §9). View change comes later.

Nothing here imports simpy, reads a clock or touches the network; ``docs/pbft.md`` explains the
protocol for teaching.
"""

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
    VerifyProposal,
    ViewChangeNeeded,
)
from fiscosim.consensus.messages import (
    PBFT_TIMER,
    CheckPoint,
    Commit,
    PbftMessage,
    Prepare,
    PrePrepare,
    Proposal,
    proposal_hash,
)
from fiscosim.consensus.pbft import PbftCore

__all__ = [
    "PBFT_TIMER",
    "Action",
    "Broadcast",
    "CancelTimer",
    "CheckPoint",
    "Commit",
    "CommitBlock",
    "Execute",
    "Note",
    "PbftCore",
    "PbftMessage",
    "PrePrepare",
    "Prepare",
    "Proposal",
    "SealRange",
    "Send",
    "SetTimer",
    "VerifyProposal",
    "ViewChangeNeeded",
    "proposal_hash",
]
