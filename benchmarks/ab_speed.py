"""Engine speed A/B: a base commit against this checkout, interleaved, median of N runs.

    python benchmarks/ab_speed.py 117b1c1                      # pbft-4-50k and pbft-100-2k
    python benchmarks/ab_speed.py 117b1c1 --runs 5 quickstart  # other scenarios, more runs
    python benchmarks/ab_speed.py 117b1c1 --set duration_s=3 pbft-100-2k

The base commit is checked out into a temporary git worktree (removed at the end). Each run is
a fresh ``python -m fiscosim run scenarios/<name>.yaml --quiet --json`` with the working
directory in that tree (so it imports that tree's fiscosim), base and this checkout taking
turns (A, B, A, B, ...) so that a machine that gets busier or quieter affects both alike. Two
figures per run, both of the run itself (the engine's ``_drive``, without start-up or summary):
its CPU time (``time.process_time``) and its wall time. The CPU time is the one to quote on a
virtual machine: there the wall time of one 3-second run was seen to swing by 30 % between
minutes (CPU steal), which made interleaved wall-time medians differ by 15 % where the CPU
times differed by 0.1 %. It prints each run and, per scenario, both medians and the
differences; it also checks that both sides did the same work (the same ``events``), since a
speed-up that changes the run is not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# Runs one scenario in the tree it is started in and prints {"cpu", "wall", "events"} of the
# run itself: it wraps the engine's loop (fiscosim.sim.simulation._drive, in every commit since
# the engine had one) with a CPU-time and a wall-time clock.
_DRIVER = """
import json, sys, time
from fiscosim.scenario import load_simulation
from fiscosim.sim import simulation
drive, spent = simulation._drive, {}
def timed(world, progress):
    cpu, wall = time.process_time(), time.perf_counter()
    drive(world, progress)
    spent.update(cpu=time.process_time() - cpu, wall=time.perf_counter() - wall)
simulation._drive = timed
result = load_simulation(sys.argv[1], overrides=sys.argv[2:], check_memory=False).run()
print(json.dumps({**spent, "events": result.summary["events"]}))
"""


def run_once(tree: Path, scenario: str, overrides: list[str]) -> dict:
    command = [sys.executable, "-c", _DRIVER, f"scenarios/{scenario}.yaml", *overrides]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the commit to compare against (any git revision)")
    parser.add_argument("scenarios", nargs="*", default=["pbft-4-50k", "pbft-100-2k"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a scenario override for both sides (repeatable)")
    args = parser.parse_intermixed_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base),
                        args.base], check=True)
        try:
            trees = {"base": base, "this": ROOT}
            for scenario in args.scenarios:
                cpus: dict[str, list[float]] = {side: [] for side in trees}
                walls: dict[str, list[float]] = {side: [] for side in trees}
                events: dict[str, set[int]] = {side: set() for side in trees}
                for run in range(args.runs):
                    for side, tree in trees.items():
                        spent = run_once(tree, scenario, args.overrides)
                        cpus[side].append(round(spent["cpu"], 3))
                        walls[side].append(round(spent["wall"], 3))
                        events[side].add(spent["events"])
                        print(f"{scenario} {side} run {run + 1}: CPU {spent['cpu']:.3f} s, wall "
                              f"{spent['wall']:.3f} s, {spent['events']:,} events", flush=True)
                same = "same work" if events["base"] == events["this"] else (
                    f"DIFFERENT work: events {sorted(events['base'])} vs {sorted(events['this'])}")
                for figure, runs in (("CPU", cpus), ("wall", walls)):
                    a, b = (statistics.median(runs[side]) for side in trees)
                    print(f"{scenario} {figure}: base {runs['base']} -> {a}; this {runs['this']} "
                          f"-> {b}; {(b / a - 1) * 100:+.1f} % ({same})", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)


if __name__ == "__main__":
    main()
