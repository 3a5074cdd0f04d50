"""The aggregated vote mode against the exact one: the same scenario over several seeds.

    python benchmarks/aggregate_vs_exact.py                 # n = 4, 16, 64, 100; 10 seeds
    python benchmarks/aggregate_vs_exact.py 16 --seeds 5    # one size
    python benchmarks/aggregate_vs_exact.py 200 --seeds 3 --duration 30   # a longer window

Each point is a full mesh of n sealers on ``reference-2core`` with lognormal 20 ms (sd 5 ms)
links at 1 Gbit/s, 4 clients offering 1,000 TPS for 10 s (``--duration``; 2 s warm-up, 3 s
drain), modelled crypto; once with ``network.votes: exact`` and once with ``aggregate``,
seeds 1..N. For p50 and p99 latency, committed TPS and the mean block interval it prints each
mode's mean over the seeds, the exact mode's 95 % confidence interval (Student t), the
difference of the means and the verdict of issue #17: pass when the means differ by at most
3 % or the aggregated mean lies inside the exact mode's interval; and the wall time each mode
took in all.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from fiscosim.schema import Scenario
from fiscosim.sim.simulation import Simulation

T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 14: 2.145, 19: 2.093, 29: 2.045}
"""Student's t, two-sided 95 %, by degrees of freedom (the nearest lower entry is used)."""
METRICS = {
    "p50 latency (ms)": lambda s: s["latency_ms"]["p50"],
    "p99 latency (ms)": lambda s: s["latency_ms"]["p99"],
    "TPS": lambda s: s["tps"],
    "block interval (ms)": lambda s: s["block_interval_ms"]["mean"],
}


def scenario(n: int, seed: int, votes: str, rate: int = 1000,
             duration_s: float = 10) -> Scenario:
    return Scenario.from_dict({
        "name": f"agg-{n}", "seed": seed, "duration_s": duration_s, "warmup_s": 2, "drain_s": 3,
        "nodes": {"count": n, "profile": "reference-2core"},
        "network": {"topology": {"kind": "full_mesh"}, "votes": votes,
                    "latency": {"distribution": "lognormal", "mean_ms": 20, "std_ms": 5}},
        "workload": {"clients": 4, "rate_tps": rate, "targets": "sealers"}})


def t_value(df: int) -> float:
    return T_975[max(k for k in T_975 if k <= df)]


def compare(exact: list[float], aggregate: list[float]) -> tuple[float, float, float, bool]:
    """(exact mean, its CI half-width, relative difference of the means, pass)."""
    mean_e, mean_a = statistics.fmean(exact), statistics.fmean(aggregate)
    half = (t_value(len(exact) - 1) * statistics.stdev(exact) / math.sqrt(len(exact))
            if len(exact) > 1 else 0.0)
    diff = (mean_a - mean_e) / mean_e if mean_e else 0.0
    return mean_e, half, diff, abs(diff) <= 0.03 or abs(mean_a - mean_e) <= half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, help="sealers (default: 4 16 64 100)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N in each mode")
    parser.add_argument("--first-seed", type=int, default=1, help="the first seed")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="simulated seconds of workload (default 10)")
    args = parser.parse_args()
    sizes, seeds = args.sizes or [4, 16, 64, 100], args.seeds
    for n in sizes:
        runs: dict[str, list[dict]] = {"exact": [], "aggregate": []}
        wall = {"exact": 0.0, "aggregate": 0.0}
        events = {"exact": 0, "aggregate": 0}
        for seed in range(args.first_seed, args.first_seed + seeds):
            for votes in ("exact", "aggregate"):
                started = time.perf_counter()
                point = scenario(n, seed, votes, duration_s=args.duration)
                summary = Simulation(point).run().summary
                wall[votes] += time.perf_counter() - started
                events[votes] += summary["events"]
                runs[votes].append(summary)
        print(f"n = {n}, {seeds} seeds, {args.duration:g} s: wall exact {wall['exact']:.1f} s, "
              f"aggregate {wall['aggregate']:.1f} s ({wall['exact'] / wall['aggregate']:.2f}x); "
              f"events {events['exact']:,} against {events['aggregate']:,}")
        for name, read in METRICS.items():
            exact = [read(s) for s in runs["exact"]]
            aggregate = [read(s) for s in runs["aggregate"]]
            mean_e, half, diff, ok = compare(exact, aggregate)
            print(f"  {name:<20} exact {mean_e:10.2f} ± {half:7.2f}   aggregate "
                  f"{statistics.fmean(aggregate):10.2f}   {diff:+.2%}   "
                  f"{'pass' if ok else 'FAIL'}", flush=True)


if __name__ == "__main__":
    main()
