"""The host's shared verdicts: each distinct transaction really verified once per run."""

from __future__ import annotations

import numpy as np
import pytest

import fiscosim.crypto.batch as batch_core
from fiscosim.chain.txbatch import NO_ACCOUNT, TxBatch
from fiscosim.crypto import verify_batch
from fiscosim.sim.verdicts import UNKNOWN, SharedVerifier
from fiscosim.workload.corpus import build_corpus, tamper

COUNT = 200


@pytest.fixture(scope="module", params=["secp256k1", "sm2"])
def corpus(request):
    return build_corpus(request.param, COUNT, accounts=8, seed=21, workers=1)


@pytest.fixture
def core_calls(monkeypatch):
    """Records the row count of every call of the real batch core (and still makes it)."""
    calls: list[int] = []
    real = batch_core.verify_batch

    def spy(hashes, signatures, senders=None, *args, **kw):
        calls.append(len(hashes))
        return real(hashes, signatures, senders, *args, **kw)

    monkeypatch.setattr(batch_core, "verify_batch", spy)
    return calls


def rows_as_batch(corpus, rows, ids) -> TxBatch:
    rows = np.asarray(rows)
    return corpus.batch(rows, ids=np.asarray(ids), submit_times=np.zeros(len(rows), np.int64))


def direct(corpus, batch) -> np.ndarray:
    return verify_batch(
        batch.hashes,
        batch.signatures,
        corpus.accounts[batch.senders],
        suite=corpus.suite,
        workers=1,
    )


def test_each_id_is_verified_once_across_overlapping_batches(corpus, core_calls):
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=1)
    first = rows_as_batch(corpus, np.arange(0, 100), np.arange(0, 100))
    second = rows_as_batch(corpus, np.arange(50, 150), np.arange(50, 150))
    assert verifier.verdicts(first).all()
    assert (verifier.verified, verifier.reused, core_calls) == (100, 0, [100])
    assert verifier.verdicts(second).all()
    assert (verifier.verified, verifier.reused, core_calls) == (150, 50, [100, 50])
    # every node of a 4-node group asks again: nothing more is verified, one lookup each
    for _ in range(4):
        assert verifier.verdicts(second).all()
    assert (verifier.verified, verifier.reused, core_calls) == (150, 450, [100, 50])
    assert verifier.core_calls == 2


def test_verdicts_match_a_direct_call_of_the_core_with_tampered_rows(corpus):
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=1)
    clean = rows_as_batch(corpus, np.arange(COUNT), np.arange(COUNT))
    # a tampered variant is another transaction: its own ids
    forged = rows_as_batch(corpus, np.arange(COUNT), np.arange(COUNT, 2 * COUNT))
    forged, mask = tamper(forged, 0.3, np.random.default_rng(4))
    both = TxBatch.concat([clean, forged])
    expected = direct(corpus, both)
    assert np.array_equal(expected[COUNT:], ~mask) and expected[:COUNT].all()
    order = np.random.default_rng(1).permutation(len(both))
    got = np.zeros(len(both), dtype=bool)
    for rows in (order[: len(both) // 2], order[len(both) // 4 :]):  # overlapping, shuffled
        got[rows] = verifier.verdicts(both[rows])
    assert np.array_equal(got, expected)
    assert verifier.verified == len(both)
    assert np.array_equal(verifier.verdicts(both), expected)
    assert np.array_equal(verifier.known(both.ids), expected.astype(np.int8))


def test_an_id_repeated_within_a_batch_is_verified_once(corpus, core_calls):
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=1)
    batch = rows_as_batch(corpus, [0, 1, 0, 2, 1], [10, 11, 10, 12, 11])
    assert verifier.verdicts(batch).tolist() == [True] * 5
    assert core_calls == [3] and (verifier.verified, verifier.reused) == (3, 2)


def test_a_known_batch_does_not_call_the_core(corpus, core_calls):
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=1)
    batch = rows_as_batch(corpus, np.arange(10), np.arange(10))
    verifier.verdicts(batch)
    verifier.verdicts(batch[3:7])
    assert core_calls == [10]
    assert verifier.verdicts(batch[0:0]).shape == (0,)
    assert core_calls == [10]


def test_wrong_sender_fails(corpus):
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=1)
    batch = rows_as_batch(corpus, np.arange(4), np.arange(4))
    senders = batch.senders.copy()
    senders[1] = (senders[1] + 1) % len(corpus.accounts)  # another account's address
    senders[2] = NO_ACCOUNT
    senders[3] = len(corpus.accounts) + 5  # outside the table
    lying = TxBatch(
        batch.ids,
        batch.sizes,
        senders,
        batch.nonces,
        batch.submit_times,
        hashes=batch.hashes,
        signatures=batch.signatures,
    )
    assert verifier.verdicts(lying).tolist() == [True, False, False, False]


def test_the_table_grows_for_sparse_ids(corpus):
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=1)
    batch = rows_as_batch(corpus, [0, 1], [5, 1_000_000])
    assert verifier.verdicts(batch).tolist() == [True, True]
    assert verifier.known(np.array([5, 6, 1_000_000, 2_000_000, -1])).tolist() == [
        1,
        UNKNOWN,
        1,
        UNKNOWN,
        UNKNOWN,
    ]


def test_refuses_modelled_batches_and_negative_ids(corpus):
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=1)
    modelled = TxBatch(
        np.arange(3), np.full(3, 200), np.zeros(3, int), np.arange(3), np.zeros(3, int)
    )
    with pytest.raises(ValueError, match="modelled"):
        verifier.verdicts(modelled)
    with pytest.raises(ValueError, match="non-negative"):
        verifier.verdicts(rows_as_batch(corpus, [0], [-3]))


def test_uses_the_worker_pool(corpus):
    """The default path shards over the core's persistent processes; same verdicts."""
    verifier = SharedVerifier(corpus.suite, corpus.accounts, workers=2)
    batch = rows_as_batch(corpus, np.arange(COUNT), np.arange(COUNT))
    forged, mask = tamper(batch, 0.1, np.random.default_rng(2))
    assert np.array_equal(verifier.verdicts(forged), ~mask)
