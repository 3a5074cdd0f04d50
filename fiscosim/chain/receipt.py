"""A transaction receipt — what executing one transaction produced — and the receipts root.

docs/fisco-reference.md §2.9 (``TarsHashable.h``): a receipt's hash covers ``version, gasUsed,
contractAddress, status, output, logs, blockNumber`` in that order (the ``effectiveGasPrice`` of
later versions is not modelled). A block header commits to the list of its receipts' hashes through
``receiptRoot``, a binary Merkle root like ``txsRoot`` (docs/fisco-reference.md §3,
:mod:`fiscosim.crypto.merkle`). Receipts are released to clients only after the block is
committed to storage.

>>> from fiscosim.crypto import get_suite
>>> suite = get_suite("secp256k1")
>>> receipt = Receipt(gas_used=21000, block_number=1)
>>> receipts_root([receipt], suite) == receipt.hash(suite)   # one leaf is its own root
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fiscosim.chain.encoding import check_field_types, decode_fields, encode_fields
from fiscosim.crypto.merkle import WIDTH_V3, merkle_root

if TYPE_CHECKING:
    from fiscosim.crypto.suite import CryptoSuite

STATUS_OK = 0
"""``TransactionStatus::None``: executed without error; any other value is a failure code."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """An event a contract emitted: its address, indexed topics and data (``LogEntry.tars``)."""

    address: bytes
    topics: tuple[bytes, ...] = ()
    data: bytes = b""

    def fields(self) -> list:
        """``[address, [topics], data]``."""
        return [self.address, list(self.topics), self.data]


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """The outcome of one transaction (``TransactionReceiptData``), in FISCO's hashed order."""

    version: int = 0
    gas_used: int
    """Gas this transaction used."""
    contract_address: bytes = b""
    """Address of the contract a deployment created; empty for calls."""
    status: int = STATUS_OK
    """0 when execution succeeded, otherwise FISCO's error code (revert, out of gas, ...)."""
    output: bytes = b""
    """The call's return data."""
    logs: tuple[LogEntry, ...] = ()
    block_number: int
    """The block that holds the transaction."""

    def fields(self) -> list:
        """The hashed fields in FISCO's order."""
        return [
            self.version,
            self.gas_used,
            self.contract_address,
            self.status,
            self.output,
            [log.fields() for log in self.logs],
            self.block_number,
        ]

    def encode(self) -> bytes:
        """The canonical encoding of the receipt (what its hash covers)."""
        return encode_fields(self.fields())

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        """The receipt whose :meth:`encode` is ``data``."""
        fields = decode_fields(data, 7, "receipt")
        check_field_types(fields, (int, int, bytes, int, bytes, list, int), "receipt")
        version, gas_used, contract_address, status, output, logs, block_number = fields
        entries = []
        for log in logs:
            if not isinstance(log, list) or len(log) != 3:
                raise ValueError("a receipt log is [address, [topics], data]")
            check_field_types(log, (bytes, list, bytes), "receipt log")
            check_field_types(log[1], [bytes] * len(log[1]), "receipt log topics")
            entries.append(LogEntry(log[0], tuple(log[1]), log[2]))
        return cls(
            version=version,
            gas_used=gas_used,
            contract_address=contract_address,
            status=status,
            output=output,
            logs=tuple(entries),
            block_number=block_number,
        )

    def hash(self, suite: CryptoSuite) -> bytes:
        """The receipt hash: the suite's hash of the encoded fields (docs/fisco-reference.md
        §2.9)."""
        return suite.hash(self.encode())


def receipts_root(receipts: Sequence[Receipt], suite: CryptoSuite, width: int = WIDTH_V3) -> bytes:
    """``receiptRoot``: the Merkle root of the receipts' hashes, in block order
    (docs/fisco-reference.md §3).

    No receipts give the all-zero hash, as ``BlockImpl::calculateReceiptRoot`` does in 3.x.
    """
    return merkle_root([receipt.hash(suite) for receipt in receipts], suite.hash, width)
