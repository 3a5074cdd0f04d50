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

import numpy as np

from fiscosim.chain.encoding import check_field_types, decode_fields, encode_fields
from fiscosim.crypto.merkle import HASH_SIZE, WIDTH_V3, merkle_root, merkle_root_of_runs

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


_ZEROS = np.zeros(1 << 16, dtype=np.int64)
_ZEROS.flags.writeable = False


def _constant(value: int, count: int) -> np.ndarray:
    if value == 0 and count <= len(_ZEROS):
        return _ZEROS[:count]
    # One value seen count times: a read-only broadcast, no memory per row.
    return np.broadcast_to(np.int64(value), (count,))


def _is_constant(column: np.ndarray) -> bool:
    return (column.base is _ZEROS or column.strides == (0,)
            or bool((column == column[0]).all()))


@dataclass(frozen=True, slots=True, eq=False)
class ReceiptBatch:
    """A block's receipts as columns, one row per transaction in block order.

    The engine keeps receipts this way (docs/architecture.md rule 2: no Python object per
    transaction); :meth:`row` gives one row as a :class:`Receipt`, which is what each row's hash
    covers. The columns are the fields that vary from one transaction to another in this model;
    the contract address, output and logs are empty for every row (the workloads' transfers
    create no contract and emit no event).

    >>> from fiscosim.crypto import get_suite
    >>> suite = get_suite("secp256k1")
    >>> batch = ReceiptBatch.uniform(3, block_number=7, gas_used=21000)
    >>> bytes(batch.hashes(suite)[1]) == batch.row(1).hash(suite)
    True
    >>> batch.root(suite) == receipts_root([batch.row(i) for i in range(3)], suite)
    True
    """

    block_number: int
    gas_used: np.ndarray
    """Gas each transaction used (int64)."""
    status: np.ndarray
    """Each transaction's status: :data:`STATUS_OK` or a failure code (int64)."""
    version: int = 0

    def __post_init__(self) -> None:
        gas, status = self.gas_used, self.status
        if type(gas) is not np.ndarray or gas.dtype != np.int64:
            gas = np.asarray(gas, dtype=np.int64)
            object.__setattr__(self, "gas_used", gas)
        if type(status) is not np.ndarray or status.dtype != np.int64:
            status = np.asarray(status, dtype=np.int64)
            object.__setattr__(self, "status", status)
        if gas.ndim != 1 or gas.shape != status.shape:
            raise ValueError("gas_used and status are 1-D columns of the same length")

    @classmethod
    def uniform(cls, count: int, block_number: int, gas_used: int = 0,
                status: int = STATUS_OK) -> ReceiptBatch:
        """``count`` receipts with the same gas and status (columns that take no memory per
        row)."""
        return cls(block_number, _constant(gas_used, count), _constant(status, count))

    @classmethod
    def succeeded(cls, block_number: int, gas_used: np.ndarray) -> ReceiptBatch:
        """Receipts of calls that all succeeded, using ``gas_used``; a column whose rows are
        all equal is kept as one value (no memory per row), as is the all-success status."""
        count = len(gas_used)
        if count and bool((gas_used == gas_used[0]).all()):
            gas = _constant(int(gas_used[0]), count)
        else:
            gas = np.asarray(gas_used, dtype=np.int64)
        return cls(block_number, gas, _constant(STATUS_OK, count))

    def __len__(self) -> int:
        return len(self.gas_used)

    def total_gas(self) -> int:
        """The block's ``gasUsed``: the sum over its receipts."""
        return int(self.gas_used.sum())

    def row(self, index: int) -> Receipt:
        """Receipt ``index`` as an object (what its hash covers)."""
        return Receipt(version=self.version, gas_used=int(self.gas_used[index]),
                       status=int(self.status[index]), block_number=self.block_number)

    def hashes(self, suite: CryptoSuite) -> np.ndarray:
        """Every receipt's hash, n×32 uint8, in block order.

        A receipt's hash depends only on its fields, so each distinct row is encoded and hashed
        once and its digest shared by the rows equal to it.
        """
        if len(self) == 0:
            return np.empty((0, HASH_SIZE), dtype=np.uint8)
        if _is_constant(self.gas_used) and _is_constant(self.status):
            digest = np.frombuffer(self.row(0).hash(suite), dtype=np.uint8)
            return np.broadcast_to(digest, (len(self), HASH_SIZE))
        distinct, inverse = self._distinct()
        digests = np.frombuffer(b"".join(self._row_hashes(distinct, suite)), dtype=np.uint8)
        return digests.reshape(-1, HASH_SIZE)[inverse]

    def _distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct rows (indices of their first occurrence) and each row's index among
        them."""
        # One int64 key per row (np.unique over a 2-D array is far slower): gas in the high
        # bits, the status code in the low 16.
        key = (self.gas_used << 16) | (self.status & 0xFFFF)
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1)

    def _row_hashes(self, rows: np.ndarray, suite: CryptoSuite) -> list[bytes]:
        return [self.row(int(i)).hash(suite) for i in rows]

    def digest(self, suite: CryptoSuite) -> bytes:
        """One hash that commits to every receipt of the batch, in order: the hashes of the
        distinct rows and, per row, which of them it is.

        What a block header holds in place of the Merkle :meth:`root` when nothing in a run
        reads the root (fiscosim.node.execution): a Merkle root costs a hash per receipt when
        receipts differ, this one call.
        """
        if len(self) == 0:
            return suite.hash(b"")
        if _is_constant(self.gas_used) and _is_constant(self.status):
            return suite.hash(self.row(0).hash(suite) + len(self).to_bytes(4, "big"))
        distinct, inverse = self._distinct()
        hashes = b"".join(self._row_hashes(distinct, suite))
        return suite.hash(hashes + inverse.astype(">u4").tobytes())

    def root(self, suite: CryptoSuite, width: int = WIDTH_V3) -> bytes:
        """``receiptRoot`` of the batch (:func:`receipts_root` of its rows)."""
        if width != WIDTH_V3 or len(self) == 0:
            return merkle_root(self.hashes(suite), suite.hash, width)
        # Equal receipts in a row (transfers that all succeed alike) make equal leaves: the
        # tree is built over runs of them (the same root, far fewer hashes).
        if _is_constant(self.gas_used) and _is_constant(self.status):
            return merkle_root_of_runs([(self.row(0).hash(suite), len(self))], suite.hash)
        distinct, inverse = self._distinct()
        row_hashes = self._row_hashes(distinct, suite)
        starts = np.flatnonzero(np.r_[True, inverse[1:] != inverse[:-1]])
        if 4 * len(starts) > len(self):  # short runs: the plain tree is cheaper
            leaves = np.frombuffer(b"".join(row_hashes), dtype=np.uint8).reshape(-1, HASH_SIZE)
            return merkle_root(leaves[inverse], suite.hash)
        counts = np.diff(np.r_[starts, len(self)])
        return merkle_root_of_runs(
            [(row_hashes[inverse[start]], int(count))
             for start, count in zip(starts.tolist(), counts.tolist(), strict=True)],
            suite.hash)


def receipts_root(receipts: Sequence[Receipt], suite: CryptoSuite, width: int = WIDTH_V3) -> bytes:
    """``receiptRoot``: the Merkle root of the receipts' hashes, in block order
    (docs/fisco-reference.md §3).

    No receipts give the all-zero hash, as ``BlockImpl::calculateReceiptRoot`` does in 3.x.
    """
    return merkle_root([receipt.hash(suite) for receipt in receipts], suite.hash, width)
