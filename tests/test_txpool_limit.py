"""The txpool limit (docs/overload.md "The pool limit", docs/fisco-reference.md §2.2).

FISCO up to 3.12 refuses a submitted transaction with TxPoolIsFull (10002) while its pool holds
``[txpool] limit`` transactions: the check comes right after the duplicate check and before
signature verification, for RPC and pushed transactions alike; a proposal's missing
transactions are imported whatever the count. From 3.13 there is no limit.
"""

from __future__ import annotations

import numpy as np
import pytest

from fiscosim.contracts import load_contract
from fiscosim.node.txpool import REJECT_BY_CODE, REJECT_CODES, Reject, TxPool, TxState
from fiscosim.schema import Scenario, ScenarioError
from fiscosim.schema.chain import VERSIONS
from fiscosim.sim.simulation import Simulation
from fiscosim.sim.world import build_world

POOL_FULL = REJECT_CODES[Reject.TxPoolIsFull]


def at_rest(version: str = "3.7", limit: int | None = 100):
    """A four-sealer world with no workload, its nodes started: the test submits by hand."""
    chain = {"version": version} if limit is None else {"version": version, "txpool_limit": limit}
    scenario = Scenario.from_dict({"name": "pool-limit", "seed": 3, "duration_s": 1,
                                   "warmup_s": 0, "drain_s": 5, "nodes": {"count": 4},
                                   "workload": {"rate_tps": 0}, "chain": chain})
    world = build_world(scenario)
    for node in world.nodes:
        node.start()
    return world


def submit(world, node, n: int) -> np.ndarray:
    """``n`` fresh, valid transactions of one client batch, sent to ``node``'s RPC."""
    table = world.table
    ids = table.allocate(n)
    table.submit(ids, world.env.now, 300, np.zeros(n, np.int32), ids + 1, node.height + 500,
                 node.net_id, method=np.zeros(n, np.int16),
                 account_a=np.zeros(n, np.int32), account_b=np.ones(n, np.int32))
    node.rpc_submit(ids)
    return ids


def run_until(world, seconds: float) -> None:
    world.env.run(until=int(seconds * 1_000_000))


def test_rpc_transactions_at_the_limit_are_refused_with_10002_and_not_verified():
    world = at_rest(limit=100)
    node = world.sealers[0]
    admitted = submit(world, node, 100)
    refused = submit(world, node, 50)  # the first batch holds every slot while it is verified
    run_until(world, 0.2)  # verified, not yet sealed (min_seal_time is 500 ms)
    table = world.table
    assert (table.reject_reason[admitted] == -1).all()
    assert (table.reject_reason[refused] == POOL_FULL).all()
    assert REJECT_BY_CODE[POOL_FULL] is Reject.TxPoolIsFull and Reject.TxPoolIsFull == 10002
    assert node.stats.verified == 100  # the refused ones were decoded and hashed, no more
    assert node.pool.rejections() == {"TxPoolIsFull": 50}
    assert len(node.pool) == 100 and node.pool.reserved == 0
    # FISCO keeps no trace of a refused transaction
    assert (node.pool.states(refused) == TxState.UNKNOWN).all()


def test_a_batch_refused_whole_is_charged_and_refused_at_once_without_an_event():
    world = at_rest(limit=100)
    node = world.sealers[0]
    submit(world, node, 100)
    run_until(world, 0.2)
    queued, busy = len(world.env._queue), node.cpu.busy_us
    refused = submit(world, node, 50)
    assert (world.table.reject_reason[refused] == POOL_FULL).all()  # the client knows now
    assert node.pool.rejections() == {"TxPoolIsFull": 50}
    assert node.cpu.busy_us > busy  # its decoding and hash are charged
    assert len(world.env._queue) == queued + 1  # the push to the peers, and nothing else


def test_pushed_transactions_are_refused_by_a_full_peer():
    world = at_rest(limit=100)
    first, second = world.sealers[:2]
    own = submit(world, second, 100)  # fills `second` before `first`'s push reaches it
    pushed = submit(world, first, 100)
    run_until(world, 0.2)
    assert (second.pool.states(pushed) == TxState.UNKNOWN).all()  # not in that pool, that's all
    assert second.pool.rejections() == {"TxPoolIsFull": 100}
    assert second.stats.verified == 100
    assert (first.pool.states(own) == TxState.UNKNOWN).all()  # and the other way round
    # a peer's refusal tells no client: each batch's own RPC node admitted it
    assert (world.table.reject_reason[np.concatenate([own, pushed])] == -1).all()


def test_a_proposals_missing_transactions_are_imported_past_the_limit(monkeypatch):
    imported_past: list[int] = []
    mark_sealed = TxPool.mark_sealed

    def recording(pool: TxPool, ids: np.ndarray) -> None:
        mark_sealed(pool, ids)
        if pool.limit is not None:
            imported_past.append(len(pool) - pool.limit)

    monkeypatch.setattr(TxPool, "mark_sealed", recording)
    world = at_rest(limit=100)
    first, second = world.sealers[:2]
    batches = [submit(world, second, 100), submit(world, first, 100)]
    run_until(world, 1.5)
    # Block 1 holds one of the batches, and every node committed it: the nodes whose pools
    # were full of the other batch fetched it from the leader and imported it anyway.
    assert all(node.height == 1 for node in world.nodes)
    committed = [bool((world.table.commit_block[ids] == 1).all()) for ids in batches]
    assert sorted(committed) == [False, True]
    assert sum(node.stats.fetched for node in world.nodes) >= 100
    assert max(imported_past) == 100  # a pool of 100 held 200 for a moment


@pytest.mark.parametrize("version", VERSIONS)
def test_the_version_decides_the_limit(version):
    major, minor = (int(part) for part in version.split("."))
    scenario = Scenario.from_dict({"name": "v", "nodes": {"count": 4},
                                   "chain": {"version": version}})
    expected = 150_000 if major == 2 else 15_000 if minor <= 12 else None
    assert scenario.chain.pool_limit() == expected


def test_without_a_limit_nothing_is_refused():
    world = at_rest(version="3.13", limit=None)
    node = world.sealers[0]
    assert node.pool.limit is None
    ids = np.concatenate([submit(world, node, 10_000), submit(world, node, 6_000)])
    run_until(world, 0.4)
    # All 16,000 admitted: in the pool, or already in a block the chain committed meanwhile.
    on_chain = sum(len(entry.proposal.tx_ids) for entry in node.ledger.values())
    assert len(node.pool) + on_chain == 16_000 > 15_000
    assert node.stats.verified == 16_000
    assert (world.table.reject_reason[ids] == -1).all()
    assert node.pool.rejections() == {}


@pytest.mark.parametrize(("chain", "says"), [
    ({"version": "2.x"}, "chain.version: '2.x' names no release"),
    ({"version": "2.8"}, "chain.version: FISCO BCOS 2.8 is not modelled"),
    ({"version": "3.x"}, "chain.version: '3.x' names no release"),
    ({"version": "3.2"}, "chain.version: FISCO BCOS 3.2 is not modelled"),
    ({"version": "3.12.4"}, "write '3.12'"),
    ({"version": 3.12}, "is a number, not a release name"),
    ({"version": "3.16", "txpool_limit": 500}, "chain.txpool_limit: 500 would do nothing"),
])
def test_unmodelled_or_idle_settings_are_refused_in_one_line(chain, says):
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict({"name": "v", "nodes": {"count": 4}, "chain": chain}, "s.yaml")
    line = str(caught.value)
    assert says in line and "\n" not in line


def overloaded(version: str = "3.7", **chain) -> dict:
    """CpuHeavy calls (about 0.76 ms each, executed serially: some 1,300 a second) offered at
    five times that for six seconds, the first two left out of the figures."""
    result = Simulation(Scenario.from_dict({
        "name": "overload", "seed": 11, "duration_s": 6, "warmup_s": 2, "drain_s": 1,
        "nodes": {"count": 4}, "chain": {"version": version, **chain},
        "workload": {"rate_tps": 6500, "contract": "CpuHeavy", "clients": 4},
    })).run()
    return result.deterministic_summary()


def capacity_tps() -> float:
    """Calls a second a serial executor gets through: one over the mean CpuHeavy call."""
    methods = load_contract("CpuHeavy").methods
    weights = sum(method.weight for method in methods)
    mean_us = sum(method.weight * method.cost.us for method in methods) / weights
    return 1e6 / mean_us


def test_overload_is_refused_with_txpool_is_full_while_the_chain_runs_at_capacity():
    summary = overloaded(txpool_limit=2000)
    assert summary["rejected_by_reason"].get("TxPoolIsFull", 0) > 0.3 * summary["txs_submitted"]
    assert summary["txpool_rejections_all_nodes"]["TxPoolIsFull"] > 0
    assert 0.85 * capacity_tps() < summary["tps"] < 1.05 * capacity_tps()
    assert overloaded(txpool_limit=2000) == summary  # same seed, same summary
    unlimited = overloaded(version="3.16")
    assert "TxPoolIsFull" not in unlimited["rejected_by_reason"]
    assert "TxPoolIsFull" not in unlimited["txpool_rejections_all_nodes"]
    assert unlimited["txs_pending_at_end"] > summary["txs_pending_at_end"]
