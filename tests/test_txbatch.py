"""TxBatch: the columnar transaction batch (docs/architecture.md rule 2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscosim.chain import Transaction, TxBatch, txs_root
from fiscosim.chain.transaction import SignedTransaction
from fiscosim.chain.txbatch import NO_ACCOUNT, account_indices
from fiscosim.crypto import get_suite, verify_batch


def modelled(count: int, seed: int = 0, **extra) -> TxBatch:
    rng = np.random.default_rng(seed)
    return TxBatch(
        ids=np.arange(count) + 1000,
        sizes=rng.integers(100, 400, count),
        senders=rng.integers(0, 50, count),
        nonces=rng.integers(0, 2**62, count),
        submit_times=np.sort(rng.integers(0, 10_000_000, count)),
        extra=extra or None,
    )


def corpus(suite, count: int, accounts: int = 4, seed: int = 3):
    """Signed transactions by ``accounts`` keys, the account table and who signed each."""
    rng = np.random.default_rng(seed)
    keys = [suite.generate_keypair(rng) for _ in range(accounts)]
    table = np.array([np.frombuffer(suite.address_of(pub), np.uint8) for _, pub in keys])
    owners = rng.integers(0, accounts, count)
    txs = [
        Transaction(block_limit=500, nonce=i, to=b"\x09" * 20, input=bytes(i % 7)).sign(
            suite, keys[owners[i]][0]
        )
        for i in range(count)
    ]
    return txs, table, owners


# --- construction ---------------------------------------------------------------------------


def test_columns_have_their_documented_dtypes():
    batch = modelled(10)
    assert batch.ids.dtype == np.int64
    assert batch.sizes.dtype == np.int32
    assert batch.senders.dtype == np.int32
    assert batch.nonces.dtype == np.int64
    assert batch.submit_times.dtype == np.int64
    assert not batch.real_crypto and not batch.has_payloads
    assert len(batch) == 10
    assert batch.total_size() == int(batch.sizes.sum())
    assert "10 transactions (modelled)" in repr(batch)


def test_mismatched_lengths_are_a_clear_error():
    with pytest.raises(ValueError, match=r"differ in length: ids=3, sizes=2"):
        TxBatch([1, 2, 3], [1, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0])


@pytest.mark.parametrize(
    "columns, message",
    [
        (([0.5], [1], [0], [0], [0]), "ids must hold int64"),
        (([1], [-1], [0], [0], [0]), "sizes must be non-negative"),
        (([1], [1], [2**40], [0], [0]), "senders has values outside int32"),
        (([[1]], [1], [0], [0], [0]), "ids must be 1-D"),
        (([1], [1], [0], [0], [0.25]), "submit_times must hold int64"),
        (([1], [1], [0], np.array([2**63], np.uint64), [0]), "nonces has values outside int64"),
    ],
)
def test_bad_columns(columns, message):
    with pytest.raises(ValueError, match=message):
        TxBatch(*columns)


def test_optional_columns_are_checked():
    base = ([1, 2], [10, 10], [0, 0], [0, 0], [0, 0])
    hashes = np.zeros((2, 32), np.uint8)
    with pytest.raises(ValueError, match="come together"):
        TxBatch(*base, hashes=hashes)
    with pytest.raises(ValueError, match="2×32"):
        TxBatch(*base, hashes=np.zeros((2, 31), np.uint8), signatures=np.zeros((2, 65), np.uint8))
    with pytest.raises(ValueError, match="signatures"):
        TxBatch(*base, hashes=hashes, signatures=np.zeros((3, 65), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        TxBatch(*base, hashes=hashes.astype(np.int16), signatures=np.zeros((2, 65), np.uint8))
    with pytest.raises(ValueError, match="outside payload_buffer"):
        TxBatch(*base, payload_offsets=[0, 10], payload_buffer=np.zeros(15, np.uint8))
    with pytest.raises(ValueError, match="2 rows"):
        TxBatch(*base, extra={"contract": [1, 2, 3]})
    with pytest.raises(ValueError, match="built-in"):
        TxBatch(*base, extra={"ids": [1, 2]})
    with pytest.raises(ValueError, match="accounts"):
        TxBatch(*base, accounts=np.zeros((2, 19), np.uint8))


def test_columns_are_read_only_but_the_callers_arrays_are_not():
    ids = np.arange(3)
    batch = TxBatch(ids, [1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError):
        batch.ids[0] = 7
    ids[0] = 7  # still the caller's to change...
    assert ids.flags.writeable
    with pytest.raises(ValueError):
        batch[1:].sizes[0] = 5


def test_empty():
    assert len(TxBatch.empty()) == 0
    empty_real = TxBatch.empty(signature_size=65)
    assert empty_real.real_crypto and empty_real.signatures.shape == (0, 65)
    assert len(TxBatch.concat([])) == 0


# --- slicing and concatenation ----------------------------------------------------------------


def test_slices_are_views():
    batch = modelled(100, contract=np.arange(100) % 3)
    part = batch[10:20]
    assert part.ids.tolist() == list(range(1010, 1020))
    for name in ("ids", "sizes", "senders", "nonces", "submit_times"):
        assert np.shares_memory(getattr(part, name), getattr(batch, name))
    assert part.extra["contract"].tolist() == (np.arange(10, 20) % 3).tolist()


def test_masks_and_index_arrays():
    batch = modelled(50, contract=np.arange(50))
    mask = batch.senders < 10
    assert batch[mask].ids.tolist() == batch.ids[mask].tolist()
    assert batch[mask].extra["contract"].tolist() == np.flatnonzero(mask).tolist()
    picked = batch[np.array([5, 1, 1])]
    assert picked.ids.tolist() == [1005, 1001, 1001]
    assert batch[[0, 2]].ids.tolist() == [1000, 1002]
    with pytest.raises(TypeError, match="slice"):
        batch[3]
    with pytest.raises(IndexError):
        batch[np.ones(3, bool)]
    with pytest.raises(IndexError):
        batch[np.array([0.5])]


def test_concat_checks_compatibility():
    assert TxBatch.concat([modelled(3), modelled(2)]).ids.tolist() == [1000, 1001, 1002, 1000, 1001]
    with pytest.raises(ValueError, match="extra columns differ"):
        TxBatch.concat([modelled(3, contract=np.zeros(3)), modelled(2)])
    real = TxBatch.empty(signature_size=65)
    with pytest.raises(ValueError, match="real-crypto"):
        TxBatch.concat([real, modelled(2)])
    with pytest.raises(ValueError, match="signature sizes"):
        TxBatch.concat([real, TxBatch.empty(signature_size=128)])


@settings(max_examples=100, deadline=None)
@given(count=st.integers(0, 200), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_a_partition_concatenates_back(count, cuts):
    batch = modelled(count, contract=np.arange(count) * 2)
    bounds = sorted({0, count, *(c for c in cuts if c <= count)})
    parts = [batch[a:b] for a, b in itertools.pairwise(bounds)]
    joined = TxBatch.concat(parts)
    for name in ("ids", "sizes", "senders", "nonces", "submit_times"):
        assert np.array_equal(getattr(joined, name), getattr(batch, name))
    if parts:  # concat of no batches has no columns to know extra names from
        assert np.array_equal(joined.extra["contract"], batch.extra["contract"])


@settings(max_examples=100, deadline=None)
@given(count=st.integers(0, 100), seed=st.integers(0, 2**32 - 1))
def test_mask_and_complement_cover_the_batch(count, seed):
    batch = modelled(count, seed)
    mask = np.random.default_rng(seed).random(count) < 0.5
    joined = TxBatch.concat([batch[mask], batch[~mask]])
    assert sorted(joined.ids.tolist()) == batch.ids.tolist()


def test_with_extra_shares_columns():
    batch = modelled(5)
    tagged = batch.with_extra(valid=np.ones(5, bool))
    assert tagged.extra["valid"].all() and not batch.extra
    assert np.shares_memory(tagged.ids, batch.ids)


# --- real-crypto batches ------------------------------------------------------------------------


def test_from_transactions_round_trip(suite):
    txs, table, owners = corpus(suite, 25)
    times = np.arange(25) * 100_000
    batch = TxBatch.from_transactions(txs, suite, account_index=table, submit_times=times)
    assert batch.real_crypto and batch.has_payloads
    assert batch.submit_times.tolist() == times.tolist()
    assert np.array_equal(batch.accounts, table)
    assert batch.senders.tolist() == owners.tolist()
    assert batch.nonces.tolist() == list(range(25))
    assert batch.sizes.tolist() == [len(tx.encode()) for tx in txs]
    assert batch.signatures.shape == (25, suite.signature_size)
    assert [bytes(row) for row in batch.hashes] == [tx.hash(suite) for tx in txs]
    assert batch.to_transactions() == txs
    assert batch[3:9].to_transactions() == txs[3:9]
    assert batch[np.array([7, 2])].to_transactions() == [txs[7], txs[2]]


def test_the_batch_core_verifies_batch_columns(suite):
    txs, table, owners = corpus(suite, 12)
    batch = TxBatch.from_transactions(txs, suite, senders=owners, account_index=table)
    ok = verify_batch(batch.hashes, batch.signatures, table[batch.senders], suite, workers=1)
    assert ok.all()
    assert batch.verify(suite, workers=1).all()
    assert batch[4:9].verify(suite, workers=1).all()


def test_verify_rejects_wrong_senders_and_bad_signatures(suite):
    txs, table, owners = corpus(suite, 10)
    tampered = SignedTransaction(txs[3].tx, bytes(suite.signature_size))
    wrong_owner = (owners + 1) % len(table)
    owners_claimed = owners.copy()
    owners_claimed[5] = wrong_owner[5]
    owners_claimed[7] = NO_ACCOUNT
    signed = [*txs[:3], tampered, *txs[4:]]
    batch = TxBatch.from_transactions(signed, suite, senders=owners_claimed, account_index=table)
    expected = np.ones(10, bool)
    expected[[3, 5, 7]] = False
    assert batch.verify(suite, workers=1).tolist() == expected.tolist()
    # Without a table only the signatures themselves are checked.
    bare = TxBatch.from_transactions(signed, suite, senders=owners_claimed)
    assert bare.accounts is None
    assert bare.verify(suite, workers=1).tolist() == [i != 3 for i in range(10)]
    # A table given to verify overrides the batch's own: a rotated table names the wrong
    # account for every row, and an empty one names none.
    honest = TxBatch.from_transactions(txs, suite, senders=owners, account_index=table)
    assert honest.verify(suite, workers=1).all()
    rotated = np.roll(table, 1, axis=0)
    assert not honest.verify(suite, workers=1, accounts=rotated).any()
    assert not honest.verify(suite, workers=1, accounts=table[:0]).any()
    assert len(TxBatch.empty(signature_size=suite.signature_size).verify(suite, workers=1)) == 0
    with pytest.raises(ValueError, match="modelled"):
        modelled(3).verify(suite)


def test_verify_uses_the_worker_pool():
    suite = get_suite("secp256k1")
    txs, table, owners = corpus(suite, 40)
    batch = TxBatch.from_transactions(txs, suite, senders=owners, account_index=table)
    assert batch.verify(suite, workers=2).all()


def test_unknown_or_invalid_senders_get_no_account(suite):
    txs, table, owners = corpus(suite, 6)
    broken = SignedTransaction(txs[0].tx, bytes(suite.signature_size))
    batch = TxBatch.from_transactions([broken, *txs[1:]], suite, account_index=table[:1])
    expected = [0 if owner == 0 else NO_ACCOUNT for owner in owners]
    expected[0] = NO_ACCOUNT
    assert batch.senders.tolist() == expected
    with pytest.raises(ValueError, match="bytes for"):
        TxBatch.from_transactions([SignedTransaction(txs[0].tx, b"\x01")], suite, senders=[0])


def test_without_a_table_the_recovered_senders_make_one(suite):
    txs, table, owners = corpus(suite, 15, accounts=3)
    batch = TxBatch.from_transactions(txs, suite)
    assert len(batch.accounts) == len(np.unique(owners))
    assert np.array_equal(batch.accounts[batch.senders], table[owners])
    assert batch.verify(suite, workers=1).all()


def test_concat_needs_one_account_table():
    suite = get_suite("secp256k1")
    txs, table, owners = corpus(suite, 6)
    a = TxBatch.from_transactions(txs, suite, senders=owners, account_index=table)
    b = TxBatch.from_transactions(txs, suite, senders=owners, account_index=table.copy())
    assert np.array_equal(TxBatch.concat([a[:2], b[3:]]).accounts, table)
    with pytest.raises(ValueError, match="different tables"):
        TxBatch.concat([a, TxBatch.from_transactions(txs, suite, senders=owners)])
    with pytest.raises(ValueError, match="different tables"):
        TxBatch.concat(
            [a, TxBatch.from_transactions(txs, suite, senders=owners, account_index=table[::-1])]
        )


def test_concat_of_different_corpora_repacks_payloads():
    suite = get_suite("secp256k1")
    txs_a, _, owners_a = corpus(suite, 8, seed=1)
    txs_b, _, owners_b = corpus(suite, 5, seed=2)
    a = TxBatch.from_transactions(txs_a, suite, senders=owners_a)
    b = TxBatch.from_transactions(txs_b, suite, senders=owners_b)
    joined = TxBatch.concat([a[5:], b[np.array([4, 0])], a[:2]])
    assert joined.to_transactions() == [*txs_a[5:], txs_b[4], txs_b[0], *txs_a[:2]]
    assert len(joined.payload_buffer) == joined.total_size()
    same = TxBatch.concat([a[4:], a[:4]])  # one buffer: offsets only, no copy of the payloads
    assert same.payload_buffer is a.payload_buffer
    assert same.to_transactions() == [*txs_a[4:], *txs_a[:4]]


def test_txs_root_matches_the_block_model(suite):
    txs, _, owners = corpus(suite, 9)
    batch = TxBatch.from_transactions(txs, suite, senders=owners)
    assert batch.txs_root(suite) == txs_root([tx.hash(suite) for tx in txs], suite)
    assert batch[2:5].txs_root(suite) == txs_root([tx.hash(suite) for tx in txs[2:5]], suite)
    with pytest.raises(ValueError, match="modelled"):
        modelled(3).txs_root(suite)


def test_account_indices():
    table = np.random.default_rng(0).integers(0, 256, (30, 20), dtype=np.uint8)
    wanted = np.concatenate([table[[29, 0, 13]], np.full((1, 20), 255, np.uint8)])
    assert account_indices(wanted, table).tolist() == [29, 0, 13, NO_ACCOUNT]
    as_bytes = [row.tobytes() for row in table]
    assert account_indices(wanted, as_bytes).tolist() == [29, 0, 13, NO_ACCOUNT]
    assert account_indices(wanted, np.zeros((0, 20), np.uint8)).tolist() == [NO_ACCOUNT] * 4
    with pytest.raises(ValueError):
        account_indices(wanted, [b"\x01" * 19])
