"""The SM2 ``ipp`` backend (libippcp's ippsGFpECVerifySM2) against every other verifier here.

Thousands of rows (a deterministic corpus by 48 senders, about half of them damaged in every
way a row can be: tampered hash, flipped bits of r, s, x or y, r or s zero or ≥ n, keys off
the curve or of another sender, the t = 0 forgery, all-0xff rows) must get the same verdicts
and addresses from ipp as from tongsuopy, gmssl-pyx (a test-time reference, row by row) and
crypto_mb where it runs. The ipp half runs on each of libippcp's code paths here: ``avx2``
(the default, the code a CPU without AVX-512 gets, so a machine with IFMA tests it too) and
``native`` (``k1`` on AVX-512 CPUs, skipped where that path fails the suite's self-check, as it
does in most ipp-crypto releases). Everything skips, saying why, where libippcp is absent.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiscosim.crypto import sm2, sm2_ipp, verify_batch
from fiscosim.crypto.sm2 import (
    DEFAULT_ID,
    IPP_WORDS,
    SM2_N,
    SM2_P,
    crypto_mb_usable,
    ipp_usable,
    make_sm2_suite,
    message_digests,
    z_digests,
)
from fiscosim.crypto.sm3 import sm3
from fiscosim.workload.corpus import _sm2_za, build_corpus

# Only an absent libippcp skips: one that loads but fails the self-check is a failure here.
pytestmark = pytest.mark.skipif(
    not sm2_ipp.available(), reason=f"the ipp SM2 backend cannot run: {sm2_ipp.why_unavailable()}"
)


def _reload() -> None:
    """Makes the next use load libippcp again under the current FISCOSIM_IPPCP_CPU."""
    sm2.reset_ipp()


@pytest.fixture(scope="module", params=["avx2", "native"])
def ipp_cpu(request):
    """Each libippcp code path: for CPUs without AVX-512 (the default), the best for this CPU."""
    unusable = ""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(sm2_ipp.ENV_CPU, request.param)
        _reload()
        usable, reason = ipp_usable(), sm2_ipp.why_unavailable()
        if request.param == "avx2":
            assert usable, reason
            assert not {"AVX512F", "AVX512IFMA"} & set(sm2_ipp.cpu_features())
        elif not usable:
            unusable = f"libippcp's native path ({sm2_ipp.version()}) is not usable: {reason}"
        if not unusable:
            yield request.param
    _reload()  # back to the default path for whatever runs next
    if unusable:
        pytest.skip(unusable)


def test_the_default_path_passes_the_self_check():
    _reload()
    assert ipp_usable(), sm2_ipp.why_unavailable()
    assert sm2_ipp.cpu_features() and not {"AVX512F", "AVX512IFMA"} & set(sm2_ipp.cpu_features())


# --- the rows ----------------------------------------------------------------------------------

DAMAGES = (
    "hash bit",
    "r bit",
    "s bit",
    "x bit",
    "y bit",
    "another key",
    "negated key",
    "r = 0",
    "s = 0",
    "r = n",
    "s = n",
    "r > n",
    "s = 2^256 - 1",
    "r + s = n",
    "t = 0 forgery",
    "x = p",
    "y > p",
    "off curve",
    "key zero",
    "all 0xff",
    "all zero",
    "r and s swapped",
)


def _damage(kind: str, msg_hash: bytearray, row: bytearray, other: bytes, rng) -> None:
    """Damages one row in place (``msg_hash`` 32 bytes, ``row`` r‖s‖x‖y)."""

    def put(at: int, value: int) -> None:
        row[at : at + 32] = value.to_bytes(32, "big")

    def flip(buffer: bytearray, start: int, stop: int) -> None:
        bit = int(rng.integers(8 * start, 8 * stop))
        buffer[bit // 8] ^= 1 << (bit % 8)

    r = int.from_bytes(row[:32], "big")
    y = int.from_bytes(row[96:], "big")
    if kind == "hash bit":
        flip(msg_hash, 0, 32)
    elif kind in ("r bit", "s bit", "x bit", "y bit"):
        start = {"r": 0, "s": 32, "x": 64, "y": 96}[kind[0]]
        flip(row, start, start + 32)
    elif kind == "another key":
        row[64:] = other
    elif kind == "negated key":  # (x, p − y): on the curve, but the wrong key
        put(96, SM2_P - y)
    elif kind in ("r = 0", "s = 0", "r = n", "s = n"):
        put(0 if kind[0] == "r" else 32, 0 if kind.endswith("0") else SM2_N)
    elif kind == "r > n":
        put(0, SM2_N + int(rng.integers(1, 2**62)))
    elif kind == "s = 2^256 - 1":
        row[32:64] = b"\xff" * 32
    elif kind == "r + s = n":
        put(32, SM2_N - r)
    elif kind == "t = 0 forgery":  # r = e mod n, s = n − r: libippcp alone accepts it
        e = int.from_bytes(sm3(_sm2_za(bytes(row[64:])) + bytes(msg_hash)), "big") % SM2_N
        put(0, e)
        put(32, SM2_N - e)
    elif kind == "x = p":
        put(64, SM2_P)
    elif kind == "y > p":
        put(96, SM2_P + 5)
    elif kind == "off curve":
        put(96, (y + 1) % SM2_P)
    elif kind == "key zero":
        row[64:] = bytes(64)
    elif kind == "all 0xff":
        row[:] = b"\xff" * 128
    elif kind == "all zero":
        row[:] = bytes(128)
    elif kind == "r and s swapped":
        row[:64] = row[32:64] + row[:32]
    else:
        raise AssertionError(kind)


@pytest.fixture(scope="module")
def rows():
    """(hashes, signatures, damaged) for 2,400 corpus rows plus 64 signed by tongsuopy, about
    half of them damaged, every kind of damage many times."""
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
            other = next(key for key in others if key != own)  # a corpus row's key
            _damage(kind, hashes[i], signatures[i], other, rng)
            damaged[i] = True
    hash_array = np.frombuffer(b"".join(hashes), np.uint8).reshape(-1, 32).copy()
    signature_array = np.frombuffer(b"".join(signatures), np.uint8).reshape(-1, 128).copy()
    return hash_array, signature_array, damaged


def _shard(suite, hashes: np.ndarray, signatures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.ones(len(hashes), dtype=bool)  # stale contents must be overwritten
    addresses = np.full((len(hashes), 20), 0xAA, dtype=np.uint8)
    suite.verify_shard(hashes, signatures, ok, addresses)
    return ok, addresses


@pytest.fixture(scope="module")
def fallback_verdicts(rows):
    return _shard(make_sm2_suite("fallback"), rows[0], rows[1])


def _der(rs: bytes) -> bytes:
    def integer(v: bytes) -> bytes:
        v = v.lstrip(b"\x00") or b"\x00"
        v = b"\x00" + v if v[0] & 0x80 else v
        return b"\x02" + bytes([len(v)]) + v

    body = integer(rs[:32]) + integer(rs[32:64])
    return b"\x30" + bytes([len(body)]) + body


@pytest.fixture(scope="module")
def gmssl_verdicts(rows):
    try:
        import gmssl_pyx
    except ImportError:
        pytest.skip("gmssl-pyx is not installed; it is a test-time cross-check, not a dependency")
    verdicts = []
    for msg_hash, row in zip(rows[0].tolist(), rows[1].tolist(), strict=True):
        row = bytes(row)
        try:  # GmSSL raises on keys it cannot decode: a rejection
            verdicts.append(bool(gmssl_pyx.sm2_verify(row[64:], bytes(msg_hash), _der(row),
                                                      DEFAULT_ID)))  # fmt: skip
        except Exception:
            verdicts.append(False)
    return np.array(verdicts)


# --- verdict identity ----------------------------------------------------------------------------


def test_the_rows_are_what_they_claim(rows, fallback_verdicts):
    hashes, signatures, damaged = rows
    assert len(hashes) >= 2400 and 1000 < damaged.sum() < 1500
    ok, addresses = fallback_verdicts
    # tongsuopy accepts exactly the undamaged rows, each with its embedded key's address.
    np.testing.assert_array_equal(ok, ~damaged)
    expected = np.array([np.frombuffer(sm3(s[64:].tobytes())[-20:], np.uint8) for s in signatures])
    np.testing.assert_array_equal(addresses[ok], expected[ok])
    assert not addresses[~ok].any()


def test_ipp_agrees_with_tongsuopy_on_every_row(ipp_cpu, rows, fallback_verdicts):
    ok, addresses = _shard(make_sm2_suite("ipp"), rows[0], rows[1])
    np.testing.assert_array_equal(ok, fallback_verdicts[0])
    np.testing.assert_array_equal(addresses, fallback_verdicts[1])


def test_ipp_agrees_with_gmssl_on_every_row(ipp_cpu, rows, gmssl_verdicts):
    ok, _ = _shard(make_sm2_suite("ipp"), rows[0], rows[1])
    np.testing.assert_array_equal(ok, gmssl_verdicts)


@pytest.mark.skipif(not crypto_mb_usable(), reason="crypto_mb cannot run here (no AVX-512 IFMA)")
def test_ipp_agrees_with_crypto_mb_on_every_row(ipp_cpu, rows):
    ok, addresses = _shard(make_sm2_suite("ipp"), rows[0], rows[1])
    mb_ok, mb_addresses = _shard(make_sm2_suite("crypto_mb"), rows[0], rows[1])
    np.testing.assert_array_equal(ok, mb_ok)
    np.testing.assert_array_equal(addresses, mb_addresses)


def test_every_kind_of_damage_is_rejected_one_by_one(ipp_cpu, rows):
    hashes, signatures, damaged = rows
    suite = make_sm2_suite("ipp")
    for i in range(len(DAMAGES) * 3):  # every kind, from several senders
        got = suite.recover_address(hashes[i].tobytes(), signatures[i].tobytes())
        assert (got is None) == bool(damaged[i]), (i, DAMAGES[i % len(DAMAGES)])


def test_the_t_zero_forgery_is_refused_though_the_library_accepts_it(ipp_cpu, rows):
    """r = e mod n, s = n − r: ippsGFpECVerifySM2 skips [s]G + [t]Q when t = 0 and compares r
    with e alone, so it would accept this for any key; the binding's guard refuses it."""
    hashes, signatures, _ = rows
    key = signatures[1:2, 64:].copy()
    digests = message_digests(hashes[:1], np.zeros(1, np.intp), key)
    e = int.from_bytes(digests[0].tobytes(), "big") % SM2_N
    forged = np.frombuffer(
        e.to_bytes(32, "big") + (SM2_N - e).to_bytes(32, "big") + key.tobytes(), np.uint8
    ).reshape(1, 128)
    assert sm2_ipp.t_is_zero(forged).tolist() == [True]
    assert not sm2_ipp.verify_digests(digests, forged, np.zeros(1, np.intp), key).any()
    assert make_sm2_suite("ipp").recover_address(hashes[0].tobytes(), forged.tobytes()) is None
    with pytest.MonkeyPatch.context() as patch:  # without the guard
        patch.setattr(sm2_ipp, "t_is_zero", lambda rows: np.zeros(len(rows), dtype=bool))
        raw = sm2_ipp.verify_digests(digests, forged, np.zeros(1, np.intp), key)
    if not raw[0]:
        pytest.skip("this libippcp rejects t = 0 itself; the guard is now only a safeguard")
    assert raw.tolist() == [True]


def test_verify_batch_threads_and_processes(rows, fallback_verdicts):
    hashes, signatures, _ = rows
    hashes, signatures = hashes[:600], signatures[:600]
    expected_ok, expected_addresses = fallback_verdicts[0][:600], fallback_verdicts[1][:600]
    suite = make_sm2_suite("ipp")
    for mode in ("threads", "processes"):
        ok, addresses = verify_batch(
            hashes, signatures, suite=suite, workers=2, mode=mode, return_senders=True
        )
        np.testing.assert_array_equal(ok, expected_ok, err_msg=mode)
        np.testing.assert_array_equal(addresses, expected_addresses, err_msg=mode)


# --- the pieces ---------------------------------------------------------------------------------


def test_z_and_e_are_the_corpus_signers(rows):
    keys = np.ascontiguousarray(rows[1][:40, 64:])
    z = z_digests(keys)
    for i in range(len(keys)):
        assert z[i].tobytes() == _sm2_za(keys[i].tobytes())
    key_of_lane = np.arange(len(keys))[::-1].copy()
    e = message_digests(rows[0][:40], key_of_lane, keys)
    for i in range(len(keys)):
        expected = sm3(_sm2_za(keys[key_of_lane[i]].tobytes()) + rows[0][i].tobytes())
        assert e[i].tobytes() == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**256 - 1), st.integers(0, 2**256 - 1), st.booleans())
def test_t_is_zero_matches_python_integers(r, s, complement):
    if complement and 0 < r < SM2_N:
        s = SM2_N - r
    row = np.frombuffer(r.to_bytes(32, "big") + s.to_bytes(32, "big"), np.uint8).reshape(1, 64)
    assert sm2_ipp.t_is_zero(row).tolist() == [r + s == SM2_N]


SMALL = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SMALL
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=128, max_size=128))
def test_random_rows_agree_with_tongsuopy(msg_hash, row):
    fallback = make_sm2_suite("fallback").recover_address(msg_hash, row)
    assert make_sm2_suite("ipp").recover_address(msg_hash, row) == fallback


@SMALL
@given(st.data())
def test_one_flipped_bit_agrees_with_tongsuopy(rows, data):
    hashes, signatures, damaged = rows
    i = data.draw(st.sampled_from(np.flatnonzero(~damaged)[:64].tolist()))
    msg_hash, row = bytearray(hashes[i].tobytes()), bytearray(signatures[i].tobytes())
    bit = data.draw(st.integers(0, 8 * (32 + 128) - 1))
    target, at = (msg_hash, bit) if bit < 256 else (row, bit - 256)
    target[at // 8] ^= 1 << (at % 8)
    fallback = make_sm2_suite("fallback").recover_address(bytes(msg_hash), bytes(row))
    assert fallback is None
    assert make_sm2_suite("ipp").recover_address(bytes(msg_hash), bytes(row)) is None


@SMALL
@given(st.integers(1, SM2_N - 1), st.integers(1, SM2_N - 1))
def test_random_r_s_under_a_real_key_agree_with_tongsuopy(rows, r, s):
    hashes, signatures, _ = rows
    row = r.to_bytes(32, "big") + s.to_bytes(32, "big") + signatures[2, 64:].tobytes()
    fallback = make_sm2_suite("fallback").recover_address(hashes[2].tobytes(), row)
    assert make_sm2_suite("ipp").recover_address(hashes[2].tobytes(), row) == fallback


# --- choice, reporting, absence -----------------------------------------------------------------


def test_backend_choice_and_words():
    suite = make_sm2_suite("ipp")
    assert suite.backend_name == "ipp" and suite.backend == IPP_WORDS
    assert pickle.loads(pickle.dumps(suite)).backend_name == "ipp"
    auto = make_sm2_suite()
    assert auto.backend_name == ("crypto_mb" if crypto_mb_usable() else "ipp")
    with pytest.raises(ValueError, match="ipp"):
        make_sm2_suite("openssl")


def test_ipp_is_chosen_when_crypto_mb_is_disabled(monkeypatch):
    from fiscosim.crypto import cryptomb

    cryptomb.available()
    monkeypatch.setattr(cryptomb._state, "library", None)
    monkeypatch.setattr(cryptomb._state, "reason", "disabled by this test")
    assert make_sm2_suite().backend_name == "ipp"


def test_bench_verify_reports_the_backend():
    from fiscosim.crypto.throughput import measure_verify

    result = measure_verify("sm2", workers=1, batch=32, min_seconds=0.05, min_rounds=1,
                            backend="ipp")  # fmt: skip
    assert result.backend == IPP_WORDS and result.verifications_per_s > 0


def test_missing_library_leaves_the_backend_unavailable(tmp_path, monkeypatch):
    from fiscosim.crypto import cryptomb

    for variable in (sm2_ipp.ENV_DIR, cryptomb.ENV_DIR):
        monkeypatch.setenv(variable, str(tmp_path))
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    monkeypatch.setattr("sys.base_prefix", str(tmp_path))
    _reload()
    try:
        assert not sm2_ipp.available() and not ipp_usable()
        assert str(tmp_path) in sm2_ipp.why_unavailable()
        assert "accel" in sm2_ipp.why_unavailable()
        with pytest.raises(RuntimeError, match="ipp SM2 backend cannot run"):
            make_sm2_suite("ipp")
        assert make_sm2_suite().backend_name in ("crypto_mb", "fallback")
    finally:
        monkeypatch.undo()
        _reload()
    assert ipp_usable()


def test_a_bad_dispatch_name_is_reported(monkeypatch):
    monkeypatch.setenv(sm2_ipp.ENV_CPU, "avx9")
    _reload()
    try:
        assert not ipp_usable() and "avx9" in sm2_ipp.why_unavailable()
    finally:
        monkeypatch.undo()
        _reload()


def test_a_wrong_verdict_disables_the_backend(monkeypatch):
    _reload()
    try:
        monkeypatch.setattr(sm2_ipp, "verify_digests", lambda d, *_: np.ones(len(d), dtype=bool))
        assert not ipp_usable()
        assert "disagree" in sm2_ipp.why_unavailable()
        assert make_sm2_suite().backend_name != "ipp"
    finally:
        monkeypatch.undo()
        _reload()
    assert ipp_usable()
