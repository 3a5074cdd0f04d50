"""One block's execution time in one of FISCO's execution modes (docs/fisco-reference.md §2.8)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fiscosim.execution.dag import NOT_IN_DAG, conflict_levels
from fiscosim.execution.timing import as_costs, check_cores, dmc, dmc_stages, makespan, serial_time

MODES = ("serial", "dag", "dmc", "pte")
"""``serial``: genesis `is_serial_execute=true` (what `build_chain.sh` writes by default).
``dag``: `is_serial_execute=false` with the transactions' `DAG` attribute honoured: the
parallel ones as a DAG, then the rest by DMC. ``dmc``: `is_serial_execute=false` with no
transaction in the DAG (none has the attribute), everything by DMC. ``pte``: FISCO 2.x's
parallel transaction executor (on whenever state is in storage since v2.3.0, FB@v2.9.0
`libledger/LedgerParam.cpp`): the parallel contracts' calls as a DAG, the rest one after
another. 2.x makes each other call a barrier at its place in the block; running them after
the DAG instead takes at most as long, the same for a block of only one kind. ``pte`` also runs
:data:`PTE_SERIAL_SHARE` of each DAG transaction's cost on one thread."""

PTE_SERIAL_SHARE = 0.122
"""The share of a DAG transaction's cost that FISCO 2.x's PTE runs on one thread, outside the
parallel phase, fitted to FISCO's executor benchmark on stated hardware (fit rows
``fisco2-pte-precompiled-serial`` and ``-4core``, fiscosim/published/points.yaml): precompiled
transfers ran at 24,570 TPS one by one and 71,942 on 4 threads, 2.928× (DOC
2.x/docs/articles/3_features/31_performance/dag-based_parallel_transaction_execution_engine.md,
figure IMG_5180.JPG), and Amdahl's law gives 4 / (1 + 3s) = 2.928, s = 0.122. Where the serial
part is in FISCO's code: FB@v2.9.0 ``BlockVerifier::parallelExecuteBlock`` builds the DAG
(``TxDAG::init``: every transaction's conflict keys decoded from its input) on the calling
thread before the workers start, and each transaction's ``State::commit`` into the block's
shared state takes a lock. The same share predicts the benchmark's other figures: 2 and 3
threads, and Solidity transfers on 4 (docs/validation.md)."""


@dataclass(frozen=True, slots=True)
class BlockExecution:
    """How one block executes: its time, its depth, how parallel it ran, and the mode."""

    us: int
    """Executor time for the block, whole microseconds (rounded up)."""
    levels: int
    """Steps that run one after another: the block's transactions (serial); its DAG levels
    plus its DMC stages (dag); its DMC stages (dmc). 0 for an empty block."""
    parallelism: float
    """Sum of the transactions' costs over :attr:`us` (1.0 serial; 0.0 for a block that
    takes no time)."""
    mode: str
    """One of :data:`MODES`."""


def execute_block(mode: str, costs_us: np.ndarray, keys: np.ndarray | None,
                  parallel: np.ndarray | None, contract: np.ndarray | None,
                  cores: int) -> BlockExecution:
    """One block of n transactions in block order, executed in ``mode`` (:data:`MODES`) on an
    executor with ``cores`` threads.

    ``costs_us``: each transaction's execution cost; ``keys`` (n×k, negative = unused) and
    ``parallel`` (bool): its conflict keys and whether they are declared, as
    :func:`~fiscosim.execution.dag.conflict_levels` takes them (used by ``dag``);
    ``contract``: the contract it calls (used by ``dag`` and ``dmc``). What a mode does not use
    may be None.

    >>> costs = np.array([10, 10, 10, 10])
    >>> keys = np.array([[1], [2], [1], [3]])
    >>> parallel = np.array([True, True, True, False])
    >>> contract = np.array([0, 0, 0, 1])
    >>> execute_block("serial", costs, None, None, None, cores=4)
    BlockExecution(us=40, levels=4, parallelism=1.0, mode='serial')
    >>> execute_block("dag", costs, keys, parallel, contract, cores=4)
    BlockExecution(us=30, levels=3, parallelism=1.3333333333333333, mode='dag')
    >>> execute_block("dmc", costs, None, None, contract, cores=4)
    BlockExecution(us=30, levels=1, parallelism=1.3333333333333333, mode='dmc')
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    costs = as_costs(costs_us)
    cores = check_cores(cores)
    n = costs.shape[0]
    if mode == "serial":
        us, levels = serial_time(costs), n
    else:
        contract = np.asarray(_need(contract, "contract", mode))
        if contract.shape != (n,) or (n and contract.dtype.kind not in "iu"):
            raise ValueError(f"contract must be one integer per transaction, got shape "
                             f"{contract.shape} for {n} costs")
        if mode == "dmc":
            us, levels = dmc(costs, contract, cores), dmc_stages(contract)
        else:
            us, levels = _dag_then_rest(costs, keys, parallel, contract, cores,
                                        serial_rest=mode == "pte")
    parallelism = float(costs.sum()) / us if us else 0.0
    return BlockExecution(us=us, levels=levels, parallelism=parallelism, mode=mode)


def _dag_then_rest(costs: np.ndarray, keys: np.ndarray | None, parallel: np.ndarray | None,
                   contract: np.ndarray, cores: int, serial_rest: bool) -> tuple[int, int]:
    """3.x's DMC block executive: the DAG of the parallel transactions, then DMC for the rest
    (FB `BlockExecutive::asyncExecute`, `DAGExecute` then `DMCExecute`); with
    ``serial_rest``, 2.x's: the rest one after another."""
    n = costs.shape[0]
    level = conflict_levels(_need(keys, "keys", "dag"), _need(parallel, "parallel", "dag"))
    if level.shape != (n,):
        raise ValueError(f"keys and parallel describe {level.shape[0]} transactions, costs {n}")
    if n == 0:
        return 0, 0
    depth = int(level.max()) + 1
    if depth == 0:  # nothing in the DAG
        if serial_rest:
            return serial_time(costs), n
        return dmc(costs, contract, cores), dmc_stages(contract)
    if serial_rest:  # 2.x's PTE: part of each DAG transaction runs on one thread
        us = (serial_time(PTE_SERIAL_SHARE * costs[level != NOT_IN_DAG])
              + makespan((1.0 - PTE_SERIAL_SHARE) * costs, level, cores))
    else:
        us = makespan(costs, level, cores)
    rest = level == NOT_IN_DAG
    if rest.any():
        if serial_rest:
            us += serial_time(costs[rest])
            depth += int(rest.sum())
        else:
            us += dmc(costs[rest], contract[rest], cores)
            depth += dmc_stages(contract[rest])
    return us, depth


def _need(value: np.ndarray | None, name: str, mode: str) -> np.ndarray:
    if value is None:
        raise ValueError(f"mode {mode!r} needs {name}")
    return value
