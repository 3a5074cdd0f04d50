"""Random fault schedules, run many times: safety must always hold, liveness must come back.

``fiscosim fuzz --runs N`` draws, for each run seed, a schedule of up to f = ⌊(n−1)/3⌋ faulty
nodes (crash and restart, slow CPU, outgoing delay; with ``--byzantine`` also the byzantine
behaviours of :mod:`fiscosim.faults.byzantine`) plus network-wide faults (a partition that
heals, a loss burst), all healed before ``heal_by`` of the run; the workload keeps going for
the rest. A run **fails** when two honest nodes commit different blocks at one height
(safety), or when no block is committed in the last ``liveness_window_s`` although faults have
healed and transactions are pending (liveness). Failing seeds are reported so that a single
run can be replayed: ``fiscosim run <scenario> --seed S`` with the schedule printed.

Two options widen the space without changing what old seeds draw: ``loss_rate`` loses that
share of every message for the whole run (on top of any loss burst), ``rate_tps`` sets the
offered load (default 200 TPS). Each outcome also says how long the chain went without a block
*after* the last fault healed (``stall_after_heal_s``): the stall no fault explains.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fiscosim.chain.config import max_faulty
from fiscosim.engine import schedule
from fiscosim.faults.behaviours import BEHAVIOURS
from fiscosim.schema import Scenario


@dataclass(frozen=True)
class FuzzOutcome:
    seed: int
    safe: bool
    live: bool
    blocks: int
    max_stall_s: float
    faults: list[dict]
    violation: str = ""
    stall_after_heal_s: float = 0.0
    """The longest time without a new block while transactions were waiting, counted from the
    last fault's heal (from the start when no fault was drawn) to the end of the run."""
    healed_at_s: float = 0.0
    timeout_at_heal_s: float = 0.0
    """The longest view timeout in force at an honest sealer when the last fault healed:
    consensus_timeout × 1.5^change_cycle, the back-off the faults left behind."""

    @property
    def stall_within_bound(self) -> bool:
        """No stall after the heal longer than twice the backed-off view timeout then in
        force: a view change that fails once more and the one after it."""
        return self.stall_after_heal_s <= 2 * self.timeout_at_heal_s

    @property
    def ok(self) -> bool:
        return self.safe and self.live


def random_faults(rng: np.random.Generator, names: list[str], duration_s: float,
                  heal_by: float, byzantine: bool = False) -> list[dict]:
    """A random schedule: at most f nodes faulty, everything healed before ``heal_by``.

    With ``byzantine`` a faulty node may also misbehave (any of
    :data:`~fiscosim.faults.behaviours.BEHAVIOURS`) instead of crashing, slowing or lagging;
    without it the draws are those of earlier versions, so old seeds replay the same schedule.
    """
    f = max_faulty([1] * len(names))
    faults: list[dict] = []
    faulty = rng.choice(names, size=int(rng.integers(0, f + 1)), replace=False).tolist()
    for name in faulty:
        start = float(np.round(rng.uniform(0.5, heal_by * 0.8), 3))
        end = float(np.round(rng.uniform(start + 0.2, heal_by), 3))
        kind = str(rng.choice(["crash", "slow", "delay", "byzantine"] if byzantine
                              else ["crash", "slow", "delay"]))
        fault: dict[str, Any] = {"at_s": start, "kind": kind, "nodes": [name], "until_s": end}
        if kind == "byzantine":
            fault["behaviour"] = str(rng.choice(BEHAVIOURS))
        elif kind == "slow":
            fault["factor"] = float(np.round(rng.uniform(2, 50), 1))
        elif kind == "delay":
            fault["delay_ms"] = float(np.round(rng.uniform(5, 500), 1))
        faults.append(fault)
    if rng.random() < 0.5:
        start = float(np.round(rng.uniform(0.5, heal_by * 0.8), 3))
        side = rng.choice(names, size=int(rng.integers(1, len(names))), replace=False).tolist()
        faults.append({"at_s": start, "kind": "partition", "groups": [sorted(side)],
                       "until_s": float(np.round(rng.uniform(start + 0.2, heal_by), 3))})
    if rng.random() < 0.5:
        start = float(np.round(rng.uniform(0.5, heal_by * 0.8), 3))
        faults.append({"at_s": start, "kind": "loss",
                       "rate": float(np.round(rng.uniform(0.01, 0.3), 3)),
                       "until_s": float(np.round(rng.uniform(start + 0.2, heal_by), 3))})
    return faults


def fuzz_scenario(seed: int, nodes: int, duration_s: float, rate_tps: float,
                  faults: list[dict], loss_rate: float = 0.0,
                  chain_version: str | None = None) -> Scenario:
    """The network every fuzz run uses (a quickstart-like one, 2 ± 0.5 ms links, 2 clients,
    no warm-up or drain), with ``faults``, a steady ``loss_rate`` on every link and the FISCO
    release ``chain_version`` (None: the default)."""
    network: dict[str, Any] = {
        "latency": {"distribution": "normal", "mean_ms": 2, "std_ms": 0.5}}
    if loss_rate:
        network["loss_rate"] = loss_rate
    return Scenario.from_dict({
        "name": f"fuzz-{nodes}-{seed}",
        "seed": seed,
        "duration_s": duration_s,
        "warmup_s": 0,
        "drain_s": 0,
        "nodes": {"count": nodes},
        "network": network,
        "workload": {"rate_tps": rate_tps, "clients": 2},
        "faults": faults,
        "chain": {} if chain_version is None else {"version": chain_version},
    }, source=f"fuzz seed {seed} (nodes {nodes}, loss {loss_rate}, faults {faults})")


def last_heal_s(faults: list[dict]) -> float:
    """When the last fault of a schedule ends (0 for an empty schedule)."""
    return max((float(f.get("until_s", f["at_s"])) for f in faults), default=0.0)


def stall_after(commit_times_us: list[int], since_us: int, end_us: int, pending: bool) -> float:
    """The longest gap without a first commit counted from ``since_us`` (seconds); the time
    after the last commit counts when transactions were still ``pending`` at ``end_us``.

    >>> stall_after([1_000_000, 2_000_000, 5_500_000], 1_500_000, 6_000_000, False)
    3.5
    >>> stall_after([1_000_000], 2_000_000, 6_000_000, True)
    4.0
    """
    points = [since_us, *sorted(t for t in commit_times_us if t > since_us)]
    if pending:
        points.append(end_us)
    gaps = [b - a for a, b in itertools.pairwise(points)]
    return round(max(gaps, default=0) / 1e6, 6)


def run_one(seed: int, nodes: int = 4, duration_s: float = 20.0, rate_tps: float = 200.0,
            liveness_window_s: float | None = None, byzantine: bool = False,
            loss_rate: float = 0.0, chain_version: str | None = None) -> FuzzOutcome:
    """One random schedule on a ``nodes``-sealer quickstart-like network (``byzantine``: faulty
    nodes may misbehave too, :func:`random_faults`; ``loss_rate``: steady loss on every link)."""
    from fiscosim.sim.simulation import Simulation

    rng = np.random.default_rng([seed, nodes])
    names = [f"node{i}" for i in range(nodes)]
    heal_by = duration_s / 2
    faults = random_faults(rng, names, duration_s, heal_by, byzantine)
    # After the last heal: up to the longest back-off the faults can cause, then some blocks.
    window = liveness_window_s if liveness_window_s is not None else duration_s - heal_by - 1
    healed = last_heal_s(faults)
    simulation = Simulation(fuzz_scenario(seed, nodes, duration_s, rate_tps, faults, loss_rate,
                                          chain_version))
    timeout_at_heal = [0]

    def probe() -> None:
        world = simulation.world
        timeout_at_heal[0] = max(
            (node.core.timeout_us for node in world.sealers
             if node.core is not None and node.up and not node.byzantine), default=0)

    def at_first_progress(simulated_s: float, total_s: float) -> None:
        # The first report comes before any fault acts (t ≤ 1 % of the run): from here the
        # probe can be put on the run's own clock at the heal time exactly.
        world = simulation.world
        if not timeout_at_heal[0] and world is not None:
            timeout_at_heal[0] = -1
            schedule(world.env, max(round(healed * 1e6), world.env.now), probe)

    result = simulation.run(progress=at_first_progress)
    summary = result.summary
    safe = summary["safety"]["ok"] is not False
    commits = [row.first_commit_us for row in result.world.blocks.committed_rows()]
    window_start = (duration_s - window) * 1e6
    live = any(t >= window_start for t in commits) or summary["txs_submitted"] == 0
    return FuzzOutcome(
        seed=seed,
        safe=safe,
        live=live,
        blocks=summary["blocks"],
        max_stall_s=summary["max_stall_s"],
        faults=faults,
        violation="" if safe else summary["safety"]["violations"][0],
        stall_after_heal_s=stall_after(commits, round(healed * 1e6), int(result.world.env.now),
                                       summary["txs_pending_at_end"] > 0),
        healed_at_s=healed,
        timeout_at_heal_s=max(timeout_at_heal[0], 0) / 1e6,
    )


def fuzz(runs: int, nodes: int = 4, duration_s: float = 20.0, first_seed: int = 0,
         workers: int = 1, progress: Any = None, byzantine: bool = False,
         rate_tps: float = 200.0, loss_rate: float = 0.0,
         chain_version: str | None = None) -> list[FuzzOutcome]:
    """``runs`` random schedules (seeds first_seed, first_seed + 1, ...), on ``workers``
    processes. Outcomes come back in seed order whatever the number of workers."""
    from functools import partial

    seeds = list(range(first_seed, first_seed + runs))
    one = partial(run_one, nodes=nodes, duration_s=duration_s, byzantine=byzantine,
                  rate_tps=rate_tps, loss_rate=loss_rate, chain_version=chain_version)
    if workers <= 1:
        outcomes = []
        for seed in seeds:
            outcomes.append(one(seed))
            if progress is not None:
                progress(len(outcomes))
        return outcomes
    import multiprocessing as mp

    chunk = max(1, math.ceil(runs / (workers * 8)))
    with mp.get_context("fork").Pool(workers) as pool:
        outcomes = []
        for outcome in pool.imap(one, seeds, chunksize=chunk):
            outcomes.append(outcome)
            if progress is not None:
                progress(len(outcomes))
    return outcomes
