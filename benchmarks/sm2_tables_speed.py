"""SM2 verification with per-sender tables (issue 21, part 1) against ipp and tongsuopy.

Batches of 4,096 FISCO SM2 signatures (r‖s‖public key over 32-byte hashes), one process, one
core, every figure verifications per second including what each path does in Python (screening,
e = SM3(Z_A ‖ M), addresses):

- ``tables warm``: :func:`fiscosim.crypto.sm2_tables.verify_with_tables` with every sender's
  table already in the cache (256 repeated senders);
- ``tables cold``: the same with an empty cache each round, so the 256 tables are built inside
  the timed call;
- ``tables distinct cold``: 4,096 distinct senders, an empty cache: one table per signature,
  the worst case;
- ``tables distinct, min_rows 8``: the same batch with ``min_rows=8, others=ipp``: keys that
  sign fewer than 8 rows get no table and go to ipp (what a caller would do with one-off keys);
- ``ipp``: ``make_sm2_suite("ipp").verify_shard`` (libippcp's ippsGFpECVerifySM2, AVX2 code
  by default, G's table only), on the repeated-sender and the distinct-sender batch;
- ``tongsuopy``: ``make_sm2_suite("fallback").verify_shard``, key objects reused per shard;
- ``crypto_mb`` where it runs (AVX-512 IFMA only; shown for context).

The contenders run in alternation, round after round, and each figure is the median over the
rounds of wall-clock rate (and of this process's CPU-time rate, less sensitive to other jobs
on the machine). Verdicts are checked to be identical across contenders before timing.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/sm2_tables_speed.py`` (add ``--cpu 0`` to pin
the process to one core, ``--json`` for one JSON document).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from fiscosim.crypto import sm2_tables
from fiscosim.crypto.sm2 import crypto_mb_usable, ipp_usable, make_sm2_suite
from fiscosim.crypto.throughput import cpu_model
from fiscosim.workload.corpus import build_corpus


def corpus(count: int, senders: int, seed: int):
    """(hashes n×32, signatures n×128) by `senders` accounts."""
    built = build_corpus("sm2", count, accounts=senders, seed=seed, workers=1)
    return (np.ascontiguousarray(built.hashes, dtype=np.uint8),
            np.ascontiguousarray(built.signatures, dtype=np.uint8))  # fmt: skip


Runner = Callable[[], np.ndarray]


def shard_runner(backend: str, hashes: np.ndarray, signatures: np.ndarray) -> Runner:
    suite = make_sm2_suite(backend)

    def run() -> np.ndarray:
        ok = np.zeros(len(hashes), dtype=bool)
        addresses = np.zeros((len(hashes), 20), dtype=np.uint8)
        suite.verify_shard(hashes, signatures, ok, addresses)
        return ok

    return run


def tables_runner(hashes: np.ndarray, signatures: np.ndarray, warm: bool, min_rows: int = 1,
                  others: str | None = None) -> Runner:
    cache = sm2_tables.TableCache()
    suite = make_sm2_suite(others) if others else None
    if warm:
        sm2_tables.verify_with_tables(cache, hashes, signatures)

    def run() -> np.ndarray:
        if not warm:
            cache.clear()
        return sm2_tables.verify_with_tables(cache, hashes, signatures, min_rows=min_rows,
                                             others=suite)  # fmt: skip

    return run


def timed(contenders: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, dict]:
    """Median wall and CPU rates of each contender over alternating rounds."""
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_number in range(rounds):
        shift = round_number % len(names)  # rotate the order: no contender always goes first
        for name in names[shift:] + names[:shift]:
            run, count = contenders[name]
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            run()
            wall[name].append(count / (time.perf_counter() - wall_start))
            cpu[name].append(count / max(time.process_time() - cpu_start, 1e-9))
    return {name: {"per_s": statistics.median(wall[name]),
                   "per_s_cpu": statistics.median(cpu[name]),
                   "rounds_per_s": [round(v) for v in wall[name]]}
            for name in names}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=4096)
    parser.add_argument("--senders", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to that core")
    parser.add_argument("--no-tongsuopy", action="store_true",
                        help="leave tongsuopy out (it is 3-10x slower than the rest)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if not sm2_tables.available():
        print(f"sm2_tables cannot run here: {sm2_tables.why_unavailable()}", file=sys.stderr)
        return 1

    repeated = corpus(args.count, args.senders, seed=31)
    distinct = corpus(args.count, args.count, seed=32)
    contenders: dict[str, tuple[Callable[[], np.ndarray], int]] = {
        "tables warm": (tables_runner(*repeated, warm=True), args.count),
        "tables cold": (tables_runner(*repeated, warm=False), args.count),
        "tables distinct cold": (tables_runner(*distinct, warm=False), args.count),
    }
    references = []
    if ipp_usable():
        references.append("ipp")
        contenders["tables distinct, min_rows 8"] = (
            tables_runner(*distinct, warm=False, min_rows=8, others="ipp"), args.count
        )
    if not args.no_tongsuopy:
        references.append("fallback")
    if crypto_mb_usable():
        references.append("crypto_mb")
    label = {"ipp": "ipp", "fallback": "tongsuopy", "crypto_mb": "crypto_mb"}
    for backend in references:
        contenders[label[backend]] = (shard_runner(backend, *repeated), args.count)
        contenders[f"{label[backend]} distinct"] = (shard_runner(backend, *distinct), args.count)

    # The same verdicts everywhere (every row of the corpus is valid).
    for name, (run, _) in contenders.items():
        verdicts = run()
        if not verdicts.all():
            print(f"{name}: {int((~verdicts).sum())} valid rows rejected", file=sys.stderr)
            return 1

    results = timed(contenders, args.rounds)
    cache = sm2_tables.TableCache()
    start = time.perf_counter()
    cache.tables(np.ascontiguousarray(distinct[1][:512, 64:]))
    table_ms = (time.perf_counter() - start) / 512 * 1e3
    document = {
        "cpu": cpu_model(),
        "count": args.count,
        "senders": args.senders,
        "rounds": args.rounds,
        "pinned_cpu": args.cpu,
        "table_build_ms": table_ms,
        "table_build_in_verifications": table_ms / 1e3 * results["tables warm"]["per_s"],
        "results": results,
    }
    if "ipp" in results:
        document["warm_over_ipp"] = results["tables warm"]["per_s"] / results["ipp"]["per_s"]
        document["cold_over_ipp"] = results["tables cold"]["per_s"] / results["ipp"]["per_s"]
        document["distinct_cold_over_ipp_distinct"] = (
            results["tables distinct cold"]["per_s"] / results["ipp distinct"]["per_s"]
        )
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    print(f"{document['cpu']}; {args.count:,} signatures, {args.senders} repeated senders "
          f"(or {args.count:,} distinct); median of {args.rounds} alternating rounds")  # fmt: skip
    print(f"{'contender':<24}{'verified/s':>12}{'(CPU time)':>12}")
    for name, row in results.items():
        print(f"{name:<24}{row['per_s']:>12,.0f}{row['per_s_cpu']:>12,.0f}")
    print(f"one table: {table_ms:.2f} ms = {document['table_build_in_verifications']:.1f} "
          "warm verifications")
    for key in ("warm_over_ipp", "cold_over_ipp", "distinct_cold_over_ipp_distinct"):
        if key in document:
            print(f"{key}: {document[key]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
