"""The crypto-suite interface every signature scheme of the simulator implements, and its registry.

A FISCO BCOS chain runs one suite: the standard one (secp256k1 ECDSA with keccak256) or the guomi
one (SM2 with SM3), see docs/fisco-reference.md §3. Everything above this layer talks to a suite
through :class:`CryptoSuite`, so the ledger model and the batch core never branch on the scheme.
The helpers the implementations share are in :mod:`fiscosim.crypto.single`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

SUITE_NAMES = ("secp256k1", "sm2")


@runtime_checkable
class CryptoSuite(Protocol):
    """A signature scheme with its hash function, as one FISCO chain uses them."""

    name: str
    """``"secp256k1"`` or ``"sm2"``."""
    backend: str
    """Which implementation runs, in words (for example ``"libsecp256k1 (coincurve)"``)."""
    signature_size: int
    """Bytes of a transaction signature: 65 (r‖s‖v) or 128 (r‖s‖public key)."""

    def hash(self, data: bytes) -> bytes:
        """The suite's 32-byte hash (keccak256 or SM3)."""

    def generate_keypair(self, rng: np.random.Generator) -> tuple[bytes, bytes]:
        """A (32-byte private key, 64-byte public key X‖Y) pair drawn from ``rng``."""

    def sign(self, msg_hash: bytes, private_key: bytes) -> bytes:
        """Signs a 32-byte hash; returns ``signature_size`` bytes."""

    def recover_address(self, msg_hash: bytes, signature: bytes) -> bytes | None:
        """The 20-byte sender address the signature proves, or None if it is invalid."""

    def address_of(self, public_key: bytes) -> bytes:
        """Last 20 bytes of the suite's hash of the 64-byte public key (docs/fisco-reference.md
        §3)."""

    def verify_shard(
        self,
        hashes: np.ndarray,
        signatures: np.ndarray,
        ok_out: np.ndarray,
        addr_out: np.ndarray,
    ) -> None:
        """Raw batch kernel: recovers senders of ``k`` signatures into the output arrays.

        ``hashes`` is k×32 uint8, ``signatures`` k×signature_size uint8; writes ``ok_out[i]``
        (bool: the signature is valid) and ``addr_out[i]`` (the 20-byte recovered address, zeros
        where invalid). Never raises on malformed signatures. Runs inside the batch core's
        workers, so it must not depend on state other than the suite itself.
        """


def get_suite(name: str = "secp256k1", backend: str | None = None) -> CryptoSuite:
    """Returns the crypto suite called ``name`` (``"secp256k1"`` or ``"sm2"``).

    ``backend`` forces one implementation where a suite has several (for sm2: ``"crypto_mb"``
    or ``"fallback"``); None picks the fastest that works on this machine.

    >>> get_suite("secp256k1").signature_size
    65
    """
    if name == "secp256k1":
        from fiscosim.crypto.secp256k1 import Secp256k1Suite

        if backend not in (None, "libsecp256k1"):
            raise ValueError(f"suite secp256k1 has no backend {backend!r}; use 'libsecp256k1'")
        return Secp256k1Suite()
    if name == "sm2":
        from fiscosim.crypto.sm2 import make_sm2_suite

        return make_sm2_suite(backend)
    raise ValueError(f"unknown crypto suite {name!r}; choose one of {', '.join(SUITE_NAMES)}")
