"""SM3, the guomi suite's hash (GB/T 32905-2016): one message at a time, or many rows at once.

:func:`sm3` hashes one message through OpenSSL (``hashlib.new("sm3")``) where the linked OpenSSL
provides SM3, and through a small pure-Python implementation of the standard otherwise, so some
path always works. :func:`sm3_rows` hashes the rows of an n×L uint8 array; where Intel's
crypto_mb runs (see :mod:`fiscosim.crypto.cryptomb`) it hashes 16 rows per native call with
``mbx_sm3_msg_digest_mb16``, which is what the SM2 batch kernel uses to turn public keys into
addresses.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

DIGEST_SIZE = 32


def _openssl_sm3() -> hashlib._Hash | None:
    try:
        prototype = hashlib.new("sm3")
    except ValueError:  # this OpenSSL was built without SM3, or its provider is not loaded
        return None
    # The OpenSSL build is trusted only after a known answer; a wrong digest here would make
    # every address in a guomi chain wrong without any error.
    probe = prototype.copy()
    probe.update(b"abc")
    expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    return prototype if probe.hexdigest() == expected else None


_PROTOTYPE = _openssl_sm3()
SM3_BACKEND = "OpenSSL (hashlib)" if _PROTOTYPE is not None else "pure Python"
"""Which implementation :func:`sm3` uses in this process, in words."""


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data``.

    >>> sm3(b"abc").hex()
    '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0'
    """
    if _PROTOTYPE is None:
        return sm3_pure(data)
    # Copying a ready context skips the per-call algorithm lookup of hashlib.new.
    context = _PROTOTYPE.copy()
    context.update(data)
    return context.digest()


def sm3_rows(rows: np.ndarray) -> np.ndarray:
    """SM3 of every row of an n×L uint8 array, as an n×32 uint8 array.

    >>> sm3_rows(np.frombuffer(b"abcabc", np.uint8).reshape(2, 3))[1, :4].tobytes().hex()
    '66c7f0f4'
    """
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    if rows.ndim != 2:
        raise ValueError(f"rows must be a 2-D n×L array, got shape {rows.shape}")
    count, length = rows.shape
    if count == 0:
        return np.zeros((0, DIGEST_SIZE), dtype=np.uint8)
    from fiscosim.crypto import cryptomb  # late: cryptomb may load native libraries

    if length > 0 and cryptomb.available():
        return cryptomb.sm3_rows(rows)
    return sm3_rows_one_by_one(rows)


def sm3_rows_one_by_one(rows: np.ndarray) -> np.ndarray:
    """:func:`sm3_rows` through :func:`sm3`, one row per call (the path without crypto_mb)."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    count, length = rows.shape
    data = rows.tobytes()
    digests = b"".join(sm3(data[i * length : (i + 1) * length]) for i in range(count))
    return np.frombuffer(digests, dtype=np.uint8).reshape(count, DIGEST_SIZE).copy()


# The pure-Python SM3 below follows GB/T 32905-2016 §5 step by step; it is the last resort
# where OpenSSL has no SM3 (about 3,000 64-byte messages per second).

_IV = (
    0x7380166F,
    0x4914B2B9,
    0x172442D7,
    0xDA8A0600,
    0xA96F30BC,
    0x163138AA,
    0xE38DEE4D,
    0xB0FB0E4E,
)
_MASK = 0xFFFFFFFF


def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _MASK


# T_j <<< j, precomputed: it depends on the round only.
_T_ROTATED = tuple(_rotl(0x79CC4519 if j < 16 else 0x7A879D8A, j) for j in range(64))


def _compress(v: list[int], block: bytes) -> list[int]:
    w = list(struct.unpack(">16I", block))
    for j in range(16, 68):
        x = w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)
        w.append(x ^ _rotl(x, 15) ^ _rotl(x, 23) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        a12 = _rotl(a, 12)
        ss1 = _rotl((a12 + e + _T_ROTATED[j]) & _MASK, 7)
        ss2 = ss1 ^ a12
        if j < 16:
            ff = a ^ b ^ c
            gg = e ^ f ^ g
        else:
            ff = (a & b) | (a & c) | (b & c)
            gg = (e & f) | (~e & g)
        tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) & _MASK
        tt2 = (gg + h + ss1 + w[j]) & _MASK
        d, c, b, a = c, _rotl(b, 9), a, tt1
        h, g, f, e = g, _rotl(f, 19), e, tt2 ^ _rotl(tt2, 9) ^ _rotl(tt2, 17)
    return [old ^ new for old, new in zip(v, (a, b, c, d, e, f, g, h), strict=True)]


def sm3_pure(data: bytes) -> bytes:
    """SM3 in pure Python (slow; used only where OpenSSL lacks SM3, and to test the others).

    >>> sm3_pure(b"abc").hex()[:16]
    '66c7f0f462eeedd9'
    """
    data = bytes(data)
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack(">Q", 8 * len(data))
    v = list(_IV)
    for offset in range(0, len(padded), 64):
        v = _compress(v, padded[offset : offset + 64])
    return struct.pack(">8I", *v)
