"""The guomi suite: SM2 r‖s‖pub signatures over SM3 with FISCO's default signer ID.

Every behaviour runs on both backends where crypto_mb is usable (AVX-512 IFMA); elsewhere the
crypto_mb half is skipped with the reason. Signing goes through the fallback library (about
2,000/s), so batches stay small.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from fiscosim.crypto import cryptomb, get_suite, verify_batch
from fiscosim.crypto.sm2 import (
    _SELF_CHECK_HASH,
    _SELF_CHECK_SIGNATURE,
    DEFAULT_ID,
    SM2_A,
    SM2_B,
    SM2_GX,
    SM2_GY,
    SM2_N,
    SM2_P,
    crypto_mb_usable,
    ipp_usable,
    make_sm2_suite,
)
from fiscosim.crypto.sm3 import sm3

CRYPTO_MB_SKIP = pytest.mark.skipif(
    not crypto_mb_usable(), reason=cryptomb.why_unavailable() or "crypto_mb self-check failed"
)
IPP_SKIP = pytest.mark.skipif(not ipp_usable(), reason="libippcp (the accel extra) is not usable")
BACKENDS = [
    "fallback",
    pytest.param("crypto_mb", marks=CRYPTO_MB_SKIP),
    pytest.param("ipp", marks=IPP_SKIP),
]


@pytest.fixture(scope="module", params=BACKENDS)
def suite(request):
    return make_sm2_suite(request.param)


@pytest.fixture(scope="module")
def accounts():
    signer = make_sm2_suite("fallback")
    rng = np.random.default_rng(2024)
    return [signer.generate_keypair(rng) for _ in range(4)]


@pytest.fixture(scope="module")
def signed(accounts):
    """(hash, signature, address) by the first account."""
    signer = make_sm2_suite("fallback")
    key, pub = accounts[0]
    msg_hash = sm3(b"transfer 10 to bob")
    return msg_hash, signer.sign(msg_hash, key), signer.address_of(pub)


# --- a reference SM2 verifier in plain Python, independent of both libraries ----------------


def _add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2 and (y1 + y2) % SM2_P == 0:
        return None
    if p == q:
        slope = (3 * x1 * x1 + SM2_A) * pow(2 * y1, -1, SM2_P)
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, SM2_P)
    x3 = (slope * slope - x1 - x2) % SM2_P
    return x3, (slope * (x1 - x3) - y1) % SM2_P


def _multiply(k, point):
    result = None
    for bit in bin(k)[2:]:
        result = _add(result, result)
        if bit == "1":
            result = _add(result, point)
    return result


def reference_verify(msg: bytes, signature: bytes, signer_id: bytes = DEFAULT_ID) -> bool:
    """GB/T 32918.2 §7: e = SM3(Z‖M), t = r + s, (x1, y1) = sG + tP, valid iff (e + x1) = r."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    pub = signature[64:128]
    z = sm3(
        (8 * len(signer_id)).to_bytes(2, "big")
        + signer_id
        + b"".join(v.to_bytes(32, "big") for v in (SM2_A, SM2_B, SM2_GX, SM2_GY))
        + pub
    )
    e = int.from_bytes(sm3(z + msg), "big")
    t = (r + s) % SM2_N
    if not (0 < r < SM2_N and 0 < s < SM2_N) or t == 0:
        return False
    point = (int.from_bytes(pub[:32], "big"), int.from_bytes(pub[32:], "big"))
    summed = _add(_multiply(s, (SM2_GX, SM2_GY)), _multiply(t, point))
    return summed is not None and (e + summed[0]) % SM2_N == r


# --- construction, pickling, keys ------------------------------------------------------------


def test_get_suite_and_backend_names():
    auto = get_suite("sm2")
    assert auto.name == "sm2" and auto.signature_size == 128
    assert auto.backend_name == (
        "crypto_mb" if crypto_mb_usable() else "ipp" if ipp_usable() else "fallback"
    )
    assert make_sm2_suite("fallback").backend == "tongsuopy (Tongsuo)"
    with pytest.raises(ValueError, match="crypto_mb, fallback"):
        make_sm2_suite("openssl")


@pytest.mark.skipif(crypto_mb_usable(), reason="crypto_mb is usable on this machine")
def test_crypto_mb_backend_says_why_it_cannot_run():
    assert cryptomb.why_unavailable()
    with pytest.raises(RuntimeError, match="cannot run"):
        make_sm2_suite("crypto_mb")


def test_a_disabled_crypto_mb_is_not_chosen(monkeypatch):
    cryptomb.available()  # load first, so that the patched state is what later calls see
    monkeypatch.setattr(cryptomb._state, "library", None)
    monkeypatch.setattr(cryptomb._state, "reason", "disabled by this test")
    assert not cryptomb.available() and not crypto_mb_usable()
    assert make_sm2_suite().backend_name == ("ipp" if ipp_usable() else "fallback")
    with pytest.raises(RuntimeError, match="disabled by this test"):
        make_sm2_suite("crypto_mb")
    with pytest.raises(RuntimeError, match="disabled by this test"):
        cryptomb.sm3_rows(np.zeros((1, 4), dtype=np.uint8))


def test_missing_library_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv(cryptomb.ENV_DIR, str(tmp_path))
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    monkeypatch.setattr("sys.base_prefix", str(tmp_path))
    library, reason = cryptomb._open_library()
    assert library is None and str(tmp_path) in reason and cryptomb.ENV_DIR in reason


def test_suite_pickles(suite):
    copy = pickle.loads(pickle.dumps(suite))
    assert type(copy) is type(suite) and copy.backend_name == suite.backend_name
    assert copy.backend == suite.backend
    assert len(pickle.dumps(suite)) < 200  # a name, no native handles


def test_keypair_is_deterministic_from_the_rng(suite):
    a = suite.generate_keypair(np.random.default_rng(42))
    b = suite.generate_keypair(np.random.default_rng(42))
    c = suite.generate_keypair(np.random.default_rng(43))
    assert a == b and a != c
    secret, public = a
    assert len(secret) == 32 and len(public) == 64
    assert 1 <= int.from_bytes(secret, "big") <= SM2_N - 2
    x, y = int.from_bytes(public[:32], "big"), int.from_bytes(public[32:], "big")
    assert (y * y - x**3 - SM2_A * x - SM2_B) % SM2_P == 0


def test_keypair_public_is_d_times_g(accounts):
    secret, public = accounts[1]
    x, y = _multiply(int.from_bytes(secret, "big"), (SM2_GX, SM2_GY))
    assert public == x.to_bytes(32, "big") + y.to_bytes(32, "big")


# --- signing semantics -----------------------------------------------------------------------


def test_sign_and_recover_round_trip(suite, signed, accounts):
    msg_hash, signature, address = signed
    assert len(signature) == 128 and signature[64:] == accounts[0][1]
    assert suite.recover_address(msg_hash, signature) == address
    assert address == sm3(accounts[0][1])[-20:] == suite.address_of(accounts[0][1])


def test_signature_is_standard_sm2_with_the_default_id(signed):
    msg_hash, signature, _ = signed
    assert reference_verify(msg_hash, signature)
    assert not reference_verify(msg_hash, signature, signer_id=b"ALICE123@YAHOO.COM")


def test_fresh_signatures_differ_and_both_verify(suite, accounts):
    key, _ = accounts[2]
    msg_hash = sm3(b"same transaction")
    first, second = suite.sign(msg_hash, key), suite.sign(msg_hash, key)
    assert first != second
    assert suite.recover_address(msg_hash, first) == suite.recover_address(msg_hash, second)


def test_sign_rejects_bad_inputs(suite, accounts):
    with pytest.raises(ValueError):
        suite.sign(bytes(31), accounts[0][0])
    with pytest.raises(ValueError):
        suite.sign(bytes(32), bytes(32))  # d = 0
    with pytest.raises(ValueError):
        suite.sign(bytes(32), (SM2_N - 1).to_bytes(32, "big"))  # 1 + d = n has no inverse
    with pytest.raises(ValueError):
        suite.recover_address(bytes(33), bytes(128))


def test_self_check_vector_verifies_with_the_fallback():
    fallback = make_sm2_suite("fallback")
    assert fallback.recover_address(_SELF_CHECK_HASH, _SELF_CHECK_SIGNATURE) is not None
    assert reference_verify(_SELF_CHECK_HASH, _SELF_CHECK_SIGNATURE)


# --- cross-check with a second library -------------------------------------------------------


def _gmssl():
    try:
        import gmssl_pyx
    except ImportError:
        pytest.skip("gmssl-pyx is not installed; it is a test-time cross-check, not a dependency")
    return gmssl_pyx


def _der(r: bytes, s: bytes) -> bytes:
    def integer(v: bytes) -> bytes:
        v = v.lstrip(b"\x00")
        v = b"\x00" + v if v[0] & 0x80 else v
        return b"\x02" + bytes([len(v)]) + v

    body = integer(r) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


def _rs(der: bytes) -> bytes:
    r_length = der[3]
    r = der[4 : 4 + r_length]
    s = der[4 + r_length + 2 :]
    return r.lstrip(b"\x00").rjust(32, b"\x00") + s.lstrip(b"\x00").rjust(32, b"\x00")


def test_gmssl_verifies_our_signatures(suite, accounts):
    gmssl = _gmssl()
    key, pub = accounts[3]
    for i in range(4):
        msg_hash = sm3(bytes([i]))
        signature = suite.sign(msg_hash, key)
        der = _der(signature[:32], signature[32:64])
        assert gmssl.sm2_verify(pub, msg_hash, der, DEFAULT_ID)
        # Without Z (no signer ID) it is another scheme, so the same bytes must not verify.
        assert not gmssl.sm2_verify(pub, msg_hash, der, None)


def test_we_verify_gmssl_signatures(suite):
    gmssl = _gmssl()
    pub, priv = gmssl.sm2_key_generate()
    for i in range(4):
        msg_hash = sm3(b"gmssl %d" % i)
        signature = _rs(gmssl.sm2_sign(priv, pub, msg_hash, DEFAULT_ID)) + pub
        assert suite.recover_address(msg_hash, signature) == sm3(pub)[-20:]
        assert reference_verify(msg_hash, signature)


# --- rejections --------------------------------------------------------------------------------


def _with(signature: bytes, at: slice, value: bytes) -> bytes:
    out = bytearray(signature)
    out[at] = value
    return bytes(out)


def _flip(signature: bytes, index: int) -> bytes:
    out = bytearray(signature)
    out[index] ^= 0x01
    return bytes(out)


def _off_curve(signature: bytes) -> bytes:
    """The same signature with y + 1: coordinates in range, point not on the curve."""
    y = (int.from_bytes(signature[96:], "big") + 1) % SM2_P
    return signature[:96] + y.to_bytes(32, "big")


def corruptions(signature: bytes, other_pub: bytes) -> dict[str, bytes]:
    """Each way a 128-byte signature is made invalid, by name (hash tampering aside)."""
    r = int.from_bytes(signature[:32], "big")
    return {
        "r byte": _flip(signature, 5),
        "s byte": _flip(signature, 40),
        "pub byte": _flip(signature, 70),
        "another valid key": signature[:64] + other_pub,
        "r = 0": _with(signature, slice(0, 32), bytes(32)),
        "s = 0": _with(signature, slice(32, 64), bytes(32)),
        "r = n": _with(signature, slice(0, 32), SM2_N.to_bytes(32, "big")),
        "s = n": _with(signature, slice(32, 64), SM2_N.to_bytes(32, "big")),
        "s = 2^256 - 1": _with(signature, slice(32, 64), b"\xff" * 32),
        "r + s = n": _with(signature, slice(32, 64), (SM2_N - r).to_bytes(32, "big")),
        "x = p": _with(signature, slice(64, 96), SM2_P.to_bytes(32, "big")),
        "pub off curve": _off_curve(signature),
        "pub zero": _with(signature, slice(64, 128), bytes(64)),
        "all 0xff": b"\xff" * 128,
        "all zero": bytes(128),
    }


def test_each_corruption_is_rejected(suite, signed, accounts):
    msg_hash, signature, _ = signed
    for name, bad in corruptions(signature, accounts[1][1]).items():
        assert suite.recover_address(msg_hash, bad) is None, name
        assert not reference_verify(msg_hash, bad), name
    assert suite.recover_address(_flip(msg_hash, 0), signature) is None
    assert suite.recover_address(msg_hash, signature[:127]) is None


# --- the batch kernel ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_batch(accounts):
    """17 rows: valid signatures by several accounts interleaved with every kind of bad row."""
    signer = make_sm2_suite("fallback")
    rng = np.random.default_rng(5)
    hashes, signatures = [], []
    bad_kinds = None
    for i in range(17):
        key, _ = accounts[i % len(accounts)]
        msg_hash = rng.bytes(32)
        signature = signer.sign(msg_hash, key)
        if bad_kinds is None:
            bad_kinds = list(corruptions(signature, accounts[1][1]))
        if i % 3 == 1:  # a corruption of this row's own signature, cycling through the kinds
            signature = corruptions(signature, accounts[(i + 1) % len(accounts)][1])[
                bad_kinds[(i // 3) % len(bad_kinds)]
            ]
        elif i % 3 == 2 and i % 2 == 0:
            msg_hash = _flip(msg_hash, 31)  # tampered hash
        hashes.append(msg_hash)
        signatures.append(signature)
    return (
        np.frombuffer(b"".join(hashes), np.uint8).reshape(-1, 32).copy(),
        np.frombuffer(b"".join(signatures), np.uint8).reshape(-1, 128).copy(),
    )


@pytest.mark.parametrize("size", [0, 1, 9, 17])
def test_verify_shard_matches_one_by_one(suite, mixed_batch, size):
    hashes, signatures = mixed_batch[0][:size], mixed_batch[1][:size]
    ok = np.ones(size, dtype=bool)  # stale contents must be overwritten
    addresses = np.full((size, 20), 0xAA, dtype=np.uint8)
    suite.verify_shard(hashes, signatures, ok, addresses)
    for i in range(size):
        single = suite.recover_address(hashes[i].tobytes(), signatures[i].tobytes())
        assert bool(ok[i]) == (single is not None), i
        assert addresses[i].tobytes() == (single or bytes(20)), i
    if size == 17:
        assert 0 < ok.sum() < size  # the batch really is mixed


def test_verify_shard_agrees_with_the_reference(mixed_batch):
    hashes, signatures = mixed_batch
    ok = np.zeros(len(hashes), dtype=bool)
    addresses = np.zeros((len(hashes), 20), dtype=np.uint8)
    make_sm2_suite("fallback").verify_shard(hashes, signatures, ok, addresses)
    expected = [
        reference_verify(h.tobytes(), s.tobytes()) for h, s in zip(hashes, signatures, strict=True)
    ]
    assert ok.tolist() == expected


@CRYPTO_MB_SKIP
def test_backends_agree_on_a_larger_batch(accounts, mixed_batch):
    hashes = np.tile(mixed_batch[0], (5, 1))
    signatures = np.tile(mixed_batch[1], (5, 1))
    results = []
    for name in ("fallback", "crypto_mb"):
        ok = np.zeros(len(hashes), dtype=bool)
        addresses = np.zeros((len(hashes), 20), dtype=np.uint8)
        make_sm2_suite(name).verify_shard(hashes, signatures, ok, addresses)
        results.append((ok, addresses))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_verify_shard_accepts_non_contiguous_views(suite, mixed_batch):
    hashes, signatures = mixed_batch
    ok = np.zeros(len(hashes[::2]), dtype=bool)
    addresses = np.zeros((len(hashes[::2]), 20), dtype=np.uint8)
    suite.verify_shard(hashes[::2], signatures[::2], ok, addresses)
    expected = [
        suite.recover_address(h.tobytes(), s.tobytes()) is not None
        for h, s in zip(hashes[::2], signatures[::2], strict=True)
    ]
    assert ok.tolist() == expected


def test_verify_batch_with_two_workers(mixed_batch, accounts):
    hashes, signatures = mixed_batch
    suite = get_suite("sm2")
    expected = [
        suite.recover_address(h.tobytes(), s.tobytes())
        for h, s in zip(hashes, signatures, strict=True)
    ]
    senders = np.array([np.frombuffer(a or bytes(20), np.uint8) for a in expected], dtype=np.uint8)
    ok = verify_batch(hashes, signatures, senders, suite="sm2", workers=2)
    assert ok.tolist() == [a is not None for a in expected]
    wrong = senders.copy()
    wrong[:, 0] ^= 1
    assert not verify_batch(hashes, signatures, wrong, suite="sm2", workers=2).any()
