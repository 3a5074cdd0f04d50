"""``fiscosim calibrate``: measure this host's per-core costs into a hardware profile (YAML).

The simulator charges simulated CPU time from such a profile (docs/architecture.md rule 3), never
from the wall clock, so a run stays deterministic while its costs come from real measurements.
Every figure is microseconds on one core, measured by running the project's real code:

- ``verify_secp256k1``: one transaction signature (recover + keccak address), batch kernel;
- ``verify_sm2``: the same for SM2 with the fastest backend on this host (named in the file);
- ``keccak256_per_kb``, ``sm3_per_kb``: hashing, per KiB of input (64 KiB messages);
- ``msgpack_encode_per_kb``, ``msgpack_decode_per_kb``: a consensus-message-like payload.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import tempfile
from pathlib import Path

import msgpack
import numpy as np
import yaml

from fiscosim.crypto.suite import get_suite
from fiscosim.crypto.throughput import best_rate, cpu_model, make_corpus
from fiscosim.version import __version__

KIB = 1024


def _verify_cost_us(suite_name: str, count: int, min_seconds: float) -> tuple[float, str]:
    suite = get_suite(suite_name)
    hashes, signatures, _ = make_corpus(suite, count)
    ok = np.zeros(count, dtype=bool)
    addresses = np.zeros((count, 20), dtype=np.uint8)
    rate, _ = best_rate(
        lambda: suite.verify_shard(hashes, signatures, ok, addresses), count, min_seconds, 3
    )
    return 1e6 / rate, suite.backend


def _hash_cost_us_per_kb(suite_name: str, min_seconds: float) -> float:
    hash_fn = get_suite(suite_name).hash
    message = np.random.default_rng(1).bytes(64 * KIB)
    rate, _ = best_rate(lambda: hash_fn(message), 64, min_seconds, 5)
    return 1e6 / rate


def _msgpack_costs_us_per_kb(min_seconds: float) -> tuple[float, float]:
    rng = np.random.default_rng(2)
    # Shaped like a proposal: a header map and a list of 32-byte transaction hashes.
    payload = {
        "type": 1,
        "view": 0,
        "index": 12,
        "hashes": [rng.bytes(32) for _ in range(2000)],
        "header": {"parent": rng.bytes(32), "timestamp": 1_700_000_000_000, "sealer": 0},
    }
    encoded = msgpack.packb(payload)
    kib = len(encoded) / KIB
    encode_rate, _ = best_rate(lambda: msgpack.packb(payload), 1, min_seconds, 5)
    decode_rate, _ = best_rate(lambda: msgpack.unpackb(encoded), 1, min_seconds, 5)
    return 1e6 / encode_rate / kib, 1e6 / decode_rate / kib


def calibrate_host(name: str | None = None, min_seconds: float = 0.5) -> dict:
    """Measures this host and returns the profile as a plain dict (see module docstring)."""
    secp_us, secp_backend = _verify_cost_us("secp256k1", 2048, min_seconds)
    sm2_us, sm2_backend = _verify_cost_us("sm2", 512, min_seconds)
    encode_us, decode_us = _msgpack_costs_us_per_kb(min_seconds)
    model = cpu_model()
    return {
        "name": name or model,
        "cpu_model": model,
        "cores": os.cpu_count() or 1,
        "measured": {
            "by": f"fiscosim {__version__} calibrate",
            "python": platform.python_version(),
            "date": dt.date.today().isoformat(),
            "backends": {"secp256k1": secp_backend, "sm2": sm2_backend},
        },
        "costs_us": {
            "verify_secp256k1": round(secp_us, 3),
            "verify_sm2": round(sm2_us, 3),
            "keccak256_per_kb": round(_hash_cost_us_per_kb("secp256k1", min_seconds), 3),
            "sm3_per_kb": round(_hash_cost_us_per_kb("sm2", min_seconds), 3),
            "msgpack_encode_per_kb": round(encode_us, 3),
            "msgpack_decode_per_kb": round(decode_us, 3),
        },
    }


def write_profile(profile: dict, path: str | os.PathLike) -> Path:
    """Writes ``profile`` as YAML atomically: a temporary file in the same folder, renamed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# fiscosim hardware profile: per-core costs in microseconds, measured on this host\n"
        "# by `fiscosim calibrate`. The simulator charges simulated CPU time from these.\n"
    )
    text = header + yaml.safe_dump(profile, sort_keys=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
