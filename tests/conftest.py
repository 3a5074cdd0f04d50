"""Shared fixtures: seeded keys and signed batches, and the location of the shared test vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fiscosim.crypto import get_suite

REPO_ROOT = Path(__file__).resolve().parents[1]
# The project's clone sits beside ../shared in the workplace; a user's clone has no such folder.
WYCHEPROOF_DIR = REPO_ROOT.parent / "shared" / "vectors" / "wycheproof"


def wycheproof_file(name: str) -> Path:
    """Path of a Project Wycheproof vector file, or a pytest skip saying why it is missing."""
    path = WYCHEPROOF_DIR / name
    if not path.is_file():
        pytest.skip(
            f"Project Wycheproof vectors not found at {path} (they live in the workplace's "
            "shared/vectors, not in this repository); the generated cases still run"
        )
    return path


def signed_batch(suite_name: str, count: int, seed: int = 7, accounts: int = 16):
    """count signatures by `accounts` seeded keys over distinct random hashes.

    Returns (hashes n×32, signatures n×S, senders n×20) as uint8 arrays.
    """
    suite = get_suite(suite_name)
    rng = np.random.default_rng(seed)
    keys = [suite.generate_keypair(rng) for _ in range(accounts)]
    hashes = np.frombuffer(rng.bytes(32 * count), dtype=np.uint8).reshape(count, 32)
    owner = rng.integers(0, accounts, size=count)
    signatures = b"".join(suite.sign(hashes[i].tobytes(), keys[owner[i]][0]) for i in range(count))
    addresses = np.array(
        [np.frombuffer(suite.address_of(pub), dtype=np.uint8) for _, pub in keys]
    ).reshape(accounts, 20)
    sig_array = np.frombuffer(signatures, dtype=np.uint8).reshape(count, suite.signature_size)
    return hashes, sig_array.copy(), addresses[owner]


@pytest.fixture(params=["secp256k1", "sm2"])
def suite(request):
    """Each of FISCO's two crypto suites (both are hard dependencies, so neither skips)."""
    return get_suite(request.param)


@pytest.fixture(scope="session")
def secp_batch_10007():
    return signed_batch("secp256k1", 10_007)


def tiny_sweep(repeat: int = 2,
               metrics: str = "tps, latency_ms.p50, latency_ms.p95, blocks") -> str:
    """A sweep file of two points (4 and 5 sealers) of 1.5 simulated seconds: the sweep tests'
    smallest real sweep."""
    return f"""\
name: tiny
duration_s: 1.5
warmup_s: 0.5
drain_s: 1
nodes: {{count: 4}}
workload: {{rate_tps: 200}}
sweep:
  repeat: {repeat}
  grid:
    nodes.count: [4, 5]
  metrics: [{metrics}]
"""
