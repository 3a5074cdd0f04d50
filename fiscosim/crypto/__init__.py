"""Cryptography: crypto suites, hashing, Merkle trees and the batch verification core.

Public names that the rest of the project (and external checks) rely on:

- :func:`keccak256` — Ethereum/FISCO keccak-256 (not FIPS SHA3-256);
- :func:`get_suite` — ``"secp256k1"`` (FISCO's default) or ``"sm2"`` (guomi mode);
- :func:`verify_batch` — the vectorized, multi-core signature verification core.

This package knows nothing about simulated time.
"""

from fiscosim.crypto.batch import verify_batch
from fiscosim.crypto.hashing import keccak256
from fiscosim.crypto.suite import SUITE_NAMES, CryptoSuite, get_suite

__all__ = ["SUITE_NAMES", "CryptoSuite", "get_suite", "keccak256", "verify_batch"]
