"""PbftCore.on_synced: block sync moves the ledger up under a running core.

FISCO's ``finalizeConsensus(syncedBlock=true)`` (FISCO-BCOS 7608ab86,
``bcos-pbft/bcos-pbft/pbft/engine/PBFTEngine.cpp``, ``PBFTEngine::finalizeConsensus``) moves
the committed index and keeps the engine's view and view-change state. The sequence that
stalled a chain under 2 % loss: two nodes miss block 8's last messages, time out and send
ViewChanges that say "committed 7"; the two nodes at block 8 refuse those as committed below
theirs; after catching up by sync, the laggards must say so again, or the view change waits
for the next, backed-off timeout.
"""

from __future__ import annotations

from test_pbft import codes, executed_hash, ignored, make_proposal, of, sent, to_commit_quorum

from fiscosim.consensus import (
    PBFT_TIMER,
    Execute,
    NewView,
    PbftCore,
    RecoverRequest,
    SealRange,
    ViewChange,
)

LEDGER_HASH = b"\x08" * 32


def timed_out_at(index: int, committed: int) -> PbftCore:
    core = PbftCore(index, [1] * 4, committed_index=committed)
    core.on_pool_size(1)
    core.on_timer(PBFT_TIMER)
    return core


def test_a_node_that_synced_during_a_view_change_asks_again_with_its_new_height() -> None:
    lagging = timed_out_at(0, committed=7)
    ahead = PbftCore(2, [1] * 4, committed_index=8)
    stale = ViewChange(1, 7, 0, bytes(32), ())
    assert ignored(ahead.handle(stale)) == ["stale_committed"]

    acts = lagging.on_synced(8, LEDGER_HASH)
    again = sent(acts, ViewChange)
    assert [(vc.view, vc.index, vc.committed_hash) for vc in again] == [(1, 8, LEDGER_HASH)]
    assert "view_change_resent" in codes(acts)
    # Still in the same view change, no extra back-off.
    assert (lagging.committed_index, lagging.to_view, lagging.in_view_change,
            lagging.change_cycle) == (8, 1, True, 1)
    assert "view_change_received" in codes(ahead.handle(again[0]))


def test_three_laggards_and_a_leader_reach_the_new_view_after_sync() -> None:
    # node 1 and node 2 lag at 7 and timed out; node 3 and node 0 are at 8 and time out too.
    cores = {0: timed_out_at(0, 8), 1: timed_out_at(1, 7), 2: timed_out_at(2, 7),
             3: timed_out_at(3, 8)}
    # leaderIndexInNewViewPeriod(view 1) with committed 8: (9 + 1) % 4 = 2, a laggard.
    for lagging in (1, 2):
        acts = cores[lagging].on_synced(8, LEDGER_HASH)
        for vc in sent(acts, ViewChange):
            for other, core in cores.items():
                if other != lagging:
                    core.handle(vc)
    for sender in (0, 3):
        own = ViewChange(1, 8, sender, LEDGER_HASH, ())
        acts = cores[2].handle(own)
        new_views = sent(acts, NewView)
        if new_views:
            break
    assert new_views and new_views[0].view == 1


def test_a_live_node_that_synced_asks_for_the_view_and_seals_its_turn() -> None:
    core = PbftCore(2, [1] * 4, committed_index=3)
    acts = core.on_synced(5, LEDGER_HASH)
    assert sent(acts, RecoverRequest) == [RecoverRequest(0, 5, 2)]
    assert sent(acts, ViewChange) == []
    assert core.committed_index == 5 and core.executed_index == 5
    assert of(acts, SealRange) == [SealRange(6, 6)]  # leader(6) = 6 % 4 = 2
    assert core.on_synced(5, LEDGER_HASH) == []  # nothing new: nothing to do


def test_sync_over_an_execution_in_progress_moves_on_to_the_next_block() -> None:
    core = PbftCore(0, [1] * 4)
    first = make_proposal(1, leader=1)
    second = make_proposal(2, leader=2, parent=first.hash)
    acts = to_commit_quorum(core, first, [1, 2, 3])
    assert of(acts, Execute) == [Execute(first)]
    to_commit_quorum(core, second, [1, 2, 3])  # waits: block 1 is executing
    acts = core.on_synced(1, executed_hash(first))
    assert of(acts, Execute) == [Execute(second)]
    # The execution under way when sync wrote block 1 reports late: ignored, no harm done.
    assert ignored(core.on_executed(1, executed_hash(first))) == ["unexpected"]
    assert core.executed_index == 1
    core.on_executed(2, executed_hash(second))
    assert core.executed_index == 2
