"""FISCO BCOS's default crypto suite: secp256k1 ECDSA with keccak256 (docs/fisco-reference.md §3).

Signatures are 65 bytes r‖s‖v with v the raw recovery id 0–3 (not Ethereum's 27/28), as
``Secp256k1Crypto.cpp`` produces them. Verification follows FISCO's rule: recover the public key
from the signature and the hash, then compare the address it gives with the sender's; so a
signature whose v was flipped recovers another key and is rejected.

The batch kernel :meth:`Secp256k1Suite.verify_shard` calls libsecp256k1 through coincurve's cffi
bindings directly, with preallocated output structs, so that the Python work per signature is
a handful of native calls (cffi releases the GIL during each of them).
"""

from __future__ import annotations

import numpy as np
from coincurve import PrivateKey
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from fiscosim.crypto.hashing import keccak256
from fiscosim.crypto.single import check_hash, recover_one

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of the secp256k1 group."""

SIGNATURE_SIZE = 65


class Secp256k1Suite:
    """secp256k1 ECDSA + keccak256, FISCO's standard (non-guomi) suite."""

    name = "secp256k1"
    backend = "libsecp256k1 (coincurve)"
    signature_size = SIGNATURE_SIZE

    def __reduce__(self) -> tuple:
        return (Secp256k1Suite, ())

    def hash(self, data: bytes) -> bytes:
        """keccak256 of ``data``."""
        return keccak256(data)

    def generate_keypair(self, rng: np.random.Generator) -> tuple[bytes, bytes]:
        """Draws a private key from ``rng`` (rejection sampling into [1, n−1])."""
        while True:
            secret = rng.bytes(32)
            if 0 < int.from_bytes(secret, "big") < SECP256K1_N:
                break
        public = PrivateKey(secret).public_key.format(compressed=False)[1:]
        return secret, public

    def sign(self, msg_hash: bytes, private_key: bytes) -> bytes:
        """Deterministic (RFC 6979) recoverable signature r‖s‖v of a 32-byte hash."""
        check_hash(msg_hash)
        return PrivateKey(private_key).sign_recoverable(msg_hash, hasher=None)

    def address_of(self, public_key: bytes) -> bytes:
        """``right160(keccak256(pub64))``."""
        if len(public_key) != 64:
            raise ValueError(f"public key must be 64 bytes X‖Y, got {len(public_key)}")
        return keccak256(public_key)[-20:]

    def recover_address(self, msg_hash: bytes, signature: bytes) -> bytes | None:
        """The signer's address, or None when the signature does not recover a key."""
        return recover_one(self, msg_hash, signature)

    def verify_shard(
        self,
        hashes: np.ndarray,
        signatures: np.ndarray,
        ok_out: np.ndarray,
        addr_out: np.ndarray,
    ) -> None:
        """Recovers the sender of each signature; see :class:`CryptoSuite`.

        libsecp256k1 aborts the process on a recovery id outside 0–3 (an argument check, not
        a verification failure), so v is screened here first; r or s of zero or ≥ n make
        ``parse_compact`` or ``recover`` return 0 and so come out False.
        """
        count = len(hashes)
        ok_out[:count] = False
        addr_out[:count] = 0
        if count == 0:
            return
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8)
        signatures = np.ascontiguousarray(signatures, dtype=np.uint8)
        index, public_keys = recover_public_keys(hashes, signatures,
                                                 np.flatnonzero(signatures[:, 64] <= 3))
        recovered = index.tolist()
        if recovered:
            ok_out[index] = True
            addr_out[index] = _addresses(public_keys, len(recovered))


def recover_public_keys(hashes: np.ndarray, signatures: np.ndarray,
                        rows: np.ndarray) -> tuple[np.ndarray, bytearray]:
    """Recovers the public keys of ``rows`` (whose v must be 0–3: libsecp256k1 aborts the
    process on another recovery id) one at a time through libsecp256k1 (coincurve's cffi):
    the rows that recovered, and their keys packed 64 bytes each (x‖y), in that order. r or s
    of zero or ≥ n make ``parse_compact`` or ``recover`` fail: such rows are left out."""
    ctx = GLOBAL_CONTEXT.ctx
    parse = lib.secp256k1_ecdsa_recoverable_signature_parse_compact
    recover = lib.secp256k1_ecdsa_recover
    serialize = lib.secp256k1_ec_pubkey_serialize
    uncompressed = lib.SECP256K1_EC_UNCOMPRESSED
    recoverable = ffi.new("secp256k1_ecdsa_recoverable_signature *")
    pubkey = ffi.new("secp256k1_pubkey *")
    pub65 = ffi.new("unsigned char[65]")
    pub65_len = ffi.new("size_t *")
    pub_view = ffi.buffer(pub65)
    hash_ptr = ffi.from_buffer("unsigned char[]", hashes)
    sig_ptr = ffi.from_buffer("unsigned char[]", signatures)
    recid_list = signatures[:, 64].tolist()
    public_keys = bytearray(64 * len(rows))
    recovered: list[int] = []
    for i in rows.tolist():
        if not parse(ctx, recoverable, sig_ptr + 65 * i, recid_list[i]):
            continue
        if not recover(ctx, pubkey, recoverable, hash_ptr + 32 * i):
            continue
        pub65_len[0] = 65
        serialize(ctx, pub65, pub65_len, pubkey, uncompressed)
        slot = 64 * len(recovered)
        public_keys[slot : slot + 64] = pub_view[1:65]
        recovered.append(i)
    del public_keys[64 * len(recovered):]
    return np.asarray(recovered, dtype=np.intp), public_keys


def _addresses(public_keys: bytearray, count: int) -> np.ndarray:
    """right160(keccak256(pub)) for ``count`` packed 64-byte public keys."""
    view = memoryview(public_keys)
    digests = b"".join(keccak256(view[64 * i : 64 * i + 64]) for i in range(count))
    return np.frombuffer(digests, dtype=np.uint8).reshape(count, 32)[:, 12:]


