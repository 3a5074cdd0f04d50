"""Acceptance check 9 of the sweep design: what the coordinator itself costs.

    python benchmarks/sweep_coordinator.py                    # both parts, 1,000 runs on -j 2
    python benchmarks/sweep_coordinator.py --runs 300         # a shorter part (a)
    python benchmarks/sweep_coordinator.py --only status      # part (b) only
    python benchmarks/sweep_coordinator.py --only coordinator --duration 10 --rate 500

(a) ``--runs`` tiny runs (the quickstart shrunk to 1 simulated second at 10 TPS, no warm-up
    and no drain: the runs where the coordinator's share is largest) on ``-j`` local workers.
    The coordinator's CPU seconds (``getrusage(RUSAGE_SELF)`` around ``run_sweep`` in this
    process: planning, feeding the pool, receiving and writing every run folder, the tables
    and the plots) against the total: its own plus its children's (the fork server and the
    worker processes it starts, reaped when the pool and the fork server are shut down).
    Target: under 5 %.
(b) A sweep folder of ``--status-runs`` done runs (1,000 points x 10 seeds), written directly
    as the store writes them (the files of one real run, the ids of the plan), then
    ``fiscosim sweep status DIR`` timed as a command: the interpreter's start, the imports,
    reading and validating the plan, and reading every run. The first call reads every run
    folder and leaves its index (.status-index.json); the next ones stat them only (as
    after a sweep: its coordinator leaves the index up to date). Target: under 2 s.

Prints the figures, then one JSON line. A benchmark, not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = """\
name: tiny
duration_s: {duration}
warmup_s: 0
drain_s: 0
nodes: {{count: 4}}
workload: {{rate_tps: {rate}}}
sweep:
  seeds: {seeds}
"""

BIG = """\
name: status-10k
duration_s: 1
warmup_s: 0
drain_s: 0
nodes: {count: 4}
workload: {rate_tps: 10}
sweep:
  repeat: REPEAT
  grid:
    nodes.count: {range: [4, 14]}
    workload.rate_tps: {range: [10, 110, 10]}
    network.latency.mean_ms: {range: [1, 11]}
"""


def machine() -> dict[str, object]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"nproc": cores, "cpu": model or platform.processor() or platform.machine(),
            "python": platform.python_version()}


def cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def coordinator_share(runs: int, jobs: int, folder: Path, duration: float = 1,
                      rate: float = 10) -> dict[str, object]:
    """Part (a): runs a sweep of ``runs`` tiny runs here; the coordinator's CPU share."""
    import multiprocessing.forkserver as forkserver

    from fiscosim.sweep.campaign import run_sweep

    path = folder / "tiny.yaml"
    path.write_text(TINY.format(seeds=list(range(1, runs + 1)), duration=duration, rate=rate))
    self_before = cpu_s(resource.getrusage(resource.RUSAGE_SELF))
    children_before = cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN))
    started = time.perf_counter()
    report = run_sweep(path, out=folder / "a", jobs=jobs, command_line=["benchmark"])
    wall = time.perf_counter() - started
    coordinator = cpu_s(resource.getrusage(resource.RUSAGE_SELF)) - self_before
    # The workers are the fork server's children: they are counted in ours once it has
    # reaped them and we have reaped it.
    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()
    children = cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN)) - children_before
    run_s = 0.0
    for run in (folder / "a" / "runs").iterdir():
        run_s += json.loads((run / "manifest.json").read_text())["sweep"]["run_s"]
    total = coordinator + children
    return {"runs": len(report.executed), "failed": len(report.failed), "jobs": jobs,
            "duration_s": duration, "rate_tps": rate,
            "wall_s": round(wall, 2), "coordinator_cpu_s": round(coordinator, 2),
            "children_cpu_s": round(children, 2), "runs_own_s": round(run_s, 2),
            "share": round(coordinator / total, 4) if total else None, "target": 0.05,
            "template": str(next((folder / "a" / "runs").iterdir()))}


def status_time(runs: int, template: Path, folder: Path, repeats: int) -> dict[str, object]:
    """Part (b): a folder of ``runs`` done runs written directly; ``fiscosim sweep status``
    timed."""
    import yaml

    from fiscosim.sweep.plan import read_sweep

    seeds = max(1, runs // 1000)
    path = folder / "big.yaml"
    path.write_text(BIG.replace("REPEAT", str(seeds)))
    started = time.perf_counter()
    sweep = read_sweep(path)
    out = folder / "b"
    (out / "runs").mkdir(parents=True)
    (out / "sweep.yaml").write_text(yaml.safe_dump(sweep.resolved_spec(), sort_keys=False))
    summary = (template / "summary.json").read_text()
    scenario = (template / "scenario.yaml").read_text()
    manifest = json.loads((template / "manifest.json").read_text())
    for run in sweep.runs:
        manifest["sweep"] = {**manifest["sweep"], "run_id": run.run_id,
                             "point_id": run.point_id, "seed": run.seed,
                             "label": run.point.label, "params": run.point.params}
        target = out / "runs" / run.run_id
        target.mkdir()
        (target / "scenario.yaml").write_text(scenario)
        (target / "summary.json").write_text(summary)
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    written = time.perf_counter() - started
    command = [sys.executable, "-m", "fiscosim", "sweep", "status", str(out)]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
    first = done.stdout.splitlines()[0] if done.stdout else done.stderr.strip()
    return {"runs": len(sweep.runs), "points": len(sweep.points), "write_s": round(written, 1),
            "status_s": [round(t, 2) for t in times], "first_s": round(times[0], 2),
            "indexed_s": round(min(times[1:]), 2) if len(times) > 1 else None,
            "exit": done.returncode, "said": first, "target_s": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs of part (a)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--duration", type=float, default=1,
                        help="simulated seconds of a run of part (a)")
    parser.add_argument("--rate", type=float, default=10, help="TPS of a run of part (a)")
    parser.add_argument("--status-runs", type=int, default=10_000, help="runs of part (b)")
    parser.add_argument("--repeats", type=int, default=4, help="timings of status (>= 2)")
    parser.add_argument("--only", choices=["coordinator", "status"], default=None)
    args = parser.parse_args()
    args.repeats = max(2, args.repeats)
    figures: dict[str, object] = {"machine": machine()}
    folder = Path(tempfile.mkdtemp(prefix="sweep-coordinator-"))
    try:
        if args.only != "status":
            figures["coordinator"] = part_a = coordinator_share(args.runs, args.jobs, folder,
                                                                args.duration, args.rate)
            template = Path(str(part_a.pop("template")))
            print(f"(a) {part_a['runs']} runs ({args.duration:g} simulated s at "
                  f"{args.rate:g} TPS) on -j {args.jobs}: {part_a['wall_s']} s; "
                  f"coordinator {part_a['coordinator_cpu_s']} CPU s, children "
                  f"{part_a['children_cpu_s']} CPU s (the runs' own {part_a['runs_own_s']} s): "
                  f"share {part_a['share']:.1%} (target < 5 %)")
        else:
            coordinator_share(1, 1, folder)
            template = next((folder / "a" / "runs").iterdir())
        if args.only != "coordinator":
            figures["status"] = part_b = status_time(args.status_runs, template, folder,
                                                     args.repeats)
            print(f"(b) fiscosim sweep status on {part_b['runs']:,} done runs "
                  f"({part_b['points']:,} points): first {part_b['first_s']} s (no index), "
                  f"then {part_b['indexed_s']} s (best of {args.repeats - 1}; target < 2 s); "
                  f"it said: {part_b['said']}")
        info = figures["machine"]
        print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
        print(json.dumps(figures))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
