"""Byzantine behaviour: what a faulty node's runtime does to the messages its honest core sends.

A byzantine node keeps an honest :class:`~fiscosim.consensus.pbft.PbftCore` (it follows the
protocol as far as it is told to) and its runtime rewrites, drops, delays or forges what that
core sends, which is how real attacks on PBFT look from the wire. The behaviours
(``faults: - kind: byzantine``, :data:`BEHAVIOURS`):

==================  ===========================================================================
silent              sends no PrePrepare and no NewView: a leader that does not lead
equivocate          as leader, sends two different proposals for one index to the two halves
                    of the honest nodes; every equivocating node's Prepare, Commit and
                    CheckPoint to a node of the second half names the second proposal
withhold_votes      sends no Prepare, Commit or CheckPoint
wrong_votes         its Prepare, Commit and CheckPoint name a hash that no proposal has
forge_signatures    every PBFT message it sends carries an invalid signature
forge_txs           the transactions it pushes or serves to peers carry invalid signatures
reorder             each PBFT message it sends waits a random 0..``delay_ms`` before leaving
forge_light         serves light nodes headers with a forged signature list and proofs with a
                    flipped byte (:mod:`fiscosim.node.light`)
==================  ===========================================================================

Equivocation needs colluders to break safety: with f + 1 equivocating nodes of n = 3f + 1, a
byzantine leader's two proposals each gather Q = 2f + 1 Prepares, Commits and CheckPoints
(f + 1 byzantine plus the f honest nodes of that half), and the halves commit different blocks
at one height, which the safety checker reports. With f or fewer, neither half reaches Q, and
the honest nodes change view or fetch the committed proposal (docs/fisco-reference.md §1.5, §1.7).

Forged signatures are caught where an honest node verifies: a PBFT message's signature when it
arrives (the verification is charged; the message is dropped and counted), a transaction's at
admission or proposal fill (in real-crypto mode by the real batch core, on tampered copies of
the signed corpus rows). Consensus messages are not really signed in any mode: their
verification is modelled (costs and verdict), transactions' is real in real-crypto mode.

The honest nodes are the nodes never named in a byzantine fault: the safety checker compares
only their chains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fiscosim.consensus.messages import (
    CheckPoint,
    Commit,
    Prepare,
    PrePrepare,
    Proposal,
    proposal_hash,
)
from fiscosim.faults.behaviours import BEHAVIOURS, DEFAULT_REORDER_MS

_VOTES = (Prepare, Commit, CheckPoint)
_LEADER_MESSAGES = ("PrePrepare", "NewView")


def wrong_hash(digest: bytes) -> bytes:
    """A hash no proposal has, derived from the one a vote should name."""
    return hashlib.sha256(b"wrong" + digest).digest()


def second_proposal(proposal: Proposal) -> Proposal:
    """The equivocating leader's other proposal for the same index: the same transactions in
    reverse order, one µs later, so another block (another hash, another execution)."""
    ids = proposal.tx_ids[::-1].copy()
    timestamp = proposal.timestamp_us + 1
    digest = proposal_hash(proposal.index, proposal.parent_hash, ids, timestamp, proposal.leader)
    return Proposal(proposal.index, proposal.view, proposal.leader, digest, proposal.parent_hash,
                    ids, timestamp)


@dataclass
class Coalition:
    """What the equivocating nodes of a run share (they collude).

    ``members``: the consensus indices that equivocate now; ``second``: per block index, the
    (first, second) proposal hash of an equivocation and, once a member has executed the block,
    their executed hashes; ``proposals``: per block index, the two proposals.
    """

    n: int
    members: set[int] = field(default_factory=set)
    second: dict[int, dict[bytes, bytes]] = field(default_factory=dict)
    proposals: dict[int, tuple[Proposal, Proposal]] = field(default_factory=dict)

    def second_half(self, dest: int) -> bool:
        """Whether consensus node ``dest`` is in the honest half that gets the second proposal:
        the upper half of the honest nodes by index (colluders get the first)."""
        if dest in self.members:
            return False
        honest = [i for i in range(self.n) if i not in self.members]
        return honest.index(dest) >= (len(honest) + 1) // 2

    def record(self, first: Proposal, second: Proposal) -> None:
        swap = self.second.setdefault(first.index, {})
        swap[first.hash] = second.hash
        self.proposals[first.index] = (first, second)

    def swapped(self, node: Any, message: Any) -> bytes | None:
        """The hash ``message`` (a vote) names for the other proposal of an equivocation, if
        any. An executed hash depends on the chain below the block, so the pair of executed
        hashes is worked out on ``node``'s chain when one of its CheckPoints first needs it."""
        swap = self.second.get(message.index)
        if swap is None:
            return None
        voted = _voted(message)
        if type(message) is CheckPoint and voted not in swap:
            first, second = self.proposals[message.index]
            swap[node.executed_hash_of(first)] = node.executed_hash_of(second)
        return swap.get(voted)


def send(node: Any, message: Any, dest: int | None) -> None:
    """Sends ``message`` (from ``node``'s core; ``dest`` None = to every sealer) as ``node``'s
    byzantine behaviours dictate."""
    behaviours = node.byzantine
    kind = message.kind
    if "silent" in behaviours and kind in _LEADER_MESSAGES:
        node.stats.byzantine_dropped += 1
        return
    is_vote = type(message) in _VOTES
    if is_vote and "withhold_votes" in behaviours:
        node.stats.byzantine_dropped += 1
        return
    if is_vote and "wrong_votes" in behaviours:
        message = _with_hash(message, wrong_hash(_voted(message)))
    forged = "forge_signatures" in behaviours
    delay = 0
    if "reorder" in behaviours:
        delay = int(node.byzantine_rng.integers(0, node.byzantine_delay_us + 1))
    dests = node.pbft_dests(dest)
    if "equivocate" in behaviours:
        coalition = node.shared.coalition
        if type(message) is PrePrepare and message.sender == message.proposal.leader:
            second = second_proposal(message.proposal)
            coalition.record(message.proposal, second)
            node.stats.equivocations += 1
            split = _split(node, dests)
            node.emit(message, split[0], forged, delay)
            node.emit(PrePrepare(message.view, message.index, message.sender, second), split[1],
                      forged, delay)
            return
        replacement = coalition.swapped(node, message) if is_vote else None
        if replacement is not None:
            split = _split(node, dests)
            node.emit(message, split[0], forged, delay)
            node.emit(_with_hash(message, replacement), split[1], forged, delay)
            return
    node.emit(message, dests, forged, delay)


def _split(node: Any, dests: Sequence[int]) -> tuple[list[int], list[int]]:
    coalition = node.shared.coalition
    index_of = node.shared.sealer_index
    first: list[int] = []
    second: list[int] = []
    for net_id in dests:
        (second if coalition.second_half(index_of[net_id]) else first).append(net_id)
    return first, second


def _voted(message: Any) -> bytes:
    return message.executed_hash if type(message) is CheckPoint else message.hash


def _with_hash(message: Any, digest: bytes) -> Any:
    if type(message) is CheckPoint:
        return CheckPoint(message.view, message.index, message.sender, digest)
    return type(message)(message.view, message.index, message.sender, digest)


__all__ = [
    "BEHAVIOURS",
    "DEFAULT_REORDER_MS",
    "Coalition",
    "second_proposal",
    "send",
    "wrong_hash",
]
