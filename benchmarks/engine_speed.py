"""How fast the engine runs the issue's reference scenarios: wall time, speed, peak memory.

    python benchmarks/engine_speed.py                 # all three targets
    python benchmarks/engine_speed.py quickstart      # one of them

Each scenario runs in a fresh Python process (so peak memory is that run's own, read with
``resource.getrusage``), modelled crypto, no trace. Targets (issue #3): quickstart under 5 s
wall; 4 sealers at 50,000 TPS offered for 60 s at least 10x faster than real time and under
1.5 GB; 100 sealers at 2,000 TPS for 30 s at least real time. Results go to docs/performance.md
with the machine they were measured on.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "quickstart": ("scenarios/quickstart.yaml", "wall < 5 s"),
    "pbft-4-50k": ("scenarios/pbft-4-50k.yaml", "speed >= 10x, peak < 1.5 GB"),
    "pbft-100-2k": ("scenarios/pbft-100-2k.yaml", "speed >= 1x"),
}

CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from fiscosim import load_simulation
summary = load_simulation(sys.argv[1]).run().summary
total = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"process_wall_s": round(total, 2), "peak_mb": round(peak_mb),
                  **{k: summary[k] for k in ("sim_time_s", "wall_time_s", "sim_speed",
                                             "events", "tps", "blocks", "messages_total")}}))
"""


def measure(name: str) -> dict:
    path, target = TARGETS[name]
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / path)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return {"scenario": name, "target": target, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    names = sys.argv[1:] or list(TARGETS)
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info
                    if line.startswith("model name")), platform.processor())
    print(f"# {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for name in names:
        print(json.dumps(measure(name)))


if __name__ == "__main__":
    main()
