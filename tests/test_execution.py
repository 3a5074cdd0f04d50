"""A block's execution time: the DAG by conflict keys, level makespans, serial and DMC
(fiscosim/execution/, docs/fisco-reference.md §2.8). Hand-worked blocks, brute-force schedules
on tiny cases, and the vectorized levels against straightforward per-transaction loops."""

from __future__ import annotations

import heapq
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscosim.execution import (
    MODES,
    NOT_IN_DAG,
    BlockExecution,
    conflict_levels,
    dmc_stages,
    dmc_time,
    execute_block,
    level_makespan,
    serial_time,
)
from fiscosim.execution import dag as dag_module


def levels(keys, parallel=None, **kw) -> list[int]:
    keys = np.asarray(keys)
    if parallel is None:
        parallel = np.ones(keys.shape[0], dtype=bool)
    return conflict_levels(keys, np.asarray(parallel, dtype=bool), **kw).tolist()


# --- references: a transaction at a time ----------------------------------------------------


def reference_levels(keys: np.ndarray, parallel: np.ndarray, non_dag: str) -> list[int]:
    """The definition, O(n²): 1 + the highest level among the earlier transactions this one
    conflicts with (sharing a key; under "barrier" also any pair with a non-parallel one)."""
    out: list[int] = []
    sets = [{int(x) for x in row if x >= 0} for row in keys]
    for i in range(len(sets)):
        if not parallel[i] and non_dag == "defer":
            out.append(NOT_IN_DAG)
            continue
        before = [out[j] for j in range(i)
                  if (parallel[i] and parallel[j] and sets[i] & sets[j])
                  or (non_dag == "barrier" and not (parallel[i] and parallel[j]))]
        out.append(1 + max(before) if before else 0)
    return out


def fisco_levels(keys: np.ndarray, parallel: np.ndarray, non_dag: str) -> list[int]:
    """FISCO's own construction: edges only from the last transaction of each field.
    "defer": 3.x `CriticalFields::traverseDag` (a transaction without fields is left out);
    "barrier": 2.x `TxDAG::init` with `CriticalField` (`setCriticalAll`: a transaction without
    fields follows every earlier field's last user and becomes every field's last user)."""
    last: dict[int, int] = {}
    everything: int | None = None  # 2.x m_criticalAll
    out: list[int] = []
    for i, row in enumerate(keys):
        if not parallel[i]:
            if non_dag == "defer":
                out.append(NOT_IN_DAG)
                continue
            parents = set(last.values()) | ({everything} if everything is not None else set())
            last.clear()
            everything = i
        else:
            parents = set()
            for key in {int(x) for x in row if x >= 0}:
                parent = last.get(key, everything)
                if parent is not None:
                    parents.add(parent)
                last[key] = i
        out.append(1 + max(out[p] for p in parents) if parents else 0)
    return out


def brute_force_makespan(costs: list[int], cores: int) -> int:
    """The optimal schedule of independent jobs, by trying every assignment."""
    best = math.inf
    for assignment in itertools.product(range(cores), repeat=len(costs)):
        loads = [0] * cores
        for cost, core in zip(costs, assignment, strict=True):
            loads[core] += cost
        best = min(best, max(loads))
    return int(best) if costs else 0


def lpt_makespan(costs: list[int], cores: int) -> int:
    """Longest processing time first, each job to the least loaded core."""
    loads = [0] * cores
    for cost in sorted(costs, reverse=True):
        heapq.heapreplace(loads, loads[0] + cost)
    return max(loads)


# --- conflict_levels: hand-worked blocks ----------------------------------------------------


def test_a_chain_of_conflicts_is_one_level_per_transaction():
    assert levels([[7], [7], [7], [7], [7]]) == [0, 1, 2, 3, 4]
    # each transaction shares one key with the one before it
    assert levels([[0, 1], [1, 2], [2, 3], [3, 4]]) == [0, 1, 2, 3]


def test_disjoint_keys_are_one_level():
    assert levels([[0, 1], [2, 3], [4, 5], [6, 7]]) == [0, 0, 0, 0]
    assert levels(np.arange(1000).reshape(500, 2)) == [0] * 500


def test_two_hot_accounts():
    hot_a, hot_b = 1000, 2000
    keys = [[hot_a, 1], [hot_b, 2], [hot_a, 3], [hot_b, 4], [hot_a, 5], [hot_a, hot_b]]
    # a transaction's level is its place in its hot account's queue; the last waits for both
    assert levels(keys) == [0, 0, 1, 1, 2, 3]


def test_a_longest_path_may_switch_keys():
    # 0 and 1 share key 1, 1 and 2 key 2, 2 and 3 key 3: a path over three keys; 4 waits
    # for the last user of key 1 (transaction 1)
    keys = [[1, -1], [1, 2], [2, 3], [3, -1], [1, 4]]
    assert levels(keys) == [0, 1, 2, 3, 2]


def test_a_non_parallel_transaction_among_parallel_ones_3x_defers_it_to_dmc():
    # 3.x (BlockExecutive): the DAG holds only the parallel transactions; the other one runs
    # afterwards by DMC and neither waits for nor holds up the DAG
    keys = [[1], [2], [1], [2]]
    assert levels(keys, [True, False, True, True]) == [0, NOT_IN_DAG, 1, 0]
    assert levels(keys, [False, False, False, False]) == [NOT_IN_DAG] * 4


def test_a_non_parallel_transaction_among_parallel_ones_2x_is_a_barrier():
    keys = [[1], [2], [3], [4], [5]]
    parallel = [True, True, False, True, True]
    assert levels(keys, parallel, non_dag="barrier") == [0, 0, 1, 2, 2]
    # at the start, at the end, twice in a row
    assert levels(keys, [False, True, True, True, False], non_dag="barrier") == [0, 1, 1, 1, 2]
    assert levels(keys, [True, False, False, True, True], non_dag="barrier") == [0, 1, 2, 3, 3]
    # a key does not chain across a barrier: the barrier already orders the two
    assert levels([[1], [1], [9], [1]], [True, True, False, True], non_dag="barrier") == [
        0, 1, 2, 3]


def test_a_parallel_transaction_without_keys_conflicts_with_nothing():
    keys = [[1, 2], [-1, -1], [1, -1]]
    assert levels(keys) == [0, 0, 1]
    # ... but it stays between the barriers around it
    assert levels(keys, [True, False, True], non_dag="barrier") == [0, 1, 2]
    assert levels([[-1], [-1]], [True, True]) == [0, 0]


def test_a_key_repeated_within_a_transaction_counts_once():
    assert levels([[5, 5], [5, -1], [6, 6]]) == [0, 1, 0]
    assert levels([[5, 5, 5]]) == [0]


def test_keys_one_per_transaction_may_be_a_vector_and_any_integer_type():
    assert levels(np.array([3, 3, 4], dtype=np.int32)) == [0, 1, 0]
    assert levels(np.array([[3], [3], [4]], dtype=np.uint64)) == [0, 1, 0]


def test_wide_keys_give_the_same_levels():
    rng = np.random.default_rng(5)
    keys = rng.integers(-1, 30, size=(300, 3))
    expected = levels(keys)
    for offset, scale in [(0, 1), (10**6, 1), (0, 70_001), (2**40, 3), (2**61, 1)]:
        wide = np.where(keys >= 0, keys * scale + offset, -1)
        assert levels(wide) == expected
        parallel = rng.random(300) < 0.8
        assert levels(wide, parallel, non_dag="barrier") == levels(keys, parallel,
                                                                   non_dag="barrier")


def test_an_empty_block_has_no_levels():
    out = conflict_levels(np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=bool))
    assert out.dtype == np.int32 and out.shape == (0,)
    assert levels(np.zeros((3, 0), dtype=np.int64)) == [0, 0, 0]
    assert levels(np.zeros((3, 0), dtype=np.int64), [True, False, True],
                  non_dag="barrier") == [0, 1, 2]


def test_levels_are_int32_and_leave_the_inputs_alone():
    keys = np.array([[1, 2], [2, 2], [-1, 1]])
    parallel = np.array([True, False, True])
    keys_before, parallel_before = keys.copy(), parallel.copy()
    for non_dag in ("defer", "barrier"):
        out = conflict_levels(keys, parallel, non_dag=non_dag)
        assert out.dtype == np.int32
    assert (keys == keys_before).all() and (parallel == parallel_before).all()


@pytest.mark.parametrize(("keys", "parallel", "kw"), [
    ([[1], [2]], [True], {}),
    ([[1.5], [2.0]], [True, True], {}),
    ([[[1]]], [True], {}),
    ([[1]], [True], {"non_dag": "serial"}),
    (np.array([[2**63]], dtype=np.uint64), [True], {}),
])
def test_conflict_levels_refuses_malformed_input(keys, parallel, kw):
    with pytest.raises(ValueError):
        conflict_levels(np.asarray(keys), np.asarray(parallel), **kw)


# --- conflict_levels: the vectorized rounds against the loops --------------------------------

blocks = st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.integers(-1, 7), min_size=3, max_size=3), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n)))


@settings(max_examples=300, deadline=None)
@given(blocks, st.integers(1, 3), st.sampled_from(["defer", "barrier"]))
def test_levels_match_the_definition(block, k, non_dag):
    rows, parallel = block
    keys = np.array(rows, dtype=np.int64).reshape(len(rows), 3)[:, :k]
    parallel = np.array(parallel, dtype=bool)
    got = conflict_levels(keys, parallel, non_dag=non_dag).tolist()
    assert got == reference_levels(keys, parallel, non_dag)


@settings(max_examples=300, deadline=None)
@given(blocks, st.sampled_from(["defer", "barrier"]))
def test_levels_match_fiscos_last_user_construction(block, non_dag):
    rows, parallel = block
    keys = np.array(rows, dtype=np.int64).reshape(len(rows), 3)
    # 2.x lets a parallel transaction with no field float free of the barriers; leave that out
    keys[:, 0] = np.where(keys[:, 0] < 0, 7, keys[:, 0])
    parallel = np.array(parallel, dtype=bool)
    assert conflict_levels(keys, parallel, non_dag=non_dag).tolist() == fisco_levels(
        keys, parallel, non_dag)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400), st.integers(1, 4), st.integers(1, 300),
       st.sampled_from(["defer", "barrier"]))
def test_both_round_kinds_give_the_same_levels(seed, n, k, accounts, non_dag):
    rng = np.random.default_rng(seed)
    # skewed: a few hot accounts make long chains
    keys = np.minimum(rng.zipf(1.3, size=(n, k)) - 1, accounts)
    keys[rng.random((n, k)) < 0.1] = -1
    parallel = rng.random(n) < 0.9
    saved = dag_module.SHORT_CHAINS
    try:
        dag_module.SHORT_CHAINS = 0  # always walk whole chains
        walked = conflict_levels(keys, parallel, non_dag=non_dag)
        dag_module.SHORT_CHAINS = 10**9  # always relax one edge per round
        relaxed = conflict_levels(keys, parallel, non_dag=non_dag)
    finally:
        dag_module.SHORT_CHAINS = saved
    assert (walked == relaxed).all()
    assert (walked == conflict_levels(keys, parallel, non_dag=non_dag)).all()
    if n <= 120:
        assert walked.tolist() == reference_levels(keys, parallel, non_dag)


def test_levels_are_deterministic():
    rng = np.random.default_rng(11)
    keys = rng.integers(0, 200, size=(1000, 2))
    parallel = rng.random(1000) < 0.95
    first = conflict_levels(keys, parallel)
    for _ in range(3):
        assert (conflict_levels(keys.copy(), parallel.copy()) == first).all()


# --- level_makespan ---------------------------------------------------------------------------


def test_one_level_of_equal_jobs_takes_whole_rounds():
    assert level_makespan([10] * 16, [0] * 16, cores=16) == 10
    assert level_makespan([10] * 17, [0] * 17, cores=16) == 20
    assert level_makespan([10] * 1000, [0] * 1000, cores=16) == 630
    assert level_makespan([10] * 5, [0] * 5, cores=1) == 50


def test_levels_run_one_after_another():
    # level 0: 10 and 10 on two cores; level 1: 7 and 3
    assert level_makespan([10, 10, 7, 3], [0, 0, 1, 1], cores=2) == 17
    # levels of equal jobs, each its own cost (the general path, not the one-cost shortcut)
    costs = [10] * 5 + [7] * 3
    assert level_makespan(costs, [0] * 5 + [1] * 3, cores=2) == 30 + 14


def test_makespan_skips_transactions_outside_the_dag_and_empty_levels():
    assert level_makespan([5, 100, 5], [0, NOT_IN_DAG, 1], cores=4) == 10
    assert level_makespan([5, 5], [NOT_IN_DAG, NOT_IN_DAG], cores=4) == 0
    assert level_makespan([], [], cores=4) == 0
    assert level_makespan([4, 6], [0, 5], cores=4) == 10  # levels 1..4 hold nothing


def test_makespan_rounds_up_once_and_keeps_exact_values_exact():
    assert level_makespan([0.5], [0], cores=1) == 1
    assert level_makespan([0.1] * 30, [0] * 30, cores=1) == 3
    assert level_makespan([0.1, 0.2], [0, 1], cores=1) == 1
    assert serial_time([0.1] * 30) == 3


@pytest.mark.parametrize(("costs", "cores"), [
    ([7, 7, 7], 2), ([5, 4, 3, 3, 3], 2), ([9, 1, 1, 1, 1, 1], 3), ([6, 5, 4, 3, 2, 1, 1], 3),
    ([2, 2, 2, 2, 2, 3], 4), ([10, 9, 8, 1], 2), ([3, 3, 2, 2, 2], 2),
])
def test_one_level_against_the_optimum_and_lpt(costs, cores):
    optimum = brute_force_makespan(costs, cores)
    bound = level_makespan(costs, [0] * len(costs), cores)
    assert bound <= optimum <= lpt_makespan(costs, cores)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=0, max_size=7), st.integers(1, 3))
def test_one_level_is_a_lower_bound_exact_when_few_or_equal(costs, cores):
    optimum = brute_force_makespan(costs, cores)
    bound = level_makespan(costs, [0] * len(costs), cores)
    assert math.ceil(sum(costs) / cores) <= bound <= optimum <= lpt_makespan(costs, cores)
    if len(costs) <= cores or len(set(costs)) <= 1:
        assert bound == optimum


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 5)), max_size=60),
       st.integers(1, 20))
def test_makespan_between_its_bounds(jobs, cores):
    costs = [cost for cost, _ in jobs]
    lv = [level for _, level in jobs]
    got = level_makespan(costs, lv, cores)
    assert level_makespan(costs, lv, 1) == serial_time(costs) == sum(costs)
    assert math.ceil(sum(costs) / cores) <= got <= sum(costs)
    longest_per_level = sum(max((c for c, v in jobs if v == level), default=0)
                            for level in set(lv))
    assert got >= longest_per_level
    if cores >= len(jobs):
        assert got == longest_per_level
    assert level_makespan(costs, lv, cores + 1) <= got  # more cores never slower


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=40), st.integers(1, 8))
def test_equal_jobs_per_level_take_ceil_rounds(counts, cores):
    # level v holds counts[v] jobs of cost v + 1: exact whether one cost or several
    costs = [v + 1 for v, c in enumerate(counts) for _ in range(c)]
    lv = [v for v, c in enumerate(counts) for _ in range(c)]
    expected = sum(math.ceil(c / cores) * (v + 1) for v, c in enumerate(counts))
    assert level_makespan(costs, lv, cores) == expected


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_makespan_needs_a_whole_number_of_cores(bad):
    with pytest.raises(ValueError):
        level_makespan([1], [0], bad)


@pytest.mark.parametrize("costs", [[-1.0], [math.nan], [math.inf], [[1.0]]])
def test_costs_must_be_finite_and_non_negative(costs):
    with pytest.raises(ValueError):
        serial_time(costs)
    with pytest.raises(ValueError):
        level_makespan(costs, [0] * len(costs), 2)


# --- serial and DMC ----------------------------------------------------------------------------


def test_serial_is_the_sum():
    assert serial_time([10, 20, 30]) == 60
    assert serial_time(np.array([2.5, 2.5])) == 5
    assert serial_time([]) == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 100), max_size=50), st.integers(1, 32), st.integers(-5, 10**12))
def test_dmc_with_one_contract_is_serial(costs, cores, contract):
    assert dmc_time(costs, [contract] * len(costs), cores) == serial_time(costs)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8, 16])
def test_dmc_with_k_equal_contracts_on_k_cores_is_a_kth(k):
    n = 240
    costs = np.full(n, 25.0)
    contract = np.arange(n) % k
    assert dmc_time(costs, contract, cores=k) == n * 25 // k
    assert dmc_time(costs, contract, cores=2 * k) == n * 25 // k  # spare cores do not help


def test_dmc_with_more_contracts_than_cores_runs_whole_contracts():
    # three contracts of 100 on two cores: one core runs two of them
    assert dmc_time([50] * 6, [0, 1, 2] * 2, cores=2) == 200


def test_dmc_runs_a_contracts_messages_serially_and_contracts_in_parallel():
    # contract 1: 10 + 30; contract 2: 20; contract 3: 5 (two cores)
    assert dmc_time([10, 20, 30, 5], [1, 2, 1, 3], cores=2) == 40
    assert dmc_time([10, 20, 30, 5], [1, 2, 1, 3], cores=8) == 40
    assert dmc_time([10, 20, 30, 5], [1, 2, 1, 3], cores=1) == 65


def test_dmc_stages_run_one_after_another():
    # a cross-contract call: stage 0 (a on contract 1, b on 2), stage 1 (a's call on 2),
    # stage 2 (a's return on 1)
    costs = [10, 10, 4, 3]
    contract = [1, 2, 2, 1]
    stage = [0, 0, 1, 2]
    assert dmc_time(costs, contract, cores=4, stage=stage) == 10 + 4 + 3
    assert dmc_stages(contract, stage) == 3
    assert dmc_stages(contract) == 1
    assert dmc_stages([]) == 0


def test_dmc_contract_ids_are_only_names():
    rng = np.random.default_rng(3)
    costs = rng.uniform(1, 50, 500)
    contract = rng.integers(0, 7, 500)
    expected = dmc_time(costs, contract, cores=3)
    for renamed in (contract * 10**15 - 2**40, 6 - contract, contract + 10**6):
        assert dmc_time(costs, renamed, cores=3) == expected
    stage = rng.integers(0, 3, 500)
    expected = dmc_time(costs, contract, cores=3, stage=stage)
    assert dmc_time(costs, contract * 10**15, cores=3, stage=stage) == expected


def test_dmc_empty_block_and_bad_input():
    assert dmc_time([], [], cores=4) == 0
    with pytest.raises(ValueError):
        dmc_time([1, 2], [1], cores=4)
    with pytest.raises(ValueError):
        dmc_time([1], [0.5], cores=4)
    with pytest.raises(ValueError):
        dmc_time([1], [0], cores=4, stage=[-1])


# --- execute_block ---------------------------------------------------------------------------


def a_block(n=1000, accounts=1000, seed=0, parallel_share=1.0):
    rng = np.random.default_rng(seed)
    costs = rng.uniform(20, 40, n)
    keys = rng.integers(0, accounts, size=(n, 2))
    parallel = rng.random(n) < parallel_share
    contract = np.where(parallel, 0, rng.integers(1, 5, n))
    return costs, keys, parallel, contract


def test_each_mode_of_a_small_block():
    costs = [10, 10, 10, 10]
    keys = [[1], [2], [1], [3]]
    parallel = [True, True, True, False]
    contract = [0, 0, 0, 1]
    assert execute_block("serial", costs, None, None, None, 4) == BlockExecution(
        us=40, levels=4, parallelism=1.0, mode="serial")
    # DAG: {0, 1} then {2}; then DMC: {3}
    assert execute_block("dag", costs, keys, parallel, contract, 4) == BlockExecution(
        us=30, levels=3, parallelism=40 / 30, mode="dag")
    # DMC: contract 0 serial (30) beside contract 1 (10)
    assert execute_block("dmc", costs, keys, parallel, contract, 4) == BlockExecution(
        us=30, levels=1, parallelism=40 / 30, mode="dmc")


def test_dag_mode_is_the_dag_then_dmc_for_the_rest():
    costs, keys, parallel, contract = a_block(parallel_share=0.8)
    level = conflict_levels(keys, parallel)
    rest = level == NOT_IN_DAG
    got = execute_block("dag", costs, keys, parallel, contract, 16)
    assert got.us == (level_makespan(costs, level, 16)
                      + dmc_time(costs[rest], contract[rest], 16))
    assert got.levels == level.max() + 1 + 1
    # all parallel: the DAG alone; none parallel: DMC alone
    everyone = np.ones_like(parallel)
    assert execute_block("dag", costs, keys, everyone, contract, 16).us == level_makespan(
        costs, conflict_levels(keys, everyone), 16)
    nobody = np.zeros_like(parallel)
    assert execute_block("dag", costs, keys, nobody, contract, 16) == BlockExecution(
        us=dmc_time(costs, contract, 16), levels=1,
        parallelism=costs.sum() / dmc_time(costs, contract, 16), mode="dag")


def test_more_parallel_modes_are_never_slower_than_serial_here():
    costs, keys, parallel, contract = a_block()
    serial = execute_block("serial", costs, keys, parallel, contract, 16)
    dag = execute_block("dag", costs, keys, parallel, contract, 16)
    dmc = execute_block("dmc", costs, keys, parallel, np.zeros(1000, dtype=int), 16)
    assert dmc.us == serial.us  # one contract
    assert dag.us < serial.us / 4 and dag.parallelism > 4
    assert serial.parallelism == pytest.approx(1.0, abs=1e-3)


def test_an_empty_block_takes_no_time_in_every_mode():
    nothing = np.zeros(0)
    for mode in MODES:
        out = execute_block(mode, nothing, np.zeros((0, 2), dtype=int), np.zeros(0, bool),
                            np.zeros(0, dtype=int), 8)
        assert out == BlockExecution(us=0, levels=0, parallelism=0.0, mode=mode)


def test_execute_block_is_deterministic_and_frozen():
    block = a_block(seed=4, parallel_share=0.9)
    copies = [np.array(x, copy=True) for x in block]
    first = execute_block("dag", *block, 8)
    assert all(execute_block("dag", *block, 8) == first for _ in range(3))
    assert all((a == b).all() for a, b in zip(block, copies, strict=True))  # inputs untouched
    with pytest.raises(AttributeError):
        first.us = 0  # type: ignore[misc]


def test_execute_block_refuses_what_it_cannot_run():
    costs, keys, parallel, contract = a_block(n=10)
    with pytest.raises(ValueError):
        execute_block("bogus", costs, keys, parallel, contract, 4)
    with pytest.raises(ValueError):
        execute_block("dag", costs, None, parallel, contract, 4)
    with pytest.raises(ValueError):
        execute_block("dmc", costs, keys, parallel, None, 4)
    with pytest.raises(ValueError):
        execute_block("dag", costs, keys[:5], parallel[:5], contract, 4)
    with pytest.raises(ValueError):
        execute_block("dmc", costs, keys, parallel, contract[:5], 4)
    with pytest.raises(ValueError):
        execute_block("serial", costs, None, None, None, 0)
