"""SM2 verification with per-sender precomputed tables (issue 21, part 1).

FISCO BCOS's guomi suite verifies r‖s against the public key that travels in the signature
(:mod:`fiscosim.crypto.sm2`): (x1, y1) = [s]G + [t]P with t = (r + s) mod n, accepted iff
(e + x1) mod n = r, e = SM3(Z_A ‖ M). Senders repeat within a block, so the multiples of each
key P can be precomputed once and reused: :mod:`fiscosim.crypto._sm2_tables`, this project's
own C (built at install as an optional extension, like ``_secp_batch``), keeps for a point P
the table k·16ʲ·P (j = 0..63, k = 1..15, 61,440 bytes, affine), so that [t]P is at most 64
mixed additions with no doubling; G's table is built once per process. [s]G + [t]P then costs
at most 128 mixed additions, against roughly 256 doublings plus additions for a key without a
table (libippcp, :mod:`fiscosim.crypto.sm2_ipp`, has a table for G only).

Building a key's table costs about ten verifications: 0.41-0.47 ms on one core of the
2-vCPU Zen 4 EPYC development machine, against 35-43 µs per verification with a warm table
(rows in place, 23,500-25,900 verified/s through :func:`verify_with_tables` on batches of 4,096
by 256 senders; libippcp's ``ipp`` backend 9,200-10,300/s, tongsuopy 2,700-3,100/s on the
same batches). So tables pay when a sender signs more than about ten of the rows verified
while its table stays cached (:class:`TableCache`): cold, 16 rows per sender, they still ran
1.2-1.7x ipp; a batch of distinct one-off senders is 3x slower with a table each, which is
what ``min_rows`` avoids (rare keys go to another backend). ``benchmarks/sm2_tables_speed.py``
measures all of it.

:func:`verify_with_tables` gives the same verdicts as :meth:`Sm2Suite.verify_shard
<fiscosim.crypto.sm2.Sm2Suite.verify_shard>` with any backend: the same screening (r and s in
[1, n−1], key coordinates below p and the key on the curve, :func:`fiscosim.crypto.sm2._screen`
itself), t = 0 rejected, and with expected senders the address rule of
:func:`fiscosim.crypto.verify_batch`, address = SM3(X‖Y)[−20:].
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import OrderedDict

import numpy as np

from fiscosim.crypto.single import uint8_rows
from fiscosim.crypto.sm2 import (
    _SELF_CHECK_HASH,
    _SELF_CHECK_SIGNATURE,
    SM2_N,
    Sm2Suite,
    make_sm2_suite,
    message_digests,
)
from fiscosim.crypto.sm2 import (
    SIGNATURE_SIZE as SM2_SIGNATURE_SIZE,
)

try:
    from fiscosim.crypto import _sm2_tables as _native
except ImportError:  # built without a C compiler
    _native = None

HASH_SIZE = 32
SIGNATURE_SIZE = SM2_SIGNATURE_SIZE
ADDRESS_SIZE = 20
TABLE_SIZE = 64 * 15 * 64
"""Bytes of one key's table: 64 windows × 15 multiples × an affine point of 64 bytes."""
DEFAULT_MAX_KEYS = 4096
"""Tables a :class:`TableCache` keeps by default: 4,096 × 60 KiB = 240 MiB at most."""


def _reason() -> str:
    if _native is None:
        return ("the extension fiscosim.crypto._sm2_tables was not built (no C compiler at "
                "install)")
    try:
        _native.selftest()
    except RuntimeError as error:
        return str(error)
    if _native.TABLE_SIZE != TABLE_SIZE:
        return f"the extension's tables are {_native.TABLE_SIZE} bytes, expected {TABLE_SIZE}"
    verdicts = _known_answers()
    if verdicts != [True, False, False, False]:
        return (f"self-check: verdicts {verdicts} on a known-good signature, two tampered "
                "copies and a t = 0 forgery disagree with the fallback's [True, False, False, "
                "False]")
    return ""


def _known_answers() -> list[bool]:
    """The extension's verdicts on sm2's self-check signature (made by tongsuopy, verified by
    gmssl-pyx), a tampered message, a tampered s and the t = 0 forgery r = e mod n, s = n − r."""
    good = np.frombuffer(_SELF_CHECK_SIGNATURE, dtype=np.uint8)
    hashes = np.tile(np.frombuffer(_SELF_CHECK_HASH, dtype=np.uint8), (4, 1))
    signatures = np.tile(good, (4, 1))
    hashes[1, 0] ^= 1
    signatures[2, 63] ^= 1
    keys = signatures[:1, 64:].copy()
    digests = message_digests(hashes, np.zeros(4, dtype=np.intp), keys)
    r = int.from_bytes(digests[3].tobytes(), "big") % SM2_N
    signatures[3, :64] = np.frombuffer(
        r.to_bytes(32, "big") + (SM2_N - r).to_bytes(32, "big"), dtype=np.uint8
    )
    table = _native.precompute(keys.tobytes())
    raw = _native.verify(digests.tobytes(), signatures.tobytes(),
                         np.zeros(4, dtype=np.int32).tobytes(), (table,))  # fmt: skip
    return [bool(v) for v in raw]


@functools.cache
def why_unavailable() -> str:
    """Why :func:`available` is False, in words; empty when it is True."""
    return _reason()


def available() -> bool:
    """Whether the extension was built and passes its self-test: its own arithmetic checks,
    then a known signature accepted and its tampered copies (and the t = 0 forgery) rejected."""
    return why_unavailable() == ""


class TableCache:
    """Public key (64 bytes X‖Y) → its table, at most ``max_keys`` of them; the least recently
    used goes first when a new one needs the room.

    ``built`` and ``hits`` count tables built and tables found, for reports and benchmarks.
    A batch holds references to the tables it uses, so one batch with more distinct keys than
    ``max_keys`` still works (the surplus is simply not kept).
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.max_keys = int(max_keys)
        self._tables: OrderedDict[bytes, bytes] = OrderedDict()
        self.built = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._tables)

    def __contains__(self, public_key: object) -> bool:
        return bytes(public_key) in self._tables  # type: ignore[arg-type]

    def clear(self) -> None:
        self._tables.clear()

    def table(self, public_key: bytes) -> bytes:
        """The key's table, built now if it is not cached (ValueError for a key off the curve
        or of the wrong length)."""
        key = bytes(public_key)
        table = self._tables.get(key)
        if table is not None:
            self._tables.move_to_end(key)
            self.hits += 1
            return table
        if not available():
            raise RuntimeError(f"SM2 tables cannot be used here: {why_unavailable()}")
        table = _native.precompute(key)
        self.built += 1
        self._tables[key] = table
        while len(self._tables) > self.max_keys:
            self._tables.popitem(last=False)
        return table

    def tables(self, keys: np.ndarray) -> tuple[bytes, ...]:
        """Tables of each row of a k×64 uint8 array of keys, in order."""
        keys = np.ascontiguousarray(keys, dtype=np.uint8)
        data = keys.tobytes()
        return tuple(self.table(data[64 * i : 64 * i + 64]) for i in range(len(keys)))


def verify_with_tables(
    cache: TableCache,
    hashes: np.ndarray,
    signatures: np.ndarray,
    expected_senders: np.ndarray | None = None,
    *,
    return_senders: bool = False,
    min_rows: int = 1,
    others: Sm2Suite | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Verdicts of n FISCO SM2 signatures, keys' tables taken from (or added to) ``cache``.

    ``hashes`` n×32 uint8 are the signed transaction hashes (M), ``signatures`` n×128 uint8
    r‖s‖X‖Y. With ``expected_senders`` (n×20) a row is valid only when its key's address
    SM3(X‖Y)[−20:] is that sender. Returns a bool array, and with ``return_senders`` also the
    n×20 addresses (zeros where invalid), exactly as :func:`fiscosim.crypto.verify_batch` with
    the SM2 suite would. Malformed rows are False, never an exception; inputs of the wrong
    shape or dtype are a ValueError.

    A key not in the cache gets a table only when it signs at least ``min_rows`` of the rows
    (default 1: always); the rows of the other keys go to ``others`` (default:
    :func:`make_sm2_suite() <fiscosim.crypto.sm2.make_sm2_suite>`'s choice), which gives the
    same verdicts. A table costs about ten verifications, so a key seen once is cheaper
    without one (``benchmarks/sm2_tables_speed.py``).
    """
    hashes = uint8_rows("hashes", hashes, HASH_SIZE)
    signatures = uint8_rows("signatures", signatures, SIGNATURE_SIZE)
    count = len(hashes)
    if len(signatures) != count:
        raise ValueError(f"hashes and signatures differ in length: {count} vs {len(signatures)}")
    if expected_senders is not None:
        expected_senders = uint8_rows("expected_senders", expected_senders, ADDRESS_SIZE)
        if len(expected_senders) != count:
            raise ValueError(f"hashes and expected_senders differ in length: {count} vs "
                             f"{len(expected_senders)}")  # fmt: skip
    ok = np.zeros(count, dtype=bool)
    recovered = np.zeros((count, ADDRESS_SIZE), dtype=np.uint8)
    TablesSuite(cache, min_rows, others).verify_shard(hashes, signatures, ok, recovered)
    if expected_senders is not None:
        ok &= (recovered == expected_senders).all(axis=1)
    return (ok, recovered) if return_senders else ok


def verify_screened(cache: TableCache, hashes: np.ndarray, signatures: np.ndarray,
                    lanes: np.ndarray, key_of_lane: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Verdicts of rows already screened by :func:`fiscosim.crypto.sm2._screen` (``lanes``:
    their row indices, ``key_of_lane``: each one's key among ``keys``), in ``lanes``' order,
    through the keys' tables (built into ``cache`` where missing). For a backend that has
    screened the rows itself (:class:`TablesSuite`)."""
    if not available():
        raise RuntimeError(f"SM2 tables cannot be used here: {why_unavailable()}")
    verdicts = np.zeros(len(lanes), dtype=bool)
    if len(lanes) == 0:
        return verdicts
    # Rows of one key together: its table stays in the CPU's cache between them.
    order = np.argsort(key_of_lane, kind="stable")
    sorted_lanes, sorted_keys = lanes[order], key_of_lane[order]
    digests = message_digests(hashes[sorted_lanes], sorted_keys, keys)
    raw = _native.verify(
        digests,
        np.ascontiguousarray(signatures[sorted_lanes]),
        sorted_keys.astype(np.int32),
        cache.tables(keys),
    )
    verdicts[order] = np.frombuffer(raw, dtype=np.uint8).astype(bool)
    return verdicts


# -- the SM2 suite's ``tables`` backend -----------------------------------------------------------

TABLE_AFTER_ROWS = 8
"""The ``tables`` backend builds a key's table once this process has seen the key sign this many
rows (this call's included): a table costs about eleven verifications through it, so a key
that signs a few rows is cheaper through ipp (docs/performance.md, "Per-sender tables")."""
MAX_COUNTED_KEYS = 1_000_000
"""Keys whose rows the ``tables`` backend counts at most; past it the counts start again."""
TABLES_WORDS = (f"per-sender tables (fiscosim.crypto._sm2_tables) for keys seen in "
                f"{TABLE_AFTER_ROWS} rows or more, the others through the suite's automatic "
                "backend")


class TablesSuite(Sm2Suite):
    """The SM2 suite verifying through per-sender tables (:func:`verify_screened`) the rows of
    keys whose table is in ``cache`` or that sign at least ``min_rows`` rows, and the others
    through ``others`` (default: :func:`make_sm2_suite() <fiscosim.crypto.sm2.make_sm2_suite>`'s
    automatic choice); screening and addresses are :class:`Sm2Suite`'s.

    With no ``cache`` it is the suite's ``tables`` backend (:func:`make_tables_suite`): this
    process's tables, and rows counted across calls, so a key gets its table once the process
    has seen it sign :data:`TABLE_AFTER_ROWS` rows; it pickles as that backend, each process
    keeping its own tables. With a ``cache`` (:func:`verify_with_tables`) only this call's rows
    count.
    """

    def __init__(self, cache: TableCache | None = None, min_rows: int = TABLE_AFTER_ROWS,
                 others: Sm2Suite | None = None) -> None:
        super().__init__("fallback")
        self.backend_name = "tables"
        self.cache = cache
        self.min_rows = min_rows
        self.others = others

    @property
    def backend(self) -> str:
        return TABLES_WORDS

    def __reduce__(self) -> tuple:
        return (make_tables_suite, ())

    def __repr__(self) -> str:
        return "TablesSuite()"

    def verify_lanes(self, hashes: np.ndarray, signatures: np.ndarray, lanes: np.ndarray,
                     key_of_lane: np.ndarray, keys: np.ndarray) -> np.ndarray:
        if not available():  # e.g. unpickled in a process where it cannot run
            raise RuntimeError(f"SM2 tables cannot run here: {why_unavailable()}")
        if self.cache is None:
            state = _tables_state()
            cache, seen, lock = state.cache, state.seen, state.lock
        else:
            cache, seen, lock = self.cache, None, contextlib.nullcontext()
        counts = np.bincount(key_of_lane, minlength=len(keys))
        data = keys.tobytes()
        verdicts = np.zeros(len(lanes), dtype=bool)
        with lock:
            if seen is not None and len(seen) > MAX_COUNTED_KEYS:
                seen.clear()
            tabled = np.zeros(len(keys), dtype=bool)
            for i in range(len(keys)):  # per distinct key, not per row
                key = data[64 * i : 64 * i + 64]
                rows = int(counts[i])
                if seen is not None:
                    rows += seen.get(key, 0)
                    seen[key] = rows
                tabled[i] = rows >= self.min_rows or key in cache
            use = tabled[key_of_lane]
            if use.any():
                renumber = np.cumsum(tabled) - 1
                verdicts[use] = verify_screened(
                    cache, hashes, signatures, lanes[use], renumber[key_of_lane[use]],
                    keys[tabled])
        rest = ~use
        if rest.any():
            others = self.others if self.others is not None else make_sm2_suite()
            verdicts[rest] = others.verify_lanes(hashes, signatures, lanes[rest],
                                                 key_of_lane[rest], keys)
        return verdicts


def make_tables_suite() -> TablesSuite:
    """The ``tables`` SM2 suite; RuntimeError, saying why, where the extension cannot run."""
    if not available():
        raise RuntimeError(f"the tables SM2 backend cannot run: {why_unavailable()}")
    return TablesSuite()


class _TablesState:
    """The ``tables`` backend's per-process state: the tables, and how many rows each key was
    seen to sign; one lock, as pool threads may share it."""

    def __init__(self) -> None:
        self.cache = TableCache()
        self.seen: dict[bytes, int] = {}
        self.lock = threading.Lock()


@functools.cache
def _tables_state() -> _TablesState:
    return _TablesState()


os.register_at_fork(after_in_child=_tables_state.cache_clear)
