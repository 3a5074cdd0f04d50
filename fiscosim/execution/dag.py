"""A block's transaction DAG by conflict keys, as DAG levels (docs/fisco-reference.md §2.8).

FISCO builds the DAG in block order: a transaction with conflict fields depends on the last
earlier transaction that used each of its fields (FB `bcos-executor/src/dag/CriticalFields.h`,
`CriticalFields::traverseDag`; 2.x FB@v2.9.0 `libblockverifier/TxDAG.cpp`, `TxDAG::init`). By
transitivity that is the same as depending on every earlier transaction that shares a field,
so a transaction's DAG *level*, the longest path to it from a source, is what
:func:`conflict_levels` computes.

What happens to a transaction without declared conflict fields differs between FISCO's
executors; :data:`NON_DAG_POLICIES` names the two:

- ``"defer"`` (3.x, the default): the DMC block executive first sends every transaction with the
  `DAG` attribute to the executors' DAG path, then runs the rest with DMC (FB
  `bcos-scheduler/src/BlockExecutive.cpp`, `asyncExecute`: `DAGExecute` then `DMCExecute`).
  A transaction the executor cannot give conflict fields to (no `DAG` attribute, a precompiled
  that is not parallel, an ABI without conflict fields, a field of kind `All`) is sent back
  (`ExecutionMessage::SEND_BACK` in `TransactionExecutor::dagExecuteTransactionsInternal`) and
  left out of the DAG (`TxDAG2::init`: "normal tx has been sent back to be executed by DMC").
  Such a transaction gets level -1 here: it is not in the DAG and runs after it.
- ``"barrier"`` (2.x PTE; 3.x's sharding DAG flow): a transaction without conflict fields
  depends on every earlier transaction and every later one depends on it (FB@v2.9.0
  `TxDAG::init`, "Normal transaction: Conflict with all transaction", `setCriticalAll`; FB
  `bcos-executor/src/dag/TxDAGFlow.cpp`, `traverseDag(..., clearDepIfAllConflict=true)` cuts
  the block into DAG runs and single serial transactions; DOC `2.x/docs/design/parallel/dag.md`
  §3.1.2). It gets a level of its own.

A parallel transaction without any key conflicts with nothing but the barriers around it.
"""

from __future__ import annotations

import numpy as np

NON_DAG_POLICIES = ("defer", "barrier")
"""How a transaction without declared conflict keys is placed (see the module docstring)."""

NOT_IN_DAG = -1
"""The level :func:`conflict_levels` gives a non-parallel transaction under ``"defer"``."""


def conflict_levels(keys: np.ndarray, parallel: np.ndarray, *,
                    non_dag: str = "defer") -> np.ndarray:
    """Each transaction's DAG level: 0 for a source, else 1 + the highest level among the
    earlier transactions it conflicts with (docs/fisco-reference.md §2.8).

    ``keys`` is an n×k integer array of conflict keys (a negative key is an unused slot; a
    1-D array is one key per transaction); ``parallel`` says, per transaction, whether its keys
    are declared (FISCO's `DAG` attribute with conflict fields the executor could extract).
    Keys are global: FISCO qualifies each field with the contract's address, so callers pass
    keys that already differ between contracts. A key repeated within one transaction counts
    once. ``non_dag`` places the other transactions: ``"defer"`` (3.x) gives them
    :data:`NOT_IN_DAG`, ``"barrier"`` (2.x) a level of their own between everything before and
    everything after. Returns int32 levels, deterministic for given inputs.

    Vectorized: the used slots are sorted into one chain per key (block order within it), and
    rounds of array operations raise levels until nothing changes (see :data:`SHORT_CHAINS`),
    so the Python loop runs once per DAG level or fewer, never once per transaction.

    >>> keys = np.array([[1, 2], [2, 3], [4, 5], [3, -1]])
    >>> conflict_levels(keys, np.ones(4, bool)).tolist()
    [0, 1, 0, 2]
    >>> conflict_levels(keys, np.array([True, False, True, True])).tolist()
    [0, -1, 0, 0]
    >>> conflict_levels(keys, np.array([True, False, True, True]), non_dag="barrier").tolist()
    [0, 1, 2, 2]
    """
    if non_dag not in NON_DAG_POLICIES:
        raise ValueError(f"non_dag must be one of {NON_DAG_POLICIES}, got {non_dag!r}")
    parallel = np.asarray(parallel, dtype=bool)
    keys = np.asarray(keys)
    if keys.ndim == 1:
        keys = keys[:, None]
    n = parallel.shape[0] if parallel.ndim == 1 else -1
    if keys.ndim != 2 or keys.shape[0] != n:
        raise ValueError(f"keys must be n×k and parallel n flags, got shapes {keys.shape} "
                         f"and {parallel.shape}")
    if keys.size and (keys.dtype.kind not in "iu"
                      or (keys.dtype.kind == "u" and keys.max() > np.iinfo(np.int64).max)):
        raise ValueError(f"keys must be integers that fit int64, got {keys.dtype}")
    if n == 0:
        return np.zeros(0, dtype=np.int32)

    k = keys.shape[1]
    flat = keys.reshape(-1).astype(np.int64, copy=False)  # row-major: slot t·k + c
    everyone = bool(parallel.all())
    used = flat >= 0
    if not everyone:
        used.reshape(n, k)[~parallel] = False
    if used.all():
        slots, group = None, flat
    else:
        slots = np.flatnonzero(used)
        group = flat[slots]
    barrier = non_dag == "barrier" and not everyone
    if barrier:
        segment = np.cumsum(~parallel)  # the barriers at or before each transaction
        group = _qualify(group, np.repeat(segment, k) if slots is None else segment[slots // k])
    level = _chain_levels(n, k, group, slots)
    if everyone:
        return level.astype(np.int32)
    if not barrier:
        level[~parallel] = NOT_IN_DAG
        return level.astype(np.int32)
    # Each run of parallel transactions between two barriers keeps its own levels, shifted past
    # the runs and barriers before it; barrier j sits just before run j.
    runs = int(segment[-1]) + 1
    depth = np.zeros(runs, dtype=np.int64)
    np.maximum.at(depth, segment[parallel], level[parallel] + 1)
    start = np.zeros(runs, dtype=np.int64)
    np.cumsum(depth[:-1] + 1, out=start[1:])
    level = np.where(parallel, start[segment] + level, start[segment] - 1)
    return level.astype(np.int32)


def _qualify(key: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """One integer per (segment, key) pair, ordered by segment then key."""
    if key.size == 0:
        return key
    span = int(key.max()) + 1  # used keys are >= 0
    if span * (int(segment[-1]) + 1) < 2**62:
        return segment * np.int64(span) + key
    _, compact = np.unique(key, return_inverse=True)  # rare: keys spread over the int64 range
    return segment * np.int64(compact.max() + 1) + compact


def _group_order(group: np.ndarray) -> np.ndarray:
    """A stable argsort of the integers ``group`` (ties keep block order), by radix passes
    over 16-bit digits when the values span little (numpy sorts 16-bit integers by radix, far
    faster than by comparisons)."""
    low = group.min()
    span = int(group.max() - low)
    if span >= 2**32:
        return np.argsort(group, kind="stable")
    offset = group - low
    if span < 2**16:
        return np.argsort(offset.astype(np.uint16), kind="stable")
    order = np.argsort((offset & 0xFFFF).astype(np.uint16), kind="stable")
    high = (offset[order] >> 16).astype(np.uint16)
    return order[np.argsort(high, kind="stable")]


SHORT_CHAINS = 16
"""Up to this many transactions per key, levels are found by relaxing one DAG edge per
round (cheap rounds, as many as the DAG is deep); beyond it by walking whole key chains per
round (dearer rounds, as many as a longest path switches keys). Both give the same levels."""


def _chain_levels(n: int, k: int, group: np.ndarray, slots: np.ndarray | None) -> np.ndarray:
    """Longest-path levels of n transactions over key chains. ``group`` is the key of each used
    slot; ``slots`` their positions t·k + c in the n×k slot matrix (None: every slot is used).
    A transaction without a used slot is a source."""
    m = group.shape[0]
    if m == 0:
        return np.zeros(n, dtype=np.int64)
    order = _group_order(group)
    key = group[order]
    slot = order if slots is None else slots[order]
    tx = slot // k
    first = np.empty(m, dtype=bool)  # the first slot of each key's chain
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    if k > 1:
        differ = tx[1:] != tx[:-1]
        differ |= first[1:]
        if not differ.all():  # the same key twice in one transaction: keep it once
            keep = np.empty(m, dtype=bool)
            keep[0] = True
            keep[1:] = differ
            slot, tx, first = slot[keep], tx[keep], first[keep]
            m = tx.shape[0]
    starts = np.flatnonzero(first)
    longest = max(int((starts[1:] - starts[:-1]).max(initial=0)), m - int(starts[-1]))
    if longest <= SHORT_CHAINS:
        return _relax_edges(n, k, slot, tx, first)
    return _walk_chains(n, k, slot, tx, first, starts)


def _by_transaction(n: int, k: int, slot: np.ndarray, values: np.ndarray,
                    fill: int) -> np.ndarray:
    """``values`` of the sorted slots laid out k×n: row c holds each transaction's c-th slot
    (``fill`` where it has none), so a transaction's maximum is k-1 elementwise maxima."""
    out = np.empty(n * k, dtype=np.intp)
    out.fill(fill)
    out[slot] = values
    return out.reshape(n, k).T.copy()


def _relax_edges(n: int, k: int, slot: np.ndarray, tx: np.ndarray,
                 first: np.ndarray) -> np.ndarray:
    """Bellman-Ford from level 0: each round, level = 1 + the highest level of the transaction
    before it on each of its keys (none: -1); rounds until nothing changes (depth + 1)."""
    before = np.empty(tx.shape[0], dtype=np.intp)
    before[0] = n
    before[1:] = tx[:-1]
    before[first] = n  # index n holds -1: no predecessor
    before = _by_transaction(n, k, slot, before, n)
    level = np.zeros(n + 1, dtype=np.int64)
    level[n] = -1
    total = 0
    while True:
        new = level[before[0]]
        for c in range(1, k):
            np.maximum(new, level[before[c]], out=new)
        new += 1
        new_total = int(new.sum())  # levels only grow: an unchanged sum means no change
        if new_total == total:
            return new
        level[:n] = new
        total = new_total


def _walk_chains(n: int, k: int, slot: np.ndarray, tx: np.ndarray, first: np.ndarray,
                 starts: np.ndarray) -> np.ndarray:
    """Each round, every slot takes its rank in its key's chain plus the chain's running
    maximum of (level - rank) so far, and each transaction the highest of its slots; rounds
    until nothing changes."""
    m = tx.shape[0]
    index = np.arange(m, dtype=np.int64)
    # A chain starting at j0 has ranks j - j0. Lifting it by j0·(m + n + 1) puts its values
    # (level - rank, within [-m, n]) above every earlier chain's, so one running maximum
    # restarts at each chain: shift = lift - rank = j0·(m + n + 2) - j.
    lengths = np.empty(starts.shape[0], dtype=np.int64)
    lengths[:-1] = starts[1:] - starts[:-1]
    lengths[-1] = m - starts[-1]
    start = np.repeat(starts, lengths)
    shift = start * np.int64(m + n + 2) - index
    where = _by_transaction(n, k, slot, index, m)  # m: no slot, reads 0
    run = np.zeros(m + 1, dtype=np.int64)
    level = np.zeros(n, dtype=np.int64)
    total = 0
    while True:
        work = level[tx]
        work += shift
        np.maximum.accumulate(work, out=work)
        work -= shift
        run[:m] = work
        new = run[where[0]]
        for c in range(1, k):
            np.maximum(new, run[where[c]], out=new)
        new_total = int(new.sum())  # levels only grow: an unchanged sum means no change
        if new_total == total:
            return new
        level, total = new, new_total
