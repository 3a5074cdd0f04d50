"""Checks and times Intel crypto_mb's SM2/SM3 against the fallback on this machine.

Run it on a CPU with AVX-512 IFMA (Ice Lake or later Xeon), from the repository root::

    python benchmarks/cryptomb_selfcheck.py            # or --rows 600 --bench-rows 8000

It prints whether crypto_mb is usable (and why not), SM3 known answers through every path,
the SM2 verdicts of crypto_mb and of the fallback on a mixed batch (valid rows, tampered hash,
r, s and key bytes, r = 0, s ≥ n, r + s = n, keys off the curve, all-0xff rows), and one-core
rates: SM2 verifications/s through ``verify_shard`` for both backends and SM3 hashes/s. The
exit status is 1 if any verdict or digest disagrees, 2 with ``--require`` where crypto_mb
cannot run, else 0.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from fiscosim.crypto import cryptomb
from fiscosim.crypto.sm2 import SM2_N, SM2_P, crypto_mb_usable, make_sm2_suite
from fiscosim.crypto.sm3 import SM3_BACKEND, sm3, sm3_pure, sm3_rows_one_by_one
from fiscosim.crypto.throughput import make_corpus

KNOWN_ANSWERS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]

CORRUPTIONS = (
    "valid",
    "hash byte",
    "r byte",
    "s byte",
    "key byte",
    "another key",
    "r = 0",
    "s = n",
    "s = 2^256-1",
    "r + s = n",
    "key off curve",
    "all 0xff",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def check_sm3() -> bool:
    """Known answers through every SM3 path; True when all agree."""
    agree = True
    for message, expected in KNOWN_ANSWERS:
        rows = np.frombuffer(message * 17, dtype=np.uint8).reshape(17, len(message))
        paths = {
            f"sm3 ({SM3_BACKEND})": sm3(message).hex(),
            "sm3_pure": sm3_pure(message).hex(),
            "rows one by one": _single(sm3_rows_one_by_one(rows)),
        }
        if cryptomb.available():
            paths["crypto_mb mb16"] = _single(cryptomb.sm3_rows(rows))
        for path, digest in paths.items():
            good = digest == expected
            agree &= good
            print(f"  SM3 {message[:8]!r:<12} {path:<24} {'ok' if good else 'WRONG ' + digest}")
    return agree


def _single(digests: np.ndarray) -> str:
    distinct = {row.tobytes().hex() for row in digests}
    return distinct.pop() if len(distinct) == 1 else f"rows disagree: {sorted(distinct)}"


def corrupt(kind: str, msg_hash: bytes, signature: bytes, other_key: bytes) -> tuple[bytes, bytes]:
    """(hash, signature) made invalid in the named way (unchanged for "valid")."""
    sig = bytearray(signature)
    r = int.from_bytes(signature[:32], "big")
    if kind == "hash byte":
        msg_hash = bytes([msg_hash[0] ^ 1]) + msg_hash[1:]
    elif kind == "r byte":
        sig[7] ^= 1
    elif kind == "s byte":
        sig[40] ^= 1
    elif kind == "key byte":
        sig[100] ^= 1
    elif kind == "another key":
        sig[64:] = other_key
    elif kind == "r = 0":
        sig[:32] = bytes(32)
    elif kind == "s = n":
        sig[32:64] = SM2_N.to_bytes(32, "big")
    elif kind == "s = 2^256-1":
        sig[32:64] = b"\xff" * 32
    elif kind == "r + s = n":
        sig[32:64] = (SM2_N - r).to_bytes(32, "big")
    elif kind == "key off curve":
        y = (int.from_bytes(signature[96:], "big") + 1) % SM2_P
        sig[96:] = y.to_bytes(32, "big")
    elif kind == "all 0xff":
        sig[:] = b"\xff" * 128
    return msg_hash, bytes(sig)


def mixed_batch(rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``rows`` signatures cycling through CORRUPTIONS; returns the expected verdicts too."""
    suite = make_sm2_suite("fallback")
    hashes, signatures, _ = make_corpus(suite, rows, seed=11, accounts=32)
    kinds = [CORRUPTIONS[i % len(CORRUPTIONS)] for i in range(rows)]
    out_hashes, out_signatures = [], []
    for i, kind in enumerate(kinds):
        other = signatures[(i + 1) % rows, 64:].tobytes()
        if other == signatures[i, 64:].tobytes():
            other = signatures[(i + 2) % rows, 64:].tobytes()
        h, s = corrupt(kind, hashes[i].tobytes(), signatures[i].tobytes(), other)
        out_hashes.append(h)
        out_signatures.append(s)
    expected = np.array([kind == "valid" for kind in kinds])
    return (
        np.frombuffer(b"".join(out_hashes), np.uint8).reshape(rows, 32).copy(),
        np.frombuffer(b"".join(out_signatures), np.uint8).reshape(rows, 128).copy(),
        expected,
        kinds,
    )


def run_shard(backend: str, hashes: np.ndarray, signatures: np.ndarray):
    suite = make_sm2_suite(backend)
    ok = np.zeros(len(hashes), dtype=bool)
    addresses = np.zeros((len(hashes), 20), dtype=np.uint8)
    suite.verify_shard(hashes, signatures, ok, addresses)
    return ok, addresses


def check_sm2(rows: int) -> bool:
    """Verdicts of both backends on a mixed batch; True when they agree with each other and
    with the construction."""
    hashes, signatures, expected, kinds = mixed_batch(rows)
    fallback_ok, fallback_addresses = run_shard("fallback", hashes, signatures)
    agree = bool((fallback_ok == expected).all())
    print(f"  fallback  verdicts match construction: {agree} ({int(fallback_ok.sum())} valid)")
    if crypto_mb_usable():
        mb_ok, mb_addresses = run_shard("crypto_mb", hashes, signatures)
        same = bool((mb_ok == fallback_ok).all())
        same_addresses = bool((mb_addresses == fallback_addresses).all())
        print(f"  crypto_mb verdicts match the fallback: {same}; addresses match: {same_addresses}")
        for i in np.flatnonzero(mb_ok != fallback_ok)[:12].tolist():
            print(f"    row {i} ({kinds[i]}): crypto_mb {mb_ok[i]}, fallback {fallback_ok[i]}")
        agree &= same and same_addresses
    return agree


def best_time(run, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def bench(rows: int) -> None:
    suite = make_sm2_suite("fallback")
    hashes, signatures, _ = make_corpus(suite, rows, seed=12, accounts=256)
    ok = np.zeros(rows, dtype=bool)
    addresses = np.zeros((rows, 20), dtype=np.uint8)
    backends = ["fallback", "crypto_mb"] if crypto_mb_usable() else ["fallback"]
    for backend in backends:
        shard_suite = make_sm2_suite(backend)
        # The fallback is ~100× slower; time it on a slice so the script stays short.
        count = rows if backend == "crypto_mb" else min(rows, 2000)
        elapsed = best_time(
            lambda s=shard_suite, n=count: s.verify_shard(
                hashes[:n], signatures[:n], ok[:n], addresses[:n]
            ),
            3,
        )
        assert ok[:count].all(), f"{backend} rejected valid signatures"
        print(
            f"  SM2 verify_shard {backend:<9} {count / elapsed:>12,.0f} /s  ({shard_suite.backend})"
        )
    messages = np.random.default_rng(1).integers(0, 256, size=(100_000, 64), dtype=np.uint8)
    elapsed = best_time(lambda: sm3_rows_one_by_one(messages), 3)
    print(f"  SM3 64-byte rows one by one ({SM3_BACKEND}) {len(messages) / elapsed:>12,.0f} /s")
    if cryptomb.available():
        elapsed = best_time(lambda: cryptomb.sm3_rows(messages), 3)
        print(f"  SM3 64-byte rows crypto_mb mb16      {len(messages) / elapsed:>12,.0f} /s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=360, help="rows of the mixed SM2 batch")
    parser.add_argument("--bench-rows", type=int, default=8000, help="rows timed for crypto_mb")
    parser.add_argument("--require", action="store_true", help="exit 2 if crypto_mb cannot run")
    args = parser.parse_args(argv)

    print(f"CPU: {cpu_model()}; Python {platform.python_version()}; numpy {np.__version__}")
    print(f"crypto_mb library: {cryptomb.version() or 'not loaded'}")
    print(f"cryptomb.available(): {cryptomb.available()}")
    usable = crypto_mb_usable()
    print(f"SM2 self-check passed: {usable}")
    if not usable:
        print(f"why unavailable: {cryptomb.why_unavailable()}")
    print("SM3 known answers:")
    sm3_ok = check_sm3()
    print(f"SM2 verdicts on a mixed batch of {args.rows}:")
    sm2_ok = check_sm2(args.rows)
    print("One-core rates:")
    bench(args.bench_rows)
    if not (sm3_ok and sm2_ok):
        print("FAIL: paths disagree")
        return 1
    if args.require and not usable:
        print("FAIL: crypto_mb cannot run here (--require)")
        return 2
    print("OK: every path agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
