"""How long an executor takes for one block: serially, level by level over cores, and by DMC
stages (docs/fisco-reference.md §2.8).

Costs are per transaction in microseconds (any non-negative finite numbers); every time is
an integer number of microseconds, rounded up once at the end of each function.

**Scheduling one level (or one DMC stage) over the cores.** FISCO hands ready work to a
thread pool (TBB's work stealing for the DAG; a FIFO pool for DMC), which is greedy list
scheduling in no order that the simulator can know. What :func:`level_makespan` charges for a
level of jobs p1 ≥ p2 ≥ … on c cores is the largest of the classic lower bounds on any schedule
of them:

- the longest job, p1;
- the work spread evenly, (p1 + … + pn) / c;
- the pigeonhole bound (j + 1)·p(j·c + 1) for every j ≥ 1: of the j·c + 1 longest jobs, j + 1
  share a core.

This is the optimum whenever a level has at most c jobs or all of its jobs cost the same (the
pigeonhole bound is then ceil(n / c)·p), which is what a modelled contract function gives. With
mixed costs it can lie below the optimum, and greedy list scheduling above it (at most 2 - 1/c
times the optimum, Graham 1966; LPT at most 4/3 - 1/(3c)): for costs uniform in [20, 40] µs on
16 cores it came out 13 % below LPT at 40 jobs per level, 7 % at 100 and 0.5 % at 1,000 (50
random levels each). It is cheap, vectorized and deterministic, where simulating the pool's
order would cost a Python step per transaction.

Levels run one after another, each waiting for the slowest core. FISCO has no such barrier:
a DAG transaction starts as soon as its own predecessors finish (`TxDAG2`'s TBB flow graph; the
2.x worker threads pop any transaction whose in-degree reached 0), so this model is slower
than FISCO when a level leaves cores idle that later transactions could have used.

No scheduler overhead per level or per DMC stage is charged: neither FISCO's code nor its
documentation gives a figure to model one on.
"""

from __future__ import annotations

import math

import numpy as np

_ROUND_DOWN = 1 - 1e-12
"""Sums like 3 × 0.1 land a hair above an integer in floating point; shaving a relative 1e-12
before rounding up keeps such exact values exact (fiscosim.node.costs rounds the same way)."""


def _up(us: float) -> int:
    """Rounds a time up to whole microseconds (never below 0)."""
    return max(0, math.ceil(us * _ROUND_DOWN))


def as_costs(costs_us: np.ndarray) -> np.ndarray:
    """The costs as a 1-D float64 array, checked to be finite and non-negative."""
    costs = np.asarray(costs_us, dtype=np.float64)
    if costs.ndim != 1:
        raise ValueError(f"costs must be one number per transaction, got shape {costs.shape}")
    # min and max are NaN if any cost is: then neither comparison holds
    if costs.size and not (costs.min() >= 0 and costs.max() < math.inf):
        raise ValueError("costs must be finite and >= 0 microseconds")
    return costs


def check_cores(cores: int) -> int:
    """``cores`` as an int, checked to be >= 1."""
    if isinstance(cores, bool) or not isinstance(cores, int | np.integer) or cores < 1:
        raise ValueError(f"cores must be an integer >= 1, got {cores!r}")
    return int(cores)


def serial_time(costs_us: np.ndarray) -> int:
    """One transaction after another on one thread: the sum of the costs.

    >>> serial_time([10, 20.5, 0])
    31
    >>> serial_time([])
    0
    """
    return _up(float(as_costs(costs_us).sum()))


def level_makespan(costs_us: np.ndarray, levels: np.ndarray, cores: int) -> int:
    """Executing level by level, each level's jobs spread over ``cores`` threads (module
    docstring: each level costs the largest lower bound on scheduling it). A job with a
    negative level (:data:`~fiscosim.execution.dag.NOT_IN_DAG`) is not counted.

    >>> level_makespan([10] * 5, [0] * 5, cores=2)  # 3 rounds of 10
    30
    >>> level_makespan([10, 10, 7, 3], [0, 0, 1, 1], cores=2)  # 10, then 7
    17
    >>> level_makespan([5, 5, 5], [0, 1, -1], cores=4)
    10
    """
    costs = as_costs(costs_us)
    cores = check_cores(cores)
    levels = np.asarray(levels)
    if levels.shape != costs.shape:
        raise ValueError(f"levels must be one per transaction: {levels.shape} != {costs.shape}")
    if levels.size and levels.dtype.kind not in "iu":
        raise ValueError(f"levels must be integers, got {levels.dtype}")
    return makespan(costs, levels, cores)


def makespan(costs: np.ndarray, levels: np.ndarray, cores: int) -> int:
    """:func:`level_makespan` on checked inputs: float64 costs, integer levels, cores >= 1."""
    if levels.size == 0:
        return 0
    if levels.min() < 0:
        counted = levels >= 0
        if not counted.any():
            return 0
        levels, costs = levels[counted], costs[counted]
    return _up(_levels_total(costs, levels.astype(np.intp, copy=False), cores))


def _levels_total(costs: np.ndarray, levels: np.ndarray, cores: int) -> float:
    """The sum over levels of each level's bound, unrounded (levels >= 0, at least one job)."""
    count = np.bincount(levels)
    if not count.all():  # levels with no job (never from conflict_levels): number them anew
        levels = np.unique(levels, return_inverse=True)[1].reshape(-1)
        count = count[count > 0]
    cheapest, dearest = float(costs.min()), float(costs.max())
    if cheapest == dearest:  # one cost: ceil(jobs / cores) rounds of it, exactly
        return dearest * float(((count + (cores - 1)) // cores).sum())
    if count.shape[0] == 1 and count[0] <= cores:  # one level, a core for each job
        return dearest
    spread = np.bincount(levels, weights=costs)
    spread /= cores
    # One sort of level·width + (dearest - cost) orders the jobs by level, the dearest first
    # (width exceeds the spread of the costs, so the levels cannot mix).
    width = 2.0 * (dearest - cheapest) + 1.0
    ordered = levels * width
    ordered += dearest - costs
    ordered.sort()
    depth = count.shape[0]
    start = np.cumsum(count)
    start -= count
    level = np.repeat(np.arange(depth), count)
    # back to each job's cost, then (rank // cores + 1)·cost: within a level the costs fall,
    # so its maximum is the largest of the longest job and the pigeonhole bounds
    ordered -= level * width
    np.subtract(dearest, ordered, out=ordered)
    rank = np.arange(ordered.shape[0]) - np.repeat(start, count)
    rank //= cores
    rank += 1
    ordered *= rank
    bound = np.maximum.reduceat(ordered, start)
    return float(np.maximum(bound, spread, out=bound).sum())


def dmc_time(costs_us: np.ndarray, contract: np.ndarray, cores: int,
             stage: np.ndarray | None = None) -> int:
    """DMC (FISCO 3.x, docs/fisco-reference.md §2.8): in each stage the messages to one
    contract run one after another, and different contracts run in parallel on ``cores``
    executor threads; the next stage starts when the stage's last contract is done.

    One entry per message: its cost, its destination ``contract`` (any integers) and its
    ``stage`` (default: all 0). A transaction that makes no cross-contract call is one message
    in the first stage, as every transaction of fiscosim's contract models is. A call would
    split the transaction into messages of later stages (the call in the next stage, the
    caller's rest when it returns in the one after), which a caller can pass as more entries.
    Each stage is then :func:`level_makespan` over one job per contract, the job's cost the sum
    of its messages. No overhead per stage is charged (see the module docstring).

    >>> dmc_time([10, 10, 10, 10], [7, 7, 7, 7], cores=4)  # one contract: serial
    40
    >>> dmc_time([10, 10, 10, 10], [1, 2, 1, 2], cores=4)  # two contracts in parallel
    20
    >>> dmc_time([10, 10, 5], [1, 2, 1], cores=4, stage=[0, 0, 1])
    15
    """
    costs = as_costs(costs_us)
    cores = check_cores(cores)
    n = costs.shape[0]
    contract = np.asarray(contract)
    if contract.shape != (n,) or (n and contract.dtype.kind not in "iu"):
        raise ValueError("contract must be one integer per transaction")
    if stage is not None:
        stage = np.asarray(stage)
        if stage.shape != (n,) or (n and (stage.dtype.kind not in "iu" or stage.min() < 0)):
            raise ValueError("stage must be one integer >= 0 per message")
    return dmc(costs, contract, cores, stage)


def dmc(costs: np.ndarray, contract: np.ndarray, cores: int,
        stage: np.ndarray | None = None) -> int:
    """:func:`dmc_time` on checked inputs."""
    if costs.shape[0] == 0:
        return 0
    if stage is None:
        sums = _contract_sums(costs, contract.astype(np.int64, copy=False))
        return _up(_levels_total(sums, np.zeros(sums.shape[0], dtype=np.intp), cores))
    job, job_stage = _jobs(contract.astype(np.int64, copy=False),
                           stage.astype(np.int64, copy=False))
    return _up(_levels_total(np.bincount(job, weights=costs), job_stage, cores))


def dmc_stages(contract: np.ndarray, stage: np.ndarray | None = None) -> int:
    """How many DMC stages the messages take (0 for none), with :func:`dmc_time`'s inputs."""
    n = np.asarray(contract).shape[0]
    if n == 0:
        return 0
    return 1 if stage is None else int(np.asarray(stage).max()) + 1


def _contract_sums(costs: np.ndarray, contract: np.ndarray) -> np.ndarray:
    """The summed cost of each contract's messages (one stage), one entry per contract."""
    low = int(contract.min())
    width = int(contract.max()) - low + 1
    if width > 4 * contract.shape[0] + 4096:  # ids spread wide: sort rather than count
        job = np.unique(contract, return_inverse=True)[1].reshape(-1)
        return np.bincount(job, weights=costs)
    offset = contract - low
    sums = np.bincount(offset, weights=costs, minlength=width)
    return sums if width == 1 else sums[np.bincount(offset, minlength=width) > 0]


def _jobs(contract: np.ndarray, stage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each message's job (one per stage and contract, numbered 0.. with no gaps) and each
    job's stage."""
    low, high = int(contract.min()), int(contract.max())
    width = high - low + 1
    stages = int(stage.max()) + 1
    if width * stages <= 4 * contract.shape[0] + 4096:  # small ids: count, do not sort
        pair = stage * width + (contract - low)
        present = np.bincount(pair, minlength=width * stages) > 0
        number = np.cumsum(present) - 1
        return number[pair], np.flatnonzero(present) // width
    pairs, job = np.unique(np.stack((stage, contract)), axis=1, return_inverse=True)
    return job.reshape(-1), pairs[0].astype(np.intp)
