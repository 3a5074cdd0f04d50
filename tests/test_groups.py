"""Several groups (ledgers) on one set of nodes (docs/fisco-reference.md §4, ``groups:`` in a
scenario).

Each group has its own PBFT, txpool, ledger and clients; a node in several groups shares its
CPU cores and its uplink between them. A fault names physical nodes and hits every group.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT

from fiscosim import Simulation
from fiscosim.metrics.summary import WALL_CLOCK_KEYS
from fiscosim.scenario import ScenarioError, load_scenario

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
FOUR = "[node0, node1, node2, node3]"


def run(groups: str, *overrides: str, trace=None):
    scenario = load_scenario(QUICKSTART, ["duration_s=5", "warmup_s=1", "drain_s=3",
                                          f"groups={groups}", *overrides])
    return Simulation(scenario).run(trace=trace)


def test_two_groups_on_the_same_nodes_each_commit_their_own_chain(tmp_path):
    result = run(f"[{{id: a, sealers: {FOUR}}}, {{id: b, sealers: {FOUR}}}]")
    summary = result.summary
    assert set(summary["groups"]) == {"a", "b"}
    for group in summary["groups"].values():
        assert group["blocks"] > 5 and group["txs_pending_at_end"] == 0
        assert group["safety"]["ok"] and group["tps"] > 0
    assert summary["tps"] == pytest.approx(sum(g["tps"] for g in summary["groups"].values()))
    assert summary["safety"]["ok"]
    a, b = result.world.groups
    # two ledgers: different blocks at the same heights, separate transaction tables
    assert a.sealers[0].ledger[1][0].hash != b.sealers[0].ledger[1][0].hash
    assert a.table is not b.table
    # one CPU per physical node, shared
    assert a.node_at[0].cpu.base is b.node_at[0].cpu.base is result.world.cpus[0]
    written = result.write(tmp_path / "out")
    assert {p.name for p in written} == {"summary.json", "blocks.csv", "manifest.json"}
    header, first = (tmp_path / "out" / "blocks.csv").read_text().splitlines()[:2]
    assert header.startswith("group,number") and first.startswith("a,1,")
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["groups"]["b"]["blocks"]


def test_groups_interfere_through_the_shared_cpu():
    alone = run(f"[{{id: a, sealers: {FOUR}}}]", "workload.rate_tps=2000")
    shared = run(f"[{{id: a, sealers: {FOUR}}}, {{id: b, sealers: {FOUR}}}]",
                 "workload.rate_tps=2000")
    one = alone.summary
    two = shared.summary
    assert two["cpu_utilisation"]["node0"] == pytest.approx(
        2 * one["cpu_utilisation"]["node0"], rel=0.1)
    assert two["groups"]["a"]["latency_ms"]["mean"] > one["latency_ms"]["mean"]
    assert two["bytes_total"] == pytest.approx(2 * one["bytes_total"], rel=0.1)


def test_a_group_on_other_nodes_never_reaches_them(tmp_path):
    trace = tmp_path / "t.jsonl"
    nodes = "[{name: n0}, {name: n1}, {name: n2}, {name: n3}, {name: n4}, {name: n5}]"
    result = run("[{id: a, sealers: [n0, n1, n2, n3]}, {id: b, sealers: [n2, n3, n4, n5]}]",
                 f"nodes={{list: {nodes}}}", "nodes.count=null", trace=trace)
    a, b = result.world.groups
    assert sorted(a.node_at) == [0, 1, 2, 3] and sorted(b.node_at) == [2, 3, 4, 5]
    assert result.summary["safety"]["ok"]
    assert all(g["blocks"] > 5 for g in result.summary["groups"].values())
    # only nodes 2 and 3 are in both: their CPUs carry two groups' lanes
    assert type(a.node_at[2].cpu).__name__ == "GroupCpu"
    assert type(a.node_at[0].cpu).__name__ == "Cpu"
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    delivered_to = {e["node"] for e in events if e["ev"] == "recv"}
    assert delivered_to == {"n0", "n1", "n2", "n3", "n4", "n5"}
    # each group's messages stay among its sealers
    by_group = {g["id"]: set(g["sealers"]) for g in events[0]["groups"]}
    sends = [e for e in events if e["ev"] == "send"]
    assert {e["g"] for e in sends} == {"a", "b"}
    assert all({e["src"], *e["dst"]} <= by_group[e["g"]] for e in sends)


def test_an_observer_in_one_group_may_be_a_sealer_in_another():
    result = run("[{id: a, sealers: [node0, node1, node2, node3]},"
                 " {id: b, sealers: [node0, node1, node2, node4], observers: [node3]}]",
                 "nodes.count=5")
    b = result.summary["groups"]["b"]
    assert b["sync"]["observers"]["node3"]["height"] == b["blocks"] > 5
    assert result.summary["safety"]["ok"]


def test_a_crash_takes_the_node_down_in_every_group():
    result = run(f"[{{id: a, sealers: {FOUR}}}, {{id: b, sealers: {FOUR}}}]",
                 "faults=[{at_s: 1, kind: crash, nodes: [node2]}]")
    for group in result.world.groups:
        assert not group.node_at[2].up
        assert group.node_at[2].height < group.node_at[0].height
    assert result.summary["safety"]["ok"]


def test_two_group_runs_repeat_exactly():
    def summary():
        s = run(f"[{{id: a, sealers: {FOUR}}}, {{id: b, sealers: [node1, node2, node3]}}]",
                "duration_s=3").summary
        return {k: v for k, v in s.items() if k not in WALL_CLOCK_KEYS}

    assert summary() == summary()


def test_one_group_given_explicitly_runs_like_no_groups():
    plain = Simulation(load_scenario(QUICKSTART, ["duration_s=3"])).run().summary
    one = Simulation(load_scenario(QUICKSTART, [
        "duration_s=3", f"groups=[{{id: group0, sealers: {FOUR}}}]"])).run().summary
    skip = {*WALL_CLOCK_KEYS, "scenario_digest"}
    assert {k: v for k, v in plain.items() if k not in skip} == {
        k: v for k, v in one.items() if k not in skip}


@pytest.mark.parametrize("groups,field", [
    ("[{id: a, sealers: [nodeX]}]", "groups.0.sealers.0"),
    (f"[{{id: a, sealers: {FOUR}}}, {{id: a, sealers: {FOUR}}}]", "groups.1.id"),
    ("[{id: a, sealers: [node0, node1, node2]}]", "groups"),  # node3 in no group
    ("[{id: a, sealers: [node0, node0, node1, node2, node3]}]", "groups.0.sealers.1"),
    ("[]", "groups"),
])
def test_bad_groups_are_one_line_errors(groups, field):
    with pytest.raises(ScenarioError) as error:
        load_scenario(QUICKSTART, [f"groups={groups}"])
    text = str(error.value)
    assert field in text and "\n" not in text


def test_a_target_outside_its_group_is_an_error():
    with pytest.raises(ScenarioError, match="not in group"):
        load_scenario(QUICKSTART, [
            "nodes.count=5",
            "groups=[{id: a, sealers: [node0, node1, node2, node3], workload: {targets: [node4]}},"
            " {id: b, sealers: [node1, node2, node3, node4]}]"])


def test_real_crypto_verdicts_are_per_group(tmp_path, monkeypatch):
    # Both groups' ids start at 0 and reuse the corpus rows; their tampered rows differ.
    monkeypatch.setenv("FISCOSIM_CACHE", str(tmp_path / "corpus"))
    result = run(f"[{{id: a, sealers: {FOUR}}}, {{id: b, sealers: {FOUR}}}]",
                 "chain.crypto_mode=real", "workload.invalid_fraction=0.1", "duration_s=2")
    for group in result.world.groups:
        tampered = int(group.table.column("tampered").sum())
        summary = result.summary["groups"][group.group_id]
        assert tampered > 0
        assert summary["rejected_by_reason"] == {"InvalidSignature": tampered}
