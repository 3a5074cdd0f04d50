"""One signature through a suite's batch kernel: the helpers every suite implementation shares.

They need only a suite's :class:`BatchKernel` part, so the implementations
(:mod:`~fiscosim.crypto.secp256k1`, :mod:`~fiscosim.crypto.sm2`) import them without
importing the registry in :mod:`~fiscosim.crypto.suite`, which imports the implementations.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class BatchKernel(Protocol):
    """The part of :class:`~fiscosim.crypto.suite.CryptoSuite` that :func:`recover_one` uses."""

    signature_size: int

    def verify_shard(self, hashes: np.ndarray, signatures: np.ndarray, ok_out: np.ndarray,
                     addr_out: np.ndarray) -> None: ...


def check_hash(msg_hash: bytes) -> None:
    """A message hash is 32 bytes (keccak256 or SM3); anything else is a caller's error."""
    if len(msg_hash) != 32:
        raise ValueError(f"message hash must be 32 bytes, got {len(msg_hash)}")


def recover_one(suite: BatchKernel, msg_hash: bytes, signature: bytes) -> bytes | None:
    """``recover_address`` of any suite: its batch kernel on a single row.

    One code path for one signature and for a million keeps their verdicts identical.
    """
    check_hash(msg_hash)
    if len(signature) != suite.signature_size:
        return None
    ok = np.zeros(1, dtype=bool)
    addr = np.zeros((1, 20), dtype=np.uint8)
    suite.verify_shard(
        np.frombuffer(msg_hash, dtype=np.uint8).reshape(1, 32),
        np.frombuffer(signature, dtype=np.uint8).reshape(1, suite.signature_size),
        ok,
        addr,
    )
    return addr[0].tobytes() if ok[0] else None


def uint8_rows(name: str, value: object, width: int) -> np.ndarray:
    """``value`` as a C-contiguous n×``width`` uint8 array, or a ValueError naming ``name``
    (the input check of every batch entry point)."""
    array = np.asarray(value)
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must be a uint8 array of shape (n, {width}), "
                         f"got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"{name} must have shape (n, {width}), got {array.shape}")
    return np.ascontiguousarray(array)
