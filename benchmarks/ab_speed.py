"""Engine speed A/B: a base commit against this checkout, interleaved, median of N runs.

    python benchmarks/ab_speed.py 117b1c1                      # pbft-4-50k and pbft-100-2k
    python benchmarks/ab_speed.py 117b1c1 --runs 5 quickstart  # other scenarios, more runs
    python benchmarks/ab_speed.py 117b1c1 --set duration_s=3 pbft-100-2k

The base commit is checked out into a temporary git worktree (removed at the end). Each run is
a fresh ``python -m fiscosim run scenarios/<name>.yaml --quiet --json`` with the working
directory in that tree (so it imports that tree's fiscosim), base and this checkout taking
turns (A, B, A, B, ...) so that a machine that gets busier or quieter affects both alike. The
figure is the summary's ``wall_time_s`` (the run itself, without start-up). It prints each run
and, per scenario, both medians and the difference; it also checks that both sides did the same
work (the same ``events``), since a speed-up that changes the run is not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(tree: Path, scenario: str, overrides: list[str]) -> dict:
    command = [sys.executable, "-m", "fiscosim", "run", f"scenarios/{scenario}.yaml",
               "--quiet", "--json", "--no-memory-check"]
    for override in overrides:
        command += ["--set", override]
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True).stdout
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
                walls: dict[str, list[float]] = {side: [] for side in trees}
                events: dict[str, set[int]] = {side: set() for side in trees}
                for run in range(args.runs):
                    for side, tree in trees.items():
                        summary = run_once(tree, scenario, args.overrides)
                        walls[side].append(summary["wall_time_s"])
                        events[side].add(summary["events"])
                        print(f"{scenario} {side} run {run + 1}: {summary['wall_time_s']} s, "
                              f"{summary['events']:,} events", flush=True)
                a, b = (statistics.median(walls[side]) for side in trees)
                same = "same work" if events["base"] == events["this"] else (
                    f"DIFFERENT work: events {sorted(events['base'])} vs {sorted(events['this'])}")
                print(f"{scenario}: base {walls['base']} -> {a}; this {walls['this']} -> {b}; "
                      f"{(b / a - 1) * 100:+.1f} % ({same})", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)


if __name__ == "__main__":
    main()
