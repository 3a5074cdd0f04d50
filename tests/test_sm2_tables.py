"""SM2 verification with per-sender tables (fiscosim.crypto._sm2_tables) against every other
SM2 verifier here, and its arithmetic against Python integers.

The corpus is the one tests/test_sm2_ipp.py builds (2,400 corpus rows by 48 senders plus 64
signed by tongsuopy, about half damaged in every way it knows: tampered hash, flipped bits of
r, s, x or y, r or s zero or ≥ n, keys off the curve or of another sender, the t = 0 forgery,
all-0xff rows), with its damage helpers imported from that file. The verdicts and addresses
must be identical to tongsuopy's (the fallback), and to ipp's and crypto_mb's where those run.
The whole module skips, saying why, where the extension was not built; an extension that is
built but fails its self-test is a failure.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiscosim.crypto import sm2_tables, verify_batch
from fiscosim.crypto.sm2 import (
    SM2_B,
    SM2_GX,
    SM2_GY,
    SM2_N,
    SM2_P,
    _signing_key,
    crypto_mb_usable,
    ipp_usable,
    make_sm2_suite,
    message_digests,
)
from fiscosim.crypto.sm2_tables import TableCache, make_tables_suite, verify_with_tables
from fiscosim.crypto.sm3 import sm3
from fiscosim.workload.corpus import _sm2_za, build_corpus

pytestmark = pytest.mark.skipif(
    sm2_tables._native is None,
    reason="the extension fiscosim.crypto._sm2_tables was not built (no C compiler at install)",
)
native = sm2_tables._native


def _ipp_corpus_helpers():
    """DAMAGES and _damage of tests/test_sm2_ipp.py, loaded from the file (not as a test
    module: nothing of it is collected here)."""
    path = Path(__file__).with_name("test_sm2_ipp.py")
    spec = importlib.util.spec_from_file_location("_sm2_ipp_corpus_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DAMAGES, module._damage


DAMAGES, _damage = _ipp_corpus_helpers()


# --- Python-integer reference arithmetic ---------------------------------------------------------

G = (SM2_GX, SM2_GY)
A = SM2_P - 3


def _add(P, Q):
    """Affine addition with None for infinity."""
    if P is None:
        return Q
    if Q is None:
        return P
    if P[0] == Q[0]:
        if (P[1] + Q[1]) % SM2_P == 0:
            return None
        slope = (3 * P[0] * P[0] + A) * pow(2 * P[1], -1, SM2_P) % SM2_P
    else:
        slope = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, SM2_P) % SM2_P
    x = (slope * slope - P[0] - Q[0]) % SM2_P
    return x, (slope * (P[0] - x) - P[1]) % SM2_P


def _mul(k, P):
    result = None
    while k:
        if k & 1:
            result = _add(result, P)
        P = _add(P, P)
        k >>= 1
    return result


def _enc(P) -> bytes | None:
    return None if P is None else P[0].to_bytes(32, "big") + P[1].to_bytes(32, "big")


def _b32(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _on_curve(P) -> bool:
    return (P[1] ** 2 - P[0] ** 3 - A * P[0] - SM2_B) % SM2_P == 0


# --- the self-test -------------------------------------------------------------------------------


def test_the_extension_passes_its_self_test():
    assert native.selftest() is True
    assert sm2_tables.available(), sm2_tables.why_unavailable()
    assert native.TABLE_SIZE == sm2_tables.TABLE_SIZE == 61440


# --- the rows ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows():
    """(hashes, signatures, damaged), built exactly as tests/test_sm2_ipp.py builds them."""
    corpus = build_corpus("sm2", 2400, accounts=48, seed=21, workers=1)
    signer = make_sm2_suite("fallback")
    rng = np.random.default_rng(21)
    secret, _ = signer.generate_keypair(rng)
    extra_hashes = [rng.bytes(32) for _ in range(64)]
    extra = [signer.sign(h, secret) for h in extra_hashes]
    hashes = [bytearray(h.tobytes()) for h in corpus.hashes] + list(map(bytearray, extra_hashes))
    signatures = [bytearray(s.tobytes()) for s in corpus.signatures] + list(map(bytearray, extra))
    damaged = np.zeros(len(hashes), dtype=bool)
    for i in range(len(hashes)):
        if rng.random() < 0.5:
            kind = DAMAGES[i % len(DAMAGES)]
            own = bytes(signatures[i][64:])
            others = (bytes(signatures[j % 2400][64:]) for j in range(i + 1, i + 99))
            other = next(key for key in others if key != own)
            _damage(kind, hashes[i], signatures[i], other, rng)
            damaged[i] = True
    hash_array = np.frombuffer(b"".join(hashes), np.uint8).reshape(-1, 32).copy()
    signature_array = np.frombuffer(b"".join(signatures), np.uint8).reshape(-1, 128).copy()
    return hash_array, signature_array, damaged


def _shard(suite, hashes, signatures):
    ok = np.ones(len(hashes), dtype=bool)
    addresses = np.full((len(hashes), 20), 0xAA, dtype=np.uint8)
    suite.verify_shard(hashes, signatures, ok, addresses)
    return ok, addresses


@pytest.fixture(scope="module")
def fallback_verdicts(rows):
    return _shard(make_sm2_suite("fallback"), rows[0], rows[1])


def test_tables_agree_with_tongsuopy_on_every_row(rows, fallback_verdicts):
    hashes, signatures, damaged = rows
    ok, addresses = verify_with_tables(TableCache(), hashes, signatures, return_senders=True)
    np.testing.assert_array_equal(ok, fallback_verdicts[0])
    np.testing.assert_array_equal(addresses, fallback_verdicts[1])
    np.testing.assert_array_equal(ok, ~damaged)


def test_a_small_cache_gives_the_same_verdicts(rows, fallback_verdicts):
    cache = TableCache(max_keys=3)
    ok = verify_with_tables(cache, rows[0], rows[1])
    np.testing.assert_array_equal(ok, fallback_verdicts[0])
    assert len(cache) == 3 and cache.built > 3
    again = verify_with_tables(cache, rows[0][:200], rows[1][:200])
    np.testing.assert_array_equal(again, fallback_verdicts[0][:200])


@pytest.mark.parametrize("min_rows", [2, 40, 10**6])
def test_rare_keys_elsewhere_give_the_same_verdicts(rows, fallback_verdicts, min_rows):
    cache = TableCache()
    ok, addresses = verify_with_tables(cache, rows[0], rows[1], return_senders=True,
                                       min_rows=min_rows, others=make_sm2_suite("fallback"))
    np.testing.assert_array_equal(ok, fallback_verdicts[0])
    np.testing.assert_array_equal(addresses, fallback_verdicts[1])
    if min_rows == 10**6:
        assert cache.built == 0
    else:
        assert cache.built > 0


def test_cached_keys_keep_their_tables_below_min_rows(rows, fallback_verdicts):
    cache = TableCache()
    verify_with_tables(cache, rows[0][:300], rows[1][:300])
    built = cache.built
    ok = verify_with_tables(cache, rows[0], rows[1], min_rows=10**6,
                            others=make_sm2_suite("fallback"))  # fmt: skip
    np.testing.assert_array_equal(ok, fallback_verdicts[0])
    assert cache.built == built and cache.hits > 0


def test_warm_tables_are_reused(rows, fallback_verdicts):
    cache = TableCache()
    verify_with_tables(cache, rows[0], rows[1])
    built = cache.built
    assert 40 <= built <= len(rows[0])
    ok = verify_with_tables(cache, rows[0], rows[1])
    assert cache.built == built and cache.hits >= built
    np.testing.assert_array_equal(ok, fallback_verdicts[0])


def test_expected_senders_follow_verify_batch(rows):
    hashes, signatures, _ = rows
    hashes, signatures = hashes[:800], signatures[:800]
    rng = np.random.default_rng(5)
    senders = np.array([np.frombuffer(sm3(s[64:].tobytes())[-20:], np.uint8) for s in signatures])
    wrong = rng.random(len(senders)) < 0.3
    senders[wrong] = rng.integers(0, 256, size=(wrong.sum(), 20), dtype=np.uint8)
    expected = verify_batch(hashes, signatures, senders, suite=make_sm2_suite("fallback"),
                            workers=1, return_senders=True)  # fmt: skip
    got = verify_with_tables(TableCache(), hashes, signatures, senders, return_senders=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[0].any() and not got[0][wrong].any()


@pytest.mark.skipif(not ipp_usable(), reason="the ipp SM2 backend cannot run here")
def test_tables_agree_with_ipp_on_every_row(rows):
    expected = _shard(make_sm2_suite("ipp"), rows[0], rows[1])
    got = verify_with_tables(TableCache(), rows[0], rows[1], return_senders=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.skipif(not crypto_mb_usable(), reason="crypto_mb cannot run here (no AVX-512 IFMA)")
def test_tables_agree_with_crypto_mb_on_every_row(rows):
    expected = _shard(make_sm2_suite("crypto_mb"), rows[0], rows[1])
    got = verify_with_tables(TableCache(), rows[0], rows[1], return_senders=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_every_kind_of_damage_is_rejected_one_by_one(rows):
    hashes, signatures, damaged = rows
    cache = TableCache()
    for i in range(len(DAMAGES) * 3):
        ok = verify_with_tables(cache, hashes[i : i + 1], signatures[i : i + 1])
        assert ok.tolist() == [not damaged[i]], (i, DAMAGES[i % len(DAMAGES)])


def test_the_t_zero_forgery_is_refused(rows):
    hashes, signatures, _ = rows
    key = signatures[1:2, 64:].copy()
    digests = message_digests(hashes[:1], np.zeros(1, np.intp), key)
    e = int.from_bytes(digests[0].tobytes(), "big") % SM2_N
    forged = np.frombuffer(_b32(e) + _b32(SM2_N - e) + key.tobytes(), np.uint8).reshape(1, 128)
    assert verify_with_tables(TableCache(), hashes[:1], forged).tolist() == [False]
    raw = native.verify(digests.tobytes(), forged.tobytes(), np.zeros(1, np.int32).tobytes(),
                        (native.precompute(key.tobytes()),))  # fmt: skip
    assert raw == b"\x00"


def test_empty_and_all_screened_batches():
    cache = TableCache()
    empty = verify_with_tables(cache, np.zeros((0, 32), np.uint8), np.zeros((0, 128), np.uint8))
    assert empty.shape == (0,)
    junk = np.full((3, 128), 0xFF, np.uint8)
    assert not verify_with_tables(cache, np.zeros((3, 32), np.uint8), junk).any()
    assert cache.built == 0


def test_shapes_are_checked():
    cache = TableCache()
    with pytest.raises(ValueError, match="signatures"):
        verify_with_tables(cache, np.zeros((2, 32), np.uint8), np.zeros((2, 65), np.uint8))
    with pytest.raises(ValueError, match="differ"):
        verify_with_tables(cache, np.zeros((2, 32), np.uint8), np.zeros((3, 128), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        verify_with_tables(cache, np.zeros((2, 32), np.int16), np.zeros((2, 128), np.uint8))
    with pytest.raises(ValueError):
        TableCache(0)


# --- keys that stress the special cases ----------------------------------------------------------


@pytest.mark.parametrize("secret", [1, 2, 3, 16, SM2_N - 2, SM2_N - 17, 2**128 + 1])
def test_small_and_large_private_keys(secret):
    """P = G (so [s]G and [t]P add equal points), P = −2G, and others near n or 16^j."""
    suite = make_sm2_suite("fallback")
    key = _b32(secret)
    public = _signing_key(key)[1]
    assert public == _enc(_mul(secret, G))
    rng = np.random.default_rng(secret % 1000)
    hashes = np.frombuffer(rng.bytes(32 * 24), np.uint8).reshape(24, 32).copy()
    signatures = np.frombuffer(b"".join(suite.sign(h.tobytes(), key) for h in hashes),
                               np.uint8).reshape(24, 128).copy()  # fmt: skip
    signatures[12:, 40] ^= 4  # half of them tampered
    expected = _shard(suite, hashes, signatures)[0]
    assert expected.tolist() == [True] * 12 + [False] * 12
    np.testing.assert_array_equal(verify_with_tables(TableCache(), hashes, signatures), expected)


SMALL = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SMALL
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=128, max_size=128))
def test_random_rows_agree_with_tongsuopy(msg_hash, row):
    expected = make_sm2_suite("fallback").recover_address(msg_hash, row) is not None
    got = verify_with_tables(TableCache(), np.frombuffer(msg_hash, np.uint8).reshape(1, 32),
                             np.frombuffer(row, np.uint8).reshape(1, 128))  # fmt: skip
    assert got.tolist() == [expected]


@SMALL
@given(st.integers(1, SM2_N - 1), st.integers(1, SM2_N - 1))
def test_random_r_s_under_a_real_key_agree_with_tongsuopy(rows, r, s):
    hashes, signatures, _ = rows
    row = _b32(r) + _b32(s) + signatures[2, 64:].tobytes()
    expected = make_sm2_suite("fallback").recover_address(hashes[2].tobytes(), row) is not None
    got = verify_with_tables(TableCache(), hashes[2:3], np.frombuffer(row, np.uint8)[None])
    assert got.tolist() == [expected]


@SMALL
@given(st.data())
def test_one_flipped_bit_is_rejected(rows, data):
    hashes, signatures, damaged = rows
    i = data.draw(st.sampled_from(np.flatnonzero(~damaged)[:64].tolist()))
    msg_hash, row = bytearray(hashes[i].tobytes()), bytearray(signatures[i].tobytes())
    bit = data.draw(st.integers(0, 8 * (32 + 128) - 1))
    target, at = (msg_hash, bit) if bit < 256 else (row, bit - 256)
    target[at // 8] ^= 1 << (at % 8)
    got = verify_with_tables(TableCache(), np.frombuffer(bytes(msg_hash), np.uint8)[None],
                             np.frombuffer(bytes(row), np.uint8)[None])  # fmt: skip
    assert got.tolist() == [False]


def test_good_rows_pass_the_native_call_directly(rows):
    hashes, signatures, damaged = rows
    good = np.flatnonzero(~damaged)[:8]
    keys = np.ascontiguousarray(signatures[good, 64:])
    digests = message_digests(hashes[good], np.arange(8), keys)
    tables = tuple(native.precompute(k.tobytes()) for k in keys)
    index = np.arange(8, dtype=np.int32)[::-1].copy()  # a row's table picked by its index
    got = native.verify(digests.tobytes(), signatures[good].tobytes(), index.tobytes(), tables)
    same_key = [keys[i].tobytes() == keys[7 - i].tobytes() for i in range(8)]
    assert list(got) == [int(same) for same in same_key]  # another's key: rejected
    index = np.arange(8, dtype=np.int32)
    got = native.verify(digests.tobytes(), signatures[good].tobytes(), index.tobytes(), tables)
    assert got == b"\1" * 8


# x1 in [n, p) and e in [n, 2^256) are too rare (about 2^-32) to reach through signatures, so
# the final comparison is checked by itself: accept iff (e + x1) mod n == r.
x_values = st.one_of(st.integers(0, SM2_P - 1), st.integers(SM2_N, SM2_P - 1),
                     st.sampled_from([0, 1, SM2_N - 1, SM2_N, SM2_N + 1, SM2_P - 1]))  # fmt: skip
e_values = st.one_of(st.integers(0, 2**256 - 1), st.integers(SM2_N, 2**256 - 1),
                     st.sampled_from([0, SM2_N - 1, SM2_N, 2**256 - 1]))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(x_values, e_values, st.integers(1, SM2_P - 1), st.booleans(), st.integers(1, SM2_N - 1))
def test_the_final_comparison(x1, e, z, matching, other_r):
    r = (e + x1) % SM2_N
    if r == 0:
        return  # r = 0 never reaches the comparison
    if not matching:
        r = other_r
    expected = (e + x1) % SM2_N == r
    assert native._x_matches(_b32(x1), _b32(z), _b32(e), _b32(r)) == expected


def test_native_argument_checks(rows):
    key = rows[1][0, 64:].tobytes()
    table = native.precompute(key)
    one = np.zeros(1, np.int32).tobytes()
    with pytest.raises(IndexError):
        native.verify(bytes(32), bytes(128), np.ones(1, np.int32).tobytes(), (table,))
    with pytest.raises(ValueError, match="table"):
        native.verify(bytes(32), bytes(128), one, (table[:-1],))
    with pytest.raises(ValueError):
        native.verify(bytes(32), bytes(127), one, (table,))
    with pytest.raises(TypeError):
        native.verify(bytes(32), bytes(128), one, [table])


# --- tables and precompute -----------------------------------------------------------------------


def test_precompute_refuses_points_off_the_curve():
    pub = _enc(_mul(12345, G))
    native.precompute(pub)
    for bad in (pub[:32] + _b32((int.from_bytes(pub[32:], "big") + 1) % SM2_P),
                _b32(SM2_P) + pub[32:], bytes(64), b"\xff" * 64):  # fmt: skip
        with pytest.raises(ValueError, match="curve"):
            native.precompute(bad)
    with pytest.raises(ValueError, match="64 bytes"):
        native.precompute(pub[:63])
    with pytest.raises(ValueError):
        TableCache().table(bytes(64))


def test_table_entries_are_multiples_of_the_key():
    P = _mul(0xC0FFEE, G)
    table = native.precompute(_enc(P))
    for j, k in [(0, 1), (0, 15), (1, 1), (5, 7), (31, 8), (63, 1), (63, 15)]:
        assert native._table_point(table, j, k) == _enc(_mul(k * 16**j, P)), (j, k)


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.integers(1, SM2_N - 1), st.sampled_from([1, 2, 3, SM2_N - 1, SM2_N - 2])))
def test_the_affine_table_builder_matches_the_reference_builder(d):
    """precompute's rounds of affine additions give, byte for byte, the table that point by
    point Jacobian additions and one inversion give."""
    public = _enc(_mul(d, G))
    assert native.precompute(public) == native._table_slow(public)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**256 - 1))
def test_scalar_multiplication_through_tables(k):
    P = _mul(0xDEADBEEF, G)
    table = native.precompute(_enc(P))
    assert native._mul(None, _b32(k)) == _enc(_mul(k % SM2_N, G))
    assert native._mul(table, _b32(k)) == _enc(_mul(k % SM2_N, P))


@pytest.mark.parametrize("k", [0, 1, 15, 16, SM2_N - 1, SM2_N, SM2_N + 1, 2**256 - 1])
def test_scalar_multiplication_edges(k):
    assert native._mul(None, _b32(k)) == _enc(_mul(k % SM2_N, G))


# --- field, scalar and group arithmetic against Python integers ------------------------------


below_p = st.integers(0, SM2_P - 1)
below_n = st.integers(0, SM2_N - 1)
edges_p = st.sampled_from([0, 1, 2, SM2_P - 1, SM2_P - 2, 2**255, 2**224, 2**64 - 1])
edges_n = st.sampled_from([0, 1, 2, SM2_N - 1, SM2_N - 2, 2**255, 2**224])


def _check_arith(which: str, modulus: int, a: int, b: int) -> None:
    def op(name, x, y=0):
        return int.from_bytes(native._arith(which, name, _b32(x), _b32(y)), "big")

    assert op("add", a, b) == (a + b) % modulus
    assert op("sub", a, b) == (a - b) % modulus
    assert op("mul", a, b) == a * b % modulus
    if which == "p":  # the field's own multiplication (p's shape), beside the generic one
        assert op("fmul", a, b) == a * b % modulus
        assert op("fsqr", a) == a * a % modulus
    assert op("sqr", a) == a * a % modulus
    assert op("tomont", a) == a * 2**256 % modulus
    assert op("pow", a, b) == pow(a, b, modulus)
    if a:
        assert op("inv", a) == pow(a, -1, modulus)


@settings(max_examples=300, deadline=None)
@given(st.one_of(below_p, edges_p), st.one_of(below_p, edges_p))
def test_field_arithmetic_matches_python_integers(a, b):
    _check_arith("p", SM2_P, a, b)


@settings(max_examples=300, deadline=None)
@given(st.one_of(below_n, edges_n), st.one_of(below_n, edges_n))
def test_scalar_arithmetic_matches_python_integers(a, b):
    _check_arith("n", SM2_N, a, b)


def test_arith_refuses_unreduced_inputs():
    with pytest.raises(ValueError, match="below"):
        native._arith("p", "add", _b32(SM2_P), _b32(1))
    with pytest.raises(ValueError, match="below"):
        native._arith("n", "mul", _b32(1), _b32(SM2_N))
    with pytest.raises(ValueError, match="modulus"):
        native._arith("q", "add", _b32(1), _b32(1))


points = st.integers(1, SM2_N - 1).map(lambda k: _mul(k, G))
zs = st.integers(1, SM2_P - 1)


@settings(max_examples=80, deadline=None)
@given(points, points, zs, zs)
def test_group_operations_match_python_integers(P, Q, zp, zq):
    assert _on_curve(P) and _on_curve(Q)
    p, q = _enc(P), _enc(Q)
    assert native._group("add", p, q, _b32(zp), _b32(zq)) == _enc(_add(P, Q))
    assert native._group("madd", p, q, _b32(zp), _b32(1)) == _enc(_add(P, Q))
    assert native._group("double", p, q, _b32(zp), _b32(zq)) == _enc(_add(P, P))


@settings(max_examples=40, deadline=None)
@given(points, zs, zs)
def test_group_special_cases(P, zp, zq):
    p = _enc(P)
    minus = _enc((P[0], SM2_P - P[1]))
    one = _b32(1)
    for op in ("add", "madd"):
        assert native._group(op, p, p, _b32(zp), _b32(zq)) == _enc(_add(P, P))  # P == Q
        assert native._group(op, p, minus, _b32(zp), _b32(zq)) is None  # P == −Q
        assert native._group(op, None, p, one, _b32(zq)) == p  # O + Q
    assert native._group("add", p, None, _b32(zp), one) == p  # P + O
    assert native._group("add", None, None, one, one) is None
    assert native._group("double", None, None, one, one) is None
    with pytest.raises(ValueError):
        native._group("madd", p, None, one, one)
    with pytest.raises(ValueError, match="curve"):
        native._group("add", p[:32] + _b32((P[1] + 1) % SM2_P), p, one, one)
    with pytest.raises(ValueError, match="Z"):
        native._group("add", p, p, _b32(0), one)


def test_the_z_digest_is_the_corpus_signers(rows):
    """sm2.message_digests, which verify_with_tables relies on, is SM3(Z_A ‖ M)."""
    hashes, signatures, _ = rows
    key = np.ascontiguousarray(signatures[:1, 64:])
    e = message_digests(hashes[:1], np.zeros(1, np.intp), key)
    assert e[0].tobytes() == sm3(_sm2_za(key.tobytes()) + hashes[0].tobytes())


# -- the suite's ``tables`` backend ---------------------------------------------------------------


@pytest.fixture
def fresh_tables_state():
    from fiscosim.crypto import sm2_tables

    sm2_tables._tables_state.cache_clear()
    yield sm2_tables
    sm2_tables._tables_state.cache_clear()


def test_the_tables_backend_agrees_with_tongsuopy(rows, fallback_verdicts, fresh_tables_state):
    hashes, signatures, _ = rows
    suite = make_tables_suite()
    for _ in range(2):  # first with keys being counted, then with their tables cached
        ok, addresses = _shard(suite, hashes, signatures)
        np.testing.assert_array_equal(ok, fallback_verdicts[0])
        np.testing.assert_array_equal(addresses, fallback_verdicts[1])
    assert len(fresh_tables_state._tables_state().cache) > 0


def test_the_tables_backend_tables_only_keys_seen_often_enough(rows, fresh_tables_state,
                                                               monkeypatch):
    from fiscosim.crypto import sm2_tables

    sm2 = fresh_tables_state  # the module: its state and its threshold
    hashes, signatures, damaged = rows
    clean = np.flatnonzero(~damaged)
    keys = signatures[clean, 64:]
    first_key = keys[0].tobytes()
    own = clean[(keys == keys[0]).all(axis=1)]
    assert len(own) > sm2.TABLE_AFTER_ROWS
    tabled_rows: list[int] = []
    real = sm2_tables.verify_screened

    def spy(cache, h, s, lanes, key_of_lane, k):
        tabled_rows.append(len(lanes))
        return real(cache, h, s, lanes, key_of_lane, k)

    monkeypatch.setattr(sm2_tables, "verify_screened", spy)
    suite = make_tables_suite()
    few = own[: sm2.TABLE_AFTER_ROWS - 1]
    ok, _ = _shard(suite, hashes[few], signatures[few])
    assert ok.all() and tabled_rows == []  # seen 7 times: through ipp or tongsuopy
    assert first_key not in sm2._tables_state().cache
    one_more = own[sm2.TABLE_AFTER_ROWS - 1 : sm2.TABLE_AFTER_ROWS]
    ok, _ = _shard(suite, hashes[one_more], signatures[one_more])
    assert ok.all() and tabled_rows == [1]  # the eighth row: its table is built
    assert first_key in sm2._tables_state().cache


def test_the_tables_backend_says_why_it_cannot_run(monkeypatch):
    from fiscosim.crypto import sm2_tables
    from fiscosim.crypto.throughput import suite_with

    monkeypatch.setattr(sm2_tables, "available", lambda: False)
    monkeypatch.setattr(sm2_tables, "why_unavailable", lambda: "not built (test)")
    with pytest.raises(RuntimeError, match="tables SM2 backend cannot run: not built"):
        suite_with("sm2", "tables")


def test_the_tables_backend_pickles_by_name():
    import pickle

    suite = pickle.loads(pickle.dumps(make_tables_suite()))
    assert suite.backend_name == "tables" and "per-sender tables" in suite.backend
