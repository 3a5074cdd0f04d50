"""The vectorized signature-verification core: packed arrays in, verdicts out, on every core.

:func:`verify_batch` takes n×32 message hashes, n×S signatures (S = 65 for secp256k1, 128 for
SM2) and optionally n×20 expected senders, all uint8, and returns a bool array (and the
recovered sender addresses when asked). A :class:`VerifierPool` shards the batch over a
persistent pool of worker processes: the caller copies the batch once into a shared-memory
segment, each worker gets a ``(start, stop)`` range through a pipe, verifies its rows in place
with the suite's native kernel (:meth:`CryptoSuite.verify_shard`) and writes verdicts and
addresses back into the segment. Nothing is pickled per signature; the calling process verifies
the first shard itself instead of idling, so ``workers`` processes-worth of cores are busy.

A ``threads`` mode shards over a thread pool instead (the native calls release the GIL, but
the per-signature Python around them does not); ``docs/performance.md`` has the measurements
that chose processes as the default.

Every input is really verified: there is no verdict cache anywhere in the core.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import multiprocessing as mp
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Literal

import numpy as np

from fiscosim.crypto.single import uint8_rows
from fiscosim.crypto.suite import CryptoSuite, get_suite

HASH_SIZE = 32
ADDRESS_SIZE = 20
Mode = Literal["processes", "threads"]
DEFAULT_MODE: Mode = "processes"
MIN_SHARD = 64
"""Fewest signatures worth sending to another worker; smaller batches stay in fewer shards."""


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _segment_layout(capacity: int, signature_size: int) -> tuple[int, int, int, int, int]:
    """Byte offsets of (hashes, signatures, verdicts, addresses) and the total size."""
    hashes_at = 0
    signatures_at = hashes_at + capacity * HASH_SIZE
    ok_at = signatures_at + capacity * signature_size
    addresses_at = ok_at + capacity
    return hashes_at, signatures_at, ok_at, addresses_at, addresses_at + capacity * ADDRESS_SIZE


def _segment_views(
    buffer: memoryview, capacity: int, signature_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    hashes_at, signatures_at, ok_at, addresses_at, _ = _segment_layout(capacity, signature_size)
    raw = np.frombuffer(buffer, dtype=np.uint8)
    return (
        raw[hashes_at:signatures_at].reshape(capacity, HASH_SIZE),
        raw[signatures_at:ok_at].reshape(capacity, signature_size),
        raw[ok_at:addresses_at].view(np.bool_),
        raw[addresses_at : addresses_at + capacity * ADDRESS_SIZE].reshape(capacity, ADDRESS_SIZE),
    )


def _worker_main(conn: Connection, suite: CryptoSuite) -> None:
    """A verification worker: attach to the caller's segment, verify the rows it is sent."""
    segment: SharedMemory | None = None
    attached_to = None
    views: tuple[np.ndarray, ...] = ()
    try:
        while True:
            request = conn.recv()
            if request is None:
                break
            name, capacity, start, stop = request
            if (name, capacity) != attached_to:
                views = ()  # drop every view of the old mapping before closing it
                _close_quietly(segment)
                segment = _attach_segment(name)
                views = _segment_views(segment.buf, capacity, suite.signature_size)
                attached_to = (name, capacity)
            _verify_rows(suite, views, start, stop)
            conn.send(stop - start)
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        views = ()
        _close_quietly(segment)


def _verify_rows(suite: CryptoSuite, views: tuple[np.ndarray, ...], start: int, stop: int) -> None:
    hashes, signatures, ok, addresses = views
    suite.verify_shard(
        hashes[start:stop], signatures[start:stop], ok[start:stop], addresses[start:stop]
    )


def _close_quietly(segment: SharedMemory | None) -> None:
    if segment is None:
        return
    # BufferError: a view is still alive; the mapping then goes away with the process.
    with contextlib.suppress(BufferError):
        segment.close()


def _attach_segment(name: str) -> SharedMemory:
    """Attaches to the caller's segment without making this worker responsible for it.

    Workers share the caller's resource tracker (:meth:`VerifierPool._start` makes sure it
    runs before they fork), whose record of segments is a set: a worker's registration on
    attaching is a no-op there, and the caller's unlink removes the one entry. A worker must
    not unregister: that would remove the caller's entry and make its unlink fail in the tracker.
    """
    if sys.version_info >= (3, 13):
        return SharedMemory(name=name, track=False)
    return SharedMemory(name=name)


class VerifierPool:
    """A persistent pool that verifies signature batches of one suite on ``workers`` cores.

    The calling process counts as one of the workers: it verifies the first shard itself
    while ``workers − 1`` helper processes (or threads) verify the rest.
    """

    def __init__(
        self,
        suite: CryptoSuite,
        workers: int | None = None,
        mode: Mode = DEFAULT_MODE,
        min_shard: int = MIN_SHARD,
    ) -> None:
        if mode not in ("processes", "threads"):
            raise ValueError(f"mode must be 'processes' or 'threads', got {mode!r}")
        self.suite = suite
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.mode: Mode = mode
        self.min_shard = max(1, int(min_shard))
        self._lock = threading.Lock()
        self._segment: SharedMemory | None = None
        self._capacity = 0
        self._processes: list[mp.process.BaseProcess] = []
        self._conns: list[Connection] = []
        self._threads: ThreadPoolExecutor | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------
    def _start(self) -> None:
        helpers = self.workers - 1
        if helpers == 0 or self._processes or self._threads:
            return
        if self.mode == "threads":
            self._threads = ThreadPoolExecutor(helpers, thread_name_prefix="fiscosim-verify")
            return
        # fork: workers inherit the loaded native libraries and never re-import the caller's
        # __main__ (spawn and forkserver would, breaking scripts without a main guard).
        context = mp.get_context("fork" if sys.platform == "linux" else "spawn")
        # One tracker for the caller and every worker, whatever ran before (see _attach_segment).
        resource_tracker.ensure_running()
        for _ in range(helpers):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_worker_main, args=(child_end, self.suite), daemon=True
            )
            process.start()
            child_end.close()
            self._processes.append(process)
            self._conns.append(parent_end)

    def close(self) -> None:
        """Stops the workers and frees the shared segment. The pool cannot be used after."""
        with self._lock:
            self._stop_workers()
            self._release_segment()
            self._closed = True

    def _release_segment(self) -> None:
        if self._segment is None:
            return
        self._segment.unlink()
        _close_quietly(self._segment)
        self._segment = None

    def _stop_workers(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        for conn in self._conns:
            conn.close()
        self._processes, self._conns = [], []
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- verification ----------------------------------------------------------------------
    def verify(self, hashes: np.ndarray, signatures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Verifies a validated batch; returns (verdicts, recovered addresses)."""
        count = len(hashes)
        with self._lock:
            if self._closed:
                raise RuntimeError("this VerifierPool was closed")
            shards = self._shards(count)
            if len(shards) <= 1:
                return self._verify_inline(hashes, signatures)
            self._start()
            if self.mode == "threads":
                return self._verify_threads(hashes, signatures, shards)
            return self._verify_processes(hashes, signatures, shards)

    def _shards(self, count: int) -> list[tuple[int, int]]:
        parts = min(self.workers, -(-count // self.min_shard))
        if parts <= 1:
            return [(0, count)]
        bounds = np.linspace(0, count, parts + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    def _verify_inline(
        self, hashes: np.ndarray, signatures: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        ok = np.zeros(len(hashes), dtype=bool)
        addresses = np.zeros((len(hashes), ADDRESS_SIZE), dtype=np.uint8)
        self.suite.verify_shard(hashes, signatures, ok, addresses)
        return ok, addresses

    def _verify_threads(
        self, hashes: np.ndarray, signatures: np.ndarray, shards: list[tuple[int, int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        ok = np.zeros(len(hashes), dtype=bool)
        addresses = np.zeros((len(hashes), ADDRESS_SIZE), dtype=np.uint8)
        assert self._threads is not None

        def run(shard: tuple[int, int]) -> None:
            a, b = shard
            self.suite.verify_shard(hashes[a:b], signatures[a:b], ok[a:b], addresses[a:b])

        futures = [self._threads.submit(run, shard) for shard in shards[1:]]
        run(shards[0])
        for future in futures:
            future.result()
        return ok, addresses

    def _ensure_capacity(self, count: int) -> tuple[np.ndarray, ...]:
        if self._segment is None or count > self._capacity:
            capacity = max(count, 2 * self._capacity, 1024)
            *_, size = _segment_layout(capacity, self.suite.signature_size)
            self._release_segment()
            self._segment = SharedMemory(create=True, size=size)
            self._capacity = capacity
        return _segment_views(self._segment.buf, self._capacity, self.suite.signature_size)

    def _verify_processes(
        self, hashes: np.ndarray, signatures: np.ndarray, shards: list[tuple[int, int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        count = len(hashes)
        ok = np.empty(count, dtype=bool)
        addresses = np.empty((count, ADDRESS_SIZE), dtype=np.uint8)
        failed = self._run_shards(hashes, signatures, shards, ok, addresses)
        if failed:
            self._stop_workers()  # the next call starts a fresh pool
            raise RuntimeError("signature verification worker failed: " + "; ".join(failed))
        return ok, addresses

    def _run_shards(
        self,
        hashes: np.ndarray,
        signatures: np.ndarray,
        shards: list[tuple[int, int]],
        ok: np.ndarray,
        addresses: np.ndarray,
    ) -> list[str]:
        """Verifies shard 0 here and the others in the workers; returns what went wrong."""
        count = len(hashes)
        seg_hashes, seg_signatures, seg_ok, seg_addresses = self._ensure_capacity(count)
        first_stop = shards[0][1]
        # The caller's own shard is verified from its arrays; only the others are copied.
        seg_hashes[first_stop:count] = hashes[first_stop:]
        seg_signatures[first_stop:count] = signatures[first_stop:]
        assert self._segment is not None
        request = (self._segment.name, self._capacity)
        failed: list[str] = []
        sent: list[tuple[int, Connection, int, int]] = []
        for index, (conn, (a, b)) in enumerate(zip(self._conns, shards[1:], strict=False)):
            try:
                conn.send((*request, a, b))
                sent.append((index, conn, a, b))
            except OSError:  # BrokenPipeError: the worker is gone
                failed.append(self._worker_failure(index, a, b))
        self.suite.verify_shard(
            hashes[:first_stop], signatures[:first_stop], ok[:first_stop], addresses[:first_stop]
        )
        for index, conn, a, b in sent:
            try:
                done = conn.recv()
            except (EOFError, OSError):
                failed.append(self._worker_failure(index, a, b))
                continue
            if done != b - a:
                failed.append(f"worker {index + 1} answered {done!r} for rows {a}..{b - 1}")
        ok[first_stop:] = seg_ok[first_stop:count]
        addresses[first_stop:] = seg_addresses[first_stop:count]
        return failed

    def _worker_failure(self, index: int, start: int, stop: int) -> str:
        process = self._processes[index]
        process.join(timeout=1)
        return f"worker {index + 1} (exit code {process.exitcode}) on rows {start}..{stop - 1}"


_POOLS: dict[tuple[str, str, int, str], VerifierPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(
    suite: CryptoSuite, workers: int | None = None, mode: Mode = DEFAULT_MODE
) -> VerifierPool:
    """The process-wide persistent pool for this suite, worker count and mode."""
    count = default_workers() if workers is None else int(workers)
    key = (suite.name, suite.backend, count, mode)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None or pool._closed:
            pool = _POOLS[key] = VerifierPool(suite, count, mode)
        return pool


@atexit.register
def close_shared_pools() -> None:
    """Stops every shared pool (called at interpreter exit)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()


def verify_batch(
    hashes: np.ndarray,
    signatures: np.ndarray,
    senders: np.ndarray | None = None,
    suite: str | CryptoSuite = "secp256k1",
    workers: int | None = None,
    *,
    return_senders: bool = False,
    mode: Mode = DEFAULT_MODE,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Verifies n transaction signatures on every core; returns a bool array of verdicts.

    Parameters
    ----------
    hashes:
        n×32 uint8: the signed message hashes (transaction hashes).
    signatures:
        n×65 uint8 r‖s‖v for secp256k1, n×128 r‖s‖public key for sm2.
    senders:
        optional n×20 uint8 expected sender addresses. A signature is then valid only when it
        recovers exactly that sender (FISCO's rule: recover, then compare addresses).
    suite:
        ``"secp256k1"`` or ``"sm2"`` or a suite object from :func:`get_suite`.
    workers:
        cores to use (default: all this process may run on). 1 verifies in this process.
    return_senders:
        also return the n×20 recovered addresses (zeros where invalid).
    mode:
        ``"processes"`` (default) or ``"threads"``.

    Malformed signatures are False, never an exception; inputs of the wrong shape or dtype are
    a ValueError before any work starts.

    Examples
    --------
    >>> import numpy as np
    >>> from fiscosim.crypto import get_suite, verify_batch
    >>> s = get_suite("secp256k1")
    >>> key, pub = s.generate_keypair(np.random.default_rng(0))
    >>> h = s.hash(b"transfer 10")
    >>> hashes = np.frombuffer(h, np.uint8).reshape(1, 32)
    >>> sigs = np.frombuffer(s.sign(h, key), np.uint8).reshape(1, 65)
    >>> verify_batch(hashes, sigs, workers=1).tolist()
    [True]
    """
    suite_obj = get_suite(suite) if isinstance(suite, str) else suite
    hashes = uint8_rows("hashes", hashes, HASH_SIZE)
    signatures = uint8_rows("signatures", signatures, suite_obj.signature_size)
    if len(signatures) != len(hashes):
        raise ValueError(
            f"hashes and signatures differ in length: {len(hashes)} vs {len(signatures)}"
        )
    if senders is not None:
        senders = uint8_rows("senders", senders, ADDRESS_SIZE)
        if len(senders) != len(hashes):
            raise ValueError(
                f"hashes and senders differ in length: {len(hashes)} vs {len(senders)}"
            )
    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")

    if len(hashes) == 0:
        ok, recovered = np.zeros(0, dtype=bool), np.zeros((0, ADDRESS_SIZE), dtype=np.uint8)
    elif workers == 1:
        ok = np.zeros(len(hashes), dtype=bool)
        recovered = np.zeros((len(hashes), ADDRESS_SIZE), dtype=np.uint8)
        suite_obj.verify_shard(hashes, signatures, ok, recovered)
    else:
        ok, recovered = shared_pool(suite_obj, workers, mode).verify(hashes, signatures)
    if senders is not None:
        ok &= (recovered == senders).all(axis=1)
    return (ok, recovered) if return_senders else ok
