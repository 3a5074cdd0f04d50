"""The node-level messages that are not PBFT's: transaction push and proposal-fill fetches.

They carry transaction ids (the run-wide handle, :mod:`fiscosim.node.txtable`) and their size
on the wire is what the real packet would weigh: the transactions' encoded bytes plus a small
per-transaction framing for pushes and responses, 32 bytes per hash for requests
(docs/fisco-reference.md §2.4, §2.7). Module ids are FISCO's (``SYNC_PUSH_TRANSACTION = 5000``,
``ConsTxsSync = 2002``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PER_TX_FRAMING = 4
"""Bytes of length prefix per transaction in a batch of raw transactions."""
MESSAGE_OVERHEAD = 24
"""Module id, group id and packet fields around the payload."""


@dataclass(frozen=True, slots=True)
class BatchFacts:
    """What is true of every transaction of one client batch, worked out once at the RPC node.

    A simulator shortcut, not part of the packet: it lets each of the (up to 99) receivers of
    a push admit an ordinary batch with a few scalar checks instead of a dozen array passes.
    The txpool still applies every rule; it only skips the per-row work when these facts and
    its own state show that no row can fail.
    """

    first: int
    """ids are ``first .. first + count − 1`` (a client batch is contiguous)."""
    count: int
    clean: bool
    """No tampered transaction and no reused nonce in the batch."""
    limit_lo: int
    limit_hi: int


@dataclass(frozen=True, slots=True)
class TxPush:
    """Raw transactions an RPC node pushes to every consensus node (§2.4)."""

    ids: np.ndarray
    payload_bytes: int
    facts: BatchFacts | None = None
    forged: bool = False
    """Sent by a byzantine node with invalid signatures (:mod:`fiscosim.faults.byzantine`)."""
    kind = "TxPush"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + self.payload_bytes + PER_TX_FRAMING * len(self.ids)


@dataclass(frozen=True, slots=True)
class TxsRequest:
    """A follower asks the leader for the transactions of a proposal it lacks (§2.7)."""

    index: int
    proposal_hash: bytes
    ids: np.ndarray
    kind = "TxsRequest"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + 32 + 32 * len(self.ids)


@dataclass(frozen=True, slots=True)
class TxsResponse:
    """The leader's answer: the requested transactions, in full."""

    index: int
    proposal_hash: bytes
    ids: np.ndarray
    payload_bytes: int
    forged: bool = False
    """Sent by a byzantine node with invalid signatures."""
    kind = "TxsResponse"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + 32 + self.payload_bytes + PER_TX_FRAMING * len(self.ids)


class Envelope:
    """A PBFT message on its way, with its size worked out once by the sender.

    A broadcast hands the same envelope to every receiver, so 99 receivers of a 100-node vote
    do not each re-encode the message to learn its size. ``kind`` is the message's, which is
    what the network counts and the trace shows.
    """

    __slots__ = ("forged", "kind", "message", "size")

    def __init__(self, message: object, size: int, forged: bool = False) -> None:
        self.message = message
        self.size = size
        self.kind = message.kind  # type: ignore[attr-defined]
        self.forged = forged
        """A byzantine sender's invalid signature: the receiver's check fails."""

    def wire_size(self) -> int:
        return self.size


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """Ask a peer for committed blocks ``first..last`` (docs/fisco-reference.md §7
    ``BlockRequestPacket``)."""

    first: int
    last: int
    kind = "BlockRequest"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + 16


SYNCED_HEADER_BYTES = 400
"""A committed block's header with its signature list, roughly (docs/fisco-reference.md §2.6)."""


@dataclass(frozen=True, slots=True)
class BlockStatus:
    """A node's ledger height and latest block hash (docs/fisco-reference.md §7
    ``BlockSyncStatusPacket``).

    Sent by a sealer to the observers of its group when it commits a block: observers get no
    PBFT traffic and learn from these that the chain moved.
    """

    height: int
    latest_hash: bytes
    kind = "BlockStatus"

    def wire_size(self) -> int:
        # number, genesis hash and latest hash (the status packet's fields)
        return MESSAGE_OVERHEAD + 8 + 32 + 32


@dataclass(frozen=True, slots=True)
class BlockResponse:
    """Committed blocks: ``(number, ledger entry)`` each (:class:`fiscosim.node.context.
    LedgerEntry`: the block, its transactions and signature list), in order, with the bytes of
    their transactions (``BlockResponsePacket``)."""

    blocks: tuple
    payload_bytes: int
    first: int = 0
    """The first block asked for (the request it answers)."""
    kind = "BlockResponse"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + SYNCED_HEADER_BYTES * len(self.blocks) + self.payload_bytes
