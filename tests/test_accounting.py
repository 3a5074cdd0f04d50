"""Honest accounting: every transaction ends in exactly one state, counted directly.

The states (docs/results.md): committed (with a receipt), committed without a receipt,
rejected (told to the client), expired (dropped unsealed by the pools), lost (held by no node
that is up) and pending (held by a node that is up, or still being verified by its RPC node).
They add up to the submitted transactions in every shipped scenario; liveness (``max_stall_s``)
waits only for pending ones; safety says "not checked" when no two honest nodes are left to
compare; ``blocks`` and ``txs_committed`` count the same commits; ``all_commit_us`` is measured
over the honest sealers that are up.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT

from fiscosim import Simulation
from fiscosim.metrics.blocks import BlockLog
from fiscosim.metrics.output import json_text
from fiscosim.metrics.summary import STATES, tx_states
from fiscosim.node.txpool import REJECT_CODES, Reject, TxPool
from fiscosim.node.txtable import TxTable
from fiscosim.scenario import load_scenario

SCENARIOS = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
ALL_BYZANTINE = ("[{at_s: 1, kind: byzantine, nodes: [node0, node1, node2, node3], "
                 "behaviour: silent}]")
# node3 is cut off (its pushes reach nobody), then crashes for good: what its clients sent it
# in between was in its pool only.
CUT_THEN_CRASHED = ("[{at_s: 2, kind: partition, groups: [[node3]]},"
                    " {at_s: 2.4, kind: crash, nodes: [node3]}]")


def short(path, *overrides: str):
    """A shipped scenario cut short: its faults still happen, then a second of workload."""
    scenario = load_scenario(path)
    last = max([f.until_s or f.at_s for f in scenario.faults], default=0.0)
    duration = min(scenario.duration_s, max(2.0, last + 1.0))
    if len(scenario.nodes.specs()) >= 100:
        duration = 1.0  # 100 nodes: the accounting, not the throughput, is under test
    return Simulation(load_scenario(path, [f"duration_s={duration}", "warmup_s=0.5",
                                           "drain_s=1", *overrides])).run()


def quick(faults: str = "[]", *overrides: str):
    scenario = load_scenario(QUICKSTART, ["duration_s=5", "warmup_s=0.5", "drain_s=2",
                                          f"faults={faults}", *overrides])
    return Simulation(scenario).run()


def check_states(summary: dict) -> None:
    states = summary["txs_by_state"]
    assert list(states) == list(STATES)
    assert sum(states.values()) == summary["txs_submitted"]
    assert summary["txs_committed"] == states["committed"]
    assert summary["txs_rejected"] == states["rejected"]
    assert summary["txs_pending_at_end"] == states["pending"]
    assert summary["txs_committed_without_receipt"] == states["committed_without_receipt"]
    assert sum(summary["rejected_by_reason"].values()) == states["rejected"]
    assert sum(summary["expired_by_reason"].values()) == states["expired"]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_states_add_up_to_the_submitted_in_every_shipped_scenario(path):
    result = short(path)
    summary = result.summary
    if "groups" in summary:
        for group in summary["groups"].values():
            check_states(group)
        assert sum(summary["txs_by_state"].values()) == summary["txs_submitted"]
    else:
        check_states(summary)
    for group in result.world.groups:
        masks, _ = tx_states(group)
        # a partition: each transaction in exactly one state
        assert (np.sum(list(masks.values()), axis=0) == 1).all()


def test_expired_transactions_are_expired_not_pending():
    summary = quick("[]", "chain.tx_expiry_s=1e-9").summary
    check_states(summary)
    states = summary["txs_by_state"]
    assert states["expired"] == summary["txs_submitted"] > 0
    assert summary["expired_by_reason"] == {"TransactionPoolTimeout": states["expired"]}
    assert summary["txs_pending_at_end"] == 0
    assert summary["max_stall_s"] == 0.0  # nothing was left waiting for a block


def test_a_pool_records_why_it_dropped_a_transaction():
    table = TxTable()
    ids = table.allocate(3)
    table.submit_time[ids] = 0
    table.nonce_owner[ids] = ids
    table.block_limit[ids] = [5, 1, 5]
    pool = TxPool(table, expiry_us=1_000)
    pool.admit(ids, None, height=0, now=0)
    assert pool.take(1, next_block=2, now=10).tolist() == [0]  # id 1 is past its block limit
    assert pool.take(5, next_block=2, now=2_000).tolist() == []  # id 2 is too old by now
    assert table.drop_reason[ids].tolist() == [
        -1, REJECT_CODES[Reject.BlockLimitCheckFail], REJECT_CODES[Reject.TransactionPoolTimeout]]
    # a restarted node's pool knows it never saw what was submitted before it
    assert pool.fresh().since_id == 3 and pool.since_id == 0


def test_committed_without_receipt_in_leader_crash():
    summary = short(REPO_ROOT / "scenarios" / "leader-crash.yaml").summary
    check_states(summary)
    # the crashed node's clients: on the chain (the others committed them), no receipt
    assert summary["txs_by_state"]["committed_without_receipt"] > 0
    assert summary["txs_pending_at_end"] == 0 and summary["txs_by_state"]["lost"] == 0


def test_lost_transactions_are_not_pending_and_make_no_stall():
    result = quick(CUT_THEN_CRASHED)
    summary = result.summary
    check_states(summary)
    assert summary["txs_by_state"]["lost"] > 0
    assert summary["txs_pending_at_end"] == 0
    # The last block is well before the end; the lost transactions do not make that a stall.
    last = result.world.blocks.committed_rows()[-1].commit_us
    assert result.world.env.now - last > 1.5e6
    assert summary["max_stall_s"] < 1.0


def test_transactions_being_verified_are_pending_until_their_node_crashes():
    # node1's CPU is 10,000× slower from 4 s: what its clients send it then is still being
    # verified at the end of a run without drain. Its RPC pushes each batch to the other
    # sealers before verifying it (§2.2), on its own thread, so those batches get out and are
    # committed by the others: on chain, without a receipt from node1.
    slow = "{at_s: 4, kind: slow, nodes: [node1], factor: 10000}"
    cases = {
        "verifying": f"[{slow}]",
        "crashed": f"[{slow}, {{at_s: 4.5, kind: crash, nodes: [node1]}}]",
        "restarted": f"[{slow}, {{at_s: 4.5, kind: crash, nodes: [node1], until_s: 4.8}}]",
    }
    seen = {}
    for name, faults in cases.items():
        result = quick(faults, "drain_s=0")
        check_states(result.summary)
        table = result.world.table
        masks, _ = tx_states(result.world)
        mine = table.column("rpc_node") == 1
        submit = table.column("submit_time")
        late = mine & (submit >= 4.0e6) & (submit < 4.5e6)
        after = mine & (submit >= 4.8e6)
        seen[name] = ({s for s, m in masks.items() if (m & late).any()},
                      {s for s, m in masks.items() if (m & after).any()})
    assert seen["verifying"] == ({"committed_without_receipt"}, {"pending"})
    # a crash loses what was still in node1's RPC queue, not pushed yet; the restarted node's
    # fresh pool never saw it, and verifies what its clients send after the restart
    assert seen["crashed"] == ({"committed_without_receipt", "lost"}, {"rejected"})
    assert seen["restarted"] == ({"committed_without_receipt", "lost"}, {"pending"})


def test_no_honest_node_left_means_safety_not_checked():
    result = quick(ALL_BYZANTINE)
    summary = result.summary
    check_states(summary)
    assert summary["safety"]["status"] == "not checked"
    assert summary["safety"]["ok"] is None  # not true, and not a violation
    assert summary["safety"]["honest_nodes"] == 0 and summary["safety"]["violations"] == []
    # blocks and txs_committed count the same commits (any sealer's)
    on_chain = (summary["txs_by_state"]["committed"]
                + summary["txs_by_state"]["committed_without_receipt"])
    assert summary["blocks"] > 0 and summary["txs_committed"] > 0
    assert sum(row.txs for row in result.world.blocks.committed_rows()) == on_chain
    assert len(result.blocks) == summary["blocks"]


def test_not_checked_does_not_exit_3():
    from fiscosim.cli import main

    outcome = CliRunner().invoke(main, [
        "run", str(QUICKSTART), "--set", "duration_s=3", "--set", "drain_s=1",
        "--set", f"faults={ALL_BYZANTINE}"])
    assert outcome.exit_code == 0, outcome.output
    assert "not checked" in outcome.output and "VIOLATED" not in outcome.output
    assert "submitted:" in outcome.output and "lost" in outcome.output  # every state shown


def test_blocks_and_txs_committed_agree_in_an_honest_run():
    result = quick()
    summary = result.summary
    rows = result.world.blocks.committed_rows()
    assert summary["blocks"] == len(rows) == len(result.blocks)
    assert sum(row.txs for row in rows) == summary["txs_committed"]
    assert summary["safety"] == {"ok": True, "status": "ok", "honest_nodes": 4, "violations": []}


def test_all_commit_is_measured_over_the_sealers_that_are_up():
    result = short(REPO_ROOT / "scenarios" / "leader-crash.yaml")
    columns = result.blocks.columns
    assert len(columns["number"]) > 4
    # node3 crashed at 3 s and never came back: every block still has its all-commit time
    assert (columns["all_commit_us"] >= columns["first_commit_us"]).all()


class _Sealer:
    def __init__(self, net_id: int) -> None:
        self.net_id = net_id
        self.up = True


def test_block_log_all_commit_with_a_crash_in_the_middle():
    sealers = [_Sealer(i) for i in range(4)]
    log = BlockLog(honest_sealers=4)
    log.watch(sealers)
    log.sealed(1, 0, 0, 10, now=0)
    for net_id, now in ((0, 10), (1, 20), (2, 30)):
        log.committed(1, b"\x01" * 32, now, net_id)
    assert log.rows[1].all_commit_us == -1  # node3 is up and lacks it
    sealers[3].up = False  # node3 crashes before committing it
    log.node_down()
    assert log.rows[1].all_commit_us == 30  # the last of the live sealers' commits
    log.sealed(2, 0, 1, 10, now=40)
    log.committed(2, b"\x02" * 32, 50, 9, honest=False)  # a byzantine sealer: on the chain
    assert log.committed_rows()[-1].number == 2 and log.rows[2].commit_us == 50
    for net_id, now in ((0, 60), (1, 70), (2, 80)):
        log.committed(2, b"\x02" * 32, now, net_id)
    assert log.rows[2].first_commit_us == 60 and log.rows[2].all_commit_us == 80


def test_the_same_seed_gives_byte_identical_summaries():
    def text() -> str:
        return json_text(quick(CUT_THEN_CRASHED).deterministic_summary())

    assert text() == text()
