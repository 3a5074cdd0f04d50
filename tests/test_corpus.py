"""The signed corpus: determinism, real signatures, the on-disk cache, tampering."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from fiscosim.chain.transaction import SignedTransaction, Transaction
from fiscosim.chain.txbatch import TxBatch
from fiscosim.crypto import get_suite, verify_batch
from fiscosim.crypto.sm2 import DEFAULT_ID
from fiscosim.workload import corpus as corpus_module
from fiscosim.workload.corpus import (
    CorpusCacheWarning,
    build_corpus,
    cache_path,
    default_cache_dir,
    load_corpus,
    load_or_build,
    tamper,
    tamper_rows,
)

SUITES = ["secp256k1", "sm2"]
COUNT = 200  # sm2 signs at a few thousand per second: keep corpora small
ACCOUNTS = 8


def small(suite: str, count: int = COUNT, **kw):
    kw.setdefault("workers", 1)
    return build_corpus(suite, count, accounts=ACCOUNTS, seed=kw.pop("seed", 11), **kw)


@pytest.fixture(scope="module", params=SUITES)
def corpus(request):
    return small(request.param)


def same_arrays(a, b) -> bool:
    return all(
        np.array_equal(x, y) for x, y in zip(a.arrays().values(), b.arrays().values(), strict=True)
    )


def expected_senders(c) -> np.ndarray:
    return c.accounts[c.senders]


# --- building -------------------------------------------------------------------------------


def test_shapes_and_dtypes(corpus):
    suite = get_suite(corpus.suite)
    assert len(corpus) == corpus.count == COUNT
    assert corpus.accounts.shape == (ACCOUNTS, 20) and corpus.accounts.dtype == np.uint8
    assert corpus.hashes.shape == (COUNT, 32)
    assert corpus.signatures.shape == (COUNT, suite.signature_size)
    assert corpus.senders.dtype == np.int32 and corpus.nonces.dtype == np.int64
    assert corpus.sizes.dtype == np.int32
    assert not corpus.signatures.flags.writeable  # a corpus never changes
    assert len(np.unique(corpus.nonces)) == COUNT and (corpus.nonces >= 0).all()
    assert len(np.unique(corpus.hashes, axis=0)) == COUNT
    assert set(corpus.senders.tolist()) == set(range(ACCOUNTS))  # 200 draws over 8 accounts


def test_same_arguments_same_corpus(corpus):
    again = small(corpus.suite)
    assert same_arrays(corpus, again)
    assert corpus.digest() == again.digest()


def test_another_seed_another_corpus(corpus):
    other = small(corpus.suite, seed=12)
    assert not np.array_equal(corpus.accounts, other.accounts)
    assert not np.array_equal(corpus.hashes, other.hashes)
    assert not np.array_equal(corpus.signatures[:, :64], other.signatures[:, :64])
    assert corpus.digest() != other.digest()


def test_other_fields_change_the_hashes(corpus):
    other = small(corpus.suite, count=20, chain_id="chain1")
    assert not np.array_equal(corpus.hashes[:20], other.hashes)
    assert np.array_equal(corpus.nonces[:20], other.nonces)


def test_every_transaction_really_verifies_and_names_its_sender(corpus):
    ok, recovered = verify_batch(
        corpus.hashes,
        corpus.signatures,
        expected_senders(corpus),
        suite=corpus.suite,
        workers=1,
        return_senders=True,
    )
    assert ok.all()
    assert np.array_equal(recovered, expected_senders(corpus))
    # and through the pool of the batch core, as a run calls it
    assert verify_batch(
        corpus.hashes, corpus.signatures, expected_senders(corpus), suite=corpus.suite, workers=2
    ).all()


def test_sm2_corpus_verifies_with_the_fallback_and_gmssl():
    c = small("sm2", count=24)
    fallback = get_suite("sm2", backend="fallback")
    assert verify_batch(
        c.hashes, c.signatures, expected_senders(c), suite=fallback, workers=1
    ).all()
    gmssl = pytest.importorskip("gmssl_pyx")
    for row in range(4):
        sig = c.signatures[row].tobytes()
        encoded = der(sig[:32], sig[32:64])
        assert gmssl.sm2_verify(sig[64:], c.hashes[row].tobytes(), encoded, DEFAULT_ID)


def der(r: bytes, s: bytes) -> bytes:
    """ASN.1 DER of (r, s), the form gmssl takes."""
    from fiscosim.crypto.sm2 import _der_encode

    return _der_encode(r, s)


def test_regenerated_transactions_match_hashes_sizes_and_fields(corpus):
    suite = get_suite(corpus.suite)
    signed = corpus.transactions(np.array([0, 5, COUNT - 1]))
    for tx, row in zip(signed, [0, 5, COUNT - 1], strict=True):
        assert isinstance(tx, SignedTransaction)
        assert tx.hash(suite) == corpus.hashes[row].tobytes()
        assert len(tx.encode()) == corpus.sizes[row]
        assert tx.sender(suite) == corpus.accounts[corpus.senders[row]].tobytes()
        assert tx.tx.nonce == corpus.nonces[row]
        assert (tx.tx.chain_id, tx.tx.group_id, tx.tx.block_limit) == ("chain0", "group0", 1000)
        assert len(tx.tx.input) == 100 and tx.tx.to == corpus.to


def test_a_prefix_of_a_larger_corpus_is_the_smaller_corpus(corpus):
    assert same_arrays(corpus.head(70), small(corpus.suite, count=70))


@pytest.mark.parametrize("suite", SUITES)
def test_processes_and_chunks_do_not_change_rows(suite, monkeypatch):
    # Small chunks make a 100-row corpus several chunks, so the pool really shares them.
    monkeypatch.setattr(corpus_module, "CHUNK_ROWS", 16)
    one = small(suite, count=100, workers=1)
    pooled = small(suite, count=100, workers=2)
    assert same_arrays(one, pooled)
    assert same_arrays(one.head(40), small(suite, count=40, workers=2))
    assert verify_batch(one.hashes, one.signatures, expected_senders(one), suite=suite).all()


def test_progress_reports_every_chunk(monkeypatch):
    monkeypatch.setattr(corpus_module, "CHUNK_ROWS", 16)
    calls = []
    small("secp256k1", count=40, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(16, 40), (32, 40), (40, 40)]


def test_empty_corpus_and_bad_arguments():
    empty = small("secp256k1", count=0)
    assert len(empty) == 0 and empty.hashes.shape == (0, 32)
    with pytest.raises(ValueError):
        build_corpus("secp256k1", -1)
    with pytest.raises(ValueError):
        build_corpus("secp256k1", 1, accounts=0)
    with pytest.raises(ValueError):
        build_corpus("ed25519", 1)


def test_batch_is_real_crypto_with_run_ids(corpus):
    rows = np.array([3, 1, 4, 1])
    batch = corpus.batch(rows, ids=np.arange(100, 104), submit_times=np.array([5, 6, 7, 8]))
    assert batch.real_crypto and len(batch) == 4
    assert batch.ids.tolist() == [100, 101, 102, 103]
    assert batch.submit_times.tolist() == [5, 6, 7, 8]
    assert np.array_equal(batch.hashes, corpus.hashes[rows])
    assert np.array_equal(batch.senders, corpus.senders[rows])
    assert batch.sizes.tolist() == corpus.sizes[rows].tolist()
    assert batch.verify(get_suite(corpus.suite), workers=1).all()
    sliced = corpus.batch(slice(10, 20), ids=np.arange(10), submit_times=np.zeros(10, np.int64))
    joined = TxBatch.concat([batch, sliced])  # one account table object: concatenates
    assert len(joined) == 14 and joined.accounts is corpus.accounts


# --- the cache --------------------------------------------------------------------------------


def forbid_building(monkeypatch):
    def refuse(*args, **kw):
        raise AssertionError("the corpus should have come from the cache")

    monkeypatch.setattr(corpus_module, "build_corpus", refuse)


@pytest.mark.parametrize("suite", SUITES)
def test_cache_round_trip(suite, tmp_path, monkeypatch):
    built = load_or_build(suite, 60, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1)
    path = cache_path(
        tmp_path,
        suite,
        60,
        ACCOUNTS,
        11,
        chain_id="chain0",
        group_id="group0",
        block_limit=1000,
        input_size=100,
    )
    assert path.is_file() and path.name.startswith(f"corpus-{suite}-n60-a{ACCOUNTS}-s11-")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    forbid_building(monkeypatch)
    loaded = load_or_build(suite, 60, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path)
    assert same_arrays(built, loaded) and loaded.digest() == built.digest()
    assert same_arrays(loaded, small(suite, count=60))
    assert loaded.suite == suite and loaded.seed == 11 and loaded.block_limit == 1000


def test_a_larger_cached_corpus_serves_a_smaller_request(tmp_path, monkeypatch):
    load_or_build("secp256k1", 90, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1)
    load_or_build("secp256k1", 150, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1)
    forbid_building(monkeypatch)
    served = load_or_build("secp256k1", 100, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path)
    assert served.count == 100
    monkeypatch.undo()
    assert same_arrays(served, small("secp256k1", count=100))


def test_other_parameters_are_another_cache_entry(tmp_path):
    a = load_or_build("secp256k1", 20, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1)
    b = load_or_build(
        "secp256k1", 20, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, block_limit=2000, workers=1
    )
    c = load_or_build("secp256k1", 20, accounts=ACCOUNTS + 1, seed=11, cache_dir=tmp_path)
    assert b.block_limit == 2000 and not np.array_equal(a.hashes, b.hashes)
    assert len(c.accounts) == ACCOUNTS + 1
    assert len(list(tmp_path.glob("corpus-*.npz"))) == 3
    with pytest.raises(TypeError):
        load_or_build("secp256k1", 20, cache_dir=tmp_path, colour="red")


def cached_file(tmp_path, count=40):
    corpus = load_or_build(
        "secp256k1", count, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1
    )
    (path,) = tmp_path.glob("corpus-*.npz")
    return corpus, path


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip_signature_byte"])
def test_a_damaged_cache_file_is_rebuilt_with_a_warning(tmp_path, damage):
    corpus, path = cached_file(tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a corpus" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a well-formed file whose signatures were altered: only the digest can tell
        with np.load(path) as stored:
            arrays = {name: stored[name].copy() for name in stored.files}
        arrays["signatures"][7, 40] ^= 1
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
        with pytest.raises(ValueError, match="digest"):
            load_corpus(path)
    with pytest.warns(CorpusCacheWarning, match="unusable"):
        rebuilt = load_or_build(
            "secp256k1", 40, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1
        )
    assert same_arrays(rebuilt, corpus)
    assert load_corpus(path).digest() == corpus.digest()  # the rebuilt file is sound again


def test_a_damaged_larger_file_is_skipped_for_a_sound_build(tmp_path):
    _, path = cached_file(tmp_path, count=60)
    path.write_bytes(b"\x00" * 50)
    with pytest.warns(CorpusCacheWarning):
        served = load_or_build(
            "secp256k1", 30, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1
        )
    assert served.count == 30 and not path.exists()


def test_an_unwritable_cache_still_gives_the_corpus(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(CorpusCacheWarning, match="could not write"):
        corpus = load_or_build(
            "secp256k1", 10, accounts=ACCOUNTS, seed=11, cache_dir=blocker / "corpus", workers=1
        )
    assert corpus.count == 10


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FISCOSIM_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("FISCOSIM_CACHE")
    assert default_cache_dir().parts[-3:] == (".cache", "fiscosim", "corpus")


def test_writing_is_atomic(tmp_path, monkeypatch):
    """A failure while writing leaves neither a partial file nor a temporary one behind."""

    def fail(*args, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.warns(CorpusCacheWarning, match="disk full"):
        load_or_build("secp256k1", 10, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path, workers=1)
    assert list(tmp_path.iterdir()) == []


# --- tampering ----------------------------------------------------------------------------------


def test_tamper_flips_one_bit_of_s_in_exactly_the_masked_rows(corpus):
    suite = get_suite(corpus.suite)
    batch = corpus.batch(slice(None), ids=np.arange(COUNT), submit_times=np.zeros(COUNT, np.int64))
    tampered, mask = tamper(batch, 0.25, np.random.default_rng(5))
    assert mask.dtype == bool and 20 < mask.sum() < 80
    changed = tampered.signatures != batch.signatures
    assert np.array_equal(changed.any(axis=1), mask)
    assert (changed.sum(axis=1)[mask] == 1).all()  # one byte ...
    diff = np.bitwise_xor(tampered.signatures, batch.signatures)[changed]
    assert all(bin(int(v)).count("1") == 1 for v in diff)  # ... and one bit of it
    assert changed[:, 32:64].sum() == changed.sum()  # only s
    assert np.array_equal(tampered.hashes, batch.hashes)  # dedupe by hash still works
    assert np.array_equal(tampered.ids, batch.ids) and np.array_equal(batch.hashes, corpus.hashes)
    ok = verify_batch(
        tampered.hashes, tampered.signatures, expected_senders(corpus), suite=suite, workers=1
    )
    assert np.array_equal(ok, ~mask)
    assert np.array_equal(tampered.verify(suite, workers=1), ~mask)
    assert batch.verify(suite, workers=1).all()  # the original is untouched


def test_tamper_is_deterministic_and_bounded(corpus):
    batch = corpus.batch(slice(0, 50), ids=np.arange(50), submit_times=np.zeros(50, np.int64))
    a, mask_a = tamper(batch, 0.5, np.random.default_rng(9))
    b, mask_b = tamper(batch, 0.5, np.random.default_rng(9))
    assert np.array_equal(mask_a, mask_b) and np.array_equal(a.signatures, b.signatures)
    none, mask = tamper(batch, 0.0, np.random.default_rng(9))
    assert not mask.any() and np.array_equal(none.signatures, batch.signatures)
    _, mask = tamper(batch, 1.0, np.random.default_rng(9))
    assert mask.all()
    with pytest.raises(ValueError):
        tamper(batch, 1.5, np.random.default_rng(9))


def test_tamper_patches_payloads_too():
    suite = get_suite("secp256k1")
    key, _ = suite.generate_keypair(np.random.default_rng(3))
    signed = [
        Transaction(block_limit=9, nonce=i, input=b"x" * i).sign(suite, key) for i in range(6)
    ]
    batch = TxBatch.from_transactions(signed, suite)
    mask = np.array([True, False, True, False, False, True])
    tampered = tamper_rows(batch, mask, np.random.default_rng(1))
    decoded = tampered.to_transactions()
    assert [tx.signature for tx in decoded] == [row.tobytes() for row in tampered.signatures]
    assert [
        tx.sender(suite) is not None and tx.sender(suite) == signed[0].sender(suite)
        for tx in decoded
    ] == (~mask).tolist()
    assert batch.to_transactions() == signed  # the original payloads are untouched


def test_no_warning_on_a_clean_cache_hit(tmp_path):
    cached_file(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_or_build("secp256k1", 40, accounts=ACCOUNTS, seed=11, cache_dir=tmp_path)
