"""The columnar batch of transactions that clients, txpools, sealers and blocks pass around.

At 50,000 transactions per second no hot path may create a Python object per transaction
(docs/architecture.md, rule 2). A :class:`TxBatch` is therefore a set of numpy columns of equal
length, one row per transaction; slicing it slices every column, and a block references the
batch rows it holds. :class:`~fiscosim.chain.transaction.SignedTransaction` objects exist only
where real transactions are built (the signed corpus) or checked one by one (tests).

Columns (the choices, and why):

``ids`` — int64
    The run-wide id of each transaction, assigned by the workload. It, not the hash, is what
    metrics and the safety checker join on, in both crypto modes.
``sizes`` — int32, bytes
    The transaction's size on the wire: the length of its signed encoding in real-crypto mode,
    the workload's modelled size otherwise. The bandwidth model charges it.
``senders`` — int32, an index into the workload's account table
    Not a 20-byte address: a 4-byte index keeps the column small, and per-sender work (nonces,
    conflict keys) groups integers. The address, where one is needed, is
    ``accounts[senders]`` on the workload's n×20 table; :func:`account_indices` maps recovered
    addresses back to indices. ``-1`` means "no account" (a signature that recovers nobody, or
    an address outside the table).
``nonces`` — int64, non-negative
    The replay-protection nonce. FISCO carries a random string (docs/fisco-reference.md §2.1); 63
    bits of it are enough for uniqueness within the 1000-block window the txpool checks, and a
    signed type keeps arithmetic with the other int64 columns in integers (numpy turns uint64 mixed
    with int64 into float64).
``submit_times`` — int64, simulated microseconds
    When the client submitted it. Integers keep simulated time exact and deterministic: sums
    and differences never round, so two runs with one seed give bit-identical latencies, and
    int64 microseconds cover some 292,000 years. Latency is ``commit_time - submit_times`` as
    one array operation.

Real-crypto columns (both present, or the batch is modelled):

``hashes`` — n×32 uint8, the transaction hashes (the messages signed);
``signatures`` — n×S uint8, S = the suite's signature size (65 or 128);

and, optionally, beside them:

``accounts`` — m×20 uint8, the account table ``senders`` indexes (row k: account k's address).
Shared by every slice, not sliced. :meth:`TxBatch.verify` checks each signature against
``accounts[senders]``;
``payload_offsets`` + ``payload_buffer`` — the signed encodings, packed: row i is
``payload_buffer[payload_offsets[i] : payload_offsets[i] + sizes[i]]``. Slices share the buffer.

Any further per-transaction column (contract, method, conflict keys, validity, ...) goes in
``extra``, a mapping of name to array whose first dimension is the row; it is sliced and
concatenated with the rest, so layers above add columns without this module knowing them.

Columns are read-only views: a batch never changes after it is made.

>>> import numpy as np
>>> batch = TxBatch(ids=np.arange(5), sizes=np.full(5, 200), senders=np.arange(5) % 2,
...                 nonces=np.arange(5), submit_times=np.arange(5) * 100_000)
>>> len(batch), batch[1:3].ids.tolist(), batch[batch.senders == 1].ids.tolist()
(5, [1, 2], [1, 3])
>>> TxBatch.concat([batch[:2], batch[4:]]).ids.tolist()
[0, 1, 4]
>>> int(batch.submit_times[-1]), "µs"      # 0.4 simulated seconds
(400000, 'µs')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from fiscosim.chain.transaction import ADDRESS_SIZE, SignedTransaction
from fiscosim.crypto.merkle import HASH_SIZE, WIDTH_V3, merkle_root

if TYPE_CHECKING:
    from fiscosim.crypto.suite import CryptoSuite

CORE_COLUMNS = ("ids", "sizes", "senders", "nonces", "submit_times")
_CORE_DTYPES = {
    "ids": np.dtype(np.int64),
    "sizes": np.dtype(np.int32),
    "senders": np.dtype(np.int32),
    "nonces": np.dtype(np.int64),
    "submit_times": np.dtype(np.int64),
}
NO_ACCOUNT = -1
"""``senders`` value of a transaction whose sender is not an account of the table."""
MICROSECONDS_PER_SECOND = 1_000_000
"""``submit_times`` (and all simulated time) counts integer microseconds."""

AccountTable = Sequence[bytes] | np.ndarray
"""Account addresses, row k being account k's: 20-byte strings or an m×20 uint8 array."""

_EMPTY_EXTRA: Mapping[str, np.ndarray] = MappingProxyType({})


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the caller's own array stays writable)."""
    if not array.flags.writeable:
        return array  # already read-only: keeping the object lets concat see a shared buffer
    view = array.view()
    view.flags.writeable = False
    return view


def _column(name: str, value: Any, dtype: np.dtype) -> np.ndarray:
    """``value`` as a 1-D integer array of ``dtype``, refusing floats and values out of range.

    Floats are refused rather than truncated: a float ``submit_times`` is almost surely seconds
    where microseconds are meant.
    """
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"column {name} must be 1-D, got shape {array.shape}")
    if array.dtype != dtype and array.size:
        if array.dtype.kind not in "iu":
            raise ValueError(f"column {name} must hold {dtype} values, got {array.dtype}")
        if array.min() < np.iinfo(dtype).min or array.max() > np.iinfo(dtype).max:
            raise ValueError(f"column {name} has values outside {dtype}")
    return array.astype(dtype, copy=False)


def _rows(
    name: str, value: Any, count: int, width: int | None, *, allow_empty: bool = False
) -> np.ndarray:
    """``value`` as a count×width uint8 array (any width > 0 when ``width`` is None)."""
    array = np.asarray(value)
    if allow_empty and array.size == 0 and width is not None:
        return np.zeros((0, width), dtype=np.uint8)
    if array.dtype != np.uint8:
        raise ValueError(f"column {name} must be uint8, got {array.dtype}")
    if array.ndim != 2 or array.shape[0] != count or array.shape[1] == 0:
        raise ValueError(f"column {name} must be {count}×{width or 'S'}, got shape {array.shape}")
    if width is not None and array.shape[1] != width:
        raise ValueError(f"column {name} must be {count}×{width}, got shape {array.shape}")
    return array


def address_table(accounts: AccountTable) -> np.ndarray:
    """``accounts`` as a read-only m×20 uint8 array (ValueError on a row of another length)."""
    if not isinstance(accounts, np.ndarray):
        if any(len(address) != ADDRESS_SIZE for address in accounts):
            raise ValueError(f"every account address must be {ADDRESS_SIZE} bytes")
        accounts = np.frombuffer(b"".join(accounts), dtype=np.uint8).reshape(-1, ADDRESS_SIZE)
    return _frozen(_rows("accounts", accounts, len(accounts), ADDRESS_SIZE, allow_empty=True))


class TxBatch:
    """A batch of transactions as equal-length numpy columns, one row per transaction."""

    __slots__ = (
        "accounts",
        "extra",
        "hashes",
        "ids",
        "nonces",
        "payload_buffer",
        "payload_offsets",
        "senders",
        "signatures",
        "sizes",
        "submit_times",
    )

    ids: np.ndarray
    sizes: np.ndarray
    senders: np.ndarray
    nonces: np.ndarray
    submit_times: np.ndarray
    hashes: np.ndarray | None
    signatures: np.ndarray | None
    payload_offsets: np.ndarray | None
    payload_buffer: np.ndarray | None
    accounts: np.ndarray | None
    extra: Mapping[str, np.ndarray]

    def __init__(
        self,
        ids: Any,
        sizes: Any,
        senders: Any,
        nonces: Any,
        submit_times: Any,
        *,
        hashes: Any = None,
        signatures: Any = None,
        payload_offsets: Any = None,
        payload_buffer: Any = None,
        accounts: AccountTable | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        columns = {
            name: _column(name, value, _CORE_DTYPES[name])
            for name, value in zip(
                CORE_COLUMNS, (ids, sizes, senders, nonces, submit_times), strict=True
            )
        }
        lengths = {name: len(column) for name, column in columns.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name}={length}" for name, length in lengths.items())
            raise ValueError(f"TxBatch columns differ in length: {listed}")
        count = lengths["ids"]
        if (columns["sizes"] < 0).any():
            raise ValueError("column sizes must be non-negative")

        if (hashes is None) != (signatures is None):
            raise ValueError("hashes and signatures come together (real-crypto mode) or not at all")
        if hashes is not None:
            hashes = _frozen(_rows("hashes", hashes, count, HASH_SIZE))
            signatures = _frozen(_rows("signatures", signatures, count, None))

        if (payload_offsets is None) != (payload_buffer is None):
            raise ValueError("payload_offsets and payload_buffer come together or not at all")
        if payload_offsets is not None:
            payload_offsets = _column("payload_offsets", payload_offsets, np.dtype(np.int64))
            payload_buffer = np.asarray(payload_buffer)
            if payload_buffer.dtype != np.uint8 or payload_buffer.ndim != 1:
                raise ValueError("payload_buffer must be a 1-D uint8 array")
            if len(payload_offsets) != count:
                raise ValueError(
                    f"payload_offsets has {len(payload_offsets)} rows, the batch has {count}"
                )
            ends = payload_offsets + columns["sizes"]
            if count and (payload_offsets.min() < 0 or ends.max() > len(payload_buffer)):
                raise ValueError("a payload row lies outside payload_buffer")
            payload_offsets = _frozen(payload_offsets)
            payload_buffer = _frozen(payload_buffer)

        checked_extra: dict[str, np.ndarray] = {}
        for name, value in (extra or {}).items():
            if name in CORE_COLUMNS or name in self.__slots__:
                raise ValueError(f"extra column {name!r} has the name of a built-in column")
            array = np.asarray(value)
            if array.ndim == 0 or array.shape[0] != count:
                raise ValueError(f"extra column {name!r} must have {count} rows, got {array.shape}")
            checked_extra[name] = _frozen(array)

        self.ids = _frozen(columns["ids"])
        self.sizes = _frozen(columns["sizes"])
        self.senders = _frozen(columns["senders"])
        self.nonces = _frozen(columns["nonces"])
        self.submit_times = _frozen(columns["submit_times"])
        self.hashes = hashes
        self.signatures = signatures
        self.payload_offsets = payload_offsets
        self.payload_buffer = payload_buffer
        self.accounts = None if accounts is None else address_table(accounts)
        self.extra = MappingProxyType(checked_extra) if checked_extra else _EMPTY_EXTRA

    @classmethod
    def _unchecked(cls, **columns: Any) -> TxBatch:
        """A batch from columns already known to be consistent (slices of a checked batch)."""
        batch = object.__new__(cls)
        for name in cls.__slots__:
            object.__setattr__(batch, name, columns[name])
        return batch

    @classmethod
    def empty(cls, signature_size: int | None = None) -> TxBatch:
        """A batch of no transactions; with ``signature_size``, an empty real-crypto batch."""
        zeros = [np.zeros(0, dtype=_CORE_DTYPES[name]) for name in CORE_COLUMNS]
        if signature_size is None:
            return cls(*zeros)
        return cls(
            *zeros,
            hashes=np.zeros((0, HASH_SIZE), dtype=np.uint8),
            signatures=np.zeros((0, signature_size), dtype=np.uint8),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        mode = (
            f"real, {self.signatures.shape[1]}-byte signatures" if self.real_crypto else "modelled"
        )
        extra = f", extra={sorted(self.extra)}" if self.extra else ""
        return f"<TxBatch of {len(self)} transactions ({mode}){extra}>"

    def __getitem__(self, key: slice | np.ndarray | Sequence[int]) -> TxBatch:
        """The rows ``key`` selects: a slice (views, no copy), a boolean mask or index array.

        A single integer is refused: it would invite per-transaction loops; use ``batch[i:i+1]``.
        """
        if isinstance(key, int | np.integer):
            raise TypeError("index a TxBatch with a slice, mask or index array, e.g. batch[i:i+1]")
        if not isinstance(key, slice):
            key = np.asarray(key)
            if key.size == 0:
                key = key.astype(np.intp)  # an empty list arrives as float64
            if key.dtype == bool and key.shape != (len(self),):
                raise IndexError(f"boolean mask of shape {key.shape} for {len(self)} rows")
            if key.dtype != bool and key.dtype.kind not in "iu":
                raise IndexError(f"cannot index a TxBatch with an array of {key.dtype}")
        return self._unchecked(
            ids=self.ids[key],
            sizes=self.sizes[key],
            senders=self.senders[key],
            nonces=self.nonces[key],
            submit_times=self.submit_times[key],
            hashes=None if self.hashes is None else self.hashes[key],
            signatures=None if self.signatures is None else self.signatures[key],
            payload_offsets=None if self.payload_offsets is None else self.payload_offsets[key],
            payload_buffer=self.payload_buffer,
            accounts=self.accounts,
            extra=MappingProxyType({name: col[key] for name, col in self.extra.items()})
            if self.extra
            else _EMPTY_EXTRA,
        )

    @property
    def real_crypto(self) -> bool:
        """Whether the batch carries real hashes and signatures."""
        return self.hashes is not None

    @property
    def has_payloads(self) -> bool:
        """Whether the batch carries the signed encodings of its transactions."""
        return self.payload_buffer is not None

    def total_size(self) -> int:
        """Bytes of all the batch's transactions on the wire."""
        return int(self.sizes.sum(dtype=np.int64))

    def with_extra(self, **columns: Any) -> TxBatch:
        """The same batch with more (or replaced) extra columns; the other columns are shared."""
        return TxBatch(
            self.ids,
            self.sizes,
            self.senders,
            self.nonces,
            self.submit_times,
            hashes=self.hashes,
            signatures=self.signatures,
            payload_offsets=self.payload_offsets,
            payload_buffer=self.payload_buffer,
            accounts=self.accounts,
            extra={**self.extra, **columns},
        )

    def txs_root(self, suite: CryptoSuite, width: int = WIDTH_V3) -> bytes:
        """``txsRoot`` of a block holding exactly these transactions in this order
        (docs/fisco-reference.md §3)."""
        if self.hashes is None:
            raise ValueError("a modelled batch has no transaction hashes to build a txsRoot from")
        return merkle_root(self.hashes, suite.hash, width)

    def verify(
        self,
        suite: CryptoSuite,
        workers: int | None = None,
        *,
        accounts: AccountTable | None = None,
    ) -> np.ndarray:
        """FISCO's signature check of every row, as one call of the batch core: a bool array.

        A row passes when its signature is valid for its hash and recovers the address of its
        sender, ``accounts[senders]`` (``Transaction::verify``: recover, then compare,
        docs/fisco-reference.md §2.1); a row whose sender is ``NO_ACCOUNT`` or outside the table
        fails. ``accounts`` overrides the batch's own table; with neither, only the signature's
        validity is checked. ``workers`` is passed to :func:`fiscosim.crypto.verify_batch` (None:
        every core).
        """
        if self.hashes is None or self.signatures is None:
            raise ValueError("a modelled batch has no signatures to verify")
        if self.signatures.shape[1] != suite.signature_size:
            raise ValueError(
                f"the batch's signatures are {self.signatures.shape[1]} bytes, "
                f"{suite.name} signatures are {suite.signature_size}"
            )
        from fiscosim.crypto.batch import verify_batch

        table = self.accounts if accounts is None else address_table(accounts)
        if table is None:
            return verify_batch(self.hashes, self.signatures, suite=suite, workers=workers)
        known = (self.senders >= 0) & (self.senders < len(table))
        expected = np.zeros((len(self), ADDRESS_SIZE), dtype=np.uint8)
        expected[known] = table[self.senders[known]]
        ok = verify_batch(self.hashes, self.signatures, expected, suite=suite, workers=workers)
        return ok & known

    @classmethod
    def from_transactions(
        cls,
        signed_txs: Sequence[SignedTransaction],
        suite: CryptoSuite,
        *,
        ids: Any = None,
        submit_times: Any = None,
        account_index: AccountTable | None = None,
        senders: Any = None,
        extra: Mapping[str, Any] | None = None,
    ) -> TxBatch:
        """Packs real signed transactions into a real-crypto batch with their payloads.

        ``account_index`` is the account table (row k: the 20-byte address of account k) that
        the ``senders`` column indexes; the batch keeps it for :meth:`verify`. Senders come from
        ``senders`` (account indices) when given. Otherwise each signature is recovered (FISCO's
        rule, one call of the batch core) and the address looked up in ``account_index``; a
        signature that recovers nobody, or an address outside the table, gives ``NO_ACCOUNT``.
        Without a table, the table is made of the distinct recovered addresses, in byte order.

        Sizes are the lengths of the signed encodings; ``ids`` default to 0..n−1 and
        ``submit_times`` (µs) to 0. This runs once per corpus, not on a hot path.
        """
        count = len(signed_txs)
        if any(len(signed.signature) != suite.signature_size for signed in signed_txs):
            raise ValueError(
                f"every signature must be {suite.signature_size} bytes for {suite.name}"
            )
        payloads = [signed.encode() for signed in signed_txs]
        sizes = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=count)
        offsets = np.zeros(count, dtype=np.int64)
        np.cumsum(sizes[:-1], out=offsets[1:])
        buffer = np.frombuffer(b"".join(payloads), dtype=np.uint8)
        hashes = np.frombuffer(
            b"".join(signed.hash(suite) for signed in signed_txs), dtype=np.uint8
        ).reshape(count, HASH_SIZE)
        signatures = np.frombuffer(
            b"".join(signed.signature for signed in signed_txs), dtype=np.uint8
        ).reshape(count, suite.signature_size)
        table = None if account_index is None else address_table(account_index)
        if senders is None:
            from fiscosim.crypto.batch import verify_batch

            ok, recovered = verify_batch(
                hashes, signatures, suite=suite, workers=1, return_senders=True
            )
            if table is None:
                table = np.unique(recovered[ok], axis=0)
            senders = account_indices(recovered, table)
            senders[~ok] = NO_ACCOUNT
        return cls(
            ids=np.arange(count) if ids is None else ids,
            sizes=sizes,
            senders=senders,
            nonces=np.fromiter((s.tx.nonce for s in signed_txs), dtype=np.int64, count=count),
            submit_times=np.zeros(count, dtype=np.int64) if submit_times is None else submit_times,
            hashes=hashes,
            signatures=signatures,
            payload_offsets=offsets,
            payload_buffer=buffer,
            accounts=table,
            extra=extra,
        )

    def to_transactions(self) -> list[SignedTransaction]:
        """The signed transactions the payloads encode, one object each (for tests and tools)."""
        if self.payload_buffer is None or self.payload_offsets is None:
            raise ValueError("this batch carries no payloads to decode transactions from")
        buffer = self.payload_buffer
        return [
            SignedTransaction.decode(buffer[start : start + size].tobytes())
            for start, size in zip(self.payload_offsets.tolist(), self.sizes.tolist(), strict=True)
        ]

    @classmethod
    def concat(cls, batches: Sequence[TxBatch]) -> TxBatch:
        """One batch holding the rows of ``batches`` in order.

        Optional columns must be present in all batches or in none, extra columns must have the
        same names, and account tables must be equal (or all absent): ValueError otherwise.
        Payload rows of batches sharing one buffer keep that buffer; otherwise the rows are
        gathered into a new one.
        """
        if not batches:
            return cls.empty()
        first = batches[0]
        for batch in batches[1:]:
            if batch.real_crypto != first.real_crypto or batch.has_payloads != first.has_payloads:
                raise ValueError(
                    "cannot concatenate real-crypto and modelled batches (or payloads)"
                )
            if set(batch.extra) != set(first.extra):
                raise ValueError(
                    f"extra columns differ: {sorted(first.extra)} vs {sorted(batch.extra)}"
                )
            if batch.accounts is not first.accounts and (
                batch.accounts is None
                or first.accounts is None
                or not np.array_equal(batch.accounts, first.accounts)
            ):
                raise ValueError("cannot concatenate batches whose senders index different tables")
        if first.signatures is not None:
            widths = {batch.signatures.shape[1] for batch in batches}  # type: ignore[union-attr]
            if len(widths) > 1:
                raise ValueError(f"signature sizes differ between batches: {sorted(widths)}")

        def joined(name: str) -> np.ndarray | None:
            parts = [getattr(batch, name) for batch in batches]
            return None if parts[0] is None else np.concatenate(parts)

        offsets = buffer = None
        if first.has_payloads:
            if all(batch.payload_buffer is first.payload_buffer for batch in batches):
                offsets, buffer = joined("payload_offsets"), first.payload_buffer
            else:
                packed = [_packed_payloads(batch) for batch in batches]
                starts = np.cumsum([0] + [len(part_buffer) for _, part_buffer in packed[:-1]])
                offsets = np.concatenate(
                    [o + start for (o, _), start in zip(packed, starts, strict=True)]
                )
                buffer = np.concatenate([part_buffer for _, part_buffer in packed])
        return cls(
            joined("ids"),
            joined("sizes"),
            joined("senders"),
            joined("nonces"),
            joined("submit_times"),
            hashes=joined("hashes"),
            signatures=joined("signatures"),
            payload_offsets=offsets,
            payload_buffer=buffer,
            accounts=first.accounts,
            extra={name: np.concatenate([b.extra[name] for b in batches]) for name in first.extra},
        )


def account_indices(addresses: np.ndarray, accounts: AccountTable) -> np.ndarray:
    """The index in ``accounts`` of each row of ``addresses`` (n×20), ``NO_ACCOUNT`` if absent.

    Vectorized: the table is sorted once as 20-byte keys and searched, no Python per row.

    >>> import numpy as np
    >>> table = np.array([[1] * 20, [2] * 20], dtype=np.uint8)
    >>> account_indices(np.array([[2] * 20, [9] * 20, [1] * 20], dtype=np.uint8), table).tolist()
    [1, -1, 0]
    """
    table = address_table(accounts)
    result = np.full(len(addresses), NO_ACCOUNT, dtype=np.int32)
    if not len(table) or not len(addresses):
        return result
    addresses = _rows("addresses", addresses, len(addresses), ADDRESS_SIZE)
    key = np.dtype((np.void, ADDRESS_SIZE))
    table_keys = np.ascontiguousarray(table).view(key).ravel()
    order = np.argsort(table_keys, kind="stable")
    sorted_keys = table_keys[order]
    wanted = np.ascontiguousarray(addresses).view(key).ravel()
    position = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
    found = sorted_keys[position] == wanted
    result[found] = order[position[found]]
    return result


def _packed_payloads(batch: TxBatch) -> tuple[np.ndarray, np.ndarray]:
    """The batch's payloads gathered into a fresh buffer of its own rows only, and their offsets."""
    assert batch.payload_offsets is not None and batch.payload_buffer is not None
    sizes = batch.sizes.astype(np.int64)
    offsets = np.zeros(len(batch), dtype=np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    # Position j of the new buffer reads old offset[row] + (j − new offset[row]).
    source = np.arange(int(sizes.sum())) + np.repeat(batch.payload_offsets - offsets, sizes)
    return offsets, batch.payload_buffer[source]
