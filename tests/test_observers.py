"""Observers follow the chain by block sync; laggards catch up by it (docs/fisco-reference.md §4,
§7).

Observers get no PBFT traffic: sealers announce each new block to them (BlockStatus), they
download it, check that its signature list weighs at least Q, execute and commit it, and
serve their clients' receipts from their own ledger.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO_ROOT

from fiscosim import Simulation
from fiscosim.node.messages import BlockResponse
from fiscosim.scenario import load_scenario

OBSERVERS = REPO_ROOT / "scenarios" / "observers.yaml"
PBFT_KINDS = {"PrePrepare", "Prepare", "Commit", "CheckPoint", "ViewChange", "NewView",
              "RecoverRequest", "RecoverResponse"}


def run(*overrides: str, trace=None):
    return Simulation(load_scenario(OBSERVERS, list(overrides))).run(trace=trace)


def test_observers_follow_every_block_without_pbft_traffic(tmp_path):
    trace = tmp_path / "t.jsonl"
    result = run("duration_s=5", "faults=[]", trace=trace)
    world, summary = result.world, result.summary
    observers = [node for node in world.nodes if node.index < 0]
    sealers = [node for node in world.nodes if node.index >= 0]
    assert len(observers) == 2
    assert {node.height for node in world.nodes} == {sealers[0].height}
    for observer in observers:
        for number, (proposal, executed, _) in observer.ledger.items():
            assert sealers[0].ledger[number][0].hash == proposal.hash
            assert sealers[0].ledger[number][1] == executed
    observer_names = {node.name for node in observers}
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    sends = {e["id"]: e for e in events if e["ev"] == "send"}
    received = {sends[e["of"]]["type"] for e in events
                if e["ev"] == "recv" and e["node"] in observer_names}
    assert received and not received & PBFT_KINDS
    assert {"BlockStatus", "BlockResponse"} <= received
    lag = summary["sync"]["observers"]["obs0"]["lag_ms"]
    # a status hop, a request, the transfer and the block's execution: tens of ms at 1 ms links
    assert 1 < lag["mean"] < 100
    assert summary["safety"]["ok"]


def test_transactions_sent_to_observers_get_receipts_later():
    result = run("duration_s=6", "faults=[]")
    table, world = result.world.table, result.world
    observers = [node.net_id for node in world.nodes if node.index < 0]
    via_observer = np.isin(table.column("rpc_node"), observers)
    done = table.column("receipt_time") >= 0
    assert via_observer.any() and done[via_observer].mean() > 0.9
    latency = table.column("receipt_time") - table.column("submit_time")
    assert latency[via_observer & done].mean() > latency[~via_observer & done].mean()


def test_a_restarted_observer_catches_up_and_the_time_is_reported():
    summary = run().summary
    sync = summary["sync"]
    assert sync["catch_ups"] >= 1 and sync["catch_up_s"]["max"] < 1.0
    heights = {entry["height"] for entry in sync["observers"].values()}
    assert len(heights) == 1 and heights.pop() > 15
    assert summary["rejected_by_reason"].get("RpcUnreachable", 0) > 0  # while it was down


def test_a_cut_off_sealer_catches_up_by_sync():
    result = run("faults=[{at_s: 2, kind: partition, groups: [[node3]], until_s: 5}]")
    summary = result.summary
    assert summary["sync"]["blocks_synced"] > 0 and summary["sync"]["catch_ups"] >= 1
    assert len({node.height for node in result.world.nodes}) == 1


def test_a_block_whose_signature_list_is_below_quorum_is_refused():
    result = run("duration_s=3", "faults=[]")
    world = result.world
    observer = next(node for node in world.nodes if node.index < 0)
    sealer = world.sealers[0]
    height = observer.height
    # the sealers' next block, signed by one sealer only (weight 1 < Q = 3)
    number = height + 1
    forged = BlockResponse(((number, sealer.ledger[height]._replace(signers=(0,))),), 0)
    observer.receive(sealer.net_id, forged)  # as if the network delivered it
    world.env.run(until=world.env.now + 1_000_000)
    assert observer.stats.sync_rejected == 1 and observer.height == height


def test_a_node_far_behind_downloads_shards_from_several_peers_at_once(tmp_path):
    trace = tmp_path / "t.jsonl"
    result = run("faults=[{at_s: 1, kind: crash, nodes: [obs1], until_s: 7}]",
                 "chain.min_seal_time_ms=100", "duration_s=8", trace=trace)
    obs1 = next(node for node in result.world.nodes if node.name == "obs1")
    requests = [json.loads(line) for line in trace.read_text().splitlines()
                if '"request"' in line]
    mine = [r for r in requests if r["ev"] == "sync" and r["node"] == obs1.name
            and r["t"] >= 7_000_000]
    # the sealers' statuses arrive within a millisecond of each other after the restart: the
    # 59 missing blocks go out as 8-block shards to all four of them, at most two each
    first_round = [r for r in mine if r["t"] < mine[0]["t"] + 2000]
    peers = [r["peer"] for r in first_round]
    assert len(set(peers)) == 4 and max(peers.count(p) for p in set(peers)) == 2
    assert sum(r["last"] - r["first"] + 1 for r in first_round) > 50
    assert all(r["last"] - r["first"] == 7 for r in first_round[:-1])
    assert obs1.height == result.world.sealers[0].height
    assert result.summary["sync"]["catch_up_s"]["max"] < 1.0


def test_fisco_status_gossip_every_200_ms_when_asked_for():
    result = run("chain.sync_status_ms=200", "faults=[]", "duration_s=4", "drain_s=1")
    summary = result.summary
    seconds = summary["sim_time_s"]
    # 6 nodes: 4 sealers gossip to the 5 others, the 2 observers to the 5 others, every 200 ms;
    # on top of that, each new block announced by the 4 sealers to the 2 observers
    gossip = 6 * 5 * int(seconds / 0.2)
    announced = 4 * 2 * summary["blocks"]
    assert summary["messages"]["BlockStatus"]["count"] == pytest.approx(
        gossip + announced, rel=0.05)
    assert summary["safety"]["ok"] and summary["txs_pending_at_end"] == 0
