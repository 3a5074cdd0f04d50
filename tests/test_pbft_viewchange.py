"""PBFT failure handling (fiscosim.consensus.pbft), driven without simpy: view timer and back-off,
ViewChange, NewView, fast view change, Unseal, checkpoint re-broadcast, recovery.

Single cores are fed messages by hand; groups of cores run on the reference driver
(fiscosim.consensus.driver) with FIFO or seeded-random delivery, chosen messages dropped, a node
crashed at a chosen step, and its virtual clock for the timers: when nothing is in flight, time
jumps to the next timer deadline and every timer due then fires (network delays are negligible
next to a 3 s timeout).

docs/fisco-reference.md §1.3 (quorum, f + 1), §1.4 (leader of a new view), §1.5 (checkpoint
re-broadcast), §1.7 (timers, view change, NewView, recovery), §2.7 (unsealed transactions).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pbft import codes, entries, events, executed_hash, ignored, make_proposal, of, sent

from fiscosim.consensus import (
    CHECKPOINT_TIMER,
    PBFT_TIMER,
    Broadcast,
    CancelTimer,
    CheckPoint,
    Commit,
    CommittedProposalRequest,
    Event,
    Execute,
    NewView,
    PbftCore,
    Prepare,
    PreparedProof,
    PrePrepare,
    Proposal,
    RecoverRequest,
    RecoverResponse,
    SealRange,
    Send,
    SetTimer,
    Unseal,
    VerifyProposal,
    ViewChange,
    ViewChangeNeeded,
    empty_proposal,
)
from fiscosim.consensus.driver import SECOND, ZERO_HASH, Driver
from fiscosim.consensus.events import ViewChangeReceived
from fiscosim.consensus.messages import (
    MESSAGE_OVERHEAD,
    PROPOSAL_HEADER_OVERHEAD,
    PROPOSAL_SIGNATURE_OVERHEAD,
)

ZERO = ZERO_HASH

# -- the reference driver, with the clock (fiscosim.consensus.driver) ---------------------------


def clients_waiting(weights: list[int], **args: object) -> Driver:
    """A started driver whose nodes report waiting transactions until they committed
    ``blocks`` (``report_pool``), so the view timer runs as in FISCO while clients wait;
    ``.run()`` fires timers on the virtual clock whenever nothing is in flight."""
    return Driver(weights, report_pool=True, **args).start()


def new_views(d: Driver) -> list[NewView]:
    """The NewViews broadcast, in the order they were sent."""
    return d.messages(NewView)


def unsealed(d: Driver) -> list[tuple[int, Proposal]]:
    return [(node, a.proposal) for node, a in d.taken(Unseal)]


def assert_agree(d: Driver, at_least: int) -> None:
    """Every live node committed ``1..k`` with k ≥ at_least, all the same blocks."""
    for node in d.alive():
        assert d.committed(node)[:at_least] == list(range(1, at_least + 1)), node
    longest = max(d.alive(), key=lambda node: len(d.ledger[node]))
    for node in d.alive():
        mine = entries(d, node)
        assert mine == entries(d, longest)[: len(mine)]


def vc(view: int, sender: int, index: int = 0, prepared: tuple = ()) -> ViewChange:
    return ViewChange(view, index, sender, ZERO, prepared)


def proof(proposal: Proposal, view: int = 0, voters: tuple[int, ...] = (0, 1, 2)) -> PreparedProof:
    return PreparedProof(proposal.index, view, proposal, voters)


def timed_out(index: int, n: int = 4, **args: object) -> tuple[PbftCore, list]:
    """A core whose view timer fired once with transactions pending: it asks for view 1."""
    core = PbftCore(index, [1] * n, **args)
    core.on_pool_size(1)
    return core, core.on_timer(PBFT_TIMER)


# -- the view timer (§1.7) ----------------------------------------------------------------------


def test_timeout_backs_off_by_half_and_caps_at_cycle_10() -> None:
    core = PbftCore(0, [1] * 4)
    assert of(core.on_pool_size(3), SetTimer) == [SetTimer(PBFT_TIMER, 3 * SECOND)]
    delays = []
    for _ in range(13):
        acts = core.on_timer(PBFT_TIMER)
        delays.append(of(acts, SetTimer)[0].delay_us)
        assert len(sent(acts, ViewChange)) == 1
    assert delays[:3] == [4_500_000, 6_750_000, 10_125_000]
    assert delays[9:] == [3 * SECOND * 3**10 // 2**10] * 4  # ≈ 173 s, cycle capped at 10
    assert (core.change_cycle, core.to_view, core.view, core.in_view_change) == (10, 13, 0, True)
    assert sent(acts, ViewChange)[0].view == 13  # each timeout asks for the next view
    capped = PbftCore(0, [1] * 4, max_change_cycle=3)
    capped.on_pool_size(1)
    for _ in range(5):
        acts = capped.on_timer(PBFT_TIMER)
    assert of(acts, SetTimer) == [SetTimer(PBFT_TIMER, 3 * SECOND * 27 // 8)]


def test_back_off_resets_in_the_new_view() -> None:
    core = PbftCore(0, [1] * 4)
    core.on_pool_size(1)
    for _ in range(4):
        core.on_timer(PBFT_TIMER)
    assert core.change_cycle == 4 and core.to_view == 4
    leader = (1 + 4) % 4  # leaderIndexInNewViewPeriod: (committed + 1 + view) % n
    acts = core.handle(NewView(4, leader, tuple(vc(4, s) for s in (1, 2, 3)), ()))
    assert "new_view_accepted" in codes(acts)
    assert (core.view, core.to_view, core.change_cycle, core.in_view_change) == (4, 4, 0, False)
    assert of(acts, SetTimer) == [SetTimer(PBFT_TIMER, 3 * SECOND)]  # pending txs: runs on


def test_timer_runs_on_pending_transactions_alone_and_stops_when_idle() -> None:
    core = PbftCore(0, [1] * 4)
    assert of(core.on_pool_size(5), SetTimer) and core.timer_armed
    assert core.on_pool_size(7) == []  # already running: not restarted
    assert of(core.on_pool_size(0), CancelTimer) and not core.timer_armed
    # A proposal in flight keeps it running whatever the pool says.
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    assert of(core.on_pool_size(0), CancelTimer) == [] and core.timer_armed
    # Committed with transactions still pending: restarted, not cancelled.
    core.on_pool_size(2)
    core.on_proposal_verified(1, p.hash, True)
    for v in (1, 2, 3):
        core.handle(Prepare(0, 1, v, p.hash))
        core.handle(Commit(0, 1, v, p.hash))
    core.on_executed(1, executed_hash(p))
    for v in (1, 2):
        core.handle(CheckPoint(0, 1, v, executed_hash(p)))
    acts = core.on_committed(1)
    assert of(acts, SetTimer) and of(acts, CancelTimer) == [] and core.timer_armed
    # Pending transactions and no leader proposing: the timer fires into a view change.
    acts = core.on_timer(PBFT_TIMER)
    assert of(acts, ViewChangeNeeded) == [ViewChangeNeeded(1, 2, "timeout")]
    assert sent(acts, ViewChange)[0].view == 1


def test_idle_chain_makes_no_view_change() -> None:
    net = clients_waiting([1] * 4, blocks=3).run()
    assert_agree(net, 3)
    assert all(core.view == 0 and not core.timer_armed for core in net.cores)
    assert net.now == 0  # no timer ever fired


# -- a silent leader ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
@pytest.mark.parametrize("silent", [0, 1])
def test_silent_leader_is_replaced_and_blocks_keep_committing(silent: int,
                                                              seed: int | None) -> None:
    net = clients_waiting([1] * 4, blocks=12, seed=seed, silent=(silent,)).run()
    assert_agree(net, 12)
    first = new_views(net)[0]
    # Node 0 leads block 4 (view 0): blocks 1..3 commit, then view 1, led by node
    # (4 + 1) % 4 = 1. Node 1 leads block 1: view 1 at once, led by (1 + 1) % 4 = 2.
    expected = {0: (1, 1), 1: (1, 2)}[silent]
    assert (first.view, first.sender) == expected
    assert all(len(first.view_changes) >= 3 for first in new_views(net))
    for node in net.alive():
        core = net.cores[node]
        assert core.view >= 1 and not core.in_view_change and core.change_cycle == 0
        for code in ("timeout", "view_change_sent", "new_view_accepted"):
            assert net.events(node, code) or code == "new_view_accepted", (node, code)
        assert not core.timer_armed  # done: no pending transactions, nothing in flight
    assert net.events(expected[1], "new_view_sent")
    assert net.now == 3 * SECOND * len({nv.view for nv in new_views(net)})  # one timeout each


def test_old_view_messages_are_ignored_during_a_view_change() -> None:
    core, _ = timed_out(0)
    p = make_proposal(1, leader=1)
    assert ignored(core.handle(PrePrepare(0, 1, 1, p))) == ["in_view_change"]
    assert ignored(core.handle(Prepare(0, 1, 2, p.hash))) == ["in_view_change"]
    assert ignored(core.handle(Commit(0, 1, 2, p.hash))) == ["in_view_change"]
    # Counted (no view in a checkpoint), and in a view change any CheckPoint for a block we
    # have not committed makes us ask for its committed proposal (shouldRequestCheckPoint).
    acts = core.handle(CheckPoint(0, 1, 2, ZERO))
    assert [(a.dest, a.message) for a in of(acts, Send)] == [
        (2, CommittedProposalRequest(core.view, 1, 0))]
    acts = core.propose(make_proposal(4, leader=0))
    assert ignored(acts) == ["in_view_change"] and len(of(acts, Unseal)) == 1
    # A later view's messages are kept for when we get there.
    assert codes(core.handle(Prepare(1, 1, 2, p.hash))) == ["deferred"]


# -- ViewChange validation (isValidViewChangeMsg) -----------------------------------------------


def test_invalid_view_changes_are_ignored() -> None:
    core = PbftCore(0, [1] * 4, committed_index=2, view=1)
    p = make_proposal(3, leader=1)
    cases = {
        "stale_view": vc(1, 1, 2),
        "stale_committed": vc(2, 1, 1),
        "unknown_sender": vc(2, 7, 2),
        "proof_below_quorum": vc(2, 1, 2, (proof(p, 1, (0, 1)),)),
        "bad_voters": vc(2, 1, 2, (proof(p, 1, (0, 1, 1)),)),
        "malformed_proof": vc(2, 1, 2, (proof(p, 3, (0, 1, 2)),)),  # proof view > 2
    }
    for reason, message in cases.items():
        assert ignored(core.handle(message)) == [reason], reason
    # None of them counted: one valid ViewChange is weight 1.
    acts = core.handle(vc(2, 1, 2, (proof(p, 1),)))
    assert "view_change_received" in codes(acts)
    assert of(acts, ViewChangeReceived)[0].weight == 1
    assert ignored(core.handle(vc(2, 1, 2, (proof(p, 1),)))) == ["duplicate"]
    # A node that has not timed out answers with its view (FISCO's sendRecoverResponse).
    assert [a.message for a in of(acts, Send)] == [RecoverResponse(1, 2, 0)]


def test_weighted_proof_quorum() -> None:
    core = PbftCore(0, [3, 1, 1, 1])  # Q = 5
    p = make_proposal(1, leader=1)
    assert ignored(core.handle(vc(1, 1, 0, (proof(p, 0, (0, 1)),)))) == [
        "proof_below_quorum"]  # 3 + 1
    assert "view_change_received" in codes(core.handle(vc(1, 1, 0, (proof(p, 0, (0, 1, 2)),))))


# -- NewView ------------------------------------------------------------------------------------


def test_new_view_reproposes_prepared_blocks_and_fills_gaps_with_empty_ones() -> None:
    # Node 2 leads view 1 ((0 + 1) // 1 + 1) % 4 = 2. Block 2 was prepared, block 1 not.
    core, acts = timed_out(2)
    own = sent(acts, ViewChange)[0]
    assert own == ViewChange(1, 0, 2, ZERO, ())
    p2 = make_proposal(2, leader=2)
    old = make_proposal(2, leader=2, salt=1)
    acts = core.handle(vc(1, 0))
    assert sent(acts, NewView) == []  # weight 2 < 3
    acts = core.handle(vc(1, 1, 0, (proof(old, 0), proof(p2, 1, (0, 1, 3)))))
    assert "fast_view_change" not in codes(acts)
    new_view = sent(acts, NewView)[0]
    assert (new_view.view, new_view.sender) == (1, 2)
    assert [v.sender for v in new_view.view_changes] == [0, 1, 2]
    gap, block2 = new_view.pre_prepares
    assert gap.index == 1 and len(gap.proposal.tx_ids) == 0
    assert gap.proposal.hash == empty_proposal(1, 1, 2, ZERO).hash
    assert block2.proposal is p2 and block2.sender == 1  # the highest view wins; 1 proved it
    # The leader handles its own NewView: the empty one is accepted at once, the other verified
    # with the transactions fetched from the node that proved it.
    assert (core.view, core.in_view_change, core.change_cycle) == (1, False, 0)
    assert sent(acts, Prepare) == [Prepare(1, 1, 2, gap.proposal.hash)]
    assert [(a.proposal.index, a.fetch_from) for a in of(acts, VerifyProposal)] == [(2, 1)]
    assert {"view_change_quorum", "new_view_sent", "reproposal"} <= set(codes(acts))
    # A receiver recomputes the same NewView and accepts it; a forged one is refused.
    other, _ = timed_out(3)
    acts = other.handle(new_view)
    assert "new_view_accepted" in codes(acts) and other.view == 1
    forged = NewView(1, 2, new_view.view_changes, new_view.pre_prepares[1:])
    assert ignored(timed_out(3)[0].handle(forged)) == ["bad_reproposals"]
    wrong = NewView(1, 1, new_view.view_changes, new_view.pre_prepares)
    assert ignored(timed_out(3)[0].handle(wrong)) == ["wrong_leader"]
    thin = NewView(1, 2, new_view.view_changes[:2], new_view.pre_prepares)
    assert ignored(timed_out(3)[0].handle(thin)) == ["no_quorum"]
    assert ignored(other.handle(new_view)) == ["stale_view"]


def test_empty_proposal_fills_a_gap_in_a_run() -> None:
    # leader_period 2: node 1 seals blocks 2 and 3 together. Block 2's Prepares are lost in
    # view 0, so only 3.. are prepared: the NewView puts an empty block at 2.
    def drop(dest: int, message: object) -> bool:
        return type(message) is Prepare and message.index == 2 and message.view == 0

    net = clients_waiting([1] * 4, blocks=12, leader_period=2, drop=drop).run()
    assert_agree(net, 12)
    first = new_views(net)[0]
    gap = first.pre_prepares[0]
    assert gap.index == 2 and len(gap.proposal.tx_ids) == 0
    parent = net.chain[1][1]  # the ledger hash of block 1
    assert gap.proposal.hash == empty_proposal(2, 1, first.sender, parent).hash
    assert net.chain[2][0] == gap.proposal.hash
    assert [len(c.proposal.tx_ids) for c in net.ledger[0] if c.index == 2] == [0]  # no txs
    # Block 2's original proposal was accepted everywhere and abandoned: Unseal on each node;
    # the re-proposed blocks 3.. keep their proposals, so no Unseal for them.
    assert sorted(node for node, p in unsealed(net) if p.index == 2) == [0, 1, 2, 3]
    assert all(p.index == 2 for _, p in unsealed(net))
    for pre in first.pre_prepares[1:]:
        assert net.chain[pre.index][0] == pre.proposal.hash == net.proposed[pre.index].hash


def test_prepared_but_uncommitted_block_survives_the_view_change() -> None:
    # Block 3's Commits reach node 0 only: node 0 commits it by consensus and executes it, the
    # others stay precommitted. Nothing is stored; the view change must keep block 3.
    def drop(dest: int, message: object) -> bool:
        return type(message) is Commit and message.index == 3 and message.view == 0 and dest

    net = clients_waiting([1] * 4, blocks=6, drop=drop).run()
    assert_agree(net, 6)
    first = new_views(net)[0]
    reproposed = {pre.index: pre.proposal.hash for pre in first.pre_prepares}
    assert reproposed[3] == net.chain[3][0] == net.proposed[3].hash
    # Node 0 executed block 3 in view 0 and took part in view 1's Prepare and Commit for it
    # without executing it again.
    assert [a.proposal.index for a in net.actions[0] if type(a) is Execute].count(3) == 1
    assert not [p for _, p in unsealed(net) if p.index == 3]
    assert net.cores[0].view == 1 and net.dropped > 0


def test_proposal_abandoned_by_the_new_view_is_unsealed() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    core.on_proposal_verified(1, p.hash, True)  # accepted: our Prepare is out
    mine = make_proposal(4, leader=0)
    core.on_pool_size(1)
    core.on_timer(PBFT_TIMER)
    acts = core.handle(NewView(1, 2, tuple(vc(1, s) for s in (1, 2, 3)), ()))
    assert of(acts, Unseal) == [Unseal(p)] and "unsealed" in codes(acts)
    assert core.view == 1
    # A block whose verification was under way is unsealed when the txpool says ok.
    core2 = PbftCore(0, [1] * 4)
    core2.handle(PrePrepare(0, 1, 1, p))
    core2.on_pool_size(1)
    core2.on_timer(PBFT_TIMER)
    acts = core2.handle(NewView(1, 2, tuple(vc(1, s) for s in (1, 2, 3)), ()))
    assert of(acts, Unseal) == []
    assert of(core2.on_proposal_verified(1, p.hash, True), Unseal) == [Unseal(p)]
    # propose() refusing a sealed block unseals it too.
    assert of(PbftCore(1, [1] * 4).propose(mine), Unseal) == [Unseal(mine)]


def test_reproposed_block_held_by_a_receiver_is_not_verified_again() -> None:
    core = PbftCore(3, [1] * 4)
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    core.on_proposal_verified(1, p.hash, True)
    for v in (0, 1):
        core.handle(Prepare(0, 1, v, p.hash))  # precommitted: proof (0, 1, 3)
    core.on_pool_size(1)
    acts = core.on_timer(PBFT_TIMER)
    own = sent(acts, ViewChange)[0]
    assert [(x.index, x.view, x.voters) for x in own.prepared] == [(1, 0, (0, 1, 3))]
    views = (vc(1, 1, 0, own.prepared), vc(1, 2), own)
    new_view = NewView(1, 2, views, (PrePrepare(1, 1, 1, p),))
    acts = core.handle(new_view)
    assert of(acts, VerifyProposal) == [] and of(acts, Unseal) == []
    assert sent(acts, Prepare) == [Prepare(1, 1, 3, p.hash)]


def test_view_changes_of_a_later_view_and_from_lagging_nodes() -> None:
    core, _ = timed_out(0)
    core.on_pool_size(1)
    core.on_timer(PBFT_TIMER)
    core.on_timer(PBFT_TIMER)  # to_view 3
    # A node two or more views behind hears where we are going (FISCO's sendViewChange).
    acts = core.handle(vc(1, 2))
    assert [(a.dest, a.message.view) for a in of(acts, Send)] == [(2, 3)]
    assert of(core.handle(vc(2, 2)), Send) == []  # one view behind: no help needed
    # A fresher ViewChange from the same sender replaces the held one (more proofs); a stale
    # one arriving late does not.
    p = make_proposal(1, leader=1)
    assert "view_change_received" in codes(core.handle(vc(3, 1, 0, (proof(p),))))
    assert ignored(core.handle(vc(3, 1))) == ["duplicate"]
    assert ignored(core.handle(vc(3, 1, 0, (proof(p),)))) == ["duplicate"]


def test_view_changes_committed_below_us_are_dropped_on_commit() -> None:
    core = PbftCore(0, [1] * 4)
    core.handle(vc(2, 1))  # node 1 asks for view 2 at committed index 0
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    core.on_proposal_verified(1, p.hash, True)
    for v in (1, 2):
        core.handle(Prepare(0, 1, v, p.hash))
        core.handle(Commit(0, 1, v, p.hash))
    core.on_executed(1, executed_hash(p))
    for v in (1, 2):
        core.handle(CheckPoint(0, 1, v, executed_hash(p)))
    core.on_committed(1)
    # removeInvalidViewChange: node 1's ViewChange no longer counts, so with node 2's one
    # view 2 has weight 1 < f + 1 and nothing happens; a fresh one from node 1 counts again.
    acts = core.handle(vc(2, 2, 1))
    assert core.to_view == 0 and "fast_view_change" not in codes(acts)
    assert ignored(core.handle(vc(2, 1, 0))) == ["stale_committed"]
    assert "fast_view_change" in codes(core.handle(vc(2, 1, 1))) and core.to_view == 2


def test_messages_of_a_view_not_reached_yet_count_once_it_is() -> None:
    # Node 3 gets view 1's PrePrepare and votes for block 1 before the NewView that starts
    # view 1 (random delivery): all of it counts once the NewView arrives.
    core, _ = timed_out(3)
    p = make_proposal(1, leader=2, view=1)  # leader of block 1 in view 1: (1 + 1) % 4
    assert codes(core.handle(PrePrepare(1, 1, 2, p))) == ["deferred"]
    for v in (0, 1, 2):
        assert codes(core.handle(Prepare(1, 1, v, p.hash))) == ["deferred"]
    acts = core.handle(NewView(1, 2, tuple(vc(1, s) for s in (0, 1, 2)), ()))
    assert of(acts, VerifyProposal) == [VerifyProposal(p)]
    acts = core.on_proposal_verified(1, p.hash, True)
    assert sent(acts, Prepare) == [Prepare(1, 1, 3, p.hash)]
    assert sent(acts, Commit) == [Commit(1, 1, 3, p.hash)]  # the held Prepares made the quorum


# -- fast view change ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "f"), [(4, 1), (7, 2)])
def test_fast_view_change_at_f_plus_one(n: int, f: int) -> None:
    core = PbftCore(0, [1] * n)
    for sender in range(1, f + 1):
        acts = core.handle(vc(2, sender))
        assert sent(acts, ViewChange) == [] and core.to_view == 0
    acts = core.handle(vc(3, f + 1))
    assert sent(acts, ViewChange) == []  # f + 1 in all, but not for one view
    acts = core.handle(vc(2, f + 1))  # f + 1 for view 2
    assert "fast_view_change" in codes(acts)
    assert sent(acts, ViewChange) == [ViewChange(2, 0, 0, ZERO, ())]
    assert of(acts, ViewChangeNeeded) == [ViewChangeNeeded(2, 1, "fast_view_change")]
    assert (core.to_view, core.change_cycle, core.in_view_change) == (2, 0, True)
    # The smallest such view wins.
    core = PbftCore(0, [1] * n)
    for sender in range(1, f + 2):
        core.handle(vc(5, sender))
    assert core.to_view == 5
    for sender in range(1, f + 2):
        core.handle(vc(4, sender))
    assert core.to_view == 5  # 4 is no longer above our to_view


def test_leader_unreachable_starts_a_view_change_at_once() -> None:
    core = PbftCore(0, [1] * 4)
    assert core.current_leader == 1
    acts = core.on_leader_unreachable()
    assert sent(acts, ViewChange) == [ViewChange(1, 0, 0, ZERO, ())]
    assert of(acts, ViewChangeNeeded) == [ViewChangeNeeded(1, 1, "leader_unreachable")]
    assert (core.to_view, core.change_cycle) == (1, 0) and core.timer_armed
    assert core.current_leader == 2  # the leader of view 1; unreachable too → call again
    assert sent(core.on_leader_unreachable(), ViewChange)[0].view == 2
    assert ignored(PbftCore(1, [1] * 4).on_leader_unreachable()) == ["own_leadership"]


# -- checkpoint re-broadcast (§1.5) -------------------------------------------------------------


def test_lost_checkpoints_are_sent_again_after_checkpoint_timeout() -> None:
    first_copy: set[tuple[int, int, int]] = set()

    def drop(dest: int, message: object) -> bool:
        if type(message) is not CheckPoint:
            return False
        key = (message.sender, message.index, dest)
        if key in first_copy:
            return False
        first_copy.add(key)
        return True

    net = clients_waiting([1] * 4, blocks=3, drop=drop, checkpoint_timeout_us=SECOND).run()
    assert_agree(net, 3)
    assert net.dropped == 4 * 3 * 3
    assert all(net.events(node, "checkpoint_resent") for node in range(4))
    assert all(core.view == 0 for core in net.cores)  # resent before the view timer fired
    # Execution does not wait for stable checkpoints: blocks 1..3 were all executed and
    # unstable when the timer fired once, and one firing re-sent the three CheckPoints.
    assert net.now == SECOND
    assert all(len(net.events(node, "checkpoint_resent")) == 3 for node in range(4))
    assert not any(core.checkpoint_timer_armed for core in net.cores)


def test_checkpoint_timer_only_while_a_block_waits_for_its_stable_checkpoint() -> None:
    core = PbftCore(0, [1] * 4, checkpoint_timeout_us=5)
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    core.on_proposal_verified(1, p.hash, True)
    for v in (1, 2, 3):
        core.handle(Prepare(0, 1, v, p.hash))
        core.handle(Commit(0, 1, v, p.hash))
    acts = core.on_executed(1, executed_hash(p))
    assert SetTimer(CHECKPOINT_TIMER, 5) in acts
    acts = core.on_timer(CHECKPOINT_TIMER)
    assert sent(acts, CheckPoint) == [CheckPoint(0, 1, 0, executed_hash(p))]
    assert "checkpoint_resent" in codes(acts) and core.checkpoint_timer_armed
    core.handle(CheckPoint(0, 1, 1, executed_hash(p)))
    acts = core.handle(CheckPoint(0, 1, 2, executed_hash(p)))
    assert CancelTimer(CHECKPOINT_TIMER) in acts and not core.checkpoint_timer_armed
    assert ignored(core.on_timer(CHECKPOINT_TIMER)) == ["stale_timer"]


# -- recovery -----------------------------------------------------------------------------------


def test_restarted_node_adopts_the_view_of_a_quorum() -> None:
    # Node 1 restarts at block 4 while the others went on to view 3 and block 9. In view 0 it
    # would lead block 5, but it seals nothing before it knows the view.
    core = PbftCore(1, [1] * 4, committed_index=4, recovering=True)
    acts = core.start()
    assert of(acts, Broadcast) == [Broadcast(RecoverRequest(0, 4, 1))]
    assert of(acts, SealRange) == [] and core.recovering
    assert events(core.handle(RecoverResponse(2, 9, 2))) == []  # another view: apart
    assert events(core.handle(RecoverResponse(3, 9, 0))) == []
    assert ignored(core.handle(RecoverResponse(3, 9, 0))) == ["duplicate"]
    assert events(core.handle(RecoverResponse(3, 9, 2))) == []
    assert core.view == 0 and core.recovering
    acts = core.handle(RecoverResponse(3, 8, 3))
    assert "recovered" in codes(acts)
    assert (core.view, core.to_view, core.recovering, core.change_cycle) == (3, 3, False, 0)
    # The others committed block 9; node 1 leads block 10 in view 3 ((10 + 3) % 4): told to
    # seal from there, never from its own stale block 5.
    assert of(acts, SealRange) == [SealRange(10, 10)]
    # Everyone answers a RecoverRequest with its view and committed index.
    helper, _ = timed_out(0)
    assert [a.message for a in of(helper.handle(RecoverRequest(0, 4, 1)), Send)] == [
        RecoverResponse(0, 0, 0)]


def test_lone_timed_out_node_rejoins_through_recover_responses() -> None:
    cores = [PbftCore(i, [1] * 4) for i in range(4)]
    cores[0].on_pool_size(1)
    view_change = sent(cores[0].on_timer(PBFT_TIMER), ViewChange)[0]
    assert cores[0].in_view_change
    answers = []
    for other in cores[1:]:
        acts = other.handle(view_change)
        answers += [a.message for a in of(acts, Send)]
        assert other.to_view == 0  # weight 1 < f + 1: no fast view change
    assert answers == [RecoverResponse(0, 0, i) for i in (1, 2, 3)]
    for answer in answers:
        acts = cores[0].handle(answer)
    assert "recovered" in codes(acts)
    assert (cores[0].view, cores[0].to_view, cores[0].in_view_change) == (0, 0, False)
    assert cores[0].change_cycle == 0


def test_node_that_missed_the_new_view_catches_up_by_recovery() -> None:
    core, _ = timed_out(0)  # in view change to view 1; the others went on to view 2
    for sender in (1, 2):
        assert events(core.handle(RecoverResponse(2, 0, sender))) == []
    acts = core.handle(RecoverResponse(2, 0, 3))
    assert "recovered" in codes(acts) and (core.view, core.in_view_change) == (2, False)


# -- messages and sizes -------------------------------------------------------------------------


def test_view_change_message_sizes() -> None:
    def size(txs: int, voters: tuple[int, ...]) -> int:
        p = make_proposal(3, leader=1, txs=txs)
        return ViewChange(2, 2, 1, ZERO, (PreparedProof(3, 1, p, voters),)).wire_size()

    assert size(11, (0, 1, 2)) - size(10, (0, 1, 2)) == 32  # a tx hash, as in a PrePrepare
    assert size(10, (0, 1, 2, 3)) - size(10, (0, 1, 2)) == 1 + PROPOSAL_SIGNATURE_OVERHEAD
    p = make_proposal(3, leader=1, txs=5)
    proofs = (PreparedProof(3, 1, p, (0, 1, 2)), PreparedProof(4, 1, p, (0, 2, 3)))
    message = ViewChange(2, 2, 1, ZERO, proofs)
    assert message.wire_size() == len(message.encode()) + MESSAGE_OVERHEAD + 2 * (
        PROPOSAL_HEADER_OVERHEAD + 3 * PROPOSAL_SIGNATURE_OVERHEAD)
    assert message.signature_count() == 7
    assert (message.kind, message.packet_type) == ("ViewChange", 3)
    empty = ViewChange(2, 2, 1, ZERO, ())
    assert empty.wire_size() == len(empty.encode()) + MESSAGE_OVERHEAD < 250
    pre = PrePrepare(2, 3, 1, p)
    new_view = NewView(2, 1, (message, empty), (pre,))
    assert (new_view.kind, new_view.packet_type) == ("NewView", 4)
    assert new_view.wire_size() - len(new_view.encode()) == (
        MESSAGE_OVERHEAD + message.wire_size() - len(message.encode())
        + empty.wire_size() - len(empty.encode()) + pre.wire_size() - len(pre.encode()))
    assert new_view.signature_count() == 1 + 7 + 1
    for cls, kind, packet in ((RecoverRequest, "RecoverRequest", 0x0A),
                              (RecoverResponse, "RecoverResponse", 0x0B)):
        status = cls(3, 9, 1)
        assert (status.kind, status.packet_type) == (kind, packet)
        assert status.wire_size() == len(status.encode()) + MESSAGE_OVERHEAD
    assert "txs=" not in repr(new_view) and "pre_prepares=[3]" in repr(new_view)


def test_events_use_no_reserved_keys() -> None:
    net = clients_waiting([1] * 4, blocks=8, silent=(0,)).run()
    reserved = {"code", "text", "node", "t", "event"}
    told = [a for acts in net.actions for a in acts if isinstance(a, Event)]
    assert {"view_change_sent", "view_change_received", "view_change_quorum", "new_view_sent",
            "new_view_accepted", "timeout"} <= {event.code for event in told}
    assert all(not reserved & set(event.fields()) for event in told)
    quiet = clients_waiting([1] * 4, blocks=8, silent=(0,), events=False).run()
    assert quiet.chain == net.chain
    assert not any(isinstance(a, Event) for acts in quiet.actions for a in acts)


# -- safety and liveness under crashes and random delivery --------------------------------------


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.sampled_from([4, 7]),
    crashed=st.integers(0, 6),
    crash_step=st.integers(1, 1500),
    leader_period=st.sampled_from([1, 2]),
    pipeline_size=st.sampled_from([3, 50]),
)
def test_one_crash_random_delivery_property(seed: int, n: int, crashed: int, crash_step: int,
                                            leader_period: int, pipeline_size: int) -> None:
    """One node crashes at a random moment (possibly after the run: no crash); any delivery
    order: the live nodes commit ≥ 12 blocks, all the same (the driver checks every commit
    against the first one at its height)."""
    net = Driver([1] * n, blocks=12, seed=seed, report_pool=True, leader_period=leader_period,
                 pipeline_size=pipeline_size, events=False)
    net.crash(crashed % n, at_step=crash_step)
    net.start().run()
    assert_agree(net, 12)
