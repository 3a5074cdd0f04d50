"""PBFT's messages (FISCO BCOS 3.x ``bcos-pbft``) and the proposal they agree on.

Four packets make the normal case (docs/fisco-reference.md §1.1, enum ``PacketType``; §1.5), six
more the failure handling (§1.5 committed-proposal fetch, §1.7):

=============== ============ ====================================================
packet          packet_type  carries
=============== ============ ====================================================
PrePrepare      0x00         the leader's :class:`Proposal` (header + transaction *hashes*)
Prepare         0x01         a vote on the sealed proposal hash
Commit          0x02         the second vote, after a prepare quorum
ViewChange      0x03         "move to view v": committed index and hash, and a
                             :class:`PreparedProof` per precommitted, uncommitted block
NewView         0x04         the new leader's proof (the ViewChanges) and its
                             re-proposals (PrePrepares) of every prepared index
CommittedProp.. 0x05/0x06    request: "send me block i's committed proposal"; response:
                             the proposal and the Commit quorum's voters
CheckPoint      0x09         a vote on the *executed* block hash, after execution
RecoverRequest  0x0a         a (re)started node asks for the others' view
RecoverResponse 0x0b         a node's view and committed index
=============== ============ ====================================================

Every message keeps ``view``, ``index`` (the block number) and ``sender`` (FISCO's
``generatedFrom``, the sender's consensus index, §1.3), like FISCO's ``BaseMessage`` (§1.2).

Sizes on the wire (docs/architecture.md rule 5): ``wire_size()`` is ``len(encode())`` — a msgpack
array of the message's fields — plus the fixed bytes of what we do not model field by field: FISCO's
``BaseMessage`` version and timestamp, the signature hash and the 65-byte message signature, the
``RawMessage`` envelope (:data:`MESSAGE_OVERHEAD`), and for Prepare, Commit and CheckPoint the
second, proposal signature (:data:`PROPOSAL_SIGNATURE_OVERHEAD`, §1.2); a PrePrepare adds the
header fields we do not model (:data:`PROPOSAL_HEADER_OVERHEAD`). A PrePrepare carries 32
bytes per transaction hash (§2.6, §2.7); its size is computed arithmetically, without building
the hash bytes, so a 1000-transaction block costs no more to size than an empty one.

A ViewChange's prepared proofs carry the proposal's transaction ids, where FISCO sends
precommitted proposals *without data* (``preCommitCachesWithoutData``) and lets a node that
lacks the data fetch it (PreparedProposalRequest, 0x07/0x08). The ids are only int64 handles
here, and the size stays honest: each proof is charged 32 bytes per transaction hash (as a
PrePrepare) plus the signature proof, 67 bytes (2 + 65) per voter (§1.2 ``PBFTRawProposal``).

Hashes here are *modelled*: :func:`proposal_hash` is BLAKE2b over our msgpack encoding of the
proposal's fields, not FISCO's Tars header hash (§2.6). Hashes only need to be equal when the
blocks are equal.

>>> import numpy as np
>>> ids = np.arange(3, dtype=np.int64)
>>> h = proposal_hash(1, bytes(32), ids, 1_000, 0)
>>> p = Proposal(1, 0, 0, h, bytes(32), ids, 1_000)
>>> pre = PrePrepare(0, 1, 0, p)
>>> pre.kind, pre.packet_type, pre.wire_size() - len(pre.encode())
('PrePrepare', 0, 160)
>>> Prepare(0, 1, 2, h).wire_size() - Commit(0, 1, 2, h).wire_size() == 0
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

import msgpack
import numpy as np

HASH_SIZE = 32
"""Bytes of a hash (keccak256 / SM3 in FISCO; BLAKE2b-256 in our model)."""
SIGNATURE_SIZE = 65
"""A secp256k1 signature r‖s‖v (docs/fisco-reference.md §3). SM2's is 64 bytes; we charge the
larger."""
TX_HASH_SIZE = 32
"""Bytes a PrePrepare carries per transaction: its hash (docs/fisco-reference.md §2.7)."""

_UINT64 = 9  # msgpack uint64: marker + 8 bytes
_BIN8 = 2  # msgpack bin 8 header (marker + 1 length byte)

MESSAGE_OVERHEAD = 1 + _UINT64 + (_BIN8 + HASH_SIZE) + (_BIN8 + SIGNATURE_SIZE) + 7
"""Bytes every PBFT message carries beyond the fields we encode (docs/fisco-reference.md §1.2): the
``BaseMessage`` version (1) and timestamp (9), the signature hash (2 + 32) and the message
signature (2 + 65), and the ``RawMessage`` envelope: version, type, an empty envelope signature
and the payload's length (7). 118 bytes."""

PROPOSAL_SIGNATURE_OVERHEAD = _BIN8 + SIGNATURE_SIZE
"""Prepare, Commit and CheckPoint also carry ``consensusProposal.signature`` = Sign(proposal
hash) (docs/fisco-reference.md §1.2, ``populateFrom(..., _needSign=true)``). 67 bytes."""

PROPOSAL_HEADER_OVERHEAD = 1 + (_BIN8 + HASH_SIZE) + _BIN8 + _BIN8 + 1 + _BIN8
"""Header fields of a sealed block we do not model one by one (docs/fisco-reference.md §2.6):
version, the transactions root, the still-empty receipt and state roots, gasUsed and extraData. 42
bytes. The sealer list and consensus weights (64 bytes and a weight per sealer) are not counted: a
proposal does not know the group's size."""

PBFT_TIMER = "pbft"
"""Name of PBFT's one view timer (docs/fisco-reference.md §1.7, ``PBFTTimer``):
``SetTimer(PBFT_TIMER, ...)``.

Timer naming convention: a core's timers are plain lower-case names, unique per core, that the
runtime passes back verbatim to ``on_timer(name, now)``."""
CHECKPOINT_TIMER = "checkpoint"
"""Name of the checkpoint re-broadcast timer (docs/fisco-reference.md §1.5,
``checkPointResendTimer``)."""
TIMERS = (PBFT_TIMER, CHECKPOINT_TIMER)
"""Every timer name the PBFT core sets."""


def _array_header(length: int) -> bytes:
    """The msgpack header of an array of ``length`` elements."""
    if length < 16:
        return bytes([0x90 | length])
    if length < 1 << 16:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


def _bin_header(length: int) -> int:
    """Bytes of the msgpack header in front of a ``bin`` of ``length`` bytes."""
    if length < 1 << 8:
        return 2
    if length < 1 << 16:
        return 3
    return 5


def tx_hash_bytes(tx_ids: np.ndarray) -> bytes:
    """The modelled 32-byte hashes of transactions, concatenated: each id big-endian, zero-padded.

    :meth:`PrePrepare.encode` and the nodes' transaction roots and light-node proofs in
    modelled mode (:meth:`fiscosim.node.context.Shared.tx_hashes`) use them; sizes never
    build them.

    >>> tx_hash_bytes(np.array([1], dtype=np.int64)).hex()[-4:]
    '0001'
    """
    out = np.zeros((len(tx_ids), TX_HASH_SIZE // 8), dtype=">u8")
    out[:, -1] = tx_ids
    return out.tobytes()


def proposal_hash(
    index: int, parent_hash: bytes, tx_ids: np.ndarray, timestamp_us: int, leader: int
) -> bytes:
    """The modelled hash of a sealed (unexecuted) block: BLAKE2b-256 over its header fields.

    Covers what FISCO's sealed header hash covers that we model (docs/fisco-reference.md §2.6):
    number, parent hash, timestamp, sealer, and the transactions (through their ids, standing in for
    the transactions root). The view is not in it: in FISCO a block header has no view.

    >>> ids = np.array([5, 6], dtype=np.int64)
    >>> proposal_hash(1, bytes(32), ids, 7, 0) == proposal_hash(1, bytes(32), ids, 7, 0)
    True
    >>> proposal_hash(1, bytes(32), ids, 7, 0) == proposal_hash(1, bytes(32), ids, 7, 1)
    False
    """
    header = msgpack.packb([index, parent_hash, timestamp_us, leader], use_bin_type=True)
    digest = hashlib.blake2b(header, digest_size=HASH_SIZE)
    digest.update(np.ascontiguousarray(tx_ids, dtype="<i8").tobytes())
    return digest.digest()


def executed_hash(proposal_digest: bytes) -> bytes:
    """A stand-in for a block's executed hash, from its proposal's hash, for running the core
    without a ledger (the in-memory :mod:`~fiscosim.consensus.driver` and the core's tests).

    The simulator's nodes build the executed block with :mod:`fiscosim.chain` instead
    (:mod:`fiscosim.node.execution`), whose hash also covers the chain below it. Here every
    honest node computes the same value from the same proposal, which is all PBFT needs
    (SHA-256 over a tag and the proposal hash).

    >>> executed_hash(bytes(32)) == executed_hash(bytes(32)) != executed_hash(bytes(31) + b"1")
    True
    """
    return hashlib.sha256(b"executed" + proposal_digest).digest()


@dataclass(frozen=True, slots=True)
class Proposal:
    """A sealed, unexecuted block as PBFT sees it (docs/fisco-reference.md §1.5 step 1, §2.6).

    ``tx_ids`` are the block's transactions by run-wide id (docs/architecture.md rule 2): one int64
    array, made read-only here (a read-only view; the caller's array is untouched), never one Python
    object per transaction. ``hash`` is computed by whoever seals the block, normally with
    :func:`proposal_hash`.
    """

    index: int
    view: int
    leader: int
    hash: bytes
    parent_hash: bytes
    tx_ids: np.ndarray
    timestamp_us: int

    def __post_init__(self) -> None:
        if len(self.hash) != HASH_SIZE or len(self.parent_hash) != HASH_SIZE:
            raise ValueError(f"a proposal's hash and parent hash are {HASH_SIZE} bytes")
        ids = np.asarray(self.tx_ids)
        if ids.dtype != np.int64 or ids.ndim != 1:
            raise ValueError(f"tx_ids must be a 1-D int64 array, got {ids.dtype} {ids.shape}")
        if ids.flags.writeable:
            # A view, so freezing it leaves the sealer's own array writable.
            ids = ids.view()
            ids.flags.writeable = False
        object.__setattr__(self, "tx_ids", ids)

    def encoded_size(self) -> int:
        """Bytes of :meth:`encode`, computed without building the transaction hashes."""
        tx_bytes = TX_HASH_SIZE * len(self.tx_ids)
        return len(self._header(b"")) - _BIN8 + _bin_header(tx_bytes) + tx_bytes

    def encode(self) -> bytes:
        """The msgpack array [index, view, leader, hash, parent hash, timestamp, tx hashes]."""
        return self._header(tx_hash_bytes(self.tx_ids))

    def _header(self, tx_hashes: bytes) -> bytes:
        fields = [
            self.index, self.view, self.leader, self.hash, self.parent_hash,
            self.timestamp_us, tx_hashes,
        ]
        return msgpack.packb(fields, use_bin_type=True)

    def __repr__(self) -> str:
        # The default repr would print every transaction id.
        return (
            f"Proposal(index={self.index}, view={self.view}, leader={self.leader}, "
            f"hash={self.hash[:4].hex()}…, txs={len(self.tx_ids)})"
        )


@dataclass(frozen=True, slots=True)
class PrePrepare:
    """The leader's proposal for block ``index`` in ``view`` (docs/fisco-reference.md §1.5 step 2).

    Sent to every other consensus node; the leader handles its own without verification.
    """

    view: int
    index: int
    sender: int
    proposal: Proposal
    kind: ClassVar[str] = "PrePrepare"
    packet_type: ClassVar[int] = 0x00

    def encode(self) -> bytes:
        """msgpack [packet type, view, index, sender, proposal]; the proposal is nested."""
        head = msgpack.packb([self.packet_type, self.view, self.index, self.sender])
        # A fixarray of 5 differs from one of 4 only in its first byte; splice the proposal in.
        return bytes([0x95]) + head[1:] + self.proposal.encode()

    def wire_size(self) -> int:
        """Encoded length + :data:`MESSAGE_OVERHEAD` + :data:`PROPOSAL_HEADER_OVERHEAD`."""
        head = msgpack.packb([self.packet_type, self.view, self.index, self.sender])
        return (
            len(head) + self.proposal.encoded_size() + MESSAGE_OVERHEAD + PROPOSAL_HEADER_OVERHEAD
        )

    def __repr__(self) -> str:
        return (
            f"PrePrepare(view={self.view}, index={self.index}, sender={self.sender}, "
            f"proposal={self.proposal!r})"
        )


class _Vote:
    """What Prepare, Commit and CheckPoint share: [packet type, view, index, sender, hash]."""

    __slots__ = ()

    def _voted(self) -> bytes:
        return self.hash  # type: ignore[attr-defined]

    def encode(self) -> bytes:
        """msgpack [packet type, view, index, sender, the hash voted for]."""
        return msgpack.packb(
            [self.packet_type, self.view, self.index, self.sender, self._voted()],  # type: ignore[attr-defined]
            use_bin_type=True,
        )

    def wire_size(self) -> int:
        """Encoded length + message signature + proposal signature (docs/fisco-reference.md
        §1.2)."""
        return len(self.encode()) + MESSAGE_OVERHEAD + PROPOSAL_SIGNATURE_OVERHEAD


@dataclass(frozen=True, slots=True)
class Prepare(_Vote):
    """A vote for the sealed proposal ``hash`` of block ``index`` (docs/fisco-reference.md §1.5 step
    3)."""

    view: int
    index: int
    sender: int
    hash: bytes
    kind: ClassVar[str] = "Prepare"
    packet_type: ClassVar[int] = 0x01


@dataclass(frozen=True, slots=True)
class Commit(_Vote):
    """The second vote for ``hash``, sent once a prepare quorum is seen (docs/fisco-reference.md
    §1.5 step 4)."""

    view: int
    index: int
    sender: int
    hash: bytes
    kind: ClassVar[str] = "Commit"
    packet_type: ClassVar[int] = 0x02


@dataclass(frozen=True, slots=True)
class CheckPoint(_Vote):
    """A vote for the *executed* block hash of ``index``, after execution (docs/fisco-reference.md
    §1.5 step 7).

    Its proposal signature over ``executed_hash`` ends up in the block header's signature list.
    """

    view: int
    index: int
    sender: int
    executed_hash: bytes
    kind: ClassVar[str] = "CheckPoint"
    packet_type: ClassVar[int] = 0x09

    def _voted(self) -> bytes:
        return self.executed_hash


EMPTY_TX_IDS = np.empty(0, dtype=np.int64)
EMPTY_TX_IDS.flags.writeable = False
"""The transactions of an empty proposal: what a NewView puts at an unprepared index (§1.7)."""


def empty_proposal(index: int, view: int, leader: int, parent_hash: bytes) -> Proposal:
    """The empty proposal a NewView re-proposes at a gap (FISCO ``generateEmptyProposal``, §1.7).

    Deterministic in its arguments (timestamp 0), so every receiver of the NewView can check
    it: no transactions, hash by :func:`proposal_hash`.

    >>> p = empty_proposal(5, 2, 1, bytes(32))
    >>> len(p.tx_ids), p.hash == proposal_hash(5, bytes(32), EMPTY_TX_IDS, 0, 1)
    (0, True)
    """
    digest = proposal_hash(index, parent_hash, EMPTY_TX_IDS, 0, leader)
    return Proposal(index, view, leader, digest, parent_hash, EMPTY_TX_IDS, 0)


@dataclass(frozen=True, slots=True)
class PreparedProof:
    """Proof that ``proposal`` reached the prepare quorum for block ``index`` in ``view``.

    FISCO's precommit: the proposal and the proposal signatures of the Prepares that formed the
    quorum (``PBFTCache::intoPrecommit/setSignatureList``, docs/fisco-reference.md §1.2). ``voters``
    are the consensus indices of those Prepares' senders; their weight must reach Q (§1.7
    ``checkPrecommitWeight``). Not a packet: it travels inside a :class:`ViewChange`.
    """

    index: int
    view: int
    proposal: Proposal
    voters: tuple[int, ...]

    def _head(self) -> bytes:
        return msgpack.packb([self.index, self.view, list(self.voters)])

    def encode(self) -> bytes:
        """msgpack [index, view, voters, proposal]; the proposal is nested."""
        # A fixarray of 4 differs from one of 3 only in its first byte; splice the proposal in.
        return bytes([0x94]) + self._head()[1:] + self.proposal.encode()

    def encoded_size(self) -> int:
        """Bytes of :meth:`encode`, without building the transaction hashes."""
        return len(self._head()) + self.proposal.encoded_size()

    def overhead(self) -> int:
        """What it weighs beyond :meth:`encode`: the unmodelled header fields and one
        proposal signature (:data:`PROPOSAL_SIGNATURE_OVERHEAD`) per voter."""
        return PROPOSAL_HEADER_OVERHEAD + PROPOSAL_SIGNATURE_OVERHEAD * len(self.voters)

    def __repr__(self) -> str:
        return (
            f"PreparedProof(index={self.index}, view={self.view}, "
            f"proposal={self.proposal!r}, voters={self.voters})"
        )


@dataclass(frozen=True, slots=True)
class ViewChange:
    """"Move to ``view``": sent on a timeout or a fast view change (docs/fisco-reference.md §1.7).

    ``index`` and ``committed_hash`` are the sender's committed block (its ledger hash; zeros
    when unknown), ``prepared`` a :class:`PreparedProof` for every block the sender precommitted
    but has not committed, ascending by index. Signed at the envelope level (§1.2).
    """

    view: int
    index: int
    sender: int
    committed_hash: bytes
    prepared: tuple[PreparedProof, ...]
    kind: ClassVar[str] = "ViewChange"
    packet_type: ClassVar[int] = 0x03

    def _head(self) -> bytes:
        return msgpack.packb(
            [self.packet_type, self.view, self.index, self.sender, self.committed_hash],
            use_bin_type=True,
        )

    def encode(self) -> bytes:
        """msgpack [packet type, view, index, sender, committed hash, [proofs]]."""
        proofs = b"".join(proof.encode() for proof in self.prepared)
        return bytes([0x96]) + self._head()[1:] + _array_header(len(self.prepared)) + proofs

    def encoded_size(self) -> int:
        """Bytes of :meth:`encode`, without building the transaction hashes."""
        return (
            len(self._head()) + len(_array_header(len(self.prepared)))
            + sum(proof.encoded_size() for proof in self.prepared)
        )

    def wire_size(self) -> int:
        """Encoded length + :data:`MESSAGE_OVERHEAD` + each proof's header and signatures."""
        return (
            self.encoded_size() + MESSAGE_OVERHEAD
            + sum(proof.overhead() for proof in self.prepared)
        )

    def signature_count(self) -> int:
        """Signatures a receiver verifies: the message's and every proof's voters' (§1.2)."""
        return 1 + sum(len(proof.voters) for proof in self.prepared)

    def __repr__(self) -> str:
        return (
            f"ViewChange(view={self.view}, index={self.index}, sender={self.sender}, "
            f"prepared={[proof.index for proof in self.prepared]})"
        )


@dataclass(frozen=True, slots=True)
class NewView:
    """The leader of ``view`` starts it (docs/fisco-reference.md §1.7, ``checkAndTryIntoNewView``).

    ``view_changes``: the ViewChanges for ``view`` it collected (weight ≥ Q), by sender;
    ``pre_prepares``: its re-proposal of every index from the highest committed index among
    them + 1 to the highest prepared index, the highest-view prepared proposal at each index,
    an empty proposal at a gap (``generatePrePrepareMsg``).
    """

    view: int
    sender: int
    view_changes: tuple[ViewChange, ...]
    pre_prepares: tuple[PrePrepare, ...]
    kind: ClassVar[str] = "NewView"
    packet_type: ClassVar[int] = 0x04

    def _head(self) -> bytes:
        return msgpack.packb([self.packet_type, self.view, self.sender])

    def encode(self) -> bytes:
        """msgpack [packet type, view, sender, [view changes], [pre-prepares]]."""
        return (
            bytes([0x95]) + self._head()[1:]
            + _array_header(len(self.view_changes))
            + b"".join(vc.encode() for vc in self.view_changes)
            + _array_header(len(self.pre_prepares))
            + b"".join(pre.encode() for pre in self.pre_prepares)
        )

    def wire_size(self) -> int:
        """Encoded head + every nested message's own wire size + :data:`MESSAGE_OVERHEAD`.

        The nested ViewChanges keep their signatures (the receivers check them); the nested
        PrePrepares are charged as sent alone.
        """
        return (
            len(self._head()) + len(_array_header(len(self.view_changes)))
            + len(_array_header(len(self.pre_prepares))) + MESSAGE_OVERHEAD
            + sum(vc.wire_size() for vc in self.view_changes)
            + sum(pre.wire_size() for pre in self.pre_prepares)
        )

    def signature_count(self) -> int:
        """Signatures a receiver verifies: its own and every nested ViewChange's (§1.7)."""
        return 1 + sum(vc.signature_count() for vc in self.view_changes)

    def __repr__(self) -> str:
        return (
            f"NewView(view={self.view}, sender={self.sender}, "
            f"view_changes={[vc.sender for vc in self.view_changes]}, "
            f"pre_prepares={[pre.index for pre in self.pre_prepares]})"
        )


class _Status:
    """What RecoverRequest and RecoverResponse share: [packet type, view, index, sender]."""

    __slots__ = ()

    def encode(self) -> bytes:
        """msgpack [packet type, view, index (committed), sender]."""
        return msgpack.packb(
            [self.packet_type, self.view, self.index, self.sender]  # type: ignore[attr-defined]
        )

    def wire_size(self) -> int:
        """Encoded length + :data:`MESSAGE_OVERHEAD` (a signed ``PBFTMessage``, §1.2)."""
        return len(self.encode()) + MESSAGE_OVERHEAD


@dataclass(frozen=True, slots=True)
class RecoverRequest(_Status):
    """A (re)started node asks every consensus node for its view (docs/fisco-reference.md §1.7)."""

    view: int
    index: int
    sender: int
    kind: ClassVar[str] = "RecoverRequest"
    packet_type: ClassVar[int] = 0x0A


@dataclass(frozen=True, slots=True)
class RecoverResponse(_Status):
    """A node's ``view`` and committed ``index`` (docs/fisco-reference.md §1.7,
    ``sendRecoverResponse``).

    Sent to a RecoverRequest's sender, and by a node that has not timed out to the sender of a
    ViewChange; a node adopts a view reported by weight ≥ Q (``checkAndTryToRecover``).
    """

    view: int
    index: int
    sender: int
    kind: ClassVar[str] = "RecoverResponse"
    packet_type: ClassVar[int] = 0x0B


@dataclass(frozen=True, slots=True)
class CommittedProposalRequest(_Status):
    """"Send me block ``index``'s committed proposal" (docs/fisco-reference.md §1.5, 0x05).

    Sent to the senders of CheckPoints of weight ≥ f + 1 for a block this node has not
    precommitted (``shouldRequestCheckPoint``): at least one honest node executed it, so it was
    committed by consensus, and this node cannot execute it without the proposal.
    """

    view: int
    index: int
    sender: int
    kind: ClassVar[str] = "CommittedProposalRequest"
    packet_type: ClassVar[int] = 0x05


@dataclass(frozen=True, slots=True)
class CommittedProposalResponse:
    """Block ``index``'s committed proposal and its proof (docs/fisco-reference.md §1.5, 0x06).

    ``proof`` is a :class:`PreparedProof` whose ``view`` is the view of the Commit quorum and
    whose ``voters`` are that quorum's senders (their weight must reach Q): a Commit quorum
    decides a block, so the receiver may execute it without taking part in its votes.
    """

    view: int
    index: int
    sender: int
    proof: PreparedProof
    kind: ClassVar[str] = "CommittedProposalResponse"
    packet_type: ClassVar[int] = 0x06

    def _head(self) -> bytes:
        return msgpack.packb([self.packet_type, self.view, self.index, self.sender])

    def encode(self) -> bytes:
        """msgpack [packet type, view, index, sender, proof]."""
        return bytes([0x95]) + self._head()[1:] + self.proof.encode()

    def wire_size(self) -> int:
        """Encoded length + :data:`MESSAGE_OVERHEAD` + the proof's header and signatures."""
        return (
            len(self._head()) + self.proof.encoded_size() + MESSAGE_OVERHEAD
            + self.proof.overhead()
        )

    def signature_count(self) -> int:
        """Signatures a receiver verifies: the message's and the Commit voters' (§1.2)."""
        return 1 + len(self.proof.voters)

    def __repr__(self) -> str:
        return (
            f"CommittedProposalResponse(view={self.view}, index={self.index}, "
            f"sender={self.sender}, voters={self.proof.voters})"
        )


PbftMessage = (
    PrePrepare | Prepare | Commit | CheckPoint | ViewChange | NewView | RecoverRequest
    | RecoverResponse | CommittedProposalRequest | CommittedProposalResponse
)
"""Any message :meth:`fiscosim.consensus.pbft.PbftCore.handle` accepts."""

__all__ = [
    "CHECKPOINT_TIMER",
    "EMPTY_TX_IDS",
    "HASH_SIZE",
    "MESSAGE_OVERHEAD",
    "PBFT_TIMER",
    "PROPOSAL_HEADER_OVERHEAD",
    "PROPOSAL_SIGNATURE_OVERHEAD",
    "SIGNATURE_SIZE",
    "TIMERS",
    "TX_HASH_SIZE",
    "CheckPoint",
    "Commit",
    "CommittedProposalRequest",
    "CommittedProposalResponse",
    "NewView",
    "PbftMessage",
    "PrePrepare",
    "Prepare",
    "PreparedProof",
    "Proposal",
    "RecoverRequest",
    "RecoverResponse",
    "ViewChange",
    "empty_proposal",
    "executed_hash",
    "proposal_hash",
    "tx_hash_bytes",
]
