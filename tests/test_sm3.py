"""SM3 (GB/T 32905-2016): known answers, and every available path gives the same digests."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fiscosim.crypto import cryptomb
from fiscosim.crypto.sm3 import sm3, sm3_pure, sm3_rows, sm3_rows_one_by_one

# GB/T 32905-2016 Appendix A, examples 1 and 2.
KNOWN_ANSWERS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]

needs_crypto_mb = pytest.mark.skipif(not cryptomb.available(), reason=cryptomb.why_unavailable())


@pytest.mark.parametrize(("message", "digest"), KNOWN_ANSWERS)
def test_known_answers_one_message(message, digest):
    assert sm3(message).hex() == digest
    assert sm3_pure(message).hex() == digest


@pytest.mark.parametrize(("message", "digest"), KNOWN_ANSWERS)
def test_known_answers_rows(message, digest):
    rows = np.frombuffer(message * 5, dtype=np.uint8).reshape(5, len(message))
    assert {row.tobytes().hex() for row in sm3_rows(rows)} == {digest}
    assert {row.tobytes().hex() for row in sm3_rows_one_by_one(rows)} == {digest}


def test_openssl_sm3_is_hashlibs():
    if "sm3" not in hashlib.algorithms_available:
        pytest.skip("this Python's OpenSSL has no SM3; the pure-Python path is the one in use")
    assert sm3(b"abc") == hashlib.new("sm3", b"abc").digest()


def test_gmssl_agrees():
    try:
        import gmssl_pyx
    except ImportError:
        pytest.skip("gmssl-pyx is not installed (a test-time cross-check only)")
    for length in (0, 1, 32, 64, 65, 200):
        data = bytes(range(256))[:length]
        assert gmssl_pyx.sm3_hash(data) == sm3(data)


@pytest.mark.parametrize("length", [0, 1, 32, 55, 56, 63, 64, 65, 119, 120, 200])
def test_pure_python_matches_the_default_at_padding_edges(length):
    data = np.random.default_rng(length).bytes(length)
    assert sm3_pure(data) == sm3(data)


@pytest.mark.parametrize("count", [1, 15, 16, 17, 33])
@pytest.mark.parametrize("length", [0, 1, 32, 64, 65])
def test_rows_match_one_at_a_time(count, length):
    rng = np.random.default_rng(1000 * count + length)
    rows = rng.integers(0, 256, size=(count, length), dtype=np.uint8)
    expected = np.array([np.frombuffer(sm3(row.tobytes()), np.uint8) for row in rows])
    np.testing.assert_array_equal(sm3_rows(rows), expected)
    np.testing.assert_array_equal(sm3_rows_one_by_one(rows), expected)


def test_rows_accept_views_and_empty_input():
    rows = np.arange(256, dtype=np.uint8).reshape(4, 64)
    view = rows[:, 16:48]  # not contiguous
    expected = [sm3(row.tobytes()) for row in view]
    assert [d.tobytes() for d in sm3_rows(view)] == expected
    assert sm3_rows(np.zeros((0, 64), dtype=np.uint8)).shape == (0, 32)
    with pytest.raises(ValueError):
        sm3_rows(np.zeros(64, dtype=np.uint8))


@needs_crypto_mb
@pytest.mark.parametrize("count", [1, 16, 17, 40])
@pytest.mark.parametrize("length", [1, 32, 64, 100])
def test_crypto_mb_rows_match_openssl(count, length):
    rows = np.random.default_rng(count + length).integers(0, 256, (count, length), np.uint8)
    np.testing.assert_array_equal(cryptomb.sm3_rows(rows), sm3_rows_one_by_one(rows))
