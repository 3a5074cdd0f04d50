"""What a sweep costs beyond its runs: 30 quickstart runs (duration_s=20) on 2 local workers.

    python benchmarks/sweep_overhead.py                 # 30 runs, -j 2
    python benchmarks/sweep_overhead.py --runs 60 -j 2

Issue #18's bar: the sweep's wall time is at most 1.1 × (the sum of the runs' own times) / 2,
where a run's own time runs from its worker process's start to its returned result (the
``wall_s`` each run folder's manifest records: the process's age when the run began, read
from /proc, plus the run). The rest is the coordinator's: planning and validating, feeding the
pool, writing the run folders, the tables and the plots. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

SWEEP = """\
name: overhead
duration_s: 20
nodes: {{count: 4}}
workload: {{rate_tps: 300}}
sweep:
  seeds: {seeds}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_args()
    from fiscosim.sweep.campaign import run_sweep

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sweep.yaml"
        path.write_text(SWEEP.format(seeds=list(range(1, args.runs + 1))))
        started = time.perf_counter()
        report = run_sweep(path, out=Path(folder) / "out", jobs=args.jobs)
        wall = time.perf_counter() - started
        own = []
        for run in (Path(folder) / "out" / "runs").iterdir():
            manifest = json.loads((run / "manifest.json").read_text())
            own.append(manifest["sweep"]["wall_s"])
    ideal = sum(own) / args.jobs
    print(json.dumps({
        "runs": len(report.executed), "jobs": args.jobs, "sweep_wall_s": round(wall, 2),
        "sum_run_s": round(sum(own), 2), "ideal_s": round(ideal, 2),
        "ratio": round(wall / ideal, 3), "bar": 1.1, "met": wall <= 1.1 * ideal,
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
