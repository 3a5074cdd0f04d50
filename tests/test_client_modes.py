"""Client modes and the client↔node hop (docs/clients.md): open loop (a rate), closed loop (a
fixed backlog per client), sdk_demo (a count under a QPS cap), and latency from the client's
send to the receipt at the client.

Short runs of the quickstart (a few simulated seconds); nothing here reads the wall clock.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO_ROOT

from fiscosim import Simulation
from fiscosim.node.txtable import TxTable
from fiscosim.scenario import load_scenario
from fiscosim.schema.errors import ScenarioError
from fiscosim.workload.clients import emit_tick
from fiscosim.workload.modes import Backlog, ClosedLoopClient, SdkDemoClient

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
SHORT = ("duration_s=3", "warmup_s=1", "drain_s=2")


def run(*overrides: str):
    return Simulation(load_scenario(QUICKSTART, [*SHORT, *overrides])).run()


def client_receipts(result) -> np.ndarray:
    """When each transaction's receipt reached its client (µs; −1: none)."""
    table, hop = result.world.table, result.world.client_hop_us
    receipt = table.column("receipt_time")
    return np.where(receipt >= 0, receipt + hop, -1)


# --- closed loop ------------------------------------------------------------------------------


def test_a_closed_loop_client_keeps_exactly_its_backlog_in_flight():
    # Read back from the table alone: after each send, the transactions sent so far less those
    # whose receipt had reached the client by then.
    result = run("workload.mode=closed", "workload.outstanding=40")
    table = result.world.table
    assert result.summary["txs_rejected"] == 0
    sent = table.column("submit_time")
    answered = client_receipts(result)
    answered = np.sort(answered[answered >= 0])
    ticks = np.unique(sent)
    in_flight = (np.searchsorted(np.sort(sent), ticks, side="right")
                 - np.searchsorted(answered, ticks, side="right"))
    assert in_flight.max() == 40
    # Refilled at every tick: the backlog is full after every send.
    assert (in_flight == 40).all()
    # Sends stop with the workload; what is in flight then still commits in the drain.
    assert sent.max() < result.world.end_of_workload_us + result.world.tick_us
    assert result.summary["txs_committed"] == table.count


def test_closed_loop_clients_never_have_more_than_n_in_flight_each(monkeypatch):
    seen = []
    track = Backlog.track

    def spy(self, batches, owners):
        track(self, batches, owners)
        seen.append(self.in_flight().copy())

    monkeypatch.setattr(Backlog, "track", spy)
    result = run("workload.mode=closed", "workload.clients=3", "workload.outstanding=25",
                 "workload.targets=all")
    peaks = np.max(seen, axis=0)
    assert peaks.tolist() == [25, 25, 25]
    assert result.summary["txs_submitted"] > 3 * 25  # they did send again as answers came


def test_closed_loop_throughput_follows_the_chain_without_overflowing_pools():
    closed = ("workload.mode=closed", "workload.clients=4", "workload.outstanding=250")
    cheap = run(*closed, "workload.contract=HelloWorld").summary
    heavy = run(*closed, "workload.contract=CpuHeavy").summary
    # CpuHeavy's calls take ~1 ms each on the serial executor: blocks take longer, answers
    # come back later, so the same backlog sends less.
    assert heavy["tps"] < 0.8 * cheap["tps"]
    for summary in (cheap, heavy):
        assert summary["txs_rejected"] == 0
        assert summary["txpool_rejections_all_nodes"] == {}
        # What the clients send is what the chain takes.
        assert summary["send_rate_tps"] == pytest.approx(summary["tps"], rel=0.2)


def test_a_rejection_frees_the_slot_too():
    # Every transaction is tampered: every one is refused (InvalidSignature), none committed,
    # and the clients keep sending anyway, two hops and a tick per round.
    result = run("workload.mode=closed", "workload.outstanding=5",
                 "workload.invalid_fraction=1")
    summary = result.summary
    assert summary["txs_committed"] == 0
    assert summary["txs_rejected"] == summary["txs_submitted"]
    assert summary["txs_submitted"] > 5 * 100  # far more rounds than one


# --- sdk_demo ---------------------------------------------------------------------------------


def test_sdk_demo_sends_exactly_its_count_paced_then_stops():
    result = run("workload.mode=sdk_demo", "workload.total_txs=1234", "workload.rate_tps=1000",
                 "workload.clients=3")
    table, world = result.world.table, result.world
    assert table.count == 1234
    sent = table.column("submit_time")
    # At 1,000 a second the count is sent by 1.234 s (a tick later at most), then nothing.
    assert sent.max() <= 1_234_000 + world.tick_us
    # Paced: by any tick no more than the rate allows.
    ticks = np.unique(sent)
    assert (np.searchsorted(np.sort(sent), ticks, side="right") <= ticks / 1000 + 3).all()
    assert result.summary["txs_committed"] == 1234


def test_sdk_demo_sends_the_whole_count_when_the_run_is_exactly_long_enough():
    # 3,003 over 7 clients is 429 each, at 1000/7 a second: exactly 3.003 s.
    result = Simulation(load_scenario(QUICKSTART, [
        "duration_s=3.003", "warmup_s=1", "drain_s=1", "workload.mode=sdk_demo",
        "workload.total_txs=3003", "workload.rate_tps=1000", "workload.clients=7"])).run()
    assert result.world.table.count == 3003


def test_sdk_demo_clients_split_the_count_and_stop_one_by_one():
    clients = [SdkDemoClient(index=i, rate_tps=250.0, total=total, targets=[0], tx_size=300,
                             accounts=10, rng=np.random.default_rng(i))
               for i, total in enumerate((7, 3))]
    table = TxTable(capacity=16)
    sent = []
    for k in range(1, 6):  # 2.5 a tick each
        batches = emit_tick(clients, 10_000, k * 10_000, table, lambda target: 0)
        sent.append(sum(len(ids) for _, ids in batches))
    # the first: 2, 3, 2 (its 7 by the third tick); the second: 2, 1 (its 3 by the second)
    assert sent == [4, 4, 2, 0, 0]
    assert [c.finished for c in clients] == [True, True]
    assert table.count == 10


def test_a_closed_loop_client_sends_what_its_backlog_frees():
    client = ClosedLoopClient(index=0, outstanding=3, targets=[0], tx_size=300, accounts=10,
                              rng=np.random.default_rng(1))
    backlog = Backlog([client], hop_us=100)
    table = TxTable(capacity=16)
    owners: list[np.ndarray] = []

    def tick(now: int) -> int:
        backlog.settle(table, now)
        batches = emit_tick([client], 10_000, now, table, lambda target: 0, owners)
        backlog.track(batches, owners)
        owners.clear()
        return sum(len(ids) for _, ids in batches)

    assert tick(10_000) == 3
    assert tick(20_000) == 0
    table.record_commit(np.array([0, 1]), 1, 0, 25_000)  # receipts of two at the node
    assert tick(25_050) == 0  # ... not at the client yet: one hop later
    assert tick(30_000) == 2
    table.reject(np.array([2]), 10002)
    assert tick(40_000) == 1
    assert backlog.in_flight().tolist() == [3]


# --- the client↔node hop ----------------------------------------------------------------------


def test_the_minimum_latency_at_1_tps_includes_both_hops():
    low = ("workload.rate_tps=1", "workload.arrivals=constant", "duration_s=8")
    near = run(*low, "workload.client_latency_ms=0").summary["latency_ms"]
    far = run(*low, "workload.client_latency_ms=5").summary["latency_ms"]
    # 5 ms to the node and 5 ms back: +10 ms on every transaction, the fastest included.
    assert far["min"] - near["min"] == pytest.approx(10.0, abs=0.5)
    assert far["mean"] - near["mean"] == pytest.approx(10.0, abs=0.5)
    assert far["min"] > 10.0


def test_the_hop_changes_no_draw_of_an_open_loop():
    near = run("workload.client_latency_ms=0").world.table
    far = run("workload.client_latency_ms=3").world.table
    assert near.count == far.count
    for column in ("submit_time", "sender", "nonce", "method", "account_a", "account_b",
                   "rpc_node"):
        assert np.array_equal(near.column(column), far.column(column)), column


def test_every_reported_latency_is_from_send_to_receipt_at_the_client():
    result = run("workload.client_latency_ms=2")
    table = result.world.table
    sent = table.column("submit_time")
    answered = client_receipts(result)
    start, end = 1_000_000, result.world.end_of_workload_us
    latency = (answered - sent)[(answered >= 0) & (sent >= start) & (sent < end)] / 1000
    reported = result.summary["latency_ms"]
    assert reported["min"] == round(float(latency.min()), 3)
    assert reported["max"] == round(float(latency.max()), 3)
    assert reported["mean"] == round(float(latency.mean()), 3)
    assert reported["p50"] == round(float(np.percentile(latency, 50)), 3)


# --- fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "field", "words"), [
    (["workload.outstanding=5"], "workload.outstanding", "only mode closed"),
    (["workload.mode=closed", "workload.total_txs=5"], "workload.total_txs",
     "only mode sdk_demo"),
    (["workload.mode=sdk_demo"], "workload.total_txs", "none is given"),
    (["workload.mode=sdk_demo", "workload.total_txs=100000"], "workload.total_txs",
     "longer than duration_s"),
    (["workload.mode=sdk_demo", "workload.total_txs=10", "workload.rate_tps=0"],
     "workload.rate_tps", "nothing would be sent"),
    (["workload.mode=closed", "workload.clients=1000", "workload.outstanding=5000"],
     "workload.outstanding", "at most 1,000,000"),
    (["workload.client_latency_ms=-1"], "workload.client_latency_ms", ">= 0"),
    (["workload.mode=batch"], "workload.mode", "open, closed, sdk_demo"),
    (["groups=[{id: g0, sealers: [node0, node1, node2, node3], workload: {mode: sdk_demo, "
      "total_txs: 99999}}]"], "groups.0.workload.total_txs", "longer than duration_s"),
])
def test_bad_field_combinations_are_one_line_errors(overrides, field, words):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(QUICKSTART, overrides)
    text = str(caught.value)
    assert "\n" not in text
    assert f": {field}: " in text and words in text


def test_fields_a_mode_does_not_read_are_warned_about():
    summary = run("workload.mode=closed").summary
    assert any(w.startswith("workload.rate_tps: 500 is not read by mode closed")
               for w in summary["warnings"])
    assert run("workload.mode=sdk_demo", "workload.total_txs=100",
               "workload.arrivals=constant").summary["warnings"] == []


@pytest.mark.parametrize("mode", [
    (),
    ("workload.mode=closed", "workload.clients=2", "workload.outstanding=30"),
    ("workload.mode=sdk_demo", "workload.total_txs=900", "workload.clients=2"),
], ids=["open", "closed", "sdk_demo"])
def test_same_seed_same_summary_in_every_mode(mode):
    first, second = run(*mode), run(*mode)
    assert first.deterministic_summary() == second.deterministic_summary()
    assert first.blocks.to_csv() == second.blocks.to_csv()
