"""The sender-key cache in front of batch secp256k1 verification (issue 21, part 3): its
verdicts against FISCO's recover-then-compare-addresses on warm, cold and mixed batches with
bad rows, and a cache that only verified rows fill, each key under its own address.

The cold path's rounds (each uncached sender's first undecided row recovered, vectorized; a
verified one's later rows batched; after two such rounds, the rest recovered at once) are
checked with spies on the recovery, on verify_batch and on what the cache stores.

Runs with or without the C extension (without it, verify_batch recovers each row); the tests
that rows really go through verify_batch run either way.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiscosim.crypto import get_suite, secp_batch, sender_cache
from fiscosim.crypto.sender_cache import SenderCache, address_of, verify_with_cache

SUITE = get_suite("secp256k1")
SETTINGS = settings(derandomize=True, deadline=None, max_examples=40,
                    suppress_health_check=[HealthCheck.too_slow])
ACCOUNTS = 12


@pytest.fixture(scope="module")
def keys():
    rng = np.random.default_rng(21)
    return [SUITE.generate_keypair(rng) for _ in range(ACCOUNTS)]


def batch(keys, owners, seed=0):
    """Hashes, signatures and claimed senders of rows signed by keys[owner] for each owner."""
    rng = np.random.default_rng(seed)
    hashes = [rng.bytes(32) for _ in owners]
    signatures = [SUITE.sign(h, keys[o][0]) for h, o in zip(hashes, owners, strict=True)]
    claimed = [SUITE.address_of(keys[o][1]) for o in owners]
    return [bytearray(h) for h in hashes], [bytearray(s) for s in signatures], claimed


def arrays(hashes, signatures, claimed):
    def rows(items, width):
        return np.frombuffer(b"".join(bytes(x) for x in items), np.uint8).reshape(-1, width)

    return rows(hashes, 32), rows(signatures, 65), rows(claimed, 20)


def reference(hashes, signatures, claimed):
    """FISCO's rule, one row at a time: recover the signer, compare addresses."""
    return [SUITE.recover_address(bytes(h), bytes(s)) == bytes(c)
            for h, s, c in zip(hashes, signatures, claimed, strict=True)]


def spoil(kind, row, hashes, signatures, claimed, keys):
    if kind == "wrong_sender":
        claimed[row] = SUITE.address_of(keys[(keys_index(keys, claimed[row]) + 1) % len(keys)][1])
    elif kind == "tampered_hash":
        hashes[row][0] ^= 0x01
    elif kind == "flipped_v":
        signatures[row][64] ^= 0x01
    elif kind == "bad_v":
        signatures[row][64] = 7
    elif kind == "zero_s":
        signatures[row][32:64] = bytes(32)


def keys_index(keys, address):
    return [SUITE.address_of(pub) for _, pub in keys].index(bytes(address))


KINDS = ["wrong_sender", "tampered_hash", "flipped_v", "bad_v", "zero_s"]


def check(cache, hashes, signatures, claimed):
    expected = reference(hashes, signatures, claimed)
    got = verify_with_cache(cache, *arrays(hashes, signatures, claimed))
    assert got.dtype == bool and got.tolist() == expected
    return expected


def test_address_matches_the_suite(keys):
    for _, pub in keys:
        assert address_of(pub) == SUITE.address_of(pub)
    with pytest.raises(ValueError, match="64 bytes"):
        address_of(b"\x04" + keys[0][1])


@pytest.mark.parametrize("warm", [False, True])
def test_good_batches_verify_and_fill_the_cache(keys, warm):
    cache = SenderCache()
    owners = [i % ACCOUNTS for i in range(40)]
    if warm:
        for _, pub in keys:
            cache.put(pub)
    assert check(cache, *batch(keys, owners)) == [True] * 40
    assert len(cache) == ACCOUNTS
    for _, pub in keys:
        assert cache.get(SUITE.address_of(pub)) == pub


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("warmth", ["cold", "warm", "mixed"])
def test_bad_rows_match_recovery(keys, kind, warmth):
    cache = SenderCache()
    if warmth == "warm":
        for _, pub in keys:
            cache.put(pub)
    elif warmth == "mixed":
        for _, pub in keys[: ACCOUNTS // 2]:
            cache.put(pub)
    owners = [(3 * i) % ACCOUNTS for i in range(30)]
    hashes, signatures, claimed = batch(keys, owners, seed=5)
    for row in (0, 7, 29):
        spoil(kind, row, hashes, signatures, claimed, keys)
    expected = check(cache, hashes, signatures, claimed)
    assert expected.count(False) == 3


def test_a_forged_row_never_poisons_the_cache(keys):
    cache = SenderCache()
    victim = SUITE.address_of(keys[0][1])
    # Signed by keys[1] but claiming keys[0]; and keys[0]'s row with a tampered hash, which
    # recovers some other key.
    hashes, signatures, claimed = batch(keys, [1, 0], seed=9)
    claimed[0] = victim
    hashes[1][5] ^= 0xFF
    assert check(cache, hashes, signatures, claimed) == [False, False]
    assert len(cache) == 0 and victim not in cache
    # The victim's genuine row is still accepted, by recovery, and only then cached.
    good = batch(keys, [0], seed=10)
    assert check(cache, *good) == [True]
    assert cache.get(victim) == keys[0][1]
    # With the victim cached, the forger's row fails against the cached key too.
    assert check(cache, hashes[:1], signatures[:1], claimed[:1]) == [False]
    assert len(cache) == 1


def test_the_first_good_row_of_a_new_sender_warms_its_later_rows(keys, monkeypatch):
    calls = []
    real = secp_batch.verify_batch

    def spy(h, s, p, **kwargs):
        calls.append(len(h))
        return real(h, s, p, **kwargs)

    monkeypatch.setattr(secp_batch, "verify_batch", spy)
    cache = SenderCache()
    owners = [0, 1, 0, 1, 0, 2]
    hashes, signatures, claimed = batch(keys, owners, seed=3)
    spoil("tampered_hash", 0, hashes, signatures, claimed, keys)  # sender 0's first row is bad
    assert check(cache, hashes, signatures, claimed) == [False, True, True, True, True, True]
    # Rows 0 (bad), 1, 2, 5 are recovered (row 2 is sender 0's first good one); 3 and 4 batch.
    assert calls == [2]
    assert verify_with_cache(cache, *arrays(hashes, signatures, claimed)).tolist() == [
        False, True, True, True, True, True]
    assert calls == [2, 6]


def test_without_the_extension_the_verdicts_are_the_same(keys, monkeypatch):
    monkeypatch.setattr(secp_batch, "_native", None)
    cache = SenderCache()
    for _, pub in keys[:4]:
        cache.put(pub)
    hashes, signatures, claimed = batch(keys, [i % ACCOUNTS for i in range(24)], seed=4)
    spoil("flipped_v", 2, hashes, signatures, claimed, keys)
    spoil("wrong_sender", 13, hashes, signatures, claimed, keys)
    assert check(cache, hashes, signatures, claimed).count(False) == 2


def test_bounded_cache_evicts_the_oldest(keys):
    cache = SenderCache(max_entries=2)
    addresses = [cache.put(pub) for _, pub in keys[:3]]
    assert addresses[0] not in cache and addresses[1] in cache and addresses[2] in cache
    with pytest.raises(ValueError):
        SenderCache(max_entries=0)


def test_bad_shapes_are_value_errors():
    cache = SenderCache()
    good_h, good_s, good_c = (np.zeros((2, w), np.uint8) for w in (32, 65, 20))
    with pytest.raises(ValueError, match="claimed_senders"):
        verify_with_cache(cache, good_h, good_s, np.zeros((2, 32), np.uint8))
    with pytest.raises(ValueError, match="signatures"):
        verify_with_cache(cache, good_h, good_s.astype(np.int16), good_c)
    with pytest.raises(ValueError, match="differ in length"):
        verify_with_cache(cache, good_h, good_s[:1], good_c)
    assert verify_with_cache(cache, good_h[:0], good_s[:0], good_c[:0]).shape == (0,)
    assert verify_with_cache(cache, good_h, good_s, good_c).tolist() == [False, False]


@SETTINGS
@given(
    owners=st.lists(st.integers(0, ACCOUNTS - 1), min_size=1, max_size=24),
    spoiled=st.lists(st.tuples(st.integers(0, 23), st.sampled_from(KINDS)), max_size=4),
    cached=st.sets(st.integers(0, ACCOUNTS - 1)),
    seed=st.integers(0, 2**32 - 1),
)
def test_generated_batches_match_recovery(keys, owners, spoiled, cached, seed):
    cache = SenderCache()
    for i in sorted(cached):
        cache.put(keys[i][1])
    hashes, signatures, claimed = batch(keys, owners, seed=seed)
    for row, kind in spoiled:
        if row < len(owners):
            spoil(kind, row, hashes, signatures, claimed, keys)
    expected = check(cache, hashes, signatures, claimed)
    for ok, c in zip(expected, claimed, strict=True):
        if ok:
            assert bytes(c) in cache
    for address in [SUITE.address_of(pub) for _, pub in keys]:
        key = cache.get(address)
        assert key is None or address_of(key) == address


class Spies:
    """Records which rows (by hash) each vectorized recovery and each verify_batch got, and
    every (address, key) pair the cache stores."""

    def __init__(self, monkeypatch, hashes):
        self.row_of = {bytes(h): i for i, h in enumerate(hashes)}
        self.recovered: list[list[int]] = []
        self.batched: list[list[int]] = []
        self.stored: list[tuple[bytes, bytes]] = []
        real_recover = sender_cache.recover_public_keys
        real_batch = secp_batch.verify_batch
        real_store = SenderCache._store

        def recover(h, s, rows):
            self.recovered.append(sorted(self.row_of[h[i].tobytes()] for i in rows.tolist()))
            return real_recover(h, s, rows)

        def verify_batch(h, s, p, **kwargs):
            self.batched.append(sorted(self.row_of[row.tobytes()] for row in h))
            return real_batch(h, s, p, **kwargs)

        def store(cache, addresses, keys, **kwargs):
            self.stored.extend(zip(addresses, keys, strict=True))
            return real_store(cache, addresses, keys, **kwargs)

        monkeypatch.setattr(sender_cache, "recover_public_keys", recover)
        monkeypatch.setattr(secp_batch, "verify_batch", verify_batch)
        monkeypatch.setattr(SenderCache, "_store", store)


def test_a_cold_batch_of_distinct_senders_is_one_vectorized_recovery(keys, monkeypatch):
    hashes, signatures, claimed = batch(keys, list(range(ACCOUNTS)), seed=11)
    spies = Spies(monkeypatch, hashes)
    cache = SenderCache()
    assert check(cache, hashes, signatures, claimed) == [True] * ACCOUNTS
    assert spies.recovered == [list(range(ACCOUNTS))] and spies.batched == []
    assert len(cache) == ACCOUNTS


def test_a_bad_first_row_hands_over_to_the_next_and_later_rows_batch(keys, monkeypatch):
    # Sender 0: row 0 bad, rows 2 and 3 good; sender 1: rows 1 and 4 good.
    hashes, signatures, claimed = batch(keys, [0, 1, 0, 0, 1], seed=12)
    spoil("tampered_hash", 0, hashes, signatures, claimed, keys)
    spies = Spies(monkeypatch, hashes)
    cache = SenderCache()
    assert check(cache, hashes, signatures, claimed) == [False, True, True, True, True]
    # Round 1: each sender's first row; sender 0's failed, so round 2 tries its row 2, which
    # fills the cache; rows 3 and 4 are checked against the cached keys in one batch.
    assert spies.recovered == [[0, 1], [2]]
    assert spies.batched == [[3, 4]]
    assert cache.get(SUITE.address_of(keys[0][1])) == keys[0][1]
    assert cache.get(SUITE.address_of(keys[1][1])) == keys[1][1]
    assert [address for address, _ in spies.stored] == [
        SUITE.address_of(keys[1][1]), SUITE.address_of(keys[0][1])]


def test_after_the_first_row_rounds_the_rest_is_recovered_at_once(keys, monkeypatch):
    owners = [0, 0, 0, 0, 0, 1]
    hashes, signatures, claimed = batch(keys, owners, seed=13)
    spoil("flipped_v", 0, hashes, signatures, claimed, keys)
    spoil("bad_v", 1, hashes, signatures, claimed, keys)
    spoil("zero_s", 3, hashes, signatures, claimed, keys)
    spies = Spies(monkeypatch, hashes)
    cache = SenderCache()
    assert check(cache, hashes, signatures, claimed) == [False, False, True, False, True, True]
    # Round 1: rows 0 and 5; round 2: row 1, whose v of 7 never reaches libsecp256k1 (it would
    # abort the process); then sender 0's remaining rows at once.
    assert spies.recovered == [[0, 5], [2, 3, 4]]
    assert spies.batched == []
    # The first verified row of sender 0 fills the cache, once.
    assert [address for address, _ in spies.stored] == [
        SUITE.address_of(keys[1][1]), SUITE.address_of(keys[0][1])]
    assert len(cache) == 2


def test_forged_rows_never_enter_the_cache_in_any_round(keys, monkeypatch):
    victim = SUITE.address_of(keys[0][1])
    # Five rows signed by keys[1] claiming keys[0]: two first-row rounds, then the last one.
    hashes, signatures, claimed = batch(keys, [1] * 5, seed=14)
    for row in range(5):
        claimed[row] = victim
    spies = Spies(monkeypatch, hashes)
    cache = SenderCache()
    assert check(cache, hashes, signatures, claimed) == [False] * 5
    assert spies.recovered == [[0], [1], [2, 3, 4]]
    assert len(cache) == 0 and spies.stored == []


@pytest.mark.parametrize("seed", range(6))
def test_the_cache_stores_each_key_under_its_own_address(keys, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    owners = rng.integers(0, ACCOUNTS, 30).tolist()
    hashes, signatures, claimed = batch(keys, owners, seed=seed)
    for row in rng.choice(30, 8, replace=False).tolist():
        spoil(KINDS[row % len(KINDS)], row, hashes, signatures, claimed, keys)
    spies = Spies(monkeypatch, hashes)
    cache = SenderCache()
    for _, pub in keys[:3]:
        cache.put(pub)
    check(cache, hashes, signatures, claimed)
    assert spies.stored
    for address, key in spies.stored:
        assert address_of(key) == address


def test_put_many_hashes_every_key_itself(keys):
    pubs = np.frombuffer(b"".join(pub for _, pub in keys), np.uint8).reshape(-1, 64)
    cache = SenderCache()
    addresses = cache.put_many(pubs)
    assert addresses == [SUITE.address_of(pub) for _, pub in keys]
    for address, (_, pub) in zip(addresses, keys, strict=True):
        assert cache.get(address) == pub
    with pytest.raises(ValueError, match="shape"):
        cache.put_many(pubs[:, :63])
    with pytest.raises(ValueError, match="shape"):
        cache.put_many(pubs.astype(np.int16))
    assert cache.put_many(pubs[:0]) == [] and len(cache) == ACCOUNTS


def test_put_many_evicts_as_puts_one_by_one_would(keys):
    pubs = np.frombuffer(b"".join(pub for _, pub in keys), np.uint8).reshape(-1, 64)
    one_by_one, bulk = SenderCache(max_entries=5), SenderCache(max_entries=5)
    for cache in (one_by_one, bulk):
        for _, pub in keys[:4]:
            cache.put(pub)
    for i in (0, 7, 1, 9, 10, 0):
        one_by_one.put(keys[i][1])
    bulk.put_many(pubs[[0, 7, 1, 9, 10, 0]])
    assert list(bulk._keys.items()) == list(one_by_one._keys.items())
    assert len(bulk) == 5


def test_a_small_bounded_cache_keeps_the_verdicts(keys):
    # Senders learned in a round are evicted by later ones within the same call; the rows that
    # joined the batch keep the key they were matched with.
    cache = SenderCache(max_entries=2)
    owners = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 5]
    hashes, signatures, claimed = batch(keys, owners, seed=15)
    spoil("tampered_hash", 1, hashes, signatures, claimed, keys)
    spoil("wrong_sender", 7, hashes, signatures, claimed, keys)
    assert check(cache, hashes, signatures, claimed).count(False) == 2
    assert len(cache) == 2
    for address in [SUITE.address_of(pub) for _, pub in keys]:
        key = cache.get(address)
        assert key is None or address_of(key) == address
