"""The batch secp256k1 verifier (issue 21, part 2): its C arithmetic against Python's integers,
and its verdicts against per-signature recovery (FISCO's recover-then-compare) on every kind
of bad row, on Project Wycheproof's vectors and on generated batches.

Needs the C extension fiscosim.crypto._secp_batch: skipped with the reason where it was not
built, except under CI=true, where CI has a compiler and its absence is a failure.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os

import numpy as np
import pytest
from coincurve import PrivateKey, PublicKey
from conftest import wycheproof_file
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fiscosim.crypto import get_suite, secp_batch
from fiscosim.crypto.secp256k1 import SECP256K1_N as N

P = 2**256 - 2**32 - 977
GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8
SUITE = get_suite("secp256k1")
SETTINGS = settings(derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def native():
    if secp_batch._native is None:
        message = ("the C extension fiscosim.crypto._secp_batch is not built (no C compiler at "
                   "install; `pip install -e .` with gcc builds it)")
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": CI has gcc, so this is a build failure")
        pytest.skip(message)
    return secp_batch._native


def test_the_extension_is_built_under_ci():
    if os.environ.get("CI") != "true":
        pytest.skip("only CI insists on the extension (a user without a C compiler may lack it)")
    assert secp_batch._native is not None, "fiscosim.crypto._secp_batch was not built"
    assert secp_batch.available()


def test_selftest(native):
    assert native.selftest() is True
    assert secp_batch.available()
    assert "batch" in secp_batch.backend()


# -- a reference curve in Python integers ----------------------------------------------------


def b32(x: int) -> bytes:
    return x.to_bytes(32, "big")


def ec_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0]:
        if (a[1] + b[1]) % P == 0:
            return None
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return x, (lam * (a[0] - x) - a[1]) % P


def ec_mul(k, a):
    result = None
    for bit in bin(k % N)[2:]:
        result = ec_add(result, result)
        if bit == "1":
            result = ec_add(result, a)
    return result


def ec_neg(a):
    return None if a is None else (a[0], (-a[1]) % P)


def point_bytes(a) -> bytes | None:
    return None if a is None else b32(a[0]) + b32(a[1])


def point_of(data: bytes):
    return int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big")


def g_times(k: int):
    """k·G through libsecp256k1 (an independent implementation, and fast)."""
    return point_of(PrivateKey(b32(k)).public_key.format(compressed=False)[1:])


FIELD_EDGES = [0, 1, 2, P - 1, P, P + 1, 2**256 - 1, 2**256 - 2**32 - 978, 2**255, 2**64 - 1,
               2**128, 0x1000003D1, 2**256 - 0x1000003D1]
field_values = st.one_of(st.sampled_from(FIELD_EDGES), st.integers(0, 2**256 - 1),
                         st.integers(P - 2**40, 2**256 - 1))
scalars = st.one_of(st.sampled_from([0, 1, 2, N - 1, N // 2, N // 2 + 1, 2**128 - 1]),
                    st.integers(0, N - 1))
private_keys = st.integers(1, N - 1)


# -- field, scalar and group arithmetic ------------------------------------------------------


@SETTINGS
@given(field_values, field_values)
def test_field_arithmetic_matches_python_integers(native, a, b):
    def op(name):
        return int.from_bytes(native._field(name, b32(a), b32(b)), "big")

    assert op("normalize") == a % P
    assert op("add") == (a + b) % P
    assert op("sub") == (a - b) % P
    assert op("neg") == (-a) % P
    assert op("mul") == a * b % P
    assert op("sqr") == a * a % P
    assert op("inv") == (pow(a, -1, P) if a % P else 0)


@SETTINGS
@given(field_values)
@example(4)
@example(7)
def test_field_sqrt_exists_exactly_for_squares(native, a):
    root = native._field("sqrt", b32(a), b32(0))
    is_square = a % P == 0 or pow(a, (P - 1) // 2, P) == 1
    assert (root is not None) == is_square
    if root is not None:
        assert int.from_bytes(root, "big") ** 2 % P == a % P


@SETTINGS
@given(scalars, scalars)
def test_scalar_arithmetic_matches_python_integers(native, a, b):
    def op(name):
        return int.from_bytes(native._scalar(name, b32(a), b32(b)), "big")

    assert op("add") == (a + b) % N
    assert op("neg") == (-a) % N
    assert op("mul") == a * b % N
    assert op("inv") == (pow(a, -1, N) if a else 0)


@SETTINGS
@given(private_keys, private_keys, st.integers(1, P - 1), st.integers(1, P - 1),
       st.sampled_from(["distinct", "equal", "opposite", "p-infinity", "q-infinity"]))
def test_group_law_matches_python_integers(native, j, k, zp, zq, case):
    a, b = g_times(j), g_times(k)
    if case == "equal":
        b = a
    elif case == "opposite":
        b = ec_neg(a)
    elif case == "p-infinity":
        a = None
    elif case == "q-infinity":
        b = None
    pa, pb = point_bytes(a), point_bytes(b)
    assert native._group("add", pa, pb, b32(zp), b32(zq)) == point_bytes(ec_add(a, b))
    if b is not None:  # the mixed addition's second point is affine, never infinity
        assert native._group("madd", pa, pb, b32(zp), b32(zq)) == point_bytes(ec_add(a, b))
    assert native._group("double", pa, pb, b32(zp), b32(zq)) == point_bytes(ec_add(a, a))


def test_group_rejects_points_off_the_curve(native):
    with pytest.raises(ValueError):
        native._group("add", b32(1) + b32(1), None, b32(1), b32(1))
    with pytest.raises(ValueError):
        native._msm(b32(P) + b32(GY), b32(1))


@SETTINGS
@given(st.lists(st.tuples(private_keys, scalars), min_size=0, max_size=12),
       st.sampled_from([0, 1, 2]), st.booleans())
def test_msm_matches_python_integers(native, terms, algo, cancel):
    if cancel and terms:  # add each point's negation with the same scalar: the sum is O
        terms = terms + [(N - key, k) for key, k in terms]
    points = [g_times(key) for key, _ in terms]
    expected = None
    for point, (_, k) in zip(points, terms, strict=True):
        expected = ec_add(expected, ec_mul(k, point))
    if cancel and terms:
        assert expected is None
    got = native._msm(b"".join(point_bytes(p) for p in points),
                      b"".join(b32(k) for _, k in terms), algo)
    assert got == point_bytes(expected)


def test_msm_with_many_points_takes_both_paths_to_one_answer(native):
    rng = np.random.default_rng(11)
    keys = [int.from_bytes(rng.bytes(32), "big") % (N - 1) + 1 for _ in range(300)]
    ks = [int.from_bytes(rng.bytes(32), "big") % N for _ in range(300)]
    # repeated points and equal scalars put several points in one bucket
    keys[10:20] = [keys[0]] * 10
    ks[30:40] = [ks[0]] * 10
    pts = b"".join(point_bytes(g_times(key)) for key in keys)
    kb = b"".join(b32(k) for k in ks)
    expected = g_times(sum(k * key for k, key in zip(ks, keys, strict=True)) % N)
    assert native._msm(pts, kb, 1) == native._msm(pts, kb, 2) == point_bytes(expected)


@SETTINGS
@given(st.one_of(st.integers(0, 2**256 - 1), st.integers(0, 2**129)), st.integers(0, 3))
def test_decompression_matches_python_integers(native, r, v):
    x = r + N if v >= 2 else r
    expected = None
    if x < P:
        y2 = (x**3 + 7) % P
        y = pow(y2, (P + 1) // 4, P)
        if y * y % P == y2:
            if y % 2 != v % 2:
                y = (-y) % P
            expected = b32(x) + b32(y)
    if v >= 2 and r >= P - N:
        expected = None
    assert native._decompress(b32(r % 2**256), v) == expected


@SETTINGS
@given(st.binary(max_size=300))
@example(b"")
@example(b"a" * 55)
@example(b"a" * 56)
@example(b"a" * 64)
def test_sha256_matches_hashlib(native, data):
    assert native._sha256(data) == hashlib.sha256(data).digest()


# -- signed rows and their mutations ---------------------------------------------------------


def sign_rows(count: int, accounts: int, seed: int):
    """count signatures by `accounts` keys: (hashes n×32, signatures n×65, pubkeys n×64)."""
    rng = np.random.default_rng(seed)
    keys = [SUITE.generate_keypair(rng) for _ in range(accounts)]
    owners = rng.integers(0, accounts, count)
    hashes = np.frombuffer(rng.bytes(32 * count), np.uint8).reshape(count, 32).copy()
    sigs = b"".join(SUITE.sign(hashes[i].tobytes(), keys[o][0]) for i, o in enumerate(owners))
    pubs = b"".join(keys[o][1] for o in owners)
    return (hashes, np.frombuffer(sigs, np.uint8).reshape(count, 65).copy(),
            np.frombuffer(pubs, np.uint8).reshape(count, 64).copy())


def crafted_row(rng: np.random.Generator, v: int):
    """A valid row with recovery id v, any of 0..3: R chosen first (x = r + n for v ≥ 2, which
    no honest signer meets), the key made to fit: Q = r⁻¹(s·R − e·G)."""
    while True:
        r = int.from_bytes(rng.bytes(17), "big") % (P - N) if v >= 2 else \
            int.from_bytes(rng.bytes(32), "big") % N
        x = r + N if v >= 2 else r
        if r == 0 or pow((x**3 + 7) % P, (P - 1) // 2, P) != 1:
            continue
        s = int.from_bytes(rng.bytes(32), "big") % (N - 1) + 1
        e = int.from_bytes(rng.bytes(32), "big")
        R = PublicKey(bytes([2 + (v & 1)]) + b32(x))
        terms = [R.multiply(b32(s))]
        if e % N:
            terms.append(PublicKey.from_secret(b32((-e) % N)))
        try:
            Q = PublicKey.combine_keys(terms).multiply(b32(pow(r, -1, N)))
        except ValueError:  # s·R = e·G: no key; draw again
            continue
        return b32(e), b32(r) + b32(s) + bytes([v]), Q.format(compressed=False)[1:]


def mutate(kind: str, h: bytes, sig: bytes, pub: bytes, other_pub: bytes):
    """One bad (or, for high-s-flipped-v, still good) row of the given kind."""
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    if kind == "tampered-message":
        return bytes([h[0] ^ 1]) + h[1:], sig, pub
    if kind == "wrong-sender":
        return h, sig, other_pub
    if kind == "flipped-v":
        return h, sig[:64] + bytes([v ^ 1]), pub
    if kind == "v-plus-2":
        return h, sig[:64] + bytes([v ^ 2]), pub
    if kind in ("v=4", "v=27", "v=255"):
        return h, sig[:64] + bytes([int(kind[2:])]), pub
    if kind == "high-s-flipped-v":  # FISCO accepts high s: the same signer
        return h, r + b32(N - s) + bytes([v ^ 1]), pub
    if kind == "high-s-same-v":
        return h, r + b32(N - s) + bytes([v]), pub
    if kind == "r=0":
        return h, b32(0) + sig[32:], pub
    if kind == "s=0":
        return h, r + b32(0) + sig[64:], pub
    if kind == "r=n":
        return h, b32(N) + sig[32:], pub
    if kind == "s=n":
        return h, r + b32(N) + sig[64:], pub
    if kind == "r>n":
        return h, b32(N + 7) + sig[32:], pub
    if kind == "s=2^256-1":
        return h, r + b"\xff" * 32 + sig[64:], pub
    if kind == "all-0xff":
        return b"\xff" * 32, b"\xff" * 65, b"\xff" * 64
    if kind == "all-0xff-signature":
        return h, b"\xff" * 65, pub
    if kind == "all-zero":
        return bytes(32), bytes(65), bytes(64)
    if kind == "r-not-on-curve":
        x = int.from_bytes(r, "big")
        while pow((x**3 + 7) % P, (P - 1) // 2, P) == 1:
            x += 1
        return h, b32(x) + sig[32:], pub
    if kind == "pubkey-off-curve":
        return h, sig, pub[:63] + bytes([pub[63] ^ 1])
    if kind == "pubkey-x-not-canonical":  # x + p is the same field element, not the same bytes
        x = int.from_bytes(pub[:32], "big")
        return (h, sig, b32(x + P) + pub[32:]) if x + P < 2**256 else (h, sig, b"\x00" * 64)
    if kind == "pubkey-negated":
        y = int.from_bytes(pub[32:], "big")
        return h, sig, pub[:32] + b32(P - y)
    raise ValueError(kind)


KINDS = ["tampered-message", "wrong-sender", "flipped-v", "v-plus-2", "v=4", "v=27", "v=255",
         "high-s-flipped-v", "high-s-same-v", "r=0", "s=0", "r=n", "s=n", "r>n", "s=2^256-1",
         "all-0xff", "all-0xff-signature", "all-zero", "r-not-on-curve", "pubkey-off-curve",
         "pubkey-x-not-canonical", "pubkey-negated"]


@pytest.fixture(scope="module")
def pool():
    """1,200 honest rows by 300 keys and 1,200 by 8 keys (repeated senders)."""
    distinct = sign_rows(1200, 300, seed=21)
    repeated = sign_rows(1200, 8, seed=22)
    return distinct, repeated


def reference(hashes, sigs, pubs) -> np.ndarray:
    """Per-signature recovery + key comparison, and FISCO's address form of it must agree."""
    by_key = secp_batch.recover_each(hashes, sigs, pubs)
    ok = np.zeros(len(hashes), bool)
    addresses = np.zeros((len(hashes), 20), np.uint8)
    SUITE.verify_shard(hashes, sigs, ok, addresses)
    expected = np.array([np.frombuffer(SUITE.address_of(p.tobytes()), np.uint8) for p in pubs])
    by_address = ok & (addresses == expected.reshape(-1, 20)).all(axis=1)
    assert by_key.tolist() == by_address.tolist()
    return by_key


def every_path(native, hashes, sigs, pubs) -> dict[str, list[bool]]:
    """The verdicts of each way through the verifier."""
    key = os.urandom(32)
    got = {
        "verify_batch": secp_batch.verify_batch(hashes, sigs, pubs).tolist(),
        "batch-only": secp_batch.verify_batch(hashes, sigs, pubs, max_bad=10**9,
                                              min_range=1, min_batch=1).tolist(),
        "no-bisection": secp_batch.verify_batch(hashes, sigs, pubs, max_bad=0,
                                                min_batch=1).tolist(),
    }
    for name, options in {"c-each-straus": {"algo": 1}, "c-each-pippenger": {"algo": 2},
                          "c-bisect-to-rows": {"max_bad": 10**9, "min_range": 1}}.items():
        raw, *_ = native.verify(hashes, sigs, pubs, key, each=True, **options)
        got[name] = [b == 1 for b in raw]
    got["c-verify-each"] = [b == 1 for b in native.verify_each(hashes, sigs, pubs)]
    return got


def assert_identical(native, hashes, sigs, pubs) -> np.ndarray:
    expected = reference(hashes, sigs, pubs)
    for path, verdicts in every_path(native, hashes, sigs, pubs).items():
        wrong = [i for i, (a, b) in enumerate(zip(verdicts, expected, strict=True)) if a != b]
        assert not wrong, f"{path}: rows {wrong[:10]} differ from per-signature recovery"
    return expected


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_row_has_recoverys_verdict(native, pool, kind):
    hashes, sigs, pubs = (a[:64].copy() for a in pool[0])
    for i in (0, 17, 63):
        h, s, p = mutate(kind, hashes[i].tobytes(), sigs[i].tobytes(), pubs[i].tobytes(),
                         pubs[i + 1 if i < 63 else 0].tobytes())
        hashes[i], sigs[i], pubs[i] = (np.frombuffer(x, np.uint8) for x in (h, s, p))
    expected = assert_identical(native, hashes, sigs, pubs)
    honest = [i for i in range(64) if i not in (0, 17, 63)]
    assert expected[honest].all()
    assert expected[[0, 17, 63]].all() == (kind == "high-s-flipped-v")
    # alone, too: a batch of one row of that kind
    assert_identical(native, hashes[:1], sigs[:1], pubs[:1])


@pytest.mark.parametrize("v", [0, 1, 2, 3])
def test_crafted_rows_of_every_recovery_id_verify(native, v):
    rng = np.random.default_rng(100 + v)
    rows = [crafted_row(rng, v) for _ in range(5)]
    hashes = np.frombuffer(b"".join(r[0] for r in rows), np.uint8).reshape(-1, 32)
    sigs = np.frombuffer(b"".join(r[1] for r in rows), np.uint8).reshape(-1, 65).copy()
    pubs = np.frombuffer(b"".join(r[2] for r in rows), np.uint8).reshape(-1, 64)
    assert assert_identical(native, hashes, sigs, pubs).all()
    sigs[:, 64] ^= 1  # the other parity: another R, another key
    assert not assert_identical(native, hashes, sigs, pubs).any()


@SETTINGS
@given(st.data())
def test_generated_batches_match_recovery(native, pool, data):
    size = data.draw(st.sampled_from([1, 2, 3, 64, 1000]), label="size")
    which = data.draw(st.sampled_from([0, 1]), label="senders (0 distinct, 1 repeated)")
    start = data.draw(st.integers(0, 1200 - size), label="start")
    hashes, sigs, pubs = (a[start : start + size].copy() for a in pool[which])
    bad = data.draw(st.integers(0, min(size, 6)), label="bad rows")
    rows = data.draw(st.lists(st.integers(0, size - 1), min_size=bad, max_size=bad,
                              unique=True), label="positions")
    for i in rows:
        kind = data.draw(st.sampled_from(KINDS), label=f"kind of row {i}")
        h, s, p = mutate(kind, hashes[i].tobytes(), sigs[i].tobytes(), pubs[i].tobytes(),
                         pubs[(i + 1) % size].tobytes())
        hashes[i], sigs[i], pubs[i] = (np.frombuffer(x, np.uint8) for x in (h, s, p))
    assert_identical(native, hashes, sigs, pubs)


def test_a_clean_batch_is_one_sum_and_one_bad_row_is_found_by_bisection(native, pool):
    hashes, sigs, pubs = (a[:1000].copy() for a in pool[0])
    stats = secp_batch.verify_batch_stats(hashes, sigs, pubs)
    assert stats == {"batch_checks": 1, "batch_rows": 1000, "recovered": 0}
    sigs[700, 64] ^= 1
    stats = secp_batch.verify_batch_stats(hashes, sigs, pubs, min_range=1)
    # the whole, then one half per level: 10 levels for 1,000 rows, and no row recovered
    assert stats["recovered"] == 0
    assert stats["batch_checks"] == 1 + 10
    assert stats["batch_rows"] < 2 * 1000
    # with min_range, the last few rows are recovered one by one
    stats = secp_batch.verify_batch_stats(hashes, sigs, pubs, min_range=8)
    assert 0 < stats["recovered"] < 8
    assert secp_batch.verify_batch(hashes, sigs, pubs).tolist() == [i != 700 for i in range(1000)]


def test_beyond_max_bad_the_failing_ranges_are_checked_one_by_one(native, pool):
    hashes, sigs, pubs = (a[:256].copy() for a in pool[0])
    spread = [5, 70, 140, 200]  # one bad row in each quarter
    sigs[spread, 64] ^= 1
    # both halves fail, then both quarters of the first: three failing ranges known, more
    # than max_bad = 2, so every row of them goes to recovery (here: all of them)
    stats = secp_batch.verify_batch_stats(hashes, sigs, pubs, max_bad=2, min_range=1)
    assert stats == {"batch_checks": 3, "batch_rows": 256 + 128 + 64, "recovered": 256}
    assert secp_batch.verify_batch(hashes, sigs, pubs).tolist() == [
        i not in spread for i in range(256)]
    none = secp_batch.verify_batch_stats(hashes, sigs, pubs, max_bad=0)
    assert none == {"batch_checks": 1, "batch_rows": 256, "recovered": 256}
    sigs[spread, 64] ^= 1
    clustered = [5, 6, 7]  # bisection proves rows 0..4 and 8..255 good, and row 5 bad,
    sigs[clustered, 64] ^= 1  # before rows 6 and 7 (two ranges: three bad known) give up
    stats = secp_batch.verify_batch_stats(hashes, sigs, pubs, max_bad=2, min_range=1)
    assert stats["recovered"] == 2
    assert secp_batch.verify_batch(hashes, sigs, pubs).tolist() == [
        i not in clustered for i in range(256)]


def test_swapped_keys_do_not_cancel(native, pool):
    # Two rows whose errors could offset each other if the weights were equal: row a signed by
    # key A claims B and row b signed by B claims A, over the same hash.
    hashes, sigs, pubs = (a[:2].copy() for a in pool[0])
    hashes[1] = hashes[0]
    rng = np.random.default_rng(5)
    key_b, pub_b = SUITE.generate_keypair(rng)
    sigs[1] = np.frombuffer(SUITE.sign(hashes[0].tobytes(), key_b), np.uint8)
    pubs[1] = np.frombuffer(pub_b, np.uint8)
    pubs[[0, 1]] = pubs[[1, 0]]
    assert not assert_identical(native, hashes, sigs, pubs).any()


# -- Project Wycheproof ----------------------------------------------------------------------


def _wycheproof_rows():
    """Every P1363 vector as four rows, one per recovery id: SHA-256(msg), r‖s‖v, the key."""
    data = json.loads(wycheproof_file("ecdsa_secp256k1_sha256_p1363_test.json").read_text())
    hashes, sigs, pubs, cases = [], [], [], []
    for group in data["testGroups"]:
        public = bytes.fromhex(group["publicKey"]["uncompressed"])[1:]
        for test in group["tests"]:
            sig = bytes.fromhex(test["sig"])
            digest = hashlib.sha256(bytes.fromhex(test["msg"])).digest()
            for v in range(4):
                hashes.append(digest)
                sigs.append((sig if len(sig) == 64 else b"\xff" * 64) + bytes([v]))
                pubs.append(public)
            cases.append((test["tcId"], test["result"]))
    n = len(hashes)
    return (np.frombuffer(b"".join(hashes), np.uint8).reshape(n, 32),
            np.frombuffer(b"".join(sigs), np.uint8).reshape(n, 65),
            np.frombuffer(b"".join(pubs), np.uint8).reshape(n, 64), cases)


def test_wycheproof_vectors_in_one_batch(native):
    """Project Wycheproof (C2SP/wycheproof, Apache-2.0), read from ../shared: ECDSA without v,
    so each vector is four rows; a valid vector verifies with one of its recovery ids, an
    invalid one with none."""
    hashes, sigs, pubs, cases = _wycheproof_rows()
    expected = assert_identical(native, hashes, sigs, pubs)
    matches = expected.reshape(-1, 4).any(axis=1)
    wrong = [tc for (tc, result), got in zip(cases, matches, strict=True)
             if result != "acceptable" and got != (result == "valid")]
    assert not wrong, f"verdicts differ from Wycheproof for tcIds {wrong}"


def test_wycheproof_vectors_each_inside_an_honest_batch(native, pool):
    """Each vector's row in a batch of 63 honest rows: a valid one passes in the batch's one
    sum (no row left to recovery), an invalid one is the batch's one bad row."""
    hashes, sigs, pubs, cases = _wycheproof_rows()
    expected = secp_batch.recover_each(hashes, sigs, pubs)
    honest = tuple(a[:63] for a in pool[0])
    for row in range(len(hashes)):
        batch = [np.concatenate([filler, one[row : row + 1]])
                 for filler, one in zip(honest, (hashes, sigs, pubs), strict=True)]
        verdicts = secp_batch.verify_batch(*batch)
        assert verdicts[:63].all() and verdicts[63] == expected[row], cases[row // 4]
        if expected[row]:
            assert secp_batch.verify_batch_stats(*batch)["batch_checks"] == 1


# -- the path without the extension, processes, inputs ---------------------------------------


def test_without_the_extension_recovery_gives_the_same_verdicts(native, pool, monkeypatch):
    hashes, sigs, pubs = (a[:64].copy() for a in pool[1])
    sigs[[3, 9], 64] ^= 1
    with_native = secp_batch.verify_batch(hashes, sigs, pubs)
    monkeypatch.setattr(secp_batch, "_native", None)
    assert "not built" in secp_batch.backend()
    assert secp_batch.verify_batch(hashes, sigs, pubs).tolist() == with_native.tolist()
    with pytest.raises(RuntimeError, match="not built"):
        secp_batch.verify_batch_stats(hashes, sigs, pubs)


def _verify_in_child(args):
    return secp_batch.verify_batch(*args).tolist(), secp_batch._key


def test_one_process_and_two_agree(native, pool):
    """Forked processes draw their own z key (os.register_at_fork) and agree on every row."""
    hashes, sigs, pubs = (a[:400].copy() for a in pool[0])
    sigs[[10, 250, 399], 64] ^= 1
    one = secp_batch.verify_batch(hashes, sigs, pubs).tolist()
    shards = [(hashes[a:b], sigs[a:b], pubs[a:b]) for a, b in ((0, 200), (200, 400))]
    with mp.get_context("fork").Pool(2) as workers:
        results = workers.map(_verify_in_child, shards)
    assert results[0][0] + results[1][0] == one
    assert len({results[0][1], results[1][1], secp_batch._key}) == 3


def test_z_depend_on_the_key_and_on_every_byte(native, pool):
    hashes, sigs, pubs = (a[:5].copy() for a in pool[0])
    key = bytes(range(32))
    z = native._z(hashes, sigs, pubs, key)
    assert len(z) == 16 * 5 and len({z[i : i + 16] for i in range(0, 80, 16)}) == 5
    assert native._z(hashes, sigs, pubs, key) == z
    assert native._z(hashes, sigs, pubs, bytes(32)) != z
    pubs[4, 63] ^= 1
    assert native._z(hashes, sigs, pubs, key) != z


def test_bad_inputs_are_value_errors(native, pool):
    hashes, sigs, pubs = (a[:4] for a in pool[0])
    with pytest.raises(ValueError, match="uint8"):
        secp_batch.verify_batch(hashes.astype(np.int16), sigs, pubs)
    with pytest.raises(ValueError, match="shape"):
        secp_batch.verify_batch(hashes, sigs[:, :64], pubs)
    with pytest.raises(ValueError, match="differ in length"):
        secp_batch.verify_batch(hashes, sigs[:3], pubs)
    with pytest.raises(ValueError, match="rows"):
        native.verify(hashes, sigs[:3], pubs, bytes(32))
    with pytest.raises(ValueError, match="32 bytes"):
        native.verify(hashes, sigs, pubs, bytes(31))
    assert secp_batch.verify_batch(hashes[:0], sigs[:0], pubs[:0]).tolist() == []
