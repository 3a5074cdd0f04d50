"""Faults aimed at roles (``nodes: [leader]``, ``[next_leader]``) and started by a block
(``at_block``, ``block_event``), undone ``for_s`` after they start (fiscosim.faults.injector).

A researcher asks "what does a crashed leader cost?" without a baseline run to learn who
leads: the role is resolved when the fault starts, and the summary's fault log says which node
it was. The checks compare with a fault-free run of the same seed, which is the same run up to
the moment the fault starts.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT

from fiscosim import load_simulation
from fiscosim.scenario import ScenarioError, load_scenario

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
SHORT = {"duration_s": 8, "warmup_s": 1, "drain_s": 3}


def run(faults: list[dict], tmp_path=None, sealers: int = 4, seed: int = 3):
    overrides = {**SHORT, "nodes.count": sealers, "faults": faults}
    trace = None if tmp_path is None else tmp_path / f"t{len(list(tmp_path.iterdir()))}.jsonl"
    result = load_simulation(QUICKSTART, seed=seed, overrides=overrides).run(trace=trace)
    events = [] if trace is None else [json.loads(x) for x in trace.read_text().splitlines()][1:]
    return result.summary, events


@pytest.mark.parametrize("sealers", [4, 7])
@pytest.mark.parametrize("role, ahead", [("leader", 1), ("next_leader", 2)])
def test_a_role_started_by_a_block_is_the_node_that_would_seal_next(tmp_path, sealers, role,
                                                                     ahead):
    _, events = run([], tmp_path, sealers)
    sealed_by = {e["blk"]: e["node"] for e in events if e["ev"] == "seal"}
    block = 6
    summary, events = run([{"at_block": block, "kind": "crash", "nodes": [role]}], tmp_path,
                          sealers)
    entry = summary["faults"][0]
    expected = sealed_by[block + ahead]
    assert entry["roles"] == {role: expected}
    assert entry["fault"] == f"crash {expected} (the {role})"
    crashed = [e for e in events if e["ev"] == "node" and e["op"] == "crash"]
    assert [e["node"] for e in crashed] == [expected]
    # it started at the first honest commit of the block
    first_commit = min(e["t"] for e in events if e["ev"] == "ledger" and e["blk"] == block)
    assert entry["t_s"] == first_commit / 1e6 == crashed[0]["t"] / 1e6
    assert summary["safety"]["ok"]


def test_a_crashed_leader_role_is_replaced_by_a_fast_view_change(tmp_path):
    summary, events = run([{"at_s": 5.0, "kind": "crash", "nodes": ["leader"], "for_s": 1.5}],
                          tmp_path)
    start, undo = summary["faults"]
    node = start["roles"]["leader"]
    assert start["t_s"] == 5.0 and undo["t_s"] == 6.5
    assert undo["fault"] == f"undo crash {node} (the leader)"
    reasons = [e["reason"] for e in events if e.get("code") == "view_change_sent"]
    assert reasons and reasons[0] == "leader_unreachable"
    assert summary["safety"]["ok"] and summary["max_stall_s"] < 1.5


def test_block_event_sealed_starts_when_the_block_is_sealed(tmp_path):
    summary, events = run([{"at_block": 5, "block_event": "sealed", "kind": "slow",
                            "nodes": ["node1"], "factor": 3, "for_s": 0.5}], tmp_path)
    sealed = next(e["t"] for e in events if e["ev"] == "seal" and e["blk"] == 5)
    start, undo = summary["faults"]
    assert start["t_s"] == sealed / 1e6 and undo["t_s"] == pytest.approx(sealed / 1e6 + 0.5)
    assert "roles" not in start


def test_a_role_that_is_also_named_is_hit_once():
    faults = [{"at_block": 4, "kind": "slow", "nodes": ["leader", "node0", "node1", "node2",
                                                         "node3"], "factor": 2}]
    sim = load_simulation(QUICKSTART, seed=3, overrides={**SHORT, "faults": faults})
    sim.run()
    # every node slowed exactly once: factor 2, not 4 for the leader
    assert sorted(cpu.slowdown for cpu in sim.world.cpus) == [2.0] * 4


@pytest.mark.parametrize("fault, field, words", [
    ({"kind": "crash", "nodes": ["node0"]}, "at_s", "neither"),
    ({"at_s": 1, "at_block": 3, "kind": "crash", "nodes": ["node0"]}, "at_block", "both"),
    ({"at_block": 3, "kind": "crash", "nodes": ["node0"], "until_s": 5}, "until_s", "for_s"),
    ({"at_s": 1, "block_event": "sealed", "kind": "crash", "nodes": ["node0"]}, "block_event",
     "needs at_block"),
    ({"at_s": 1, "kind": "crash", "nodes": ["node0"], "until_s": 3, "for_s": 2}, "for_s",
     "same thing"),
    ({"at_s": 1, "kind": "byzantine", "behaviour": "silent", "nodes": ["leader"]}, "nodes",
     "cannot name a role"),
    ({"at_s": 1, "kind": "restart", "nodes": ["leader"]}, "nodes", "cannot name a role"),
    ({"at_s": 1, "kind": "crash", "nodes": ["leaderr"]}, "faults.0", "unknown node"),
])
def test_bad_role_and_block_faults_are_one_line_errors(fault, field, words):
    with pytest.raises(ScenarioError) as error:
        load_scenario(QUICKSTART, {"faults": [fault]})
    message = str(error.value)
    assert "\n" not in message and field in message and words in message, message


def test_roles_and_blocks_are_refused_with_several_groups():
    path = REPO_ROOT / "scenarios" / "two-groups-shared-nodes.yaml"
    for fault, words in (({"at_s": 1, "kind": "crash", "nodes": ["leader"]}, "ambiguous"),
                         ({"at_block": 3, "kind": "crash", "nodes": ["node0"]}, "ambiguous")):
        with pytest.raises(ScenarioError, match=words):
            load_scenario(path, {"faults": [fault]})


def test_roles_resolve_the_same_for_a_seed():
    faults = [{"at_s": 4.2, "kind": "crash", "nodes": ["next_leader"], "for_s": 1}]
    one, _ = run(faults)
    two, _ = run(faults)
    assert one["faults"] == two["faults"]
