"""Measures the verification core against FISCO BCOS 3.0's published 50,000 TPS.

One measurement reports, over the same distinct signatures:

- the core's rate: :func:`~fiscosim.crypto.batch.verify_batch` on ``workers`` cores, senders
  checked (recover, hash the key, compare the address: the full FISCO rule);
- the single-core native rate, the reference the core is judged against: for secp256k1 a tight
  loop of libsecp256k1 recoveries through cffi with nothing else in it; for sm2 the same
  backend on one worker;
- the parallel efficiency, core rate / (workers × single-core rate), and the ratio to 50,000/s.

:func:`measure_paths` (``bench verify --paths``) adds, side by side with the worker count of
each figure: per-signature recovery, the secp256k1 batch verifier behind a sender cache (warm,
cold, repeated senders, bad rows; one worker and sharded over N), and SM2 verification with
every backend that runs here.

The figures are wall-clock measurements of this host; docs/performance.md records them with
the command and the machine.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from fiscosim.crypto import secp_batch
from fiscosim.crypto.batch import Mode, VerifierPool, default_workers, shared_pool, verify_batch
from fiscosim.crypto.suite import CryptoSuite, get_suite

TARGET_PER_S = 50_000
"""FISCO BCOS 3.0's published throughput (WeBank 2022 annual report; docs/fisco-reference.md §6)."""


@dataclass(frozen=True)
class VerifyMeasurement:
    """One run of ``fiscosim bench verify``; field names are the ``--json`` keys."""

    suite: str
    workers: int
    batch: int
    verifications_per_s: float
    single_core_per_s: float
    parallel_efficiency: float
    target_per_s: int
    target_ratio: float
    cores_for_target: int
    backend: str
    mode: str
    recover_only_per_s: float | None
    address_overhead: float | None
    rounds: int
    cpu_model: str
    cpu_count: int

    def as_dict(self) -> dict:
        return asdict(self)


def make_corpus(
    suite: CryptoSuite, count: int, seed: int = 2022, accounts: int = 256, cycle: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` distinct signatures over random hashes by ``accounts`` seeded keys.

    Each row's signer is drawn at random, or with ``cycle`` taken in turn (so every key signs
    when ``count`` ≥ ``accounts``).

    Returns (hashes n×32, signatures n×S, senders n×20) as uint8 arrays.
    """
    rng = np.random.default_rng(seed)
    keys = [suite.generate_keypair(rng) for _ in range(min(accounts, count) or 1)]
    addresses = np.frombuffer(
        b"".join(suite.address_of(public) for _, public in keys), dtype=np.uint8
    ).reshape(len(keys), 20)
    hashes = np.frombuffer(rng.bytes(32 * count), dtype=np.uint8).reshape(count, 32)
    owners = np.arange(count) % len(keys) if cycle else rng.integers(0, len(keys), size=count)
    signatures = b"".join(
        suite.sign(hashes[i].tobytes(), keys[owner][0]) for i, owner in enumerate(owners.tolist())
    )
    signature_rows = np.frombuffer(signatures, dtype=np.uint8).reshape(count, -1)
    return hashes, signature_rows, addresses[owners]


def best_rate(run, count: int, min_seconds: float, min_rounds: int) -> tuple[float, int]:
    """Items per second of the fastest of several timed calls of ``run``.

    The fastest round is the least disturbed by other work on the machine; every round
    really verifies all ``count`` items (no cache anywhere), so it is not a cached figure.
    """
    best = math.inf
    rounds = 0
    started = time.perf_counter()
    while rounds < min_rounds or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
        rounds += 1
    return count / best, rounds


def interleaved_rates(
    contenders: dict[str, Callable[[], object]], count: int, min_seconds: float, min_rounds: int
) -> tuple[dict[str, float], int]:
    """Best items/s of each contender, timed in alternation until ``min_seconds`` have passed.

    Alternating puts every contender under the same conditions (clock boost, noisy
    neighbours), which matters when their ratio (parallel efficiency) is the figure.
    """
    best = dict.fromkeys(contenders, math.inf)
    rounds = 0
    started = time.perf_counter()
    while rounds < min_rounds or time.perf_counter() - started < min_seconds:
        for name, run in contenders.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
        rounds += 1
    return {name: count / elapsed for name, elapsed in best.items()}, rounds


def secp256k1_recover_loop(hashes: np.ndarray, signatures: np.ndarray) -> int:
    """libsecp256k1 recoveries one after another with as little Python as possible.

    No address derivation: this is the native single-signature reference. Returns how many
    recovered (all of them, for a corpus of valid signatures).
    """
    from coincurve._libsecp256k1 import ffi, lib
    from coincurve.context import GLOBAL_CONTEXT

    ctx = GLOBAL_CONTEXT.ctx
    parse = lib.secp256k1_ecdsa_recoverable_signature_parse_compact
    recover = lib.secp256k1_ecdsa_recover
    recoverable = ffi.new("secp256k1_ecdsa_recoverable_signature *")
    pubkey = ffi.new("secp256k1_pubkey *")
    hash_ptr = ffi.from_buffer("unsigned char[]", np.ascontiguousarray(hashes))
    sig_ptr = ffi.from_buffer("unsigned char[]", np.ascontiguousarray(signatures))
    recids = signatures[:, 64].tolist()
    recovered = 0
    for i in range(len(recids)):
        parse(ctx, recoverable, sig_ptr + 65 * i, recids[i])
        recovered += recover(ctx, pubkey, recoverable, hash_ptr + 32 * i)
    return recovered


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


SM2_TABLES_BACKEND = "tables"
"""The SM2 backend of per-sender tables (:mod:`fiscosim.crypto.sm2_tables`), had by name only."""


def suite_with(name: str, backend: str | None = None) -> CryptoSuite:
    """:func:`get_suite`, plus SM2's ``tables`` backend
    (:func:`fiscosim.crypto.sm2_tables.make_tables_suite`), which is had by name only: it pays
    only where senders repeat, so the suites' automatic choice never takes it."""
    if name == "sm2" and backend == SM2_TABLES_BACKEND:
        from fiscosim.crypto.sm2_tables import make_tables_suite

        return make_tables_suite()
    return get_suite(name, backend)


def measure_verify(
    suite_name: str = "secp256k1",
    workers: int | None = None,
    batch: int = 4096,
    mode: Mode = "processes",
    min_seconds: float = 2.0,
    min_rounds: int = 3,
    backend: str | None = None,
) -> VerifyMeasurement:
    """Measures the core, the single-core reference, and their ratio to the target."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    suite = suite_with(suite_name, backend)
    workers = default_workers() if workers is None else workers
    hashes, signatures, senders = make_corpus(suite, batch)

    def core() -> None:
        ok = verify_batch(hashes, signatures, senders, suite, workers, mode=mode)
        if not ok.all():
            raise RuntimeError("the benchmark corpus failed verification")

    if workers > 1:
        shared_pool(suite, workers, mode)  # start the pool outside the timed rounds
    core()

    def single_core_shard() -> None:
        verify_batch(hashes, signatures, senders, suite, 1)

    contenders = {"core": core, "shard": single_core_shard}
    if suite.name == "secp256k1":
        contenders["recover"] = lambda: secp256k1_recover_loop(hashes, signatures)
    rates, rounds = interleaved_rates(contenders, batch, min_seconds, min_rounds)
    rate, shard_rate = rates["core"], rates["shard"]
    recover_rate = rates.get("recover")
    if recover_rate is not None:
        single = recover_rate
        overhead: float | None = recover_rate / shard_rate - 1.0
    else:
        single, overhead = shard_rate, None
    efficiency = rate / (workers * single)
    per_core = rate / workers
    return VerifyMeasurement(
        suite=suite.name,
        workers=workers,
        batch=batch,
        verifications_per_s=round(rate, 1),
        single_core_per_s=round(single, 1),
        parallel_efficiency=round(efficiency, 4),
        target_per_s=TARGET_PER_S,
        target_ratio=round(rate / TARGET_PER_S, 4),
        cores_for_target=math.ceil(TARGET_PER_S / per_core),
        backend=suite.backend,
        mode=mode if workers > 1 else "inline",
        recover_only_per_s=None if recover_rate is None else round(recover_rate, 1),
        address_overhead=None if overhead is None else round(overhead, 4),
        rounds=rounds,
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count() or 1,
    )


BAD_ROWS = (1, 4, 16)
"""Tampered rows of :func:`measure_paths`'s bad-signature paths (each a separate path)."""
SM2_PATH_BATCH = 1024
"""Most signatures in the SM2 paths' corpus. Signing always goes through tongsuopy, about 1 ms
per distinct key and signature on the development machine, and its verifier does 2,000-3,000/s
on one core, so a 4,096-row SM2 corpus would cost seconds to build and to time per round."""
SM2_TABLE_SENDERS = 256
"""Senders of the per-sender tables' SM2 paths (each signs batch / 256 rows)."""


@dataclass(frozen=True)
class PathFigure:
    """One verification path of ``fiscosim bench verify --paths``; field names are JSON keys.

    ``workers`` is the number of shards the batch was split into, each verified by its own
    process (the calling process verifies the first); ``senders`` the distinct senders of the
    corpus; ``bad`` the tampered rows per batch.
    """

    path: str
    verified_per_s: float
    batch: int
    workers: int
    senders: int
    bad: int
    suite: str = "secp256k1"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PathsMeasurement:
    """Every verification path, side by side (issue 21, part 5).

    ``measured`` is False where the secp256k1 batch extension is missing: ``paths`` then holds
    no batch path and ``batch_backend`` says why. ``sm2_unavailable`` maps each SM2 backend
    that cannot run here to the reason; the others have rows in ``paths``.
    """

    batch_backend: str
    measured: bool
    paths: list[PathFigure]
    rounds: int
    sm2_unavailable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"batch_backend": self.batch_backend, "batch_measured": self.measured,
                "paths": [p.as_dict() for p in self.paths], "path_rounds": self.rounds,
                "sm2_unavailable": dict(self.sm2_unavailable)}


class KnownKeyShards:
    """:func:`fiscosim.crypto.secp_batch.verify_batch` behind the suite interface that
    :class:`~fiscosim.crypto.batch.VerifierPool` runs in its workers.

    This lets the batch paths use the pool's persistent processes and shared-memory segment
    rather than a pool of their own. The segment holds one hash row and one signature row per
    signature, so a "signature" row here is r‖s‖v (65 bytes) followed by the sender's key X‖Y
    (64 bytes): the key travels in the same row as its signature.
    """

    name = "secp256k1"
    backend = "fiscosim.crypto._secp_batch against known keys"
    signature_size = secp_batch.SIGNATURE_SIZE + secp_batch.PUBKEY_SIZE

    def verify_shard(self, hashes: np.ndarray, signatures: np.ndarray, ok_out: np.ndarray,
                     addr_out: np.ndarray) -> None:
        """Writes one verdict per row into ``ok_out``. Recovers no address, so ``addr_out``
        is left as it is and the caller must ignore it."""
        ok_out[:] = secp_batch.verify_batch(hashes, signatures[:, :secp_batch.SIGNATURE_SIZE],
                                            signatures[:, secp_batch.SIGNATURE_SIZE:])


def _bad_counts(bad: int | Sequence[int] | None, batch: int) -> tuple[int, ...]:
    """The bad-row counts to measure. None gives the :data:`BAD_ROWS` that fit in ``batch``."""
    if bad is None:
        return tuple(k for k in BAD_ROWS if k <= batch)
    counts = (bad,) if isinstance(bad, int) else tuple(bad)
    for k in counts:
        if not 0 <= k <= batch:
            raise ValueError(f"bad must be in [0, batch], got {k}")
    return tuple(dict.fromkeys(counts))


def measure_paths(
    workers: int | None = None,
    batch: int = 4096,
    mode: Mode = "processes",
    min_seconds: float = 2.0,
    min_rounds: int = 3,
    repeated_senders: int = 256,
    bad: int | Sequence[int] | None = None,
    sm2_batch: int = SM2_PATH_BATCH,
) -> PathsMeasurement:
    """Verified/s of every verification path, timed in alternation, best round each.

    Corpora: ``batch`` secp256k1 signatures by as many distinct senders, ``batch`` by
    ``repeated_senders`` senders, and min(``batch``, ``sm2_batch``) SM2 signatures by as many
    distinct senders. ``workers`` (N, default every core) is the worker count of the
    multi-worker paths, which are left out when N is 1. The paths:

    - ``recovery, 1 worker`` / ``recovery, N workers``: per-signature recovery (recover, hash
      the key, compare the address), FISCO's rule;
    - ``batch, warm cache`` / ``batch, cold cache`` / ``batch, R senders, warm`` /
      ``batch, R senders, cold``: :func:`~fiscosim.crypto.sender_cache.verify_with_cache`
      in this process with every sender cached, or with an empty cache every round (each new
      sender recovered and cached), on the distinct and on the repeated senders' corpus;
    - ``batch, warm cache, k bad``: the same, warm, with k tampered hashes at random rows, for
      each k of ``bad`` (default :data:`BAD_ROWS`, those that fit in ``batch``);
    - ``batch, warm cache, N workers`` / ``batch, R senders, warm, N workers``: every round
      looks up each row's claimed sender in the warm cache here (as ``verify_with_cache``
      does), then the batch is split into N shards, each checked by
      :func:`~fiscosim.crypto.secp_batch.verify_batch` against those keys in one process of a
      :class:`~fiscosim.crypto.batch.VerifierPool` (the calling process checks the first);
    - ``sm2 B, 1 worker`` / ``sm2 B, N workers``: per-signature SM2 verification with
      backend B, for every backend of :data:`fiscosim.crypto.sm2.BACKENDS` that runs here;
      the others are in ``sm2_unavailable`` with the reason;
    - ``sm2 tables, R senders, warm`` / ``cold``: :func:`fiscosim.crypto.sm2_tables.
      verify_with_tables` on the SM2 corpus's size by up to 256 senders, every key's table
      cached, or none (``tables`` in ``sm2_unavailable`` where the extension cannot run).

    Every multi-worker path splits its batch into exactly min(N, rows) shards (pools with
    ``min_shard`` 1, started before timing and closed at the end). Every round of every path
    checks its verdicts. The paths share ``min_seconds`` in alternation, and each runs at
    least ``min_rounds`` times: at the defaults on the 2-core development machine one round of
    every path takes about 2.5 s, so ``min_rounds`` decides (7-8 s), and building the corpora
    and the warm caches adds 4-5 s (SM2 signing costs about 1 ms per signature).
    """
    from fiscosim.crypto.sender_cache import SenderCache, verify_with_cache
    from fiscosim.crypto.sm2 import BACKENDS, make_sm2_suite

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    if sm2_batch < 1:
        raise ValueError(f"sm2_batch must be at least 1, got {sm2_batch}")
    bad_counts = _bad_counts(bad, batch)
    suite = get_suite("secp256k1")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    hashes, signatures, senders = make_corpus(suite, batch, seed=2105, accounts=batch, cycle=True)
    r_hashes, r_signatures, r_senders = make_corpus(suite, batch, seed=2106,
                                                    accounts=repeated_senders, cycle=True)
    distinct = len({row.tobytes() for row in senders})
    repeated = len({row.tobytes() for row in r_senders})

    def expect(ok: np.ndarray, failures: int, what: str) -> None:
        if int((~ok).sum()) != failures:
            raise RuntimeError(f"{what}: {int((~ok).sum())} rows failed, expected {failures}")

    # name → (one round, rows per round, workers, senders, bad rows, suite)
    paths: dict[str, tuple[Callable[[], None], int, int, int, int, str]] = {}
    pools: list[VerifierPool] = []

    def pool_of(kind: CryptoSuite | KnownKeyShards) -> VerifierPool:
        # min_shard 1: the batch is split into N shards whatever its size, so the workers
        # column is true for tiny test batches as well (the shared pools keep ≥ 64 rows apart)
        pool = VerifierPool(kind, workers, mode, min_shard=1)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    def recovery(on: CryptoSuite, h: np.ndarray, s: np.ndarray, c: np.ndarray,
                 pool: VerifierPool | None, what: str) -> Callable[[], None]:
        def run() -> None:
            if pool is None:
                ok = verify_batch(h, s, c, on, 1)
            else:  # what verify_batch does with a pool: verify, then compare addresses
                ok, recovered = pool.verify(h, s)
                ok &= (recovered == c).all(axis=1)
            expect(ok, 0, what)
        return run

    try:
        paths["recovery, 1 worker"] = (recovery(suite, hashes, signatures, senders, None,
                                                "recovery"), batch, 1, distinct, 0, suite.name)
        if workers > 1:
            paths[f"recovery, {workers} workers"] = (
                recovery(suite, hashes, signatures, senders, pool_of(suite), "recovery"),
                batch, min(workers, batch), distinct, 0, suite.name)
        measured = secp_batch.available()
        if measured:
            def warmed(h: np.ndarray, s: np.ndarray, c: np.ndarray) -> SenderCache:
                cache = SenderCache()
                expect(verify_with_cache(cache, h, s, c), 0, "filling the cache")
                return cache

            warm_cache = warmed(hashes, signatures, senders)
            warm_repeated = warmed(r_hashes, r_signatures, r_senders)

            def cached(cache_of: Callable[[], SenderCache], h: np.ndarray, s: np.ndarray,
                       c: np.ndarray, failures: int, what: str) -> Callable[[], None]:
                def run() -> None:
                    expect(verify_with_cache(cache_of(), h, s, c), failures, what)
                return run

            def sharded(cache: SenderCache, h: np.ndarray, s: np.ndarray, c: np.ndarray,
                        pool: VerifierPool, what: str) -> Callable[[], None]:
                def run() -> None:
                    keys = cache.keys_of(c)
                    if None in keys:
                        raise RuntimeError(f"{what}: a claimed sender is not in the warm cache")
                    key_rows = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(c), -1)
                    ok, _ = pool.verify(h, np.concatenate((s, key_rows), axis=1))
                    expect(ok, 0, what)
                return run

            secp = suite.name
            paths["batch, warm cache"] = (cached(lambda: warm_cache, hashes, signatures,
                                                 senders, 0, "warm"), batch, 1, distinct, 0, secp)
            paths["batch, cold cache"] = (cached(SenderCache, hashes, signatures, senders, 0,
                                                 "cold"), batch, 1, distinct, 0, secp)
            paths[f"batch, {repeated} senders, warm"] = (
                cached(lambda: warm_repeated, r_hashes, r_signatures, r_senders, 0,
                       "repeated warm"), batch, 1, repeated, 0, secp)
            paths[f"batch, {repeated} senders, cold"] = (
                cached(SenderCache, r_hashes, r_signatures, r_senders, 0, "repeated cold"),
                batch, 1, repeated, 0, secp)
            rng = np.random.default_rng(2107)
            for k in bad_counts:
                tampered = hashes.copy()
                tampered[rng.choice(batch, size=k, replace=False), 0] ^= 0x01
                paths[f"batch, warm cache, {k} bad"] = (
                    cached(lambda: warm_cache, tampered, signatures, senders, k,
                           f"{k} bad rows"), batch, 1, distinct, k, secp)
            if workers > 1:
                known = pool_of(KnownKeyShards())
                shards = min(workers, batch)
                paths[f"batch, warm cache, {workers} workers"] = (
                    sharded(warm_cache, hashes, signatures, senders, known, "warm, sharded"),
                    batch, shards, distinct, 0, secp)
                paths[f"batch, {repeated} senders, warm, {workers} workers"] = (
                    sharded(warm_repeated, r_hashes, r_signatures, r_senders, known,
                            "repeated warm, sharded"), batch, shards, repeated, 0, secp)
        sm2_unavailable = _sm2_paths(paths, pool_of, recovery, workers,
                                     min(batch, sm2_batch), BACKENDS, make_sm2_suite)
        for run, *_ in paths.values():
            run()  # warm-up: starts the pools' workers and checks every path before timing
        # count 1: each rate is rounds per second, times the path's own rows below
        per_call, rounds = interleaved_rates({name: entry[0] for name, entry in paths.items()},
                                             1, min_seconds, min_rounds)
    finally:
        for pool in pools:
            pool.close()
    figures = [PathFigure(path=name, verified_per_s=round(per_call[name] * rows, 1), batch=rows,
                          workers=shards, senders=senders_count, bad=bad_rows, suite=suite_name)
               for name, (_, rows, shards, senders_count, bad_rows, suite_name) in paths.items()]
    return PathsMeasurement(batch_backend=secp_batch.backend(), measured=measured,
                            paths=figures, rounds=rounds, sm2_unavailable=sm2_unavailable)


def _sm2_paths(
    paths: dict[str, tuple[Callable[[], None], int, int, int, int, str]],
    pool_of: Callable[[CryptoSuite], VerifierPool],
    recovery: Callable[..., Callable[[], None]],
    workers: int,
    count: int,
    backends: Sequence[str],
    make_suite: Callable[[str], CryptoSuite],
) -> dict[str, str]:
    """Adds :func:`measure_paths`'s SM2 paths to ``paths``; returns {backend: why} for the
    backends that cannot run here."""
    unavailable: dict[str, str] = {}
    suites: dict[str, CryptoSuite] = {}
    for name in backends:
        try:
            suites[name] = make_suite(name)
        except (RuntimeError, ImportError, OSError) as error:
            unavailable[name] = str(error) or type(error).__name__
    if not suites:
        return unavailable
    try:
        # one corpus for every backend: signing always goes through the fallback library
        hashes, signatures, senders = make_corpus(next(iter(suites.values())), count,
                                                  seed=2108, accounts=count, cycle=True)
    except (RuntimeError, ImportError, OSError) as error:
        why = f"cannot sign the SM2 corpus: {error}"
        return unavailable | dict.fromkeys(suites, why)
    distinct = len({row.tobytes() for row in senders})
    for name, sm2 in suites.items():
        paths[f"sm2 {name}, 1 worker"] = (recovery(sm2, hashes, signatures, senders, None,
                                                   f"sm2 {name}"), count, 1, distinct, 0, "sm2")
        if workers > 1:
            paths[f"sm2 {name}, {workers} workers"] = (
                recovery(sm2, hashes, signatures, senders, pool_of(sm2), f"sm2 {name}"),
                count, min(workers, count), distinct, 0, "sm2")
    why = _sm2_table_paths(paths, next(iter(suites.values())), count)
    if why:
        unavailable["tables"] = why
    return unavailable


def _sm2_table_paths(paths: dict[str, tuple[Callable[[], None], int, int, int, int, str]],
                     suite: CryptoSuite, count: int) -> str:
    """Adds the per-sender tables' SM2 paths (:mod:`fiscosim.crypto.sm2_tables`), warm and
    cold, on ``count`` signatures by 256 repeated senders, one worker; returns why not ('' when
    added)."""
    from fiscosim.crypto import sm2_tables

    if not sm2_tables.available():
        return sm2_tables.why_unavailable()
    senders_count = min(SM2_TABLE_SENDERS, count)
    hashes, signatures, senders = make_corpus(suite, count, seed=2109, accounts=senders_count,
                                              cycle=True)
    warm = sm2_tables.TableCache()

    def check(cache_of: Callable[[], sm2_tables.TableCache], what: str) -> Callable[[], None]:
        def run() -> None:
            ok = sm2_tables.verify_with_tables(cache_of(), hashes, signatures, senders)
            if not ok.all():
                raise RuntimeError(f"{what}: {int((~ok).sum())} rows failed, expected 0")
        return run

    repeated = len({row.tobytes() for row in senders})
    paths[f"sm2 tables, {repeated} senders, warm"] = (
        check(lambda: warm, "sm2 tables warm"), count, 1, repeated, 0, "sm2")
    paths[f"sm2 tables, {repeated} senders, cold"] = (
        check(sm2_tables.TableCache, "sm2 tables cold"), count, 1, repeated, 0, "sm2")
    return ""
