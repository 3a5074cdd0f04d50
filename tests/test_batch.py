"""The batch verification core: shapes, mixed verdicts, sharding, and worker robustness."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from fiscosim.crypto import get_suite, verify_batch
from fiscosim.crypto.batch import VerifierPool, default_workers
from fiscosim.crypto.secp256k1 import SECP256K1_N

WORKERS = max(2, default_workers())


def corrupt(hashes, signatures, senders, seed=3):
    """Breaks about half the rows in the ways a txpool meets; returns the expected verdicts."""
    hashes, signatures, senders = hashes.copy(), signatures.copy(), senders.copy()
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 10, size=len(hashes))
    n_bytes = SECP256K1_N.to_bytes(32, "big")
    for i in np.flatnonzero(kind >= 1):
        k = kind[i]
        if k == 1:
            hashes[i, 5] ^= 0x40  # tampered message
        elif k == 2:
            signatures[i, 64] ^= 1  # flipped v
        elif k == 3:
            signatures[i, 64] = 4 + rng.integers(0, 252)  # v out of range
        elif k == 4:
            signatures[i, :32] = 0  # r = 0
        elif k == 5:
            signatures[i, 32:64] = np.frombuffer(n_bytes, np.uint8)  # s = n
        elif k == 6:
            signatures[i] = 0xFF
        elif k == 7:
            senders[i, 0] ^= 1  # claims another sender
    expected = kind == 0
    expected |= kind >= 8  # untouched rows
    return hashes, signatures, senders, expected


@pytest.mark.parametrize("count", [0, 1, WORKERS + 1, 10_007])
def test_mixed_batches(count, secp_batch_10007):
    hashes, signatures, senders = (a[:count] for a in secp_batch_10007)
    hashes, signatures, senders, expected = corrupt(hashes, signatures, senders)
    ok = verify_batch(hashes, signatures, senders, workers=WORKERS)
    assert ok.dtype == np.bool_ and ok.shape == (count,)
    assert np.array_equal(ok, expected)


def test_one_worker_and_many_workers_agree(secp_batch_10007):
    hashes, signatures, senders, expected = corrupt(*secp_batch_10007, seed=11)
    results = []
    for workers, mode in [(1, "processes"), (WORKERS, "processes"), (WORKERS, "threads")]:
        ok, recovered = verify_batch(
            hashes, signatures, senders, workers=workers, mode=mode, return_senders=True
        )
        results.append((ok, recovered))
    for ok, recovered in results:
        assert np.array_equal(ok, expected)
        assert np.array_equal(ok, results[0][0])
        assert np.array_equal(recovered, results[0][1])


def test_recovered_senders_are_returned(secp_batch_10007):
    hashes, signatures, senders = (a[:500] for a in secp_batch_10007)
    ok, recovered = verify_batch(hashes, signatures, workers=WORKERS, return_senders=True)
    assert ok.all()
    assert np.array_equal(recovered, senders)


def test_small_shards_are_spread_over_every_worker(secp_batch_10007):
    hashes, signatures, senders = (a[: WORKERS + 1] for a in secp_batch_10007)
    with VerifierPool(get_suite("secp256k1"), WORKERS, min_shard=1) as pool:
        assert len(pool._shards(len(hashes))) == WORKERS
        ok, recovered = pool.verify(hashes, signatures)
    assert ok.all() and np.array_equal(recovered, senders)


def test_every_input_is_verified_again(secp_batch_10007):
    # No verdict cache: the same rows, then the same rows tampered, give fresh verdicts.
    hashes, signatures, senders = (a[:300] for a in secp_batch_10007)
    assert verify_batch(hashes, signatures, senders, workers=WORKERS).all()
    tampered = hashes.copy()
    tampered[:, 0] ^= 1
    assert not verify_batch(tampered, signatures, senders, workers=WORKERS).any()


@pytest.mark.parametrize(
    ("hashes", "signatures", "senders", "message"),
    [
        (np.zeros((3, 32), np.uint8), np.zeros((2, 65), np.uint8), None, "differ in length"),
        (np.zeros((3, 31), np.uint8), np.zeros((3, 65), np.uint8), None, r"shape \(n, 32\)"),
        (np.zeros((3, 32), np.uint8), np.zeros((3, 64), np.uint8), None, r"shape \(n, 65\)"),
        (np.zeros((3, 32), np.int64), np.zeros((3, 65), np.uint8), None, "uint8"),
        (np.zeros(96, np.uint8), np.zeros((3, 65), np.uint8), None, r"shape \(n, 32\)"),
        (
            np.zeros((3, 32), np.uint8),
            np.zeros((3, 65), np.uint8),
            np.zeros((2, 20), np.uint8),
            "senders differ",
        ),
        (
            np.zeros((3, 32), np.uint8),
            np.zeros((3, 65), np.uint8),
            np.zeros((3, 21), np.uint8),
            r"shape \(n, 20\)",
        ),
    ],
)
def test_bad_shapes_are_a_clear_value_error(hashes, signatures, senders, message):
    with pytest.raises(ValueError, match=message):
        verify_batch(hashes, signatures, senders, workers=2)


def test_bad_workers_and_suite():
    empty = np.zeros((0, 32), np.uint8), np.zeros((0, 65), np.uint8)
    with pytest.raises(ValueError, match="workers"):
        verify_batch(*empty, workers=0)
    with pytest.raises(ValueError, match="unknown crypto suite"):
        verify_batch(*empty, suite="rsa")


def test_garbage_never_kills_a_worker():
    rng = np.random.default_rng(5)
    count = 4000
    hashes = np.frombuffer(rng.bytes(32 * count), np.uint8).reshape(count, 32)
    signatures = np.frombuffer(rng.bytes(65 * count), np.uint8).reshape(count, 65)
    with VerifierPool(get_suite("secp256k1"), WORKERS, min_shard=1) as pool:
        ok, _ = pool.verify(hashes, signatures)
        assert all(p.is_alive() for p in pool._processes)
        # Random r‖s with a valid v often recovers *some* key; what matters is no crash.
        assert ok.shape == (count,)


def test_a_dead_worker_is_reported_and_the_pool_restarts(secp_batch_10007):
    hashes, signatures, senders = (a[:400] for a in secp_batch_10007)
    with VerifierPool(get_suite("secp256k1"), 2, min_shard=1) as pool:
        assert pool.verify(hashes, signatures)[0].all()
        victim = pool._processes[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join()
        with pytest.raises(RuntimeError, match="worker 1"):
            pool.verify(hashes, signatures)
        ok, recovered = pool.verify(hashes, signatures)
        assert ok.all() and np.array_equal(recovered, senders)


SEGMENT_LIFECYCLE = """
from fiscosim.crypto import get_suite
from fiscosim.crypto.batch import VerifierPool
from fiscosim.crypto.throughput import make_corpus

suite = get_suite("secp256k1")
hashes, signatures, _ = make_corpus(suite, 64)
for _ in range(3):  # later pools fork after the resource tracker is already running
    with VerifierPool(suite, 2, min_shard=1) as pool:
        assert pool.verify(hashes, signatures)[0].all()
print("done")
"""


def test_pools_one_after_another_leave_no_tracker_errors():
    # A worker that unregistered the caller's segment made the caller's unlink raise a
    # KeyError inside multiprocessing's resource tracker, printed to stderr at every close.
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", SEGMENT_LIFECYCLE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "Traceback" not in result.stderr and "leaked" not in result.stderr, result.stderr
