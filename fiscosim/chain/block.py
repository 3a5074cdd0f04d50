"""A block: its header, the header's hash and signature list, and the transactions it holds.

docs/fisco-reference.md §2.6 (``bcos-tars-protocol/tars/Block.tars``, ``impl/TarsHashable.h``):

- a header's *data* is ``version, parentInfo, txsRoot, receiptRoot, stateRoot, blockNumber,
  gasUsed, timestamp, sealer, sealerList, extraData, consensusWeights``, in that order;
- the **block hash** is the suite's hash of the data; the **signature list** — pairs
  ``(sealerIndex, signature)`` — travels with the header but is *not* hashed, so signing a
  header does not change its hash;
- each signature is a sealer's signature over that hash: in 3.x, the CheckPoint signatures the
  sealers exchanged after executing the block (docs/fisco-reference.md §1.5), collected until their
  weight reaches the quorum.

A block is **committed with enough signatures** when the weights of the distinct sealers that
signed reach ``Q = W − ⌊(W − 1)/3⌋`` (:func:`fiscosim.chain.config.quorum`). Light nodes and block
sync check exactly that (:func:`check_signature_list`, docs/fisco-reference.md §4.2, §9 item 10).

The engine's blocks (:class:`Block`) carry their transactions as a column of hashes, as a PBFT
proposal does (``transactionsMetaData``, docs/fisco-reference.md §2.6), and their receipts as a
:class:`~fiscosim.chain.receipt.ReceiptBatch`; ``txsRoot`` is the Merkle root of the
transaction hashes (:func:`txs_root`). :func:`executed_block` builds a block the way FISCO's
scheduler finishes one after execution.

>>> import numpy as np
>>> from fiscosim.crypto import get_suite
>>> suite = get_suite("secp256k1")
>>> keys = [suite.generate_keypair(np.random.default_rng(i)) for i in range(4)]
>>> header = BlockHeader(number=1, sealer_list=tuple(public for _, public in keys))
>>> signatures = tuple(
...     sign_header(header, suite, index, private) for index, (private, _) in enumerate(keys[:3])
... )
>>> check_signature_list(header, signatures, suite)      # 3 of 4 unit weights: Q = 3
(True, 3)
>>> check_signature_list(header, signatures[:2], suite)
(False, 2)
>>> header.with_signatures(signatures).hash(suite) == header.hash(suite)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from fiscosim.chain.config import NODE_ID_SIZE, quorum
from fiscosim.chain.encoding import check_field_types, decode_fields, encode_fields
from fiscosim.chain.receipt import ReceiptBatch
from fiscosim.chain.transaction import ADDRESS_SIZE
from fiscosim.crypto.batch import verify_batch
from fiscosim.crypto.merkle import (
    HASH_SIZE,
    WIDTH_V3,
    ZERO_HASH,
    Leaves,
    MerkleTree,
    merkle_root,
    merkle_tree,
)

if TYPE_CHECKING:
    from fiscosim.crypto.suite import CryptoSuite

__all__ = [
    "Block",
    "BlockHeader",
    "ParentInfo",
    "SealerSignature",
    "SignatureList",
    "check_signature_list",
    "executed_block",
    "genesis_block",
    "quorum",
    "sign_header",
    "txs_root",
]


class ParentInfo(NamedTuple):
    """A parent block's number and hash (``ParentInfo.tars``)."""

    number: int
    hash: bytes


class SealerSignature(NamedTuple):
    """One entry of a header's signature list: who signed (index into ``sealer_list``) and how."""

    sealer_index: int
    signature: bytes


SignatureList = tuple[SealerSignature, ...]
"""A header's signature list (``BlockHeader.signatureList``), not covered by the block hash."""

_DATA_FIELD_TYPES = (int, list, bytes, bytes, bytes, int, int, int, int, list, bytes, list)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeader:
    """A block header: the hashed data in FISCO's field order, then the unhashed signature list."""

    version: int = 0
    """The block format version (FISCO writes the chain's ``compatibility_version``)."""
    parent_info: tuple[ParentInfo, ...] = ()
    """The parent block(s); one entry for a chain, none for the genesis block."""
    txs_root: bytes = ZERO_HASH
    """Merkle root of the transaction hashes (:func:`txs_root`)."""
    receipts_root: bytes = ZERO_HASH
    """Merkle root of the receipt hashes (:func:`fiscosim.chain.receipt.receipts_root`); set after
    execution, so a proposal's header (Prepare/Commit) still has the zero hash here."""
    state_root: bytes = ZERO_HASH
    """Root of the world state after executing the block; set after execution, like
    ``receipts_root``."""
    number: int
    """The block number (height); the genesis block is 0."""
    gas_used: int = 0
    """Gas used by all the block's transactions."""
    timestamp: int = 0
    """Milliseconds since the epoch when the leader sealed the block."""
    sealer: int = 0
    """Index in ``sealer_list`` of the leader that proposed the block."""
    sealer_list: tuple[bytes, ...] = ()
    """The consensus nodes' ids (64-byte public keys) in index order (sorted by id, §1.3)."""
    extra_data: bytes = b""
    """Free bytes the sealer may add."""
    consensus_weights: tuple[int, ...] = ()
    """Vote weight of each node of ``sealer_list``; empty means weight 1 each."""
    signature_list: SignatureList = ()
    """The sealers' signatures over :meth:`hash`; not part of the hash."""

    def __post_init__(self) -> None:
        for name in ("txs_root", "receipts_root", "state_root"):
            if len(getattr(self, name)) != HASH_SIZE:
                raise ValueError(f"{name} is a {HASH_SIZE}-byte hash")
        if any(len(parent.hash) != HASH_SIZE for parent in self.parent_info):
            raise ValueError(f"a parent hash is {HASH_SIZE} bytes")
        if self.number < 0:
            raise ValueError(f"block number must be non-negative, got {self.number}")
        if any(len(node_id) != NODE_ID_SIZE for node_id in self.sealer_list):
            raise ValueError(f"a sealer's node id is {NODE_ID_SIZE} bytes")
        if any(weight < 1 for weight in self.consensus_weights):
            raise ValueError(f"vote weights are at least 1, got {self.consensus_weights}")
        if self.consensus_weights and len(self.consensus_weights) != len(self.sealer_list):
            raise ValueError(
                f"{len(self.consensus_weights)} consensus weights for "
                f"{len(self.sealer_list)} sealers"
            )
        if self.sealer_list and not 0 <= self.sealer < len(self.sealer_list):
            raise ValueError(f"sealer index {self.sealer} is not in the sealer list")

    def weights(self) -> tuple[int, ...]:
        """The vote weight of each sealer, in index order (1 each when none are recorded)."""
        return self.consensus_weights or (1,) * len(self.sealer_list)

    def fields(self) -> list:
        """The hashed data fields, in FISCO's order."""
        return [
            self.version,
            [[parent.number, parent.hash] for parent in self.parent_info],
            self.txs_root,
            self.receipts_root,
            self.state_root,
            self.number,
            self.gas_used,
            self.timestamp,
            self.sealer,
            list(self.sealer_list),
            self.extra_data,
            list(self.consensus_weights),
        ]

    def hash(self, suite: CryptoSuite) -> bytes:
        """The block hash: the suite's hash of the data fields, signature list excluded (§2.6)."""
        return suite.hash(encode_fields(self.fields()))

    def with_signatures(self, signatures: Sequence[SealerSignature]) -> BlockHeader:
        """The same header carrying ``signatures`` as its signature list (same hash)."""
        return replace(self, signature_list=tuple(SealerSignature(*s) for s in signatures))

    def encode(self) -> bytes:
        """The wire form: ``[data fields, [[sealer index, signature], ...]]``."""
        return encode_fields(self._wire_fields())

    def _wire_fields(self) -> list:
        return [self.fields(), [[s.sealer_index, s.signature] for s in self.signature_list]]

    @classmethod
    def decode(cls, data: bytes) -> BlockHeader:
        """The header whose :meth:`encode` is ``data``."""
        return cls._from_wire_fields(decode_fields(data, 2, "block header"))

    @classmethod
    def _from_wire_fields(cls, wire: list) -> BlockHeader:
        if not isinstance(wire, list) or len(wire) != 2:
            raise ValueError("a block header is [data fields, signature list]")
        data, signatures = wire
        if not isinstance(data, list) or len(data) != len(_DATA_FIELD_TYPES):
            raise ValueError(f"a block header has {len(_DATA_FIELD_TYPES)} data fields")
        check_field_types(data, _DATA_FIELD_TYPES, "block header")
        (version, parents, txs, receipts, state, number, gas_used, timestamp, sealer, sealers,
         extra, weights) = data  # fmt: skip
        for parent in parents:
            if not isinstance(parent, list) or len(parent) != 2:
                raise ValueError("a parent info is [number, hash]")
            check_field_types(parent, (int, bytes), "parent info")
        check_field_types(sealers, [bytes] * len(sealers), "sealer list")
        check_field_types(weights, [int] * len(weights), "consensus weights")
        if not isinstance(signatures, list):
            raise ValueError("a signature list is an array")
        for entry in signatures:
            if not isinstance(entry, list) or len(entry) != 2:
                raise ValueError("a signature list entry is [sealer index, signature]")
            check_field_types(entry, (int, bytes), "signature list entry")
        return cls(
            version=version,
            parent_info=tuple(ParentInfo(n, h) for n, h in parents),
            txs_root=txs,
            receipts_root=receipts,
            state_root=state,
            number=number,
            gas_used=gas_used,
            timestamp=timestamp,
            sealer=sealer,
            sealer_list=tuple(sealers),
            extra_data=extra,
            consensus_weights=tuple(weights),
            signature_list=tuple(SealerSignature(i, s) for i, s in signatures),
        )


def sign_header(
    header: BlockHeader, suite: CryptoSuite, sealer_index: int, private_key: bytes
) -> SealerSignature:
    """Sealer ``sealer_index``'s signature-list entry for ``header``: its signature of the hash."""
    return SealerSignature(sealer_index, suite.sign(header.hash(suite), private_key))


def check_signature_list(
    header: BlockHeader, signatures: Sequence[SealerSignature], suite: CryptoSuite
) -> tuple[bool, int]:
    """Whether ``signatures`` prove ``header`` was agreed: (weight ≥ quorum, weight counted).

    Each entry must be a valid signature of the header hash *by the sealer it names*: the
    address recovered from it must be that of ``header.sealer_list[sealer_index]``. Entries with
    an index outside the list or a signature that fails are not counted; a sealer counts once
    however many of its signatures are listed. The counted weights are summed and compared with
    ``quorum(header.weights())`` (docs/fisco-reference.md §1.3) — a node downloading blocks accepts
    a block only when this holds (§9 item 10).

    All the signatures are checked in one call of the batch core
    (:func:`fiscosim.crypto.verify_batch`, in this process), not one recovery at a time.
    """
    weights = header.weights()
    sealers = len(header.sealer_list)
    # Entries that cannot count are dropped before any crypto: an index outside the list, or a
    # signature of the wrong length (which the packed batch could not even hold).
    entries = [
        (index, signature)
        for index, signature in signatures
        if 0 <= index < sealers and len(signature) == suite.signature_size
    ]
    if not entries:
        return False, 0
    indices = np.array([index for index, _ in entries], dtype=np.int64)
    digest = np.frombuffer(header.hash(suite), dtype=np.uint8)
    hashes = np.broadcast_to(digest, (len(entries), HASH_SIZE))
    packed = np.frombuffer(b"".join(signature for _, signature in entries), dtype=np.uint8)
    # The expected signer of each entry is the sealer it names: address_of(node id), §3.
    addresses = [suite.address_of(node_id) for node_id in header.sealer_list]
    expected = np.frombuffer(b"".join(addresses[i] for i in indices.tolist()), dtype=np.uint8)
    ok = verify_batch(
        np.ascontiguousarray(hashes),
        packed.reshape(len(entries), suite.signature_size),
        expected.reshape(len(entries), ADDRESS_SIZE),
        suite=suite,
        workers=1,
    )
    # A sealer counts once, however many valid signatures of its own the list repeats.
    signed = np.unique(indices[ok])
    weight = int(sum(weights[index] for index in signed.tolist()))
    return weight >= quorum(weights), weight


def txs_root(tx_hashes: Leaves, suite: CryptoSuite, width: int = WIDTH_V3) -> bytes:
    """``txsRoot``: the Merkle root of the transaction hashes in block order
    (docs/fisco-reference.md §3).

    ``tx_hashes`` is a list of 32-byte hashes or an n×32 uint8 array (a :class:`TxBatch`'s
    ``hashes`` column). No transactions give the all-zero hash, as 3.x's ``BlockImpl`` does.
    """
    return merkle_root(tx_hashes, suite.hash, width)


@dataclass(frozen=True, slots=True, eq=False)
class Block:
    """An executed block: its header, the header's hash, and its receipts as columns.

    Build one with :func:`executed_block`, which fills the header's roots as FISCO's scheduler
    does after executing a block (``BlockExecutive``: ``setTxsRoot``, ``setReceiptsRoot``,
    ``setStateRoot``, ``setGasUsed``, then ``calculateHash``; docs/fisco-reference.md §2.6). The
    transactions themselves are not copied in: whoever holds the block holds them already (a
    :class:`~fiscosim.chain.txbatch.TxBatch`, or the simulator's transaction ids), and
    ``header.txs_root`` commits to their hashes.
    """

    header: BlockHeader
    hash: bytes
    """The header's hash (:meth:`BlockHeader.hash`), computed once when the block is built."""
    receipts: ReceiptBatch

    @property
    def number(self) -> int:
        return self.header.number

    def receipt_tree(self, suite: CryptoSuite, width: int = WIDTH_V3) -> MerkleTree:
        """The Merkle tree behind ``receiptRoot`` (for proofs of a receipt)."""
        return merkle_tree(self.receipts.hashes(suite), suite.hash, width)


def genesis_block(suite: CryptoSuite, sealer_list: Sequence[bytes],
                  weights: Sequence[int] = (), version: int = 0) -> Block:
    """Block 0: no parent, no transactions, the initial consensus nodes and their weights."""
    header = BlockHeader(version=version, number=0, sealer_list=tuple(sealer_list),
                         consensus_weights=tuple(weights))
    return Block(header, header.hash(suite), ReceiptBatch.uniform(0, 0))


def executed_block(
    parent: Block,
    *,
    timestamp_ms: int,
    sealer: int,
    transactions_root: bytes,
    receipts: ReceiptBatch,
    state_root: bytes,
    suite: CryptoSuite,
    receipts_root: bytes | None = None,
) -> Block:
    """Block ``parent.number + 1`` as executed on top of ``parent``: its header and hash.

    The header keeps the parent's version, consensus nodes and weights (no system transaction
    changes them in this model), links to the parent by number and hash, and takes the rest
    from the execution: ``txsRoot`` (normally :func:`txs_root` of the transactions' hashes),
    ``receiptRoot`` from the receipts, ``gasUsed`` their sum, and ``state_root``, the world
    state's root after execution, which the executor computes. ``receipts_root``, when given,
    is put in ``receiptRoot`` in place of the receipts' Merkle root (a simulation that never
    reads the root may commit to the receipts more cheaply; the caller says so).
    """
    number = parent.number + 1
    if receipts.block_number != number:
        raise ValueError(f"receipts of block {receipts.block_number} in block {number}")
    above = parent.header
    header = BlockHeader(
        version=above.version,
        parent_info=(ParentInfo(number - 1, parent.hash),),
        txs_root=transactions_root,
        receipts_root=receipts.root(suite) if receipts_root is None else receipts_root,
        state_root=state_root,
        number=number,
        gas_used=receipts.total_gas(),
        timestamp=timestamp_ms,
        sealer=sealer,
        sealer_list=above.sealer_list,
        consensus_weights=above.consensus_weights,
    )
    return Block(header, header.hash(suite), receipts)
