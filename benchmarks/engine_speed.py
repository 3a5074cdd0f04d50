"""How fast the engine runs the reference scenarios: wall time, speed, peak memory, events.

    python benchmarks/engine_speed.py                 # all three targets
    python benchmarks/engine_speed.py quickstart      # one of them
    python benchmarks/engine_speed.py --runs 3        # median of 3 fresh processes each

Each scenario runs in a fresh Python process (so peak memory is that run's own, read with
``resource.getrusage``), modelled crypto, no trace. Targets (issues #3 and #17): quickstart
under 5 s wall; 4 sealers at 50,000 TPS offered for 60 s at least 10x faster than real time and
under 1.5 GB; 100 sealers at 2,000 TPS for 30 s at least real time.

Besides the summary's ``events`` (simpy's steps plus the network's deliveries and drops, which
it runs from its own queues), each line splits them: ``simpy_steps`` and ``deliveries``, so a
figure from before the network's deliveries were counted (commit 776632c) compares with
``simpy_steps``. ``bare_simpy_per_s`` is how many plain ``env.timeout`` steps simpy runs per
second in the same process just before the scenario: the machine's speed for simpy itself, so
runs on different hosts (or a busy one) can be compared.

The pins: each scenario's model epoch, digest and events at the time the figures in
docs/performance.md were taken. A run whose digest or epoch differs says so ("pin: ..."): its
events and speed are not comparable with the recorded ones until the pins are updated with the
docs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "quickstart": ("scenarios/quickstart.yaml", "wall < 5 s"),
    "pbft-4-50k": ("scenarios/pbft-4-50k.yaml", "speed >= 10x, peak < 1.5 GB"),
    "pbft-100-2k": ("scenarios/pbft-100-2k.yaml", "speed >= 1x"),
}
PINS: dict[str, dict] = {
    "quickstart": {"model_epoch": 6, "events": 12202},
    "pbft-4-50k": {"model_epoch": 6, "events": 303155},
    "pbft-100-2k": {"model_epoch": 6, "events": 4569992},
}
"""What the recorded figures were measured on (docs/performance.md, "The simulation engine")."""

CHILD = """
import json, resource, sys, time
import simpy

def bare_simpy_rate(seconds=0.5):
    env = simpy.Environment()
    def ticker():
        while True:
            yield env.timeout(1)
    env.process(ticker())
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(10_000):
            env.step()
        steps += 10_000
    return steps / (time.perf_counter() - started)

bare = bare_simpy_rate()
started = time.perf_counter()
from fiscosim import MODEL_EPOCH, load_simulation
simulation = load_simulation(sys.argv[1])
summary = simulation.run().summary
total = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
steps = int(simulation.world.env.events_processed)
print(json.dumps({"process_wall_s": round(total, 2), "peak_mb": round(peak_mb),
                  "bare_simpy_per_s": round(bare), "model_epoch": MODEL_EPOCH,
                  "simpy_steps": steps, "deliveries": summary["events"] - steps,
                  **{k: summary[k] for k in ("sim_time_s", "wall_time_s", "sim_speed",
                                             "events", "tps", "blocks", "messages_total")}}))
"""


def measure(name: str) -> dict:
    path, target = TARGETS[name]
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / path)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return {"scenario": name, "target": target, **json.loads(out.stdout.strip().splitlines()[-1])}


def median_of(runs: list[dict]) -> dict:
    """The run with the median wall time (its own figures, not a mix of runs), with every
    run's wall time and speed listed."""
    ordered = sorted(runs, key=lambda r: r["wall_time_s"])
    chosen = dict(ordered[len(ordered) // 2])
    if len(runs) > 1:
        chosen["wall_times_s"] = [r["wall_time_s"] for r in runs]
        chosen["speeds"] = [r["sim_speed"] for r in runs]
        chosen["bare_simpy_median_per_s"] = round(statistics.median(
            r["bare_simpy_per_s"] for r in runs))
    return chosen


def pin_note(name: str, result: dict) -> str | None:
    pin = PINS.get(name)
    if pin is None:
        return None
    if result["model_epoch"] != pin["model_epoch"] or result["events"] != pin["events"]:
        return (f"pin: {name} was recorded at model epoch {pin['model_epoch']} with "
                f"{pin['events']:,} events; this run is epoch {result['model_epoch']} with "
                f"{result['events']:,}: not comparable with docs/performance.md until both "
                "are updated")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="scenario",
                        help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--runs", type=int, default=1, help="fresh processes per scenario")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in TARGETS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}: use any of {', '.join(TARGETS)}")
    names, runs = args.names or list(TARGETS), args.runs
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info
                    if line.startswith("model name")), platform.processor())
    print(f"# {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for name in names:
        result = median_of([measure(name) for _ in range(runs)])
        print(json.dumps(result))
        note = pin_note(name, result)
        if note:
            print(f"# {note}")


if __name__ == "__main__":
    main()
