"""A FISCO BCOS transaction: its fields, its hash, its signature and the sender it proves.

docs/fisco-reference.md §2.1 (``bcos-tars-protocol/tars/Transaction.tars``,
``impl/TarsHashable.h``):

- a transaction's *data* is ``version, chainID, groupID, blockLimit, nonce, to, input, abi`` (the
  gas and value fields of versions ≥ 1 are not modelled);
- the **transaction hash** is the suite's hash (keccak256 or SM3) of the data only — the signature
  and anything added later (import time, sender) are not hashed;
- the **signature** signs that hash; the **sender** is the address recovered from the signature,
  so a transaction names no sender of its own.

We hash the canonical msgpack encoding of the data fields (:mod:`fiscosim.chain.encoding`)
rather than FISCO's concatenation of them; the fields and their order are FISCO's.

>>> import numpy as np
>>> from fiscosim.crypto import get_suite
>>> suite = get_suite("secp256k1")
>>> private_key, public_key = suite.generate_keypair(np.random.default_rng(1))
>>> signed = Transaction(block_limit=500, nonce=7, to=bytes(20)).sign(suite, private_key)
>>> signed.sender(suite) == suite.address_of(public_key)
True
>>> SignedTransaction.decode(signed.encode()) == signed
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fiscosim.chain.encoding import check_field_types, decode_fields, encode_fields

if TYPE_CHECKING:
    from fiscosim.crypto.suite import CryptoSuite

ADDRESS_SIZE = 20
MAX_NONCE = 2**63 - 1
"""Nonces are modelled as non-negative 63-bit integers, so that they fit the int64 ``nonces``
column of a :class:`~fiscosim.chain.txbatch.TxBatch` (FISCO carries a random decimal string)."""
BLOCK_LIMIT_RANGE = 500
"""SDKs set ``block_limit = current block + 500`` (java-sdk and cpp-sdk ``BLOCK_LIMIT_RANGE``)."""


_FIELD_TYPES = (int, str, str, int, int, bytes, bytes, str)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction:
    """The signed-over data of a transaction (``TransactionData``), in FISCO's field order."""

    version: int = 0
    """Transaction format version; 0 is the format whose fields are all below."""
    chain_id: str = "chain0"
    """The chain the transaction is for; the RPC rejects another chain's (docs/fisco-reference.md
    §2.2)."""
    group_id: str = "group0"
    """The group (ledger) within the chain."""
    block_limit: int
    """Last block number that may include it; a txpool admits it only while
    ``current < block_limit ≤ current + 1000`` (docs/fisco-reference.md §2.3)."""
    nonce: int
    """Replay protection: unique among the pool and the last 1000 blocks (docs/fisco-reference.md
    §2.3)."""
    to: bytes = b""
    """20-byte address of the called contract, or empty to deploy one."""
    input: bytes = b""
    """ABI-encoded call data (or the contract code, for a deployment)."""
    abi: str = ""
    """The contract's JSON ABI, carried by deployments only."""

    def __post_init__(self) -> None:
        if not 0 <= self.version < 2**31:
            raise ValueError(f"version is a non-negative int32, got {self.version}")
        if not 0 <= self.block_limit < 2**63:
            raise ValueError(f"block_limit is a non-negative int64, got {self.block_limit}")
        if not 0 <= self.nonce <= MAX_NONCE:
            raise ValueError(f"nonce is a non-negative int64, got {self.nonce}")
        if len(self.to) not in (0, ADDRESS_SIZE):
            raise ValueError(f"to is a {ADDRESS_SIZE}-byte address or empty, got {len(self.to)}")

    def fields(self) -> list:
        """The data fields in FISCO's order: what is encoded and hashed."""
        return [
            self.version,
            self.chain_id,
            self.group_id,
            self.block_limit,
            self.nonce,
            self.to,
            self.input,
            self.abi,
        ]

    def encode(self) -> bytes:
        """The canonical encoding of the data (the bytes the hash covers)."""
        return encode_fields(self.fields())

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        """The transaction whose :meth:`encode` is ``data``."""
        return cls._from_fields(decode_fields(data, len(_FIELD_TYPES), "transaction"))

    @classmethod
    def _from_fields(cls, fields: list) -> Transaction:
        check_field_types(fields, _FIELD_TYPES, "transaction")
        version, chain_id, group_id, block_limit, nonce, to, input_, abi = fields
        return cls(
            version=version,
            chain_id=chain_id,
            group_id=group_id,
            block_limit=block_limit,
            nonce=nonce,
            to=to,
            input=input_,
            abi=abi,
        )

    def hash(self, suite: CryptoSuite) -> bytes:
        """The transaction hash: the suite's hash of the encoded data, signature excluded (§2.1)."""
        return suite.hash(self.encode())

    def sign(self, suite: CryptoSuite, private_key: bytes) -> SignedTransaction:
        """Signs the transaction hash with ``private_key``: what a client SDK does."""
        return SignedTransaction(self, suite.sign(self.hash(suite), private_key))


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    """A transaction with its signature, as a client sends it and a block carries it."""

    tx: Transaction
    signature: bytes
    """``suite.signature_size`` bytes: r‖s‖v (secp256k1) or r‖s‖public key (SM2),
    docs/fisco-reference.md §3."""

    def hash(self, suite: CryptoSuite) -> bytes:
        """The transaction hash (the signature is not part of it)."""
        return self.tx.hash(suite)

    def sender(self, suite: CryptoSuite) -> bytes | None:
        """The 20-byte address the signature proves, or None when it proves none.

        This is FISCO's ``Transaction::verify``: recover the signer of the transaction hash.
        """
        return suite.recover_address(self.tx.hash(suite), self.signature)

    def encode(self) -> bytes:
        """The wire form: ``[data fields, signature]``; its length is the transaction's size."""
        return encode_fields([self.tx.fields(), self.signature])

    @classmethod
    def decode(cls, data: bytes) -> SignedTransaction:
        """The signed transaction whose :meth:`encode` is ``data``."""
        fields, signature = decode_fields(data, 2, "signed transaction")
        if not isinstance(fields, list) or len(fields) != len(_FIELD_TYPES):
            raise ValueError(f"a signed transaction starts with {len(_FIELD_TYPES)} data fields")
        check_field_types([signature], [bytes], "signed transaction signature")
        return cls(Transaction._from_fields(fields), signature)
