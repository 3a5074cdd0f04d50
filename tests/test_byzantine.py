"""Byzantine behaviour (``faults: - kind: byzantine``): what honest nodes survive and catch.

With at most f byzantine sealers every behaviour leaves the honest nodes safe and live; with
f + 1 colluding equivocators the safety checker must report a violation (so the checker can
fail), and ``fiscosim run`` exits with code 3.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT
from test_pbft import make_proposal

from fiscosim import Simulation
from fiscosim.cli import main
from fiscosim.consensus.messages import proposal_hash
from fiscosim.consensus.pbft import PbftCore
from fiscosim.faults.byzantine import Coalition, second_proposal
from fiscosim.scenario import ScenarioError, load_scenario

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"


def run(behaviour: str, nodes: list[str], *overrides: str, count: int = 4, seed: int = 3):
    faults = f"[{{at_s: 1, kind: byzantine, nodes: [{', '.join(nodes)}], behaviour: {behaviour}}}]"
    scenario = load_scenario(QUICKSTART, [
        "duration_s=10", "warmup_s=1", "drain_s=3", f"nodes.count={count}", f"seed={seed}",
        "workload.rate_tps=300", f"faults={faults}", *overrides,
    ])
    return Simulation(scenario).run()


def honest_heights(result, byzantine: list[str]) -> set[int]:
    return {node.height for node in result.world.nodes if node.name not in byzantine}


def test_f_plus_one_equivocators_break_safety_and_the_checker_says_so():
    byzantine = ["node0", "node1"]
    result = run("equivocate", byzantine)
    summary = result.summary
    assert summary["byzantine"]["equivocations"] > 0
    assert not summary["safety"]["ok"]
    violations = summary["safety"]["violations"]
    assert violations and all("block" in v for v in violations)
    # only honest nodes are compared: the colluders' own chains prove nothing
    assert not any(name in v for v in violations for name in byzantine)


@pytest.mark.parametrize("count,byzantine", [(4, ["node0"]), (7, ["node0", "node5"])])
def test_f_equivocators_cannot_break_safety(count, byzantine):
    result = run("equivocate", byzantine, count=count)
    summary = result.summary
    assert summary["byzantine"]["equivocations"] > 0
    assert summary["safety"]["ok"], summary["safety"]["violations"]
    assert len(honest_heights(result, byzantine)) == 1
    assert summary["blocks"] >= 15 and summary["txs_pending_at_end"] == 0
    # the honest node that got the other proposal fetched the committed one (docs/fisco-reference.md
    # §1.5)
    assert summary["messages"]["CommittedProposalResponse"]["count"] > 0


@pytest.mark.parametrize("behaviour", ["silent", "withhold_votes", "wrong_votes",
                                       "forge_signatures", "forge_txs", "reorder"])
def test_one_byzantine_node_of_four_leaves_the_others_safe_and_live(behaviour):
    result = run(behaviour, ["node2"])
    summary = result.summary
    assert summary["safety"]["ok"], summary["safety"]["violations"]
    assert len(honest_heights(result, ["node2"])) == 1
    assert summary["blocks"] >= 8
    byzantine = summary["byzantine"]
    assert byzantine["nodes"] == ["node2"]
    if behaviour in ("silent", "withhold_votes"):
        assert byzantine["messages_withheld"] > 0
    if behaviour in ("silent", "forge_signatures"):
        # its turns to lead are lost: the view timer replaces it
        assert summary["view_changes"]["final_view"] > 0
        assert summary["view_changes"]["node_view_changes"] > 0
    if behaviour == "forge_signatures":
        assert byzantine["forged_messages_rejected"] > 0
    if behaviour == "forge_txs":
        assert byzantine["forged_txs_rejected"] > 0
    if behaviour in ("wrong_votes", "withhold_votes", "reorder"):
        # three honest nodes are a quorum on their own: no view change is needed
        assert summary["view_changes"]["final_view"] == 0


def test_forged_transactions_are_really_rejected_in_real_crypto_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("FISCOSIM_CACHE", str(tmp_path / "corpus"))
    result = run("forge_txs", ["node2"], "chain.crypto_mode=real", "duration_s=4",
                 "workload.rate_tps=200")
    summary = result.summary
    assert summary["byzantine"]["forged_txs_rejected"] > 0
    assert summary["safety"]["ok"]
    # the verdicts came from the real core, on forged copies of the signed rows: check one
    world = result.world
    forged = world.nodes[0].shared.forged_verdicts
    ids = np.arange(min(50, world.table.count))
    assert not forged(ids).any() and world.real.verdicts_for(world.table)(ids).all()


def test_byzantine_runs_repeat_exactly():
    def summary():
        s = run("reorder", ["node1"], "duration_s=4").summary
        return {k: v for k, v in s.items() if k not in ("wall_time_s", "sim_speed")}

    assert summary() == summary()


def test_undone_behaviour_stops():
    faults = ("[{at_s: 1, kind: byzantine, nodes: [node1], behaviour: withhold_votes,"
              " until_s: 2}]")
    scenario = load_scenario(QUICKSTART, ["duration_s=4", "warmup_s=1", f"faults={faults}"])
    result = Simulation(scenario).run()
    withheld = result.summary["byzantine"]["messages_withheld"]
    assert withheld > 0
    assert [e["fault"] for e in result.summary["faults"]] == [
        "byzantine node1 behaviour=withhold_votes",
        "undo byzantine node1 behaviour=withhold_votes",
    ]
    assert not result.world.nodes[1].byzantine


def test_f_plus_one_scenario_exits_with_code_3(tmp_path):
    runner = CliRunner()
    outcome = runner.invoke(main, ["run", str(REPO_ROOT / "scenarios" / "f-plus-one.yaml"),
                                   "--out", str(tmp_path / "out"), "--quiet"])
    assert outcome.exit_code == 3, outcome.output
    assert "SAFETY VIOLATED" in outcome.output


@pytest.mark.parametrize("fault,field", [
    ("{at_s: 1, kind: byzantine, nodes: [node1]}", "behaviour"),
    ("{at_s: 1, kind: byzantine, behaviour: silent}", "nodes"),
    ("{at_s: 1, kind: byzantine, nodes: [node1], behaviour: lie}", "behaviour"),
])
def test_bad_byzantine_faults_are_one_line_errors(fault, field):
    with pytest.raises(ScenarioError) as error:
        load_scenario(QUICKSTART, [f"faults=[{fault}]"])
    text = str(error.value)
    assert field in text and "\n" not in text


def test_an_observer_cannot_be_byzantine():
    nodes = "[{name: a}, {name: b}, {name: c}, {name: d}, {name: o, role: observer}]"
    with pytest.raises(ScenarioError, match="observer"):
        load_scenario(QUICKSTART, [f"nodes={{list: {nodes}}}", "nodes.count=null",
                                   "faults=[{at_s: 1, kind: byzantine, nodes: [o],"
                                   " behaviour: silent}]"])


def test_second_proposal_is_another_block_of_the_same_transactions():
    first = make_proposal(5, leader=2, txs=4)
    second = second_proposal(first)
    assert second.index == first.index and second.leader == first.leader
    assert second.hash != first.hash
    assert sorted(second.tx_ids) == sorted(first.tx_ids)
    assert second.hash == proposal_hash(5, first.parent_hash, second.tx_ids,
                                        second.timestamp_us, 2)


def test_coalition_splits_the_honest_nodes_in_two_halves():
    coalition = Coalition(7, members={0, 1})
    halves = [coalition.second_half(i) for i in range(7)]
    # colluders get the first proposal; honest 2, 3, 4 the first, 5, 6 the second
    assert halves == [False, False, False, False, False, True, True]
    # with f + 1 = 3 colluders of 7, each honest half plus the colluders reaches Q = 5
    coalition = Coalition(7, members={0, 1, 2})
    first = [i for i in range(7) if not coalition.second_half(i)]
    second = [i for i in range(7) if coalition.second_half(i) or i in coalition.members]
    q = PbftCore(0, [1] * 7).quorum
    assert len(first) >= q and len(second) >= q - 1  # + the leader's own vote on both


def test_modelled_forged_verdicts_are_all_invalid():
    from fiscosim.sim.realcrypto import forged_verdicts

    assert not forged_verdicts(None, None, 0)(np.arange(5)).any()


def test_fuzz_with_byzantine_nodes_stays_safe_and_live():
    from fiscosim.sim.fuzz import random_faults, run_one

    def has_byzantine(seed: int) -> bool:
        rng = np.random.default_rng([seed, 4])
        names = [f"node{i}" for i in range(4)]
        return any(f["kind"] == "byzantine" for f in random_faults(rng, names, 12.0, 6.0, True))

    seeds = [seed for seed in range(40) if has_byzantine(seed)][:3]
    assert len(seeds) == 3
    for seed in seeds:
        outcome = run_one(seed, duration_s=12.0, byzantine=True)
        assert outcome.ok, outcome
