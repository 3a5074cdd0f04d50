"""Crash the current leader at three points of its turn on a ~50 ms WAN; print the stalls.

    python benchmarks/crash_points.py 4 7 16 25

For each sealer count: a fault-free run (quickstart network with normal 50 ± 5 ms links,
1,000 TPS, seed 1, 14 s) finds the leader of the first block sealed after 8 s; then that
leader is crashed 1 ms before it seals, halfway between its seal and the block's first
commit, and 1 ms after the previous block's first commit. Prints max_stall_s, the reason of
the first view change and the safety status of each run (docs/faults.md, "A crashed current
leader on a WAN"). Deterministic: the figures do not depend on the machine.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from fiscosim import load_simulation

QUICKSTART = Path(__file__).resolve().parent.parent / "scenarios" / "quickstart.yaml"
WAN = {"network.latency.distribution": "normal", "network.latency.mean_ms": 50,
       "network.latency.std_ms": 5, "workload.rate_tps": 1000, "duration_s": 14}


def traced(sealers: int, faults: list[dict]) -> tuple[dict, list[dict]]:
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        overrides = {**WAN, "nodes.count": sealers, "faults": faults}
        result = load_simulation(QUICKSTART, seed=1, overrides=overrides).run(trace=path)
        events = [json.loads(line) for line in Path(path).read_text().splitlines()]
    finally:
        os.unlink(path)
    return result.summary, events


def crash_points(sealers: int) -> tuple[str, dict[str, int]]:
    _, events = traced(sealers, [])
    seals = {e["index"]: (e["t"], e["node"]) for e in events if e["event"] == "seal"}
    first: dict[int, int] = {}
    for event in events:
        if event["event"] == "commit":
            first.setdefault(event["index"], event["t"])
    index = min(i for i, (t, _) in seals.items() if t > 8_000_000)
    sealed_at, leader = seals[index]
    return f"node{leader}", {"before_seal": sealed_at - 1_000,
                             "mid_block": (sealed_at + first[index]) // 2,
                             "after_commit": first[index - 1] + 1_000}


def main(counts: list[int]) -> None:
    for sealers in counts:
        leader, points = crash_points(sealers)
        for where, at_us in points.items():
            faults = [{"at_s": at_us / 1e6, "kind": "crash", "nodes": [leader]}]
            summary, events = traced(sealers, faults)
            reasons = [e["reason"] for e in events if e.get("code") == "view_change_sent"]
            print(f"{sealers:>3} sealers  {where:<12}  crash {leader} at {at_us / 1e6:.3f} s  "
                  f"max_stall_s {summary['max_stall_s']:.3f}  first view change "
                  f"{reasons[0] if reasons else '-'}  safety {summary['safety']['status']}",
                  flush=True)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [4, 7, 16, 25])
