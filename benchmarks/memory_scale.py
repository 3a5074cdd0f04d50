"""Peak memory of one run at each scale, measured, beside fiscosim's own estimate.

    python benchmarks/memory_scale.py            # the grid below, each run in a fresh process
    python benchmarks/memory_scale.py 4 16       # only these node counts

Each point is a full-mesh PBFT network of n sealers on ``reference-2core`` with 20 ms links,
modelled crypto, no trace, run in a fresh Python process; its peak resident memory is read with
``resource.getrusage`` (what the kernel charged the process, the interpreter included), and
its estimate is what ``fiscosim run --dry-run`` prints (fiscosim/sim/estimate.py). The table
goes to docs/performance.md ("Memory per run") with the machine it was measured on, so a user
can tell how many runs fit on a machine: divide its free memory by the peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID = [  # (sealers, offered TPS, seconds of workload)
    (4, 1_000, 60), (4, 10_000, 60), (4, 50_000, 60),
    (16, 1_000, 60), (16, 10_000, 60),
    (64, 1_000, 30),
    (100, 1_000, 30), (100, 2_000, 30),
    (200, 500, 10),
]

CHILD = """
import json, resource, sys, time
from fiscosim.schema import Scenario
from fiscosim.sim.estimate import estimate_run
from fiscosim.sim.simulation import Simulation
n, rate, seconds = (int(a) for a in sys.argv[1:4])
scenario = Scenario.from_dict({
    "name": f"mem-{n}", "seed": 1, "duration_s": seconds, "warmup_s": 2, "drain_s": 5,
    "nodes": {"count": n, "profile": "reference-2core"},
    "network": {"topology": {"kind": "full_mesh"},
                "latency": {"distribution": "constant", "mean_ms": 20}},
    "workload": {"clients": 4, "rate_tps": rate, "targets": "sealers"}})
estimate = estimate_run(scenario)
started = time.perf_counter()
summary = Simulation(scenario).run().summary
print(json.dumps({"n": n, "rate_tps": rate, "seconds": seconds,
                  "txs": summary["txs_submitted"], "estimate_events": estimate.events,
                  "tps": summary["tps"], "blocks": summary["blocks"],
                  "events": summary["events"],
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "estimate_mb": round(estimate.peak_bytes / 2**20),
                  "wall_s": round(time.perf_counter() - started, 1)}))
"""


def main() -> None:
    only = {int(a) for a in sys.argv[1:]}
    for n, rate, seconds in GRID:
        if only and n not in only:
            continue
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(rate), str(seconds)],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            print(json.dumps({"n": n, "rate_tps": rate, "error": out.stderr.strip()[-300:]}))
            continue
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
