"""Fuzz with steady loss and load on any fiscosim checkout, old ones included.

    PYTHONPATH=<checkout> python benchmarks/fuzz_loss.py RUNS LOSS RATE OUT.json

``fiscosim fuzz --loss --rate`` exists from 2026-12-01 on; this script measures the same
thing on a checkout from before it (docs/faults.md, "Steady loss under load"): it draws each
seed's fault schedule with that checkout's ``fiscosim.sim.fuzz.random_faults`` (4 sealers,
20 s, healed by 10 s), sets ``network.loss_rate`` = LOSS and ``workload.rate_tps`` = RATE in
the scenario, runs it and records ``max_stall_s`` and the longest stall after the last heal
(the end of the run counts when a live node still holds transactions). It writes every run to
OUT.json and prints the quantiles, on 2 worker processes.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import sys
import time

import numpy as np

NODES, DURATION_S = 4, 20.0
PENDING, SEALED = 1, 2  # fiscosim.node.txpool's states


def one(args: tuple[int, float, float]) -> dict:
    seed, loss, rate = args
    from fiscosim.schema import Scenario
    from fiscosim.sim.fuzz import random_faults
    from fiscosim.sim.simulation import Simulation

    rng = np.random.default_rng([seed, NODES])
    names = [f"node{i}" for i in range(NODES)]
    faults = random_faults(rng, names, DURATION_S, DURATION_S / 2, False)
    scenario = Scenario.from_dict({
        "name": f"fuzz-{NODES}-{seed}", "seed": seed, "duration_s": DURATION_S,
        "warmup_s": 0, "drain_s": 0, "nodes": {"count": NODES},
        "network": {"latency": {"distribution": "normal", "mean_ms": 2, "std_ms": 0.5},
                    "loss_rate": loss},
        "workload": {"rate_tps": rate, "clients": 2}, "faults": faults}, source="fuzz_loss")
    result = Simulation(scenario).run()
    world = result.world
    commits = sorted(row.first_commit_us for row in world.blocks.committed_rows())
    healed_us = round(max((float(f.get("until_s", f["at_s"])) for f in faults), default=0) * 1e6)
    table = world.table
    ids = np.arange(table.count)
    held = np.zeros(table.count, dtype=bool)
    for node in world.nodes:
        if node.up:
            states = node.pool.states(ids)
            held |= (states == PENDING) | (states == SEALED)
    pending = bool((held & (table.column("commit_block") < 0)).any())
    points = [healed_us, *[t for t in commits if t > healed_us]]
    if pending:
        points.append(int(world.env.now))
    after = max((b - a for a, b in itertools.pairwise(points)), default=0) / 1e6
    return {"seed": seed, "safe": result.summary["safety"]["ok"] is not False,
            "max_stall_s": result.summary["max_stall_s"], "after_heal_s": round(after, 6),
            "healed_at_s": healed_us / 1e6}


def main(runs: int, loss: float, rate: float, out: str) -> None:
    started = time.time()
    with mp.get_context("fork").Pool(2) as pool:
        rows = pool.map(one, [(seed, loss, rate) for seed in range(runs)], chunksize=8)
    wall = round(time.time() - started, 1)
    with open(out, "w") as file:
        json.dump({"runs": runs, "loss": loss, "rate": rate, "wall_s": wall, "rows": rows}, file)
    print(f"{runs} runs in {wall} s: {sum(not r['safe'] for r in rows)} unsafe")
    for key in ("after_heal_s", "max_stall_s"):
        values = np.array([r[key] for r in rows])
        quantiles = {q: round(float(np.quantile(values, q)), 3) for q in (0.5, 0.9, 0.99, 1.0)}
        print(key, quantiles, "> 6 s:", int((values > 6).sum()), "> 9 s:", int((values > 9).sum()))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
