"""The fault injector on its own (fiscosim.faults.injector): each kind's effect and timing.

A real world of four sealers is built from quickstart but never started: no node runs, no
client sends, so the simulated clock moves only for the faults and for the probe messages the
tests send themselves. Stepping the clock to just before and just after a fault's time shows
when it acts; probes over the real network show which links a partition cuts, what a delay
adds and what a loss drops; nodes' ``up``, CPUs' ``slowdown`` and byzantine flags show the rest.
Roles (``leader``, ``next_leader``) are checked against the PBFT rule, the leader of block b
in view v being the sealer of consensus index (b + v) mod n (quickstart's leader_period is 1),
from a reference sealer whose height, liveness, honesty and view the tests set. Whole runs
with faults are in test_faults.py, test_fault_roles.py and test_fault_overlap.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import REPO_ROOT

from fiscosim.faults.injector import schedule_faults
from fiscosim.scenario import load_scenario
from fiscosim.sim.world import build_world

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
US = 1_000_000
LATENCY_US = 500  # quickstart: constant 0.5 ms one way


class Probe:
    """A message no node handles: only the tests' callbacks see it."""


class Bench:
    """An unstarted four-sealer world with ``faults`` scheduled on it."""

    def __init__(self, faults: list[dict], prepare=None, **overrides: Any) -> None:
        scenario = load_scenario(QUICKSTART, {"duration_s": 20, "warmup_s": 0, "drain_s": 1,
                                              "workload.rate_tps": 1, "faults": faults,
                                              **overrides})
        self.world = build_world(scenario)
        self.env = self.world.env
        self.network = self.world.network
        self.traced: list[dict] = []
        self.world.trace = lambda event, fields: self.traced.append({"event": event, **fields})
        if prepare is not None:
            prepare(self)
        schedule_faults(self.world)

    def node(self, name: str) -> Any:
        return self.world.node_at[self.world.names.index(name)]

    def sealer(self, index: int) -> Any:
        """The sealer of consensus index ``index`` (nodeID order, not the scenario's order)."""
        return self.world.sealers[index]

    def until(self, t_us: int) -> Bench:
        """Runs every event before ``t_us`` (an event at exactly ``t_us`` has not run yet)."""
        self.env.run(until=t_us)
        return self

    def up(self) -> dict[str, bool]:
        return {node.name: node.up for node in self.world.nodes}

    def log(self) -> list[tuple[float, str]]:
        return [(entry["t_s"], entry["fault"]) for entry in self.world.fault_log]

    def send(self, pairs: list[tuple[int, int]], copies: int = 1) -> dict[tuple[int, int], list]:
        """Sends ``copies`` probes over each (src, dst), a pair every millisecond from now (so
        that no probe waits for another's uplink), and runs the clock 0.2 s on: per pair, each
        probe's one-way time in µs (1 µs of it the 114 bytes' serialisation), or None if
        dropped."""
        out: dict[tuple[int, int], list] = {pair: [] for pair in pairs}
        for src, dst in pairs:
            sent = self.env.now
            for _ in range(copies):
                self.network.send(
                    src, dst, Probe(), 100,
                    lambda s, d, _m, sent=sent: out[(s, d)].append(self.env.now - sent),
                    lambda s, d, _m: out[(s, d)].append(None))
            self.until(sent + 1_000)
        self.until(self.env.now + US // 5)
        return out


def everyone(n: int = 4) -> list[tuple[int, int]]:
    return [(u, v) for u in range(n) for v in range(n) if u != v]


# --- crash, restart: when ---------------------------------------------------------------------


def test_a_crash_takes_its_node_down_at_at_s_and_brings_it_back_at_until_s():
    bench = Bench([{"at_s": 1.0, "kind": "crash", "nodes": ["node1"], "until_s": 2.5}])
    everyone_up = {"node0": True, "node1": True, "node2": True, "node3": True}
    assert bench.until(1 * US).up() == everyone_up  # the fault's own instant has not run
    assert bench.log() == []
    bench.until(1 * US + 1)
    assert bench.up() == {**everyone_up, "node1": False}
    assert not bench.network.is_up(1) and bench.network.is_up(0)
    assert bench.log() == [(1.0, "crash node1")]
    assert bench.until(2_500_000).up()["node1"] is False
    assert bench.until(2_500_001).up() == everyone_up
    assert bench.network.is_up(1)
    assert bench.log() == [(1.0, "crash node1"), (2.5, "undo crash node1")]
    # with tracing on, each is a `fault` event too
    faults = [e for e in bench.traced if e["event"] == "fault"]
    assert [e["text"] for e in faults] == ["crash node1", "undo crash node1"]


def test_for_s_undoes_a_fault_that_long_after_it_started():
    bench = Bench([{"at_s": 1.25, "kind": "crash", "nodes": ["node3"], "for_s": 0.5}])
    assert bench.until(1_250_001).up()["node3"] is False
    assert bench.until(1_750_000).up()["node3"] is False
    assert bench.until(1_750_001).up()["node3"] is True
    assert [t for t, _ in bench.log()] == [1.25, 1.75]


def test_a_crash_without_an_end_lasts_until_a_restart():
    bench = Bench([{"at_s": 1, "kind": "crash", "nodes": ["node0", "node2"]},
                   {"at_s": 3, "kind": "restart", "nodes": ["node2"]}])
    assert bench.until(1 * US + 1).up() == {"node0": False, "node1": True, "node2": False,
                                            "node3": True}
    assert bench.until(3 * US + 1).up() == {"node0": False, "node1": True, "node2": True,
                                            "node3": True}
    assert bench.until(19 * US).up()["node0"] is False


def test_a_crash_completes_the_blocks_only_its_node_lacked():
    # block 1 committed by three sealers at 0.1 to 0.3 s; the fourth crashes at 1 s: the
    # block log's "committed by every honest sealer up" time becomes the third commit's
    def prepare(bench: Bench) -> None:
        blocks = bench.world.blocks
        blocks.sealed(1, 0, 1, 10, 50_000)
        for k, node in enumerate(bench.world.sealers[:3]):
            blocks.committed(1, b"\1" * 32, 100_000 * (k + 1), node.net_id, True)
        assert blocks.rows[1].all_commit_us == -1  # the fourth still lacks it

    last = Bench([]).world.sealers[3].name  # the consensus order depends on the seed only
    bench = Bench([{"at_s": 1, "kind": "crash", "nodes": [last]}], prepare=prepare)
    bench.until(1 * US + 1)
    assert bench.world.blocks.rows[1].all_commit_us == 300_000


@pytest.mark.parametrize("first, second, up_after", [("crash", "restart", True),
                                                     ("restart", "crash", False)])
def test_faults_at_one_instant_act_in_the_order_given(first, second, up_after):
    bench = Bench([{"at_s": 2, "kind": first, "nodes": ["node1"]},
                   {"at_s": 2, "kind": second, "nodes": ["node1"]}])
    assert bench.until(2 * US + 1).up()["node1"] is up_after
    assert [text.split()[0] for _, text in bench.log()] == [first, second]


# --- network faults: which links, for how long ------------------------------------------------


def test_a_partition_cuts_exactly_the_links_between_its_sides_until_until_s():
    # sides {node0, node1} and {node2}; node3, in no group, is a side of its own
    bench = Bench([{"at_s": 1, "kind": "partition", "groups": [["node0", "node1"], ["node2"]],
                    "until_s": 3}])
    side = {0: "a", 1: "a", 2: "b", 3: "c"}
    before = bench.until(US // 2).send(everyone())
    assert all(times == [LATENCY_US + 1] for times in before.values()), before
    during = bench.until(2 * US).send(everyone())
    assert {pair for pair, times in during.items() if times == [None]} == {
        (u, v) for u, v in everyone() if side[u] != side[v]}
    assert {pair for pair, times in during.items() if times != [None]} == {(0, 1), (1, 0)}
    assert bench.network.stats.drop_reasons == {"partition": 10}
    after = bench.until(3 * US + 1).send(everyone())
    assert all(times == [LATENCY_US + 1] for times in after.values()), after
    assert bench.log() == [(1.0, "partition node0,node1 | node2"),
                           (3.0, "undo partition node0,node1 | node2")]


def test_a_heal_fault_ends_a_partition():
    bench = Bench([{"at_s": 1, "kind": "partition", "groups": [["node3"]]},
                   {"at_s": 4, "kind": "heal"}])
    cut = bench.until(3 * US).send(everyone())
    assert {pair for pair, times in cut.items() if times == [None]} == {
        (3, 0), (3, 1), (3, 2), (0, 3), (1, 3), (2, 3)}
    healed = bench.until(4 * US + 1).send(everyone())
    assert None not in [t for times in healed.values() for t in times]


def test_a_delay_adds_to_what_its_node_sends_for_the_window_only():
    bench = Bench([{"at_s": 1, "kind": "delay", "nodes": ["node2"], "delay_ms": 40,
                    "until_s": 2}])
    pairs = [(2, 0), (2, 3), (0, 2), (1, 3)]
    before = bench.until(US // 2).send(pairs)
    during = bench.until(US + US // 2).send(pairs)
    after = bench.until(2 * US + 1).send(pairs)
    base = LATENCY_US + 1
    assert before == after == {pair: [base] for pair in pairs}
    # what node2 sends takes 40 ms more; what it receives, and other links, do not
    assert during == {(2, 0): [base + 40_000], (2, 3): [base + 40_000], (0, 2): [base],
                      (1, 3): [base]}


def test_a_loss_drops_that_share_of_messages_for_the_window():
    bench = Bench([{"at_s": 1, "kind": "loss", "rate": 0.3, "until_s": 2}],
                  **{"network.loss_rate": 0})
    assert bench.until(US // 2).network.loss_rate == 0
    assert None not in bench.send([(0, 1)], copies=400)[(0, 1)]
    assert bench.until(1 * US + 1).network.loss_rate == 0.3
    during = bench.send([(0, 1), (2, 3)], copies=400)
    for times in during.values():
        assert 0.24 <= times.count(None) / 400 <= 0.36
    assert bench.network.stats.drop_reasons == {"loss": sum(t.count(None) for t in
                                                            during.values())}
    assert bench.until(2 * US + 1).network.loss_rate == 0
    assert None not in bench.send([(0, 1)], copies=400)[(0, 1)]


def test_a_loss_ends_at_the_scenarios_own_rate():
    bench = Bench([{"at_s": 1, "kind": "loss", "rate": 0.5, "for_s": 1}],
                  **{"network.loss_rate": 0.01})
    rates = [bench.until(t).network.loss_rate for t in (US, US + 1, 2 * US, 2 * US + 1)]
    assert rates == [0.01, pytest.approx(1 - 0.99 * 0.5), pytest.approx(1 - 0.99 * 0.5), 0.01]


# --- node faults: CPU and behaviour -------------------------------------------------------


def test_slow_scales_its_nodes_cpu_for_the_window():
    bench = Bench([{"at_s": 1, "kind": "slow", "nodes": ["node1"], "factor": 4,
                    "until_s": 2}])
    cpus = bench.world.cpus
    assert [cpu.slowdown for cpu in cpus] == [1.0] * 4
    bench.until(1 * US + 1)
    assert [cpu.slowdown for cpu in cpus] == [1.0, 4.0, 1.0, 1.0]
    now = bench.env.now
    # 1 ms of work takes 4 ms on node1's idle CPU, 1 ms on node0's
    assert cpus[1].run(now, 1_000) == now + 4_000 and cpus[0].run(now, 1_000) == now + 1_000
    bench.until(2 * US + 1)
    assert [cpu.slowdown for cpu in cpus] == [1.0] * 4
    assert cpus[1].run(bench.env.now, 1_000) == bench.env.now + 1_000


def test_a_byzantine_fault_turns_its_behaviour_on_for_the_window():
    bench = Bench([{"at_s": 1, "kind": "byzantine", "nodes": ["node2"],
                    "behaviour": "reorder", "delay_ms": 30, "until_s": 2}])
    node = bench.node("node2")
    assert node.byzantine == frozenset()
    bench.until(1 * US + 1)
    assert node.byzantine == {"reorder"} and node.byzantine_delay_us == 30_000
    assert all(not bench.node(f"node{i}").byzantine for i in (0, 1, 3))
    bench.until(2 * US + 1)
    assert node.byzantine == frozenset()


# --- faults started by a block ---------------------------------------------------------------


def commit(bench: Bench, number: int, event: str = "committed") -> None:
    """What the world's seal and commit callbacks do when block ``number`` is first sealed or
    committed by an honest sealer."""
    for run in bench.world.block_watchers.pop((event, number), ()):
        run()


def test_a_fault_at_a_block_starts_when_that_block_commits_and_lasts_for_s():
    bench = Bench([{"at_block": 3, "kind": "crash", "nodes": ["node2"], "for_s": 0.4}])
    assert set(bench.world.block_watchers) == {("committed", 3)}
    assert bench.until(5 * US).up()["node2"] is True  # time alone does not start it
    commit(bench, 2)
    assert bench.up()["node2"] is True and bench.log() == []
    bench.until(5_123_456)
    commit(bench, 3)
    assert bench.up()["node2"] is False
    assert bench.log() == [(5.123456, "crash node2")]
    assert bench.until(5_523_456).up()["node2"] is False
    assert bench.until(5_523_457).up()["node2"] is True
    assert bench.log()[1] == (5.523456, "undo crash node2")


def test_a_fault_at_a_sealed_block_waits_for_the_seal_not_the_commit():
    bench = Bench([{"at_block": 4, "block_event": "sealed", "kind": "slow", "nodes": ["node0"],
                    "factor": 3, "for_s": 1}])
    assert set(bench.world.block_watchers) == {("sealed", 4)}
    bench.until(2 * US)
    commit(bench, 4, "committed")
    assert bench.world.cpus[0].slowdown == 1.0
    commit(bench, 4, "sealed")
    assert bench.world.cpus[0].slowdown == 3.0
    assert bench.until(3 * US + 1).world.cpus[0].slowdown == 1.0
    assert bench.log() == [(2.0, "slow node0 factor=3.0"), (3.0, "undo slow node0 factor=3.0")]


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize("role, ahead", [("leader", 1), ("next_leader", 2)])
def test_a_role_is_the_sealer_that_leads_the_next_blocks(role, ahead):
    # a fresh chain, view 0: the leader of block 1 is consensus index 1, of block 2 index 2
    bench = Bench([{"at_s": 1, "kind": "slow", "nodes": [role], "factor": 5, "for_s": 1}])
    expected = bench.sealer(ahead)
    assert expected.name != f"node{ahead}"  # consensus order is nodeID order, not the names'
    bench.until(1 * US + 1)
    assert [cpu.slowdown for cpu in bench.world.cpus] == [
        5.0 if i == expected.net_id else 1.0 for i in range(4)]
    entry = bench.world.fault_log[0]
    assert entry["roles"] == {role: expected.name}
    assert entry["fault"] == f"slow {expected.name} (the {role}) factor=5.0"
    # the undo releases the node the role resolved to
    bench.until(2 * US + 1)
    assert [cpu.slowdown for cpu in bench.world.cpus] == [1.0] * 4
    assert bench.world.fault_log[1]["fault"] == f"undo slow {expected.name} (the {role}) factor=5.0"


def set_height(index: int, height: int):
    def prepare(bench: Bench) -> None:
        bench.sealer(index).height = height
    return prepare


@pytest.mark.parametrize("role, ahead", [("leader", 1), ("next_leader", 2)])
def test_roles_are_read_from_the_most_advanced_sealer(role, ahead):
    # sealer 3's ledger is at block 6: the lowest block not committed is 7
    bench = Bench([{"at_s": 1, "kind": "crash", "nodes": [role], "until_s": 2}],
                  prepare=set_height(3, 6))
    expected = bench.sealer((6 + ahead) % 4)
    bench.until(1 * US + 1)
    assert {name for name, up in bench.up().items() if not up} == {expected.name}
    assert bench.world.fault_log[0]["roles"] == {role: expected.name}
    assert bench.until(2 * US + 1).up()[expected.name] is True


def test_a_role_is_resolved_when_the_fault_starts_not_when_it_is_scheduled():
    bench = Bench([{"at_s": 1, "kind": "delay", "nodes": ["leader"], "delay_ms": 5,
                    "until_s": 2}])
    bench.until(US // 2)
    bench.sealer(2).height = 9  # the chain moved on after the faults were scheduled
    expected = bench.sealer(10 % 4)
    bench.until(1 * US + 1)
    assert bench.world.fault_log[0]["roles"] == {"leader": expected.name}
    src = expected.net_id
    dst = (src + 1) % 4
    assert bench.send([(src, dst)]) == {(src, dst): [LATENCY_US + 1 + 5_000]}
    bench.until(2 * US + 1)
    assert bench.send([(src, dst)]) == {(src, dst): [LATENCY_US + 1]}


def test_a_crashed_sealer_is_not_the_reference():
    # sealer 3 is the most advanced but down: the others, at height 0, say who leads block 1
    down = Bench([]).world.sealers[3].name  # the consensus order depends on the seed only
    bench = Bench([{"at_s": 0.5, "kind": "crash", "nodes": [down]},
                   {"at_s": 1, "kind": "slow", "nodes": ["leader"], "factor": 2}],
                  prepare=set_height(3, 6))
    bench.until(1 * US + 1)
    leader = bench.sealer(1)
    assert bench.world.fault_log[1]["roles"] == {"leader": leader.name}
    assert bench.world.cpus[leader.net_id].slowdown == 2.0


def test_a_byzantine_sealer_is_not_the_reference():
    liar = Bench([]).world.sealers[3].name
    bench = Bench([{"at_s": 1, "kind": "crash", "nodes": ["leader"]},
                   {"at_s": 5, "kind": "byzantine", "nodes": [liar], "behaviour": "silent"}],
                  prepare=set_height(3, 6))
    bench.until(1 * US + 1)
    # its ledger says block 6, but a byzantine node's word counts for nothing: block 1 it is
    assert bench.world.fault_log[0]["roles"] == {"leader": bench.sealer(1).name}


def test_during_a_view_change_the_leader_is_that_of_the_view_it_moves_to():
    def prepare(bench: Bench) -> None:
        reference = bench.sealer(0)
        reference.height = 4  # the most advanced: the lowest block not committed is 5
        reference.core.on_leader_unreachable()  # it moves to view 1 (its actions dropped)
        assert reference.core.in_view_change and reference.core.to_view == 1

    # (slow faults: a crash would make the peers change view once more)
    bench = Bench([{"at_s": 1, "kind": "slow", "nodes": ["leader"], "factor": 2},
                   {"at_s": 1, "kind": "slow", "nodes": ["next_leader"], "factor": 3}],
                  prepare=prepare)
    bench.until(1 * US + 1)
    leader, next_leader = bench.sealer((5 + 1) % 4), bench.sealer((6 + 1) % 4)
    assert bench.world.fault_log[0]["roles"] == {"leader": leader.name}
    assert bench.world.fault_log[1]["roles"] == {"next_leader": next_leader.name}
    assert bench.world.cpus[leader.net_id].slowdown == 2.0
    assert bench.world.cpus[next_leader.net_id].slowdown == 3.0


def test_between_sealers_equally_advanced_the_first_in_node_order_is_the_reference():
    def prepare(bench: Bench) -> None:
        first, last = bench.world.node_at[0], bench.world.node_at[3]
        first.height = last.height = 4  # both the most advanced: the lowest block is 5
        assert last.index != last.core.current_leader  # (a leader does not leave its view)
        last.core.on_leader_unreachable()  # only the later one moves to view 1
        assert last.core.to_view == 1 and first.core.to_view == 0

    bench = Bench([{"at_s": 1, "kind": "slow", "nodes": ["leader"], "factor": 2}],
                  prepare=prepare)
    bench.until(1 * US + 1)
    # node0's view (0) decides, not node3's view change (which would name sealer (5 + 1) % 4)
    assert bench.world.fault_log[0]["roles"] == {"leader": bench.sealer(5 % 4).name}


def test_a_role_with_no_honest_sealer_up_hits_no_node():
    bench = Bench([{"at_s": 1, "kind": "crash", "nodes": ["node0", "node1", "node2", "node3"]},
                   {"at_s": 2, "kind": "slow", "nodes": ["leader"], "factor": 7, "for_s": 1}])
    bench.until(3 * US + 1)
    assert [cpu.slowdown for cpu in bench.world.cpus] == [1.0] * 4
    assert bench.log()[1:] == [(2.0, "slow leader factor=7.0"),
                               (3.0, "undo slow leader factor=7.0")]
    assert "roles" not in bench.world.fault_log[1]
