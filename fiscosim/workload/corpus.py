"""A corpus of really signed FISCO BCOS transactions: signed once, cached on disk, reused by runs.

Real-crypto mode (docs/architecture.md rule 4) sends really signed transactions through the
simulated chain, so that every txpool asks the real verification core and a tampered transaction is
really rejected. Signing is the slow part of that (~4,500 SM2 to ~12,000 secp256k1 transactions
per second and core, see below), far slower than a simulated chain consumes transactions, so a run
does not sign: it takes rows of a :class:`Corpus`, built once by :func:`build_corpus` and kept
in an ``.npz`` file by :func:`load_or_build`, and gives them its own run-wide ids and submit
times (:meth:`Corpus.batch`).

What a corpus holds (columnar, one row per transaction, docs/architecture.md rule 2): ``accounts``
(the a×20 addresses of the signing accounts), ``hashes`` (n×32), ``signatures`` (n×S), ``senders``
(int32 row of ``accounts``), ``nonces`` (int64) and ``sizes`` (int32, the length of the signed
transaction's encoding, what the bandwidth model charges). The data fields that are not stored
(input bytes, contract address) are regenerated from the seed by :meth:`Corpus.transactions`.

Determinism. Everything is a function of the arguments: the accounts' keys come from a
generator seeded with ``SeedSequence(seed)``; rows are cut into chunks of :data:`CHUNK_ROWS`
and chunk ``c`` draws its senders and inputs from its own ``SeedSequence(seed, spawn_key=...)``,
always a full chunk's worth, so neither the number of signing processes nor the corpus size
changes a row: the first ``m`` rows of a larger corpus are the corpus of ``m`` rows (which is
what lets a cached larger corpus serve a smaller request). Nonces are a bijection of the row
number (unique by construction). secp256k1 signatures are RFC 6979 (deterministic) already;
SM2 signing draws a random nonce k in the suite (as FISCO does), so the corpus signs SM2 itself
with a k derived from the key and the hash, and a fixed-base comb for k·G (:func:`_sm2_sign`).

Measured signing rates, whole pipeline (build the transaction, encode, hash, sign, re-encode
for the size; the accounts' 1000 keys included), one process, on the development host (AMD
EPYC, 2 vCPUs shared with other jobs), ``python -m fiscosim.workload.corpus 100000 2``::

    secp256k1   ~12,000 tx/s   (100,000 in 8.3 s; coincurve's RFC 6979 signing)
    sm2          ~4,500 tx/s   (100,000 in 22 s; the suite's own random-k signer through
                                tongsuopy signs ~2,700/s bare, its k·G alone ~2,500/s)

Chunks are shared by a pool of ``workers`` processes (default: one per core) when there are
several; on that host the second vCPU was busy with another job, so the pool of 2 measured no
faster than one process, and the figures above are per core.

Tampering (:func:`tamper`) flips one bit of a signature's ``s``: the transaction hash, which
the txpool's duplicate check keys on, is unchanged, but the signature no longer proves the
sender, so the real core rejects it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing as mp
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fiscosim.chain.transaction import ADDRESS_SIZE, SignedTransaction, Transaction
from fiscosim.chain.txbatch import TxBatch
from fiscosim.crypto.batch import default_workers, verify_batch
from fiscosim.crypto.suite import CryptoSuite, get_suite

FORMAT_VERSION = 1
"""Version of the corpus content and its file format; part of the cache file name, so a change
to how rows are generated (or stored) never serves an old file."""
CHUNK_ROWS = 4096
"""Rows per signing chunk. Part of what a row depends on (its chunk's random stream), hence
covered by :data:`FORMAT_VERSION`; not a tuning knob."""
CACHE_ENV = "FISCOSIM_CACHE"
"""Environment variable naming the corpus cache folder."""
HASH_SIZE = 32
S_OFFSET = 32
"""Byte offset of ``s`` in both suites' signatures (r‖s‖v and r‖s‖public key)."""

# Stream numbers of the spawn keys under SeedSequence(seed): one per purpose, so that adding a
# purpose later never shifts another's draws.
_KEYS_STREAM = 0
_CHUNK_STREAM = 1
_CONTRACT_STREAM = 2
_NONCE_STREAM = 3
_NONCE_MULTIPLIER = 0x9E3779B97F4A7C15  # odd, so row ↦ row·M + o is a bijection mod 2**63
_NONCE_MASK = 2**63 - 1

Progress = Callable[[int, int], None]
"""``progress(rows_signed, rows_total)``, called after each chunk."""


class CorpusCacheWarning(UserWarning):
    """A cached corpus could not be read (and is rebuilt) or written (and is not kept)."""


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class Corpus:
    """Really signed transactions as columns; see the module docstring.

    Arrays are read-only. ``eq=False``: two corpora compare by :meth:`digest`, not by identity
    of their arrays.
    """

    suite: str
    seed: int
    count: int
    accounts: np.ndarray
    """a×20 uint8: account k's address is row k."""
    hashes: np.ndarray
    """n×32 uint8 transaction hashes (the messages signed)."""
    signatures: np.ndarray
    """n×S uint8 signatures (S = 65 for secp256k1, 128 for sm2)."""
    senders: np.ndarray
    """int32: the row of ``accounts`` whose key signed each transaction."""
    nonces: np.ndarray
    """int64, unique within the corpus."""
    sizes: np.ndarray
    """int32: bytes of each signed transaction's encoding."""
    chain_id: str = "chain0"
    group_id: str = "group0"
    block_limit: int = 1000
    input_size: int = 100
    """Bytes of call data in each transaction."""

    def __post_init__(self) -> None:
        n = self.count
        signature_size = get_suite(self.suite).signature_size
        expected = {
            "accounts": ((len(self.accounts), ADDRESS_SIZE), np.uint8),
            "hashes": ((n, HASH_SIZE), np.uint8),
            "signatures": ((n, signature_size), np.uint8),
            "senders": ((n,), np.int32),
            "nonces": ((n,), np.int64),
            "sizes": ((n,), np.int32),
        }
        for name, (shape, dtype) in expected.items():
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != dtype:
                got = (getattr(array, "shape", None), getattr(array, "dtype", type(array)))
                raise ValueError(
                    f"corpus column {name} must be {shape} {np.dtype(dtype)}, got {got}"
                )
            object.__setattr__(self, name, _read_only(array))
        if n and (self.senders.min() < 0 or self.senders.max() >= len(self.accounts)):
            raise ValueError("corpus senders must index the account table")

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return (
            f"<Corpus {self.suite} of {self.count} transactions by {len(self.accounts)} "
            f"accounts, seed {self.seed}>"
        )

    @property
    def to(self) -> bytes:
        """The 20-byte contract address every transaction calls (drawn from the seed)."""
        return _contract_address(self.seed)

    def head(self, count: int) -> Corpus:
        """The corpus of the first ``count`` rows (views): what :func:`build_corpus` gives for
        ``count`` with the same other arguments."""
        if not 0 <= count <= self.count:
            raise ValueError(f"cannot take {count} rows of a corpus of {self.count}")
        return Corpus(
            suite=self.suite,
            seed=self.seed,
            count=count,
            accounts=self.accounts,
            hashes=self.hashes[:count],
            signatures=self.signatures[:count],
            senders=self.senders[:count],
            nonces=self.nonces[:count],
            sizes=self.sizes[:count],
            chain_id=self.chain_id,
            group_id=self.group_id,
            block_limit=self.block_limit,
            input_size=self.input_size,
        )

    def batch(self, rows: np.ndarray | slice, ids: np.ndarray, submit_times: np.ndarray) -> TxBatch:
        """A real-crypto :class:`TxBatch` of corpus ``rows`` with run-wide ``ids`` and
        ``submit_times`` (µs).

        The batch carries hashes, signatures and the corpus's account table (the same array
        object for every batch, so batches concatenate without comparing tables), not payloads.
        A slice gives views, an index array copies the selected rows.
        """
        return TxBatch(
            ids,
            self.sizes[rows],
            self.senders[rows],
            self.nonces[rows],
            submit_times,
            hashes=self.hashes[rows],
            signatures=self.signatures[rows],
            accounts=self.accounts,
        )

    def transactions(self, rows: np.ndarray | slice) -> list[SignedTransaction]:
        """The signed transactions of ``rows``, their data regenerated from the seed.

        One object per row: for tests and tools, not for a run's hot path.
        """
        indices = np.arange(self.count)[rows]
        accounts = len(self.accounts)
        inputs: dict[int, bytes] = {}
        result = []
        for row in indices.tolist():
            chunk, offset = divmod(row, CHUNK_ROWS)
            if chunk not in inputs:
                _, inputs[chunk] = _chunk_draws(self.seed, chunk, accounts, self.input_size)
            tx = Transaction(
                chain_id=self.chain_id,
                group_id=self.group_id,
                block_limit=self.block_limit,
                nonce=int(self.nonces[row]),
                to=self.to,
                input=inputs[chunk][offset * self.input_size : (offset + 1) * self.input_size],
            )
            result.append(SignedTransaction(tx, self.signatures[row].tobytes()))
        return result

    def params(self) -> dict[str, Any]:
        """The arguments of :func:`build_corpus` other than suite, count, accounts and seed."""
        return {
            "chain_id": self.chain_id,
            "group_id": self.group_id,
            "block_limit": self.block_limit,
            "input_size": self.input_size,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """The corpus's columns by name, in a fixed order."""
        return {
            "accounts": self.accounts,
            "hashes": self.hashes,
            "signatures": self.signatures,
            "senders": self.senders,
            "nonces": self.nonces,
            "sizes": self.sizes,
        }

    def metadata(self) -> dict[str, Any]:
        """What the arrays do not say: the arguments that built them and the format."""
        return {
            "format": FORMAT_VERSION,
            "chunk_rows": CHUNK_ROWS,
            "suite": self.suite,
            "seed": self.seed,
            "count": self.count,
            "accounts": len(self.accounts),
            **self.params(),
        }

    def digest(self) -> str:
        """SHA-256 (hex) over the metadata and every array's dtype, shape and bytes."""
        return self._digest

    @functools.cached_property
    def _digest(self) -> str:
        # cached_property writes the instance __dict__ directly, which a frozen dataclass allows;
        # the arrays are read-only, so the digest cannot go stale.
        return _digest(self.metadata(), self.arrays())


def _digest(metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode())
    for name, array in arrays.items():
        h.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


# --- building -------------------------------------------------------------------------------


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


@functools.cache
def _contract_address(seed: int) -> bytes:
    return _rng(seed, _CONTRACT_STREAM).bytes(ADDRESS_SIZE)


def _nonces(seed: int, rows: np.ndarray) -> np.ndarray:
    """Nonce of each row: ``(row·M + o) mod 2**63``, M odd, so distinct rows never collide."""
    offset = np.uint64(_rng(seed, _NONCE_STREAM).integers(0, _NONCE_MASK, dtype=np.int64))
    with np.errstate(over="ignore"):  # wrapping mod 2**64 is the point
        mixed = rows.astype(np.uint64) * np.uint64(_NONCE_MULTIPLIER) + offset
    return (mixed & np.uint64(_NONCE_MASK)).astype(np.int64)


def _chunk_draws(seed: int, chunk: int, accounts: int, input_size: int) -> tuple[np.ndarray, bytes]:
    """(senders, inputs) of a full chunk: always CHUNK_ROWS rows' worth, so prefixes agree."""
    rng = _rng(seed, _CHUNK_STREAM, chunk)
    senders = rng.integers(0, accounts, size=CHUNK_ROWS, dtype=np.int32)
    return senders, rng.bytes(CHUNK_ROWS * input_size)


@dataclass(frozen=True)
class _Plan:
    """What a signing process needs: the keys and the transactions' common fields."""

    suite: str
    seed: int
    count: int
    private_keys: tuple[bytes, ...]
    public_keys: tuple[bytes, ...]
    chain_id: str
    group_id: str
    block_limit: int
    input_size: int


def _sign_chunk(plan: _Plan, chunk: int) -> tuple[bytes, bytes, np.ndarray, np.ndarray]:
    """(hashes, signatures, senders, sizes) of the corpus rows in ``chunk``."""
    suite = get_suite(plan.suite)
    start = chunk * CHUNK_ROWS
    stop = min(start + CHUNK_ROWS, plan.count)
    senders, inputs = _chunk_draws(plan.seed, chunk, len(plan.private_keys), plan.input_size)
    senders = senders[: stop - start]
    nonces = _nonces(plan.seed, np.arange(start, stop)).tolist()
    to = _contract_address(plan.seed)
    size = plan.input_size
    sign: Callable[[bytes, int], bytes]
    if plan.suite == "sm2":
        za = [_sm2_za(public) for public in plan.public_keys]
        inverses: dict[int, int] = {}

        def sign(msg_hash: bytes, account: int) -> bytes:
            return _sm2_sign(
                msg_hash,
                plan.private_keys[account],
                plan.public_keys[account],
                za[account],
                inverses,
            )
    else:

        def sign(msg_hash: bytes, account: int) -> bytes:
            return suite.sign(msg_hash, plan.private_keys[account])

    hashes, signatures = [], []
    sizes = np.zeros(stop - start, dtype=np.int32)
    for i, account in enumerate(senders.tolist()):
        tx = Transaction(
            chain_id=plan.chain_id,
            group_id=plan.group_id,
            block_limit=plan.block_limit,
            nonce=nonces[i],
            to=to,
            input=inputs[i * size : (i + 1) * size],
        )
        msg_hash = tx.hash(suite)
        signature = sign(msg_hash, account)
        hashes.append(msg_hash)
        signatures.append(signature)
        sizes[i] = len(SignedTransaction(tx, signature).encode())
    return b"".join(hashes), b"".join(signatures), senders, sizes


_WORKER_PLAN: _Plan | None = None


def _init_worker(plan: _Plan) -> None:
    global _WORKER_PLAN
    _WORKER_PLAN = plan


def _sign_chunk_in_worker(chunk: int) -> tuple[bytes, bytes, np.ndarray, np.ndarray]:
    assert _WORKER_PLAN is not None
    return _sign_chunk(_WORKER_PLAN, chunk)


def _signed_chunks(plan: _Plan, chunks: int, workers: int) -> Iterator[tuple]:
    """Each chunk's result in chunk order, from this process or a pool of ``workers``."""
    if workers <= 1 or chunks <= 1:
        for chunk in range(chunks):
            yield _sign_chunk(plan, chunk)
        return
    if plan.suite == "sm2":
        _sm2_comb()  # built once here, inherited by the forked workers
    # fork, as the verification core does: spawn would re-import __main__ (scripts without a
    # main guard would run again) and pay numpy's import per worker.
    context = mp.get_context("fork" if sys.platform == "linux" else "spawn")
    with context.Pool(min(workers, chunks), _init_worker, (plan,)) as pool:
        yield from pool.imap(_sign_chunk_in_worker, range(chunks))


def build_corpus(
    suite: str,
    count: int,
    accounts: int = 1000,
    seed: int = 2022,
    chain_id: str = "chain0",
    group_id: str = "group0",
    block_limit: int = 1000,
    input_size: int = 100,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
) -> Corpus:
    """Signs ``count`` transactions by ``accounts`` seeded accounts; a function of its arguments.

    Each transaction calls one contract (address drawn from the seed) with ``input_size``
    seeded bytes of input, a unique nonce and ``block_limit``, and is signed by its sender's
    key. ``workers`` signing processes (default: one per core; the result does not depend on
    it) share the chunks when there are several. A sample of the rows is verified by the real
    core before the corpus is returned, so a signer fault cannot leave a corpus that lies.

    >>> corpus = build_corpus("secp256k1", 3, accounts=2, seed=1, workers=1)
    >>> corpus.hashes.shape, corpus.signatures.shape, corpus.senders.dtype.name
    ((3, 32), (3, 65), 'int32')
    >>> bool(corpus.batch(slice(None), [7, 8, 9], [0, 0, 0]).verify(get_suite("secp256k1")).all())
    True
    """
    suite_obj = get_suite(suite)
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    if accounts < 1:
        raise ValueError(f"a corpus needs at least one account, got {accounts}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if input_size < 0:
        raise ValueError(f"input_size must be non-negative, got {input_size}")
    Transaction(chain_id=chain_id, group_id=group_id, block_limit=block_limit, nonce=0)  # checks

    key_rng = _rng(seed, _KEYS_STREAM)
    keys = [suite_obj.generate_keypair(key_rng) for _ in range(accounts)]
    table = np.frombuffer(
        b"".join(suite_obj.address_of(public) for _, public in keys), dtype=np.uint8
    ).reshape(accounts, ADDRESS_SIZE)
    plan = _Plan(
        suite=suite,
        seed=seed,
        count=count,
        private_keys=tuple(private for private, _ in keys),
        public_keys=tuple(public for _, public in keys),
        chain_id=chain_id,
        group_id=group_id,
        block_limit=block_limit,
        input_size=input_size,
    )
    chunks = -(-count // CHUNK_ROWS)
    parts = []
    processes = default_workers() if workers is None else workers
    for chunk_result in _signed_chunks(plan, chunks, processes):
        parts.append(chunk_result)
        if progress is not None:
            progress(min(len(parts) * CHUNK_ROWS, count), count)
    signature_size = suite_obj.signature_size
    corpus = Corpus(
        suite=suite,
        seed=seed,
        count=count,
        accounts=table.copy(),
        hashes=np.frombuffer(b"".join(p[0] for p in parts), dtype=np.uint8).reshape(
            count, HASH_SIZE
        ),
        signatures=np.frombuffer(b"".join(p[1] for p in parts), dtype=np.uint8).reshape(
            count, signature_size
        ),
        senders=np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int32),
        nonces=_nonces(seed, np.arange(count)),
        sizes=np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, np.int32),
        chain_id=chain_id,
        group_id=group_id,
        block_limit=block_limit,
        input_size=input_size,
    )
    _self_check(corpus, suite_obj)
    return corpus


def _self_check(corpus: Corpus, suite: CryptoSuite) -> None:
    """Verifies up to 64 rows spread over the corpus; RuntimeError if one fails."""
    if corpus.count == 0:
        return
    rows = np.unique(np.linspace(0, corpus.count - 1, num=min(64, corpus.count)).astype(np.int64))
    ok = verify_batch(
        corpus.hashes[rows],
        corpus.signatures[rows],
        corpus.accounts[corpus.senders[rows]],
        suite=suite,
        workers=1,
    )
    if not ok.all():
        raise RuntimeError(
            f"corpus self-check: {int((~ok).sum())} of {len(rows)} sampled {corpus.suite} "
            "signatures do not verify; the signer is broken"
        )


# --- deterministic SM2 signing ----------------------------------------------------------------


def _sm2_za(public_key: bytes) -> bytes:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A), default ID (GB/T 32918.2 §5.5)."""
    from fiscosim.crypto.sm2 import DEFAULT_ID, SM2_A, SM2_B, SM2_GX, SM2_GY
    from fiscosim.crypto.sm3 import sm3

    prefix = (len(DEFAULT_ID) * 8).to_bytes(2, "big") + DEFAULT_ID
    curve = b"".join(v.to_bytes(32, "big") for v in (SM2_A, SM2_B, SM2_GX, SM2_GY))
    return sm3(prefix + curve + public_key)


def _sm2_sign(
    msg_hash: bytes, private_key: bytes, public_key: bytes, za: bytes, inverses: dict[int, int]
) -> bytes:
    """SM2 signature r‖s‖public key of ``msg_hash`` with a nonce derived from key and hash.

    GB/T 32918.2 §6.1: e = SM3(Z_A ‖ M); (x1, y1) = k·G; r = (e + x1) mod n;
    s = (1 + d)⁻¹ · (k − r·d) mod n. The suite's signer draws k at random (so two signings
    differ); here k = SM3(d ‖ M ‖ counter) mod (n − 1) + 1, in the spirit of RFC 6979, so the
    corpus is reproducible. Fine for a simulator's throwaway keys, not for keys that matter.
    """
    from fiscosim.crypto.sm2 import SM2_N
    from fiscosim.crypto.sm3 import sm3

    d = int.from_bytes(private_key, "big")
    inverse = inverses.get(d)
    if inverse is None:
        inverse = inverses[d] = pow(1 + d, -1, SM2_N)
    e = int.from_bytes(sm3(za + msg_hash), "big")
    counter = 0
    while True:  # retries are the standard's, and happen with probability ~2**-255
        seed = sm3(private_key + msg_hash + counter.to_bytes(4, "big"))
        k = int.from_bytes(seed, "big") % (SM2_N - 1) + 1
        r = (e + _sm2_mul_g(k)) % SM2_N
        if r and r + k != SM2_N:
            s = inverse * (k - r * d) % SM2_N
            if s:
                return r.to_bytes(32, "big") + s.to_bytes(32, "big") + public_key
        counter += 1


def _jacobian_add_affine(
    x1: int, y1: int, z1: int, x2: int, y2: int, p: int, a: int
) -> tuple[int, int, int]:
    """(X1:Y1:Z1) + (x2, y2) in Jacobian coordinates; z = 0 is the point at infinity."""
    if z1 == 0:
        return x2, y2, 1
    zz = z1 * z1 % p
    h = (x2 * zz - x1) % p
    r = (y2 * z1 * zz - y1) % p
    if h == 0:
        return _jacobian_double(x1, y1, z1, p, a) if r == 0 else (0, 1, 0)
    hh = h * h % p
    hhh = h * hh % p
    v = x1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    return x3, (r * (v - x3) - y1 * hhh) % p, z1 * h % p


def _jacobian_double(x: int, y: int, z: int, p: int, a: int) -> tuple[int, int, int]:
    if y == 0 or z == 0:
        return 0, 1, 0
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    return x3, (m * (s - x3) - 8 * yy * yy) % p, 2 * y * z % p


def _affine(x: int, y: int, z: int, p: int) -> tuple[int, int]:
    inverse = pow(z, -1, p)
    inverse2 = inverse * inverse % p
    return x * inverse2 % p, y * inverse2 * inverse % p


@functools.cache
def _sm2_comb() -> tuple[tuple[tuple[int, int] | None, ...], ...]:
    """``table[i][j] = j · 256**i · G`` (affine), for a k·G of 32 additions and no doublings.

    Built once per process (~0.1 s). Python integers, but ~2.3× the rate of OpenSSL's generic
    SM2 scalar multiplication through tongsuopy, which has no fixed-base table.
    """
    from fiscosim.crypto.sm2 import SM2_A, SM2_GX, SM2_GY, SM2_P

    table = []
    base = (SM2_GX, SM2_GY)
    for _ in range(32):
        row: list[tuple[int, int] | None] = [None]
        point = (0, 1, 0)
        for _ in range(255):
            point = _jacobian_add_affine(*point, *base, SM2_P, SM2_A)
            row.append(_affine(*point, SM2_P))
        table.append(tuple(row))
        point = (*base, 1)
        for _ in range(8):
            point = _jacobian_double(*point, SM2_P, SM2_A)
        base = _affine(*point, SM2_P)
    return tuple(table)


def _sm2_mul_g(k: int) -> int:
    """The x coordinate of k·G on the SM2 curve, for 0 < k < n."""
    from fiscosim.crypto.sm2 import SM2_A, SM2_P

    table = _sm2_comb()
    point = (0, 1, 0)
    for i in range(32):
        digit = (k >> (8 * i)) & 0xFF
        if digit:
            point = _jacobian_add_affine(*point, *table[i][digit], SM2_P, SM2_A)  # type: ignore[misc]
    return _affine(*point, SM2_P)[0]


# --- the cache ----------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$FISCOSIM_CACHE`` if set, else ``~/.cache/fiscosim/corpus``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "fiscosim" / "corpus"


def _params_key(params: dict[str, Any]) -> str:
    keyed = {"format": FORMAT_VERSION, "chunk_rows": CHUNK_ROWS, **params}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]


def cache_path(
    cache_dir: Path, suite: str, count: int, accounts: int, seed: int, **params: Any
) -> Path:
    """The cache file of this corpus: suite, count, accounts, seed and a hash of the rest."""
    return cache_dir / f"corpus-{suite}-n{count}-a{accounts}-s{seed}-{_params_key(params)}.npz"


def _cached_counts(cache_dir: Path, suite: str, accounts: int, seed: int, key: str) -> list[int]:
    """Counts of the cached corpora that differ from the wanted one in count only, ascending."""
    pattern = re.compile(
        rf"corpus-{re.escape(suite)}-n(\d+)-a{accounts}-s{seed}-{re.escape(key)}\.npz"
    )
    try:
        names = os.listdir(cache_dir)
    except OSError:
        return []
    return sorted(int(m.group(1)) for name in names if (m := pattern.fullmatch(name)))


def save_corpus(corpus: Corpus, path: Path) -> None:
    """Writes ``corpus`` to ``path`` (an .npz with its metadata and digest), atomically.

    The file appears complete or not at all: written to a temporary file in the same folder,
    flushed to disk, then renamed over ``path``. Concurrent writers of one corpus are harmless
    (they write the same bytes; the last rename wins).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(
                handle,
                meta=np.array(json.dumps(corpus.metadata(), sort_keys=True)),
                digest=np.array(corpus.digest()),
                **corpus.arrays(),
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def load_corpus(path: Path) -> Corpus:
    """The corpus stored at ``path``; ValueError (or OSError) if it is not a sound corpus file.

    Shapes and dtypes are checked by :class:`Corpus` and the stored digest is recomputed, so a
    truncated or altered file is an error here, never a corpus with wrong rows.
    """
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"][()]))
        stored_digest = str(data["digest"][()])
        arrays = {
            name: data[name]
            for name in ("accounts", "hashes", "signatures", "senders", "nonces", "sizes")
        }
    if meta.get("format") != FORMAT_VERSION or meta.get("chunk_rows") != CHUNK_ROWS:
        raise ValueError(f"corpus format {meta.get('format')}, this code reads {FORMAT_VERSION}")
    if len(arrays["accounts"]) != meta["accounts"]:
        raise ValueError("corpus account table does not match its metadata")
    corpus = Corpus(
        suite=meta["suite"],
        seed=meta["seed"],
        count=meta["count"],
        chain_id=meta["chain_id"],
        group_id=meta["group_id"],
        block_limit=meta["block_limit"],
        input_size=meta["input_size"],
        **arrays,
    )
    if corpus.digest() != stored_digest:
        raise ValueError("corpus digest mismatch: the file was altered or truncated")
    return corpus


def load_or_build(
    suite: str,
    count: int,
    accounts: int = 1000,
    seed: int = 2022,
    cache_dir: Path | None = None,
    **kw: Any,
) -> Corpus:
    """The corpus :func:`build_corpus` would give for these arguments, from the cache if there.

    ``kw`` are :func:`build_corpus`'s other arguments (``chain_id``, ``group_id``,
    ``block_limit``, ``input_size``, which are part of the cache key, and ``progress``,
    ``workers``, which are not). A cached corpus of at least ``count`` rows with the same other
    arguments is served by its first ``count`` rows (the smallest such one is read). A cache
    file that cannot be read, or fails its shape or digest check, is removed and rebuilt with a
    :class:`CorpusCacheWarning`; a cache folder that cannot be written gives a warning and the
    corpus anyway.
    """
    params = {
        "chain_id": kw.pop("chain_id", "chain0"),
        "group_id": kw.pop("group_id", "group0"),
        "block_limit": kw.pop("block_limit", 1000),
        "input_size": kw.pop("input_size", 100),
    }
    unknown = set(kw) - {"progress", "workers"}
    if unknown:
        raise TypeError(f"load_or_build() got unexpected arguments {sorted(unknown)}")
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir)
    expected = {"suite": suite, "seed": seed, "accounts": accounts, **params}
    for cached in _cached_counts(folder, suite, accounts, seed, _params_key(params)):
        if cached < count:
            continue
        path = cache_path(folder, suite, cached, accounts, seed, **params)
        try:
            corpus = load_corpus(path)
            mismatch = {k for k, v in expected.items() if corpus.metadata()[k] != v}
            if mismatch or corpus.count != cached:
                raise ValueError(
                    f"corpus metadata disagrees with its file name: {sorted(mismatch)}"
                )
        except Exception as error:  # any unreadable cache is rebuilt, whatever broke it
            warnings.warn(
                f"corpus cache {path} is unusable ({type(error).__name__}: {error}); "
                "removing it and rebuilding",
                CorpusCacheWarning,
                stacklevel=2,
            )
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        return corpus if cached == count else corpus.head(count)
    corpus = build_corpus(suite, count, accounts, seed, **params, **kw)
    path = cache_path(folder, suite, count, accounts, seed, **params)
    try:
        save_corpus(corpus, path)
    except OSError as error:
        warnings.warn(
            f"could not write corpus cache {path} ({error}); using the corpus uncached",
            CorpusCacheWarning,
            stacklevel=2,
        )
    return corpus


# --- tampering ----------------------------------------------------------------------------------


def tamper(batch: TxBatch, fraction: float, rng: np.random.Generator) -> tuple[TxBatch, np.ndarray]:
    """A copy of ``batch`` with about ``fraction`` of its rows tampered, and their bool mask.

    Each row is tampered with probability ``fraction`` (``rng.random(n) < fraction``); see
    :func:`tamper_rows` for what tampering does. Deterministic for the state of ``rng``.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    mask = rng.random(len(batch)) < fraction
    return tamper_rows(batch, mask, rng), mask


def tamper_rows(batch: TxBatch, mask: np.ndarray, rng: np.random.Generator | None,
                bits: np.ndarray | None = None) -> TxBatch:
    """A copy of ``batch`` where each ``mask`` row has one random bit of its signature's s flipped.

    ``bits`` (one per masked row, 0..255) chooses the bits instead of ``rng``, so a caller can
    make a row's tampered copy always the same one.

    The hash (what the txpool dedupes on) stays, the signature no longer proves the sender:
    secp256k1 recovery yields another key, SM2 verification fails. Payloads, if the batch has
    them, are patched too (a signed encoding ends with its signature). Other columns are shared.
    """
    if batch.signatures is None or batch.hashes is None:
        raise ValueError("a modelled batch has no signatures to tamper with")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (len(batch),):
        raise ValueError(f"mask of shape {mask.shape} for {len(batch)} rows")
    rows = np.flatnonzero(mask)
    if bits is None:
        assert rng is not None, "give rng or bits"
        bits = rng.integers(0, 256, size=len(rows))
    elif len(bits) != len(rows):
        raise ValueError(f"{len(bits)} bits for {len(rows)} tampered rows")
    columns = S_OFFSET + bits // 8
    flips = (1 << (bits % 8)).astype(np.uint8)
    signatures = batch.signatures.copy()
    signatures[rows, columns] ^= flips
    buffer = batch.payload_buffer
    if buffer is not None and len(rows):
        assert batch.payload_offsets is not None
        width = signatures.shape[1]
        ends = batch.payload_offsets[rows] + batch.sizes[rows]
        tails = buffer[(ends - width)[:, None] + np.arange(width)]
        if not np.array_equal(tails, batch.signatures[rows]):
            raise ValueError("payloads do not end with their signatures; cannot tamper them")
        buffer = buffer.copy()
        buffer[ends - width + columns] ^= flips
    return TxBatch(
        batch.ids,
        batch.sizes,
        batch.senders,
        batch.nonces,
        batch.submit_times,
        hashes=batch.hashes,
        signatures=signatures,
        payload_offsets=batch.payload_offsets,
        payload_buffer=buffer,
        accounts=batch.accounts,
        extra=batch.extra,
    )


def _measure(argv: list[str]) -> None:
    """``python -m fiscosim.workload.corpus [count] [workers]``: prints signing rates."""
    count = int(argv[0]) if argv else 20_000
    workers = int(argv[1]) if len(argv) > 1 else default_workers()
    for suite in ("secp256k1", "sm2"):
        for processes in sorted({1, workers}):
            started = time.perf_counter()
            build_corpus(suite, count, seed=1, workers=processes)
            elapsed = time.perf_counter() - started
            print(
                f"{suite:9}  {count} tx  {processes} process(es)  {elapsed:6.2f} s  "
                f"{count / elapsed:8,.0f} tx/s (1000 accounts' keys included)"
            )


if __name__ == "__main__":
    _measure(sys.argv[1:])
