"""Batch verification of FISCO's recoverable secp256k1 signatures against known senders' keys.

FISCO checks a signature r‖s‖v by recovering the signer's key and comparing it with the
sender's. When the sender's public key Q is already known, the same verdict is the equation
R − (e/s)·G − (r/s)·Q = O, where r and v fix R completely; a batch of such equations, each
multiplied by a secret random 128-bit zᵢ, is one multi-scalar multiplication with the keys of
repeated senders merged (docs/performance.md, "Batch verification of secp256k1"). The curve
arithmetic is this project's own C, :mod:`fiscosim.crypto._secp_batch`, built at install as
an optional extension; without a C compiler the package installs without it and
:func:`verify_batch` checks every row by libsecp256k1 recovery instead, with the same verdicts.

:func:`verify_batch` gives one verdict per row, identical to recover-then-compare:

- the rows' own checks come first (v in 0–3, r and s in [1, n−1], x = r (+ n for v ≥ 2) on
  the curve, a sender key on the curve); a row failing one never enters a sum;
- the whole batch's sum; when it is not O, bisection (each level one multi-scalar
  multiplication: the right half's sum is the range's minus the left's) while at most
  ``max_bad`` bad rows are known, about where checking one by one becomes cheaper (the
  measurement behind the default is in docs/performance.md);
- what bisection leaves, and batches smaller than ``min_batch``, are checked one by one by
  libsecp256k1 recovery (coincurve's cffi), which is faster per row than this module's own
  single-signature check.

The zᵢ come from SHA-256 of a per-process secret key (``os.urandom``, renewed in forked
children) and every byte of the batch: whoever crafts a batch cannot predict them, so a bad
row passes a sum only with probability 2⁻¹²⁸.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from fiscosim.crypto.single import uint8_rows

try:
    from fiscosim.crypto import _secp_batch as _native
except ImportError:  # built without a C compiler: the per-signature path serves
    _native = None

HASH_SIZE = 32
SIGNATURE_SIZE = 65
PUBKEY_SIZE = 64
MAX_BAD = 2
"""Bisect a failing batch while at most this many bad rows are known; past that, the rest of
the failing ranges one by one (issue 21's measurement: beyond about two bad rows, checking one
by one is cheaper)."""
MIN_RANGE = 8
"""Failing ranges smaller than this are checked one by one: the sums of a few rows cost more
than recovering them (benchmarks/secp_batch_speed.py measures where)."""
MIN_BATCH = 16
"""Batches smaller than this are checked one by one from the start: below it, a clean batch is
not reliably faster than recovering each row. Measured on a 2-vCPU AMD EPYC (family 25 model
17, Zen 4, AVX-512 IFMA) with ``OPENBLAS_NUM_THREADS=1 python benchmarks/secp_batch_speed.py
--sizes 8 12 16 24 32 --rounds 9 --seconds 1`` (3 runs) and ``--sizes 8 10 12 14 16 --rounds
41`` (8 runs), clean batch ÷ bare recovery, medians of the alternating rounds: 8 rows 0.93–1.00,
12 rows 0.97–1.10, 14 rows 1.00–1.14, 16 rows 1.00–1.18 (median 1.05), 24 and 32 rows
1.07–1.19. (Against :func:`recover_each`, the fallback, which also compares keys, the batch
wins from about 8 rows; bare recovery is the stricter bar.)"""
UNDECIDED = 2
"""The extension's verdict for a row it leaves to its caller to check by itself."""

_key = os.urandom(32)


def _new_key() -> None:
    global _key
    _key = os.urandom(32)


# A forked worker draws its own key: no two processes share the z_i of a batch.
os.register_at_fork(after_in_child=_new_key)


@functools.cache
def available() -> bool:
    """Whether the C extension was built (and passes its self-test)."""
    return _native is not None and bool(_native.selftest())


def backend() -> str:
    """What :func:`verify_batch` runs here, in words (for ``bench`` output and reports)."""
    if _native is None:
        return ("per-signature libsecp256k1 recovery (coincurve); the batch extension "
                "fiscosim.crypto._secp_batch was not built (no C compiler at install)")
    return "batch (fiscosim.crypto._secp_batch) + libsecp256k1 recovery for single rows"


def _check_inputs(hashes: object, signatures: object,
                  pubkeys: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = uint8_rows("hashes", hashes, HASH_SIZE)
    s = uint8_rows("signatures", signatures, SIGNATURE_SIZE)
    p = uint8_rows("pubkeys", pubkeys, PUBKEY_SIZE)
    if not len(h) == len(s) == len(p):
        raise ValueError(f"hashes, signatures and pubkeys differ in length: "
                         f"{len(h)}, {len(s)}, {len(p)}")
    return h, s, p


def recover_each(hashes: np.ndarray, signatures: np.ndarray, pubkeys: np.ndarray,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """Recover-then-compare, one row at a time through libsecp256k1 (coincurve's cffi).

    FISCO's own rule, the reference every batch verdict must equal. ``rows`` limits the work
    to those row indices (the others come out False). libsecp256k1 aborts the process on a
    recovery id above 3, so v is screened first; r or s of zero or ≥ n make its parsing or
    recovery fail, and so come out False.
    """
    from fiscosim.crypto.secp256k1 import recover_public_keys

    hashes, signatures, pubkeys = _check_inputs(hashes, signatures, pubkeys)
    count = len(hashes)
    verdicts = np.zeros(count, dtype=bool)
    if rows is None:
        rows = np.arange(count)
    rows = rows[signatures[rows, 64] <= 3]
    if len(rows) == 0:
        return verdicts
    index, keys = recover_public_keys(hashes, signatures, rows)
    if len(index):
        got = np.frombuffer(bytes(keys), dtype=np.uint8).reshape(len(index), 64)
        verdicts[index] = (got == pubkeys[index]).all(axis=1)
    return verdicts


def verify_batch(
    hashes: np.ndarray,
    signatures: np.ndarray,
    pubkeys: np.ndarray,
    *,
    max_bad: int = MAX_BAD,
    min_range: int = MIN_RANGE,
    min_batch: int = MIN_BATCH,
) -> np.ndarray:
    """Per-row verdicts for n signatures against their senders' known public keys.

    ``hashes`` n×32, ``signatures`` n×65 (r‖s‖v, v the raw recovery id 0–3), ``pubkeys``
    n×64 (x‖y), all uint8. Row i is True exactly when recovering row i's signature gives
    row i's key (high s is accepted, as FISCO does). Malformed rows are False, never an
    exception; inputs of the wrong shape or dtype are a ValueError.

    >>> import numpy as np
    >>> from fiscosim.crypto import get_suite
    >>> s = get_suite("secp256k1")
    >>> key, pub = s.generate_keypair(np.random.default_rng(0))
    >>> h = s.hash(b"transfer 10")
    >>> rows = lambda b, w: np.frombuffer(b, np.uint8).reshape(1, w)
    >>> verify_batch(rows(h, 32), rows(s.sign(h, key), 65), rows(pub, 64)).tolist()
    [True]
    """
    hashes, signatures, pubkeys = _check_inputs(hashes, signatures, pubkeys)
    count = len(hashes)
    if count == 0:
        return np.zeros(0, dtype=bool)
    if _native is None or count < min_batch:
        return recover_each(hashes, signatures, pubkeys)
    raw, _checks, _rows, _singles = _native.verify(
        hashes, signatures, pubkeys, _key, max_bad=max_bad, min_range=min_range)
    codes = np.frombuffer(raw, dtype=np.uint8)
    verdicts = codes == 1
    undecided = np.flatnonzero(codes == UNDECIDED)
    if len(undecided):
        verdicts[undecided] = recover_each(hashes, signatures, pubkeys, undecided)[undecided]
    return verdicts


def verify_batch_stats(
    hashes: np.ndarray,
    signatures: np.ndarray,
    pubkeys: np.ndarray,
    *,
    max_bad: int = MAX_BAD,
    min_range: int = MIN_RANGE,
) -> dict[str, int]:
    """What :func:`verify_batch` spends on one batch: the sums it computes (``batch_checks``,
    over ``batch_rows`` rows in all) and the rows it leaves to one-by-one recovery
    (``recovered``). Needs the extension."""
    if _native is None:
        raise RuntimeError("the batch extension fiscosim.crypto._secp_batch is not built")
    hashes, signatures, pubkeys = _check_inputs(hashes, signatures, pubkeys)
    raw, checks, rows, _singles = _native.verify(
        hashes, signatures, pubkeys, _key, max_bad=max_bad, min_range=min_range)
    recovered = int((np.frombuffer(raw, dtype=np.uint8) == UNDECIDED).sum())
    return {"batch_checks": checks, "batch_rows": rows, "recovered": recovered}
