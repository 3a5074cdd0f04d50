"""pytest-benchmark suite of the verification core (run by hand, not in CI's test step).

    pytest benchmarks --benchmark-only --benchmark-columns=min,median,ops

Each round really verifies every signature of a corpus of distinct signatures (there is no
cache to measure). ``ops`` is calls per second; multiply by the batch size for signatures/s,
or read ``extra_info['signatures_per_s']`` in the JSON report (``--benchmark-json``).
"""

from __future__ import annotations

import numpy as np
import pytest

from fiscosim.crypto import get_suite, verify_batch
from fiscosim.crypto.batch import default_workers, shared_pool
from fiscosim.crypto.throughput import make_corpus, secp256k1_recover_loop

BATCH = 4096


@pytest.fixture(scope="module")
def secp_corpus():
    return make_corpus(get_suite("secp256k1"), BATCH)


@pytest.fixture(scope="module")
def sm2_corpus():
    return make_corpus(get_suite("sm2"), 1024)


def _record(benchmark, count):
    benchmark.extra_info["batch"] = count
    benchmark.extra_info["signatures_per_s"] = count / benchmark.stats.stats.min


def test_secp256k1_native_recover_loop(benchmark, secp_corpus):
    hashes, signatures, _ = secp_corpus
    assert benchmark(secp256k1_recover_loop, hashes, signatures) == BATCH
    _record(benchmark, BATCH)


@pytest.mark.parametrize("workers", sorted({1, default_workers()}))
@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_secp256k1_verify_batch(benchmark, secp_corpus, workers, mode):
    hashes, signatures, senders = secp_corpus
    if workers > 1:
        shared_pool(get_suite("secp256k1"), workers, mode)
    ok = benchmark(verify_batch, hashes, signatures, senders, "secp256k1", workers, mode=mode)
    assert ok.all()
    _record(benchmark, BATCH)


@pytest.mark.parametrize("workers", sorted({1, default_workers()}))
def test_sm2_verify_batch(benchmark, sm2_corpus, workers):
    hashes, signatures, senders = sm2_corpus
    suite = get_suite("sm2")
    if workers > 1:
        shared_pool(suite, workers)
    benchmark.extra_info["backend"] = suite.backend
    ok = benchmark(verify_batch, hashes, signatures, senders, suite, workers)
    assert ok.all()
    _record(benchmark, len(hashes))


def test_keccak256_addresses(benchmark):
    from fiscosim.crypto import keccak256

    keys = [bytes(np.random.default_rng(i).bytes(64)) for i in range(BATCH)]
    benchmark(lambda: [keccak256(k) for k in keys])
    _record(benchmark, BATCH)
