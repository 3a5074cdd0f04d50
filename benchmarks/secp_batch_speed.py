"""Batch secp256k1 verification (issue 21, part 2) against per-signature recovery.

For batches of 64, 256, 1,024 and 4,096 signatures, with distinct senders and with 256
repeated senders, clean and with one bad row (a flipped v at a random position), one process:

- ``recover``: libsecp256k1 recoveries in a tight cffi loop, nothing else (the single-core
  reference of ``fiscosim bench verify``);
- ``recover+compare``: :func:`fiscosim.crypto.secp_batch.recover_each`, recovery and the
  comparison with the known key (the per-signature path that gives the same verdicts);
- ``batch``: :func:`fiscosim.crypto.secp_batch.verify_batch` (one sum, bisection on failure).

The contenders run in alternation, round after round, and each figure is the median of the
rounds (wall clock and this process's CPU time: another job on the machine slows both
contenders alike in wall time and shows less in CPU time). The ratio is recover's time over
batch's: how many times faster the batch is.
With --processes 2 (default), also two processes at once, each verifying its own 4,096-row
batch over and over: the aggregate rate on two cores (what a two-worker pool would reach at
best; wiring the verifier into the pool is part 3).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/secp_batch_speed.py`` (numpy's BLAS threads
otherwise spin beside the measurement on a small machine). --json prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from fiscosim.crypto import get_suite, secp_batch
from fiscosim.crypto.throughput import cpu_model, secp256k1_recover_loop

SUITE = get_suite("secp256k1")


def corpus(count: int, senders: int, seed: int = 2021):
    """count signatures by `senders` keys (each key used when senders >= count)."""
    rng = np.random.default_rng(seed)
    keys = [SUITE.generate_keypair(rng) for _ in range(min(senders, count))]
    owners = np.arange(count) % len(keys) if senders >= count else \
        rng.integers(0, len(keys), count)
    hashes = np.frombuffer(rng.bytes(32 * count), np.uint8).reshape(count, 32)
    sigs = b"".join(SUITE.sign(hashes[i].tobytes(), keys[o][0]) for i, o in enumerate(owners))
    pubs = b"".join(keys[o][1] for o in owners)
    return (hashes, np.frombuffer(sigs, np.uint8).reshape(count, 65).copy(),
            np.frombuffer(pubs, np.uint8).reshape(count, 64))


def timed(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, dict]:
    """Median wall and CPU seconds of each contender over alternating rounds."""
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            w0, c0 = time.perf_counter(), time.process_time()
            run()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {name: {"wall_s": statistics.median(wall[name]),
                   "cpu_s": statistics.median(cpu[name])} for name in contenders}


def one_process(sizes: list[int], rounds: int) -> list[dict]:
    rows = []
    for size in sizes:
        for senders_label, senders in (("distinct", size), ("256 repeated", 256)):
            hashes, sigs, pubs = corpus(size, senders)
            bad = sigs.copy()
            where = int(np.random.default_rng(size).integers(0, size))
            bad[where, 64] ^= 1
            expected_bad = np.ones(size, bool)
            expected_bad[where] = False

            def clean(h=hashes, s=sigs, p=pubs) -> None:
                if not secp_batch.verify_batch(h, s, p).all():
                    raise RuntimeError("a clean batch failed")

            def one_bad(h=hashes, s=bad, p=pubs, want=expected_bad) -> None:
                if secp_batch.verify_batch(h, s, p).tolist() != want.tolist():
                    raise RuntimeError("wrong verdicts on the batch with one bad row")

            times = timed({
                "recover": lambda h=hashes, s=sigs: secp256k1_recover_loop(h, s),
                "recover+compare": lambda h=hashes, s=sigs, p=pubs:
                    secp_batch.recover_each(h, s, p),
                "batch clean": clean,
                "batch 1 bad": one_bad,
            }, rounds)
            row = {"size": size, "senders": senders_label}
            for name, t in times.items():
                row[name] = {"per_s_wall": round(size / t["wall_s"]),
                             "per_s_cpu": round(size / t["cpu_s"])}
            base = times["recover"]
            row["ratio_clean"] = round(base["wall_s"] / times["batch clean"]["wall_s"], 2)
            row["ratio_1_bad"] = round(base["wall_s"] / times["batch 1 bad"]["wall_s"], 2)
            row["ratio_clean_cpu"] = round(base["cpu_s"] / times["batch clean"]["cpu_s"], 2)
            row["ratio_1_bad_cpu"] = round(base["cpu_s"] / times["batch 1 bad"]["cpu_s"], 2)
            rows.append(row)
    return rows


def _worker(args: tuple[str, int, int, float, float]) -> int:
    """One of the concurrent processes: `what` over its own corpus for `seconds` from `start`."""
    what, size, senders, start, seconds = args
    hashes, sigs, pubs = corpus(size, senders, seed=os.getpid())
    time.sleep(max(0.0, start - time.time()))  # every process has its corpus: start together
    done = 0
    while time.time() < start + seconds:
        if what == "batch":
            secp_batch.verify_batch(hashes, sigs, pubs)
        else:
            secp256k1_recover_loop(hashes, sigs)
        done += size
    return done


def processes(count: int, size: int, seconds: float) -> list[dict]:
    rows = []
    for senders_label, senders in (("distinct", size), ("256 repeated", 256)):
        for what in ("recover", "batch"):
            start = time.time() + 10  # time for every process to sign its corpus first
            with mp.get_context("fork").Pool(count) as pool:
                done = pool.map(_worker, [(what, size, senders, start, seconds)] * count)
            rows.append({"processes": count, "batch": size, "senders": senders_label,
                         "what": what, "per_s": round(sum(done) / seconds)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--processes", type=int, default=2,
                        help="concurrent processes for the multi-core figure (0: skip)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="how long the concurrent processes run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not secp_batch.available():
        print("the batch extension is not built: " + secp_batch.backend(), file=sys.stderr)
        raise SystemExit(1)
    machine = {"cpu_model": cpu_model(), "nproc": len(os.sched_getaffinity(0)),
               "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
               "python": sys.version.split()[0]}
    result = {"machine": machine, "one_process": one_process(args.sizes, args.rounds)}
    if args.processes > 1:
        result["concurrent"] = processes(args.processes, 4096, args.seconds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"machine: {machine['cpu_model']}, {machine['nproc']} cores, load average at start "
          f"{machine['load_average_at_start']}, Python {machine['python']}")
    print(f"one process, median of {args.rounds} alternating rounds (wall; CPU time in [])")
    header = (f"{'batch':>6} {'senders':>13} {'recover/s':>16} {'recover+cmp/s':>16} "
              f"{'batch/s':>16} {'1 bad/s':>16} {'ratio':>11} {'1 bad':>11}")
    print(header)
    for row in result["one_process"]:
        def cell(name: str, r: dict = row) -> str:
            return f"{r[name]['per_s_wall']:>7,} [{r[name]['per_s_cpu']:>6,}]"
        print(f"{row['size']:>6} {row['senders']:>13} {cell('recover'):>16} "
              f"{cell('recover+compare'):>16} {cell('batch clean'):>16} "
              f"{cell('batch 1 bad'):>16} "
              f"{row['ratio_clean']:>5} [{row['ratio_clean_cpu']:>4}] "
              f"{row['ratio_1_bad']:>5} [{row['ratio_1_bad_cpu']:>4}]")
    for row in result.get("concurrent", []):
        print(f"{row['processes']} processes at once, batch {row['batch']}, "
              f"{row['senders']} senders, {row['what']}: {row['per_s']:,}/s")


if __name__ == "__main__":
    main()
