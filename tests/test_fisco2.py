"""FISCO BCOS 2.9 (``chain.version: '2.9'``, docs/fisco2.md, docs/fisco-reference.md §1.7-§1.8).

2.x executes a block before its nodes vote on it (PrepareReq → execute → SignReq → CommitReq →
write), has one block in flight, no CheckPoint round, rotates the leader with a view change
after an empty block instead of committing it, builds 16-ary Merkle roots, holds 150,000
transactions in its pool and shrinks its blocks after a timeout.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fiscosim import Simulation
from fiscosim.chain.block import txs_root
from fiscosim.consensus import PbftCore
from fiscosim.consensus.actions import (
    Broadcast,
    CommitBlock,
    Execute,
    VerifyProposal,
    ViewChangeNeeded,
)
from fiscosim.consensus.driver import Driver, make_proposal
from fiscosim.consensus.events import EmptyBlock, ProposalVerified
from fiscosim.consensus.messages import (
    CheckPoint,
    Commit,
    Prepare,
    PrePrepare,
    ViewChange,
)
from fiscosim.contracts.release import v2_evm_scale
from fiscosim.crypto.merkle import WIDTH_V2, WIDTH_V3
from fiscosim.execution import execute_block
from fiscosim.execution.block import PTE_SERIAL_SHARE
from fiscosim.node.costs import CostModel, load_profile
from fiscosim.node.sealer import BlockSizeControl
from fiscosim.schema import Scenario, ScenarioError
from fiscosim.sim.analytic import low_load_latency
from fiscosim.sim.fuzz import run_one
from fiscosim.sim.world import build_world


def scenario(**chain: object) -> dict:
    return {"name": "fisco2", "seed": 5, "duration_s": 3, "warmup_s": 1, "drain_s": 3,
            "chain": {"version": "2.9", **chain}, "nodes": {"count": 4},
            "workload": {"rate_tps": 800}}


class Ran:
    """A finished run: its result and its world."""

    def __init__(self, data: dict) -> None:
        simulation = Simulation(Scenario.from_dict(data))
        self.result = simulation.run()
        self.world = simulation.world


def run(data: dict) -> Ran:
    return Ran(data)


def sent(acts: list, kind: type) -> list:
    return [a.message for a in acts if type(a) is Broadcast and type(a.message) is kind]


# -- the scenario field -------------------------------------------------------------------------


def test_2_9_is_a_release_and_other_2x_are_refused_with_the_fix():
    chain = Scenario.from_dict(scenario()).chain
    assert chain.is_v2() and chain.pool_limit() == 150_000
    assert chain.empty_block_ms() == 1000
    for bad, hint in (("2.8", "use '2.9'"), ("2.9.1", "write '2.9'"), ("v2.9.0", "write '2.9'")):
        with pytest.raises(ScenarioError) as caught:
            Scenario.from_dict({**scenario(), "chain": {"version": bad}})
        assert "chain.version" in str(caught.value) and hint in str(caught.value)


@pytest.mark.parametrize("field, value", [("pipeline_size", 50), ("leader_period", 1),
                                          ("is_serial_execute", True)])
def test_3x_only_fields_are_refused_with_2_9(field, value):
    """2.x has none of them: a value would do nothing, so it is refused, even the default."""
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(scenario(**{field: value}))
    message = str(caught.value)
    assert f"chain.{field}" in message and "would do nothing" in message
    assert "leave" in message


def test_null_leaves_a_3x_only_field_out_so_a_3x_file_runs_as_2_9():
    data = scenario(pipeline_size=None, leader_period=None, is_serial_execute=None)
    chain = Scenario.from_dict(data).chain
    assert chain.is_v2() and chain.pipeline_size == 50  # the unused default, never read
    three = Scenario.from_dict({**data, "chain": {"pipeline_size": None}}).chain
    assert three.pipeline_size == 50 and not three.is_v2()


def test_min_seal_time_must_stay_below_the_empty_block_time():
    with pytest.raises(ScenarioError, match="min_seal_time_ms"):
        Scenario.from_dict(scenario(min_seal_time_ms=1000))
    assert Scenario.from_dict(scenario(min_seal_time_ms=999)).chain.min_seal_time_ms == 999
    # a consensus timeout under a second makes the empty-block time a third of it
    short = Scenario.from_dict(scenario(consensus_timeout_ms=900, min_seal_time_ms=200)).chain
    assert short.empty_block_ms() == 300


def test_pool_limits_by_release():
    def limit(version: str, **chain: object) -> int | None:
        data = {**scenario(), "chain": {"version": version, **chain}}
        return Scenario.from_dict(data).chain.pool_limit()

    assert limit("3.7") == 15_000 and limit("3.12", txpool_limit=99) == 99
    assert limit("2.9", txpool_limit=500) == 500 and limit("3.13") is None
    with pytest.raises(ScenarioError, match="has no pool limit"):
        limit("3.13", txpool_limit=15_000)  # the 3.x default, written out, still does nothing


# -- the core's 2.x order (sans-I/O) ------------------------------------------------------------


def test_a_replica_executes_before_its_prepare_and_writes_after_the_commit_quorum():
    core = PbftCore(0, [1] * 4, pipeline_size=1, execute_first=True)
    proposal = make_proposal(1, 1)
    acts = core.handle(PrePrepare(0, 1, 1, proposal))
    assert [type(a) for a in acts if type(a) is VerifyProposal] == [VerifyProposal]
    assert not sent(acts, Prepare)
    # "verified" from a 2.x runtime means filled and executed: now the Prepare (SignReq)
    acts = core.on_proposal_verified(1, proposal.hash, True)
    assert [m.hash for m in sent(acts, Prepare)] == [proposal.hash]
    verified = [a for a in acts if type(a) is ProposalVerified]
    assert verified and verified[0].executed
    for voter in (1, 2):
        acts = core.handle(Prepare(0, 1, voter, proposal.hash))
    assert sent(acts, Commit)
    for voter in (1, 2):
        acts = core.handle(Commit(0, 1, voter, proposal.hash))
    assert [a.proposal.index for a in acts if type(a) is Execute] == [1]
    acts = core.on_executed(1, b"\x07" * 32)  # the runtime answers at once: executed already
    assert not sent(acts, CheckPoint)  # no CheckPoint round in 2.x
    writes = [a for a in acts if type(a) is CommitBlock]
    assert len(writes) == 1 and writes[0].index == 1
    assert len(writes[0].signatures) >= core.quorum  # signed by the Commit quorum


def test_the_leader_executes_its_own_block_before_its_prepare():
    core = PbftCore(1, [1] * 4, pipeline_size=1, execute_first=True)
    acts = core.start()
    proposal = make_proposal(1, 1)
    acts = core.propose(proposal)
    assert sent(acts, PrePrepare) and not sent(acts, Prepare)
    assert [a.proposal.hash for a in acts if type(a) is VerifyProposal] == [proposal.hash]
    assert sent(core.on_proposal_verified(1, proposal.hash, True), Prepare)


def test_an_empty_block_changes_the_view_at_the_leader_and_at_every_replica():
    leader = PbftCore(1, [1] * 4, pipeline_size=1, execute_first=True)
    leader.start()
    empty = make_proposal(1, 1, txs=0)
    acts = leader.propose(empty)
    assert sent(acts, PrePrepare)  # broadcast, so that the others change view too
    assert [a.to_view for a in acts if type(a) is EmptyBlock] == [1]
    assert [(a.to_view, a.reason) for a in acts if type(a) is ViewChangeNeeded] == [
        (1, "empty_block")]
    assert sent(acts, ViewChange) and not sent(acts, Prepare)
    assert leader.change_cycle == 0  # no back-off: nothing failed
    replica = PbftCore(0, [1] * 4, pipeline_size=1, execute_first=True)
    acts = replica.handle(PrePrepare(0, 1, 1, empty))
    assert not [a for a in acts if type(a) is VerifyProposal]
    assert [m.view for m in sent(acts, ViewChange)] == [1]


def test_3x_cores_still_vote_on_an_empty_reproposal_and_send_checkpoints():
    """execute_first is off by default: the 3.x order is untouched."""
    core = PbftCore(0, [1] * 4)
    proposal = make_proposal(1, 1)
    core.handle(PrePrepare(0, 1, 1, proposal))
    assert sent(core.on_proposal_verified(1, proposal.hash, True), Prepare)
    for voter in (1, 2):
        core.handle(Prepare(0, 1, voter, proposal.hash))
    for voter in (1, 2):
        core.handle(Commit(0, 1, voter, proposal.hash))
    assert sent(core.on_executed(1, b"\x07" * 32), CheckPoint)


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
@pytest.mark.parametrize("n", [4, 7])
def test_any_delivery_order_commits_every_block_once_one_at_a_time(seed, n):
    driver = Driver([1] * n, blocks=15, seed=seed, pipeline_size=1, execute_first=True)
    driver.start().settle()
    chains = {tuple((c.index, c.proposal.hash) for c in driver.ledger[node])
              for node in range(n)}
    assert len(chains) == 1 and len(next(iter(chains))) == 15
    assert driver.max_ahead <= 1  # one block in flight
    assert not any(type(a) is Broadcast and type(a.message) is CheckPoint
                   for acts in driver.actions for a in acts)


# -- a whole run --------------------------------------------------------------------------------


def test_a_2_9_run_seals_each_block_after_the_last_one_is_stored():
    simulation = run(scenario())
    summary = simulation.result.summary
    assert summary["safety"]["ok"] and summary["txs_committed"] > 1000
    assert "CheckPoint" not in summary["messages"]
    table = simulation.result.blocks
    sealed, stored = table["sealed_us"], table["first_commit_us"]
    assert len(table) >= 4 and (stored > 0).all()
    # one block in flight: block k+1 is sealed only once block k is in a ledger
    assert (sealed[1:] >= stored[:-1]).all()
    # below tx_count_limit a leader seals min_seal_time (500 ms) after the last block is stored
    gaps = (sealed[1:] - stored[:-1]) / 1000
    assert ((gaps > 499) & (gaps < 520)).all(), gaps


def test_an_idle_2_9_chain_rotates_its_leader_with_empty_blocks_and_commits_none():
    data = scenario()
    data["workload"] = {"rate_tps": 0}
    data.update(duration_s=4.5, warmup_s=0, drain_s=0)
    summary = run(data).result.summary
    views = summary["view_changes"]
    # an empty block a second after the last view change, then a view change of ~1 ms
    assert 3 <= views["empty_blocks"] <= 4, views
    assert views["final_view"] == views["empty_blocks"]
    assert summary["blocks"] == 0
    three = {**data, "chain": {"version": "3.7"}}
    assert run(three).result.summary["view_changes"]["empty_blocks"] == 0


def test_a_busy_2_9_chain_seals_no_empty_block():
    summary = run(scenario()).result.summary
    # the run's drain (3 s without load) has empty blocks; the loaded part has none
    assert summary["view_changes"]["empty_blocks"] <= 3


@pytest.mark.parametrize("overrides", [
    {},
    {"rate_tps": 300},
    {"min_seal_time_ms": 50, "latency_ms": 5},
    {"min_seal_time_ms": 20, "latency_ms": 20, "count": 7},
], ids=["500tps", "300tps", "fast-seal-wan", "7-nodes-20ms"])
def test_low_load_latency_matches_the_2_9_formula(overrides):
    """The block interval is min_seal_time plus the whole block (execution and the write
    included), as sim/analytic.py writes it for 2.x; the run agrees within 10 %."""
    data = scenario(min_seal_time_ms=overrides.get("min_seal_time_ms", 500))
    data.update(duration_s=10, warmup_s=2, drain_s=5, seed=42)
    data["nodes"] = {"count": overrides.get("count", 4)}
    data["network"] = {"latency": {"distribution": "constant",
                                   "mean_ms": overrides.get("latency_ms", 0.5)}}
    data["workload"] = {"rate_tps": overrides.get("rate_tps", 500), "contract": "SmallBank"}
    parsed = Scenario.from_dict(data)
    expected = low_load_latency(parsed)
    assert expected.checkpoint_ms == 0
    summary = Simulation(parsed).run().summary
    assert summary["latency_ms"]["mean"] == pytest.approx(expected.mean_latency_ms, rel=0.10)
    assert summary["block_interval_ms"]["mean"] == pytest.approx(expected.block_interval_ms,
                                                                 rel=0.10)
    three = low_load_latency(Scenario.from_dict({**data, "chain": {
        "min_seal_time_ms": data["chain"]["min_seal_time_ms"]}}))
    assert expected.block_interval_ms > three.block_interval_ms  # no pipeline in 2.x


def test_the_2_9_formula_refuses_parallel_contracts():
    with pytest.raises(ValueError, match="DAG"):
        low_load_latency(Scenario.from_dict({**scenario(), "network": {
            "latency": {"distribution": "constant", "mean_ms": 1}}}))


def test_the_fault_schedule_that_once_broke_2_9_stays_safe():
    """Seed 6 (loss, then node2 cut off): node2 executed block 3 on top of its executed, not
    yet stored, block 2 of a proposal a view change then abandoned, and committed a block the
    others did not. A 2.x node executes on its stored ledger only (future blocks wait)."""
    outcome = run_one(6, chain_version="2.9")
    assert outcome.safe and outcome.live, outcome


def test_an_equivocating_2_9_leader_is_caught_up_by_block_sync():
    """No CheckPoint to fetch the committed block from: the nodes that got the other proposal
    learn the height from the status every 2.x node sends on each new block, and sync."""
    data = scenario()
    data["faults"] = [{"at_s": 0, "kind": "byzantine", "nodes": ["node1"],
                       "behaviour": "equivocate"}]
    data.update(duration_s=6)
    summary = run(data).result.summary
    assert summary["safety"]["ok"] and summary["txs_pending_at_end"] == 0
    assert summary["sync"]["blocks_synced"] > 0 and summary["messages"]["BlockStatus"]["count"]
    assert summary["max_stall_s"] < 1.5


def test_2_9_runs_are_reproducible():
    first = run(scenario()).result.deterministic_summary()
    assert run(scenario()).result.deterministic_summary() == first


def test_2_9_is_slower_than_3x_where_execution_is_the_bottleneck():
    """2.x's execution sits between the PrePrepare and the votes, and one block is in flight:
    with execution the bottleneck, the same chain commits less than 3.x, which executes a
    block while the next ones are voted on (serial execution in both: one executor thread;
    2.x runs DagTransfer as a DAG, so the contract is a plain one here)."""
    data = scenario()
    data["workload"] = {"rate_tps": 40_000, "contract": "SmallBank"}
    data["nodes"]["profile"] = "server-8core"
    two = run(data).result.summary
    data["chain"] = {"version": "3.7", "is_serial_execute": True}
    three = run(data).result.summary
    assert two["tps"] < 0.9 * three["tps"], (two["tps"], three["tps"])


def test_2_9_merkle_roots_are_16_ary():
    data = scenario()
    # a light node makes the run build real roots
    data["nodes"] = {"list": [{"name": f"node{i}"} for i in range(4)]
                     + [{"name": "light0", "role": "light"}]}
    data["workload"] = {"rate_tps": 400, "targets": ["node0", "node1"]}
    node = run(data).world.sealers[0]
    entry = node.ledger[1]
    hashes = node.shared.tx_hashes(entry.proposal.tx_ids)
    suite = node.shared.suite
    assert entry.block.header.txs_root == txs_root(hashes, suite, WIDTH_V2)
    assert entry.block.header.txs_root != txs_root(hashes, suite, WIDTH_V3)


def test_light_nodes_check_2_9_proofs_and_still_catch_forgeries():
    data = scenario()
    data["nodes"] = {"list": [{"name": f"node{i}"} for i in range(4)]
                     + [{"name": "light0", "role": "light"}]}
    data["workload"] = {"rate_tps": 200, "targets": ["node0", "light0"], "query_rate": 40}
    data.update(duration_s=4, drain_s=2)
    light = run(data).result.summary["light"]["nodes"]["light0"]
    assert sum(q["count"] for q in light["queries"].values()) > 50
    assert light["forged_caught"] == 0  # every honest 16-ary proof verifies
    data["faults"] = [{"at_s": 0, "kind": "byzantine", "nodes": ["node3"],
                       "behaviour": "forge_light"}]
    data["workload"]["targets"] = ["node0", "light0"]
    assert run(data).result.summary["light"]["nodes"]["light0"]["forged_caught"] > 0


def test_16_ary_roots_cost_less_hashing_than_binary_ones():
    profile = load_profile("reference-2core")
    binary, wide = CostModel(profile, "secp256k1", 2), CostModel(profile, "secp256k1", 16)
    assert wide.execute_block(1000.0, 1000) < binary.execute_block(1000.0, 1000)
    with pytest.raises(ValueError, match="merkle_width"):
        CostModel(profile, "secp256k1", 4)


def test_the_2_9_pool_refuses_at_its_limit():
    data = scenario(txpool_limit=2000)
    data["workload"] = {"rate_tps": 30_000}
    summary = run(data).result.summary
    assert summary["rejected_by_reason"].get("TxPoolIsFull", 0) > 10_000
    world = build_world(Scenario.from_dict(scenario()))
    assert all(node.pool.limit == 150_000 for node in world.sealers)


# -- pieces -------------------------------------------------------------------------------------


def test_block_size_control_halves_on_timeouts_and_recovers_on_commits():
    size = BlockSizeControl(1000)
    size.on_timeout(1000)
    size.on_timeout(500)
    assert size.can_seal == 250
    size.on_commit(1, 250)
    size.on_commit(2, 250)  # both timeouts paid back: no growth yet
    assert size.can_seal == 250
    grown = []
    for number in range(3, 12):
        size.on_commit(number, size.can_seal)
        grown.append(size.can_seal)
    assert grown == sorted(grown) and grown[-1] <= 1000
    # the last size that timed out (500) bounds the growth until it has been passed
    assert 500 in grown
    size.on_commit(11, 1000)  # a block number already seen changes nothing
    assert size.can_seal == grown[-1]
    floor = BlockSizeControl(4)
    for _ in range(5):
        floor.on_timeout(4)
    assert floor.can_seal == 2  # never below 2 (``m_maxBlockCanSeal > 2``)


def test_a_view_timeout_with_a_block_in_flight_halves_the_next_blocks_in_a_run():
    """Every message delayed 3.5 s for 0.6 s: the block in flight times out (3 s) at every
    node, the next leaders seal 500 transactions, and the size comes back to 1,000 (FISCO's
    onCommitBlock restores a size once committed without timeout)."""
    data = scenario()
    data.update(duration_s=8, warmup_s=0, drain_s=4, seed=3)
    data["workload"] = {"rate_tps": 8000}  # a full block in flight when the delay starts
    data["faults"] = [{"at_s": 2, "kind": "delay", "nodes": [f"node{i}" for i in range(4)],
                       "delay_ms": 3500, "until_s": 2.6}]
    ran = run(data)
    sizes = ran.result.blocks["txs"].tolist()
    first_small = sizes.index(500)
    assert set(sizes[:first_small]) == {1000} and sizes[first_small + 1] == 500
    assert 1000 in sizes[first_small + 2:]
    assert all(node.sealer.block_size.can_seal == 1000 for node in ran.world.sealers)
    three = {**data, "chain": {"version": "3.7"}}
    assert 500 not in run(three).result.blocks["txs"].tolist()  # 3.x has no dynamic size


def test_pte_runs_the_parallel_calls_as_a_dag_and_the_rest_one_by_one():
    costs = np.array([10, 10, 10, 10, 7, 5])
    keys = np.array([[1], [2], [1], [3], [-1], [-1]])
    parallel = np.array([True, True, True, True, False, False])
    contract = np.array([0, 0, 0, 0, 1, 2])
    pte = execute_block("pte", costs, keys, parallel, contract, cores=4)
    dag = execute_block("dag", costs, keys, parallel, contract, cores=4)
    # 2.x runs a share of each DAG call on one thread, then the two levels' rest over the
    # cores, then 7 + 5 in a row
    share = PTE_SERIAL_SHARE
    assert pte.us == math.ceil(share * 40) + math.ceil(2 * 10 * (1 - share)) + 12
    assert dag.us == 20 + 7  # 3.x: DMC runs the two contracts side by side
    assert execute_block("pte", costs[4:], keys[4:], parallel[4:], contract[4:], 4).us == 12


def test_2_9_charges_2x_evm_for_solidity_and_says_where_it_comes_from():
    data = scenario()
    data["workload"] = {"rate_tps": 300, "contract": "SmallBank"}
    summary = run(data).result.summary
    three = run({**data, "chain": {"version": "3.7"}}).result.summary
    calls = summary["costs"]["contract_calls"]
    scale = v2_evm_scale()
    assert 7.5 < scale < 8.1  # 204.4 µs over revm's ParallelOk.transfer
    for name, call in calls.items():
        assert call["source"] == "derived"
        assert call["us"] == pytest.approx(three["costs"]["contract_calls"][name]["us"] * scale,
                                           abs=0.002)
    derived = summary["costs"]["release"]["derived"]
    assert set(derived) == {"pte_serial_share", "evm_call_scale"}
    assert "fisco2-pte-solidity-serial" in derived["evm_call_scale"]
    assert "release" not in three["costs"]
    # A precompiled call keeps its model's cost under 2.9.
    dag = run({**data, "workload": {"rate_tps": 300}}).result.summary["costs"]["contract_calls"]
    assert dag["DagTransfer.userTransfer"] == {**dag["DagTransfer.userTransfer"], "us": 39.8,
                                               "source": "published"}
