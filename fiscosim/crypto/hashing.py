"""Hash functions of the two FISCO suites: keccak256 (standard) and SM3 (guomi).

keccak256 is the pre-standard Keccak with padding byte 0x01 that Ethereum and FISCO BCOS use;
``hashlib.sha3_256`` is FIPS SHA3-256 (padding 0x06) and gives different digests, so we use the
native C implementation in ``safe-pysha3``.
"""

from __future__ import annotations

from sha3 import keccak_256 as _keccak_256


def keccak256(data: bytes) -> bytes:
    """The 32-byte keccak-256 digest of ``data``.

    >>> keccak256(b"").hex()
    'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
    """
    return _keccak_256(data).digest()
