"""The PBFT core (fiscosim.consensus) driven without simpy: single cores fed by hand, and groups
of cores run by the reference driver (fiscosim.consensus.driver) with FIFO or seeded-random
delivery; ``run`` below delivers until nothing is in flight, without letting a timer fire.

docs/fisco-reference.md §1.3 (weighted quorum), §1.4 (leader formula), §1.5 (four rounds, serial
execution, ordered commit), §1.6 (pipeline), §1.7 (timer).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscosim.consensus import (
    PBFT_TIMER,
    Broadcast,
    CancelTimer,
    CheckPoint,
    Commit,
    CommitBlock,
    Event,
    Execute,
    PbftCore,
    Prepare,
    PrePrepare,
    Proposal,
    SealRange,
    SetTimer,
    VerifyProposal,
    ViewChangeNeeded,
    proposal_hash,
)
from fiscosim.consensus.driver import Driver, make_proposal
from fiscosim.consensus.events import Ignored, QuorumReached
from fiscosim.consensus.messages import (
    MESSAGE_OVERHEAD,
    PROPOSAL_HEADER_OVERHEAD,
    PROPOSAL_SIGNATURE_OVERHEAD,
)
from fiscosim.consensus.messages import executed_hash as executed_hash_of
from fiscosim.consensus.pbft import receive_slack
from fiscosim.consensus.phases import MOVES, IllegalMove, Phase, check_move

# -- helpers ------------------------------------------------------------------------------------


def executed_hash(proposal: Proposal) -> bytes:
    return executed_hash_of(proposal.hash)


def of(acts: list, kind: type) -> list:
    return [a for a in acts if type(a) is kind]


def events(acts: list) -> list[Event]:
    """The events among a core's actions (what a trace records)."""
    return [a for a in acts if isinstance(a, Event)]


def codes(acts: list) -> list[str]:
    return [a.code for a in events(acts)]


def ignored(acts: list) -> list[str]:
    """The reasons of the Ignored events (ProposalRefused included)."""
    return [a.reason for a in acts if isinstance(a, Ignored)]


def sent(acts: list, kind: type) -> list:
    return [a.message for a in acts if type(a) is Broadcast and type(a.message) is kind]


def to_commit_quorum(core: PbftCore, proposal: Proposal, voters: list[int]) -> list:
    """Feeds ``core`` the PrePrepare, the verification and Prepares and Commits from voters."""
    acts = core.handle(PrePrepare(0, proposal.index, proposal.leader, proposal))
    acts += core.on_proposal_verified(proposal.index, proposal.hash, True)
    for v in voters:
        acts += core.handle(Prepare(0, proposal.index, v, proposal.hash))
    for v in voters:
        acts += core.handle(Commit(0, proposal.index, v, proposal.hash))
    return acts


# -- the reference driver (fiscosim.consensus.driver) --------------------------------------------


def run(weights: list[int], **args: object) -> Driver:
    """Drives ``weights``' cores until nothing is in flight; no timer fires (``Driver.settle``).

    No pool reports: an idle core cancels its view timer, so a stalled chain stays stalled."""
    return Driver(weights, **args).start().settle()


def entries(d: Driver, node: int) -> list[tuple[int, bytes, bytes]]:
    """``node``'s ledger as (height, block hash, executed hash); signer sets may differ."""
    return [(c.index, c.proposal.hash, c.executed_hash) for c in d.ledger[node]]


def assert_all_committed(d: Driver, blocks: int) -> None:
    """Every live node committed exactly ``1..blocks``, all the same blocks and hashes."""
    first = entries(d, d.alive()[0])
    for node in d.alive():
        assert d.committed(node) == list(range(1, blocks + 1)), node
        assert d.cores[node].committed_index == blocks
        assert entries(d, node) == first


# -- quorum and leaders -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "q", "f"), [(4, 3, 1), (7, 5, 2), (10, 7, 3), (1, 1, 0)])
def test_quorum_unit_weights(n: int, q: int, f: int) -> None:
    core = PbftCore(0, [1] * n)
    assert (core.n, core.quorum, core.max_faulty) == (n, q, f)


def test_quorum_weighted() -> None:
    core = PbftCore(0, [3, 1, 1, 1])
    assert (core.quorum, core.max_faulty) == (5, 1)


@pytest.mark.parametrize(
    ("silent", "expect"),
    [
        ((2, 3), []),  # heavy node + one light = 4 < 5: not enough
        ((0,), []),  # three light nodes = 3 < 5: not enough
        ((3,), [1, 2]),  # heavy + two light = 5: enough, until silent node 3 leads block 3
    ],
)
def test_weighted_quorum_in_a_run(silent: tuple[int, ...], expect: list[int]) -> None:
    h = run([3, 1, 1, 1], silent=silent, blocks=10)
    for node in h.alive():
        assert h.committed(node) == expect


def test_leader_formula() -> None:
    core = PbftCore(0, [1] * 4, leader_period=2, view=1)
    assert [core.leader_of(i, view=0) for i in range(1, 9)] == [0, 1, 1, 2, 2, 3, 3, 0]
    assert [core.leader_of(i) for i in range(1, 5)] == [1, 2, 2, 3]  # own view 1
    assert core.is_leader(7) and not core.is_leader(8)  # (7 // 2 + 1) % 4 == 0
    assert PbftCore(0, [1] * 10).leader_of(1234) == 1234 % 10


@pytest.mark.parametrize("leader_period", [1, 2, 3])
def test_leader_rotation_in_a_run(leader_period: int) -> None:
    h = run([1] * 4, leader_period=leader_period, blocks=20)
    assert_all_committed(h, 20)
    for index, proposal in h.proposed.items():
        assert proposal.leader == (index // leader_period) % 4
    ranges = sorted((start, end) for _, start, end, _, _ in h.sealings)
    covered = [i for start, end in ranges for i in range(start, end + 1)]
    assert covered == sorted(set(covered)), "an index was handed out twice"
    assert covered[: 20] == list(range(1, 21))
    for node, start, end, _, _ in h.sealings:
        assert all(h.cores[node].leader_of(i) == node for i in range(start, end + 1))
        assert start // leader_period == end // leader_period  # one leader period at most
    if leader_period == 2:
        assert ranges[:3] == [(1, 1), (2, 3), (4, 5)]


# -- the normal case under FIFO and random delivery ---------------------------------------------


@pytest.mark.parametrize("n", [4, 7, 10])
def test_twenty_blocks_fifo(n: int) -> None:
    h = run([1] * n, blocks=20)
    assert_all_committed(h, 20)
    for node in range(n):
        assert h.executions[node] == list(range(1, 21))
        assert h.cores[node].executed_index == 20
        assert all(len(c.signatures) >= h.cores[node].quorum for c in h.ledger[node])


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("weights", "leader_period"), [([1] * 4, 1), ([1] * 7, 2),
                                                        ([3, 1, 1, 1, 2], 3)])
def test_twenty_blocks_random_delivery(seed: int, weights: list[int], leader_period: int) -> None:
    h = run(weights, leader_period=leader_period, seed=seed, blocks=20)
    assert_all_committed(h, 20)
    hashes = {tuple(entries(h, node)) for node in range(len(weights))}
    assert len(hashes) == 1


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.sampled_from([4, 5, 7]),
    leader_period=st.sampled_from([1, 2, 3]),
    pipeline_size=st.sampled_from([2, 3, 50]),
    duplicate=st.booleans(),
)
def test_random_delivery_property(seed: int, n: int, leader_period: int, pipeline_size: int,
                                  duplicate: bool) -> None:
    """Any delivery order: every node commits 1..12 in order, all with the same hashes."""
    h = run([1] * n, leader_period=leader_period, pipeline_size=pipeline_size, seed=seed,
            blocks=12, duplicate=float(duplicate))
    assert_all_committed(h, 12)
    assert h.max_ahead <= pipeline_size
    for node in range(n):
        assert PBFT_TIMER not in h.timers[node]  # idle at the end: the timer is cancelled


def test_duplicates_change_nothing_in_a_run() -> None:
    plain = run([1] * 4, seed=3, blocks=20)
    doubled = run([1] * 4, seed=3, blocks=20, duplicate=1.0)  # every message twice
    assert_all_committed(doubled, 20)
    assert doubled.chain == plain.chain
    assert "duplicate" in ignored(doubled.actions[0])


def test_duplicate_vote_changes_nothing() -> None:
    for with_events in (True, False):
        core = PbftCore(0, [1] * 4, events=with_events)
        p = make_proposal(1, leader=1)
        core.handle(PrePrepare(0, 1, 1, p))
        core.on_proposal_verified(1, p.hash, True)
        assert core.handle(Prepare(0, 1, 2, p.hash)) == []
        again = core.handle(Prepare(0, 1, 2, p.hash))
        assert [type(a) for a in again] == ([Ignored] if with_events else [])
        assert ignored(again) == (["duplicate"] if with_events else [])
        # own vote + node 2 = 2 < 3; node 3 completes the quorum exactly once
        acts = core.handle(Prepare(0, 1, 3, p.hash))
        assert len(sent(acts, Commit)) == 1
        assert sent(core.handle(Prepare(0, 1, 3, p.hash)), Commit) == []


def test_votes_before_preprepare_still_count() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    early: list = []
    for v in (1, 2, 3):
        early += core.handle(Prepare(0, 1, v, p.hash))
        early += core.handle(Commit(0, 1, v, p.hash))
        early += core.handle(CheckPoint(0, 1, v, executed_hash(p)))
    assert of(early, Broadcast) == [] and of(early, Execute) == []
    acts = core.handle(PrePrepare(0, 1, 1, p))
    assert of(acts, VerifyProposal) == [VerifyProposal(p)]
    acts = core.on_proposal_verified(1, p.hash, True)
    # Prepare, then at once the prepare quorum → Commit, the commit quorum → Execute.
    assert [type(a.message) for a in of(acts, Broadcast)] == [Prepare, Commit]
    assert of(acts, Execute) == [Execute(p)]
    assert "prepare_quorum" in codes(acts) and "commit_quorum" in codes(acts)
    acts = core.on_executed(1, executed_hash(p))
    assert sent(acts, CheckPoint) == [CheckPoint(0, 1, 0, executed_hash(p))]
    commit = of(acts, CommitBlock)
    assert commit == [CommitBlock(1, p, executed_hash(p), (0, 1, 2, 3))]
    acts = core.on_committed(1)
    assert core.committed_index == 1 and "committed" in codes(acts)


def test_a_block_walks_its_phases_in_order() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    assert core.phase(1) is Phase.EMPTY
    core.handle(PrePrepare(0, 1, 1, p))
    assert core.phase(1) is Phase.VERIFYING
    core.on_proposal_verified(1, p.hash, True)
    assert core.phase(1) is Phase.ACCEPTED
    core.handle(Prepare(0, 1, 1, p.hash))
    core.handle(Prepare(0, 1, 2, p.hash))
    assert core.phase(1) is Phase.PRECOMMITTED
    core.handle(Commit(0, 1, 1, p.hash))
    core.handle(Commit(0, 1, 2, p.hash))
    assert core.phase(1) is Phase.COMMITTED
    core.on_executed(1, executed_hash(p))
    assert core.phase(1) is Phase.EXECUTED
    core.handle(CheckPoint(0, 1, 1, executed_hash(p)))
    core.handle(CheckPoint(0, 1, 2, executed_hash(p)))
    assert core.phase(1) is Phase.STABLE
    core.on_committed(1)
    assert core.phase(1) is Phase.EMPTY and core.committed_index == 1


def test_the_moves_table_refuses_a_move_back_from_committed() -> None:
    assert all(phase not in MOVES[phase] for phase in Phase)  # no move stays in place
    with pytest.raises(IllegalMove, match="block 7 cannot move from COMMITTED to ACCEPTED"):
        check_move(7, Phase.COMMITTED, Phase.ACCEPTED)
    later = {Phase.COMMITTED, Phase.EXECUTED, Phase.STABLE}
    assert all(MOVES[phase] <= later for phase in later)


def test_quorum_events_name_the_voters() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    acts = to_commit_quorum(core, p, [3, 1])
    prepared, committed = of(acts, QuorumReached)
    assert prepared == QuorumReached("prepare", 1, 0, 3, 3, (0, 1, 3), p.hash)
    assert (committed.code, committed.voters) == ("commit_quorum", (0, 1, 3))


# -- PrePrepare checks --------------------------------------------------------------------------


def test_preprepare_from_wrong_leader_is_ignored() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=2)
    acts = core.handle(PrePrepare(0, 1, 2, p))
    assert ignored(acts) == ["wrong_leader"]
    assert of(acts, VerifyProposal) == []
    assert not core.timer_armed


def test_stale_preprepare_is_ignored() -> None:
    core = PbftCore(0, [1] * 4, committed_index=5)
    acts = core.handle(PrePrepare(0, 5, 1, make_proposal(5, leader=1)))
    assert ignored(acts) == ["stale"]
    acts = core.handle(PrePrepare(0, 3, 3, make_proposal(3, leader=3)))
    assert ignored(acts) == ["stale"]
    assert ignored(core.handle(Prepare(0, 5, 1, bytes(32)))) == ["stale"]


def test_preprepare_beyond_the_window_is_ignored() -> None:
    core = PbftCore(0, [1] * 4, pipeline_size=3)
    # The receive side only bounds memory (pbft.py, receive_slack): a lagging node keeps
    # every message it will need.
    slack = receive_slack(3)
    inside = make_proposal(slack, leader=slack % 4)
    assert of(core.handle(PrePrepare(0, slack, slack % 4, inside)), VerifyProposal)
    far = slack + 1
    beyond = make_proposal(far, leader=far % 4)
    acts = core.handle(PrePrepare(0, far, far % 4, beyond))
    assert ignored(acts) == ["out_of_window"] and of(acts, VerifyProposal) == []
    assert ignored(core.handle(Prepare(0, far, 1, beyond.hash))) == ["out_of_window"]
    # The sealing side is strict: the leader may not propose at or above the high water mark.
    leader = PbftCore(0, [1] * 4, pipeline_size=3)
    assert leader.high_water_mark == 4
    acts = leader.propose(make_proposal(4, leader=0))
    assert ignored(acts) == ["out_of_window"] and of(acts, Broadcast) == []


def test_conflicting_and_duplicate_preprepare_are_ignored() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    other = make_proposal(1, leader=1, salt=1)
    assert of(core.handle(PrePrepare(0, 1, 1, p)), VerifyProposal)
    acts = core.handle(PrePrepare(0, 1, 1, other))
    assert ignored(acts) == ["conflicting"] and of(acts, VerifyProposal) == []
    assert ignored(core.handle(PrePrepare(0, 1, 1, p))) == ["duplicate"]
    # Votes for the other hash never complete our block.
    for v in (1, 2, 3):
        core.handle(Prepare(0, 1, v, other.hash))
    acts = core.on_proposal_verified(1, p.hash, True)
    assert sent(acts, Commit) == []


def test_views_other_than_ours_are_ignored() -> None:
    core = PbftCore(0, [1] * 4, view=1)
    p = make_proposal(1, leader=2, view=2)
    # A view not reached yet is held for later, not acted on (pbft.py docstring; view change
    # tests: test_pbft_viewchange.py).
    acts = core.handle(PrePrepare(2, 1, 3, p))
    assert ignored(acts) == [] and codes(acts) == ["deferred"] and of(acts, VerifyProposal) == []
    assert ignored(core.handle(PrePrepare(0, 1, 1, p))) == ["stale_view"]
    assert ignored(core.handle(Commit(0, 1, 1, p.hash))) == ["stale_view"]
    # CheckPoints are counted whatever their view: the executed hash does not depend on it.
    assert core.handle(CheckPoint(0, 1, 1, bytes(32))) == []


def test_malformed_and_unknown_senders_are_ignored() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(2, leader=1)
    assert ignored(core.handle(PrePrepare(0, 1, 1, p))) == ["malformed"]
    assert ignored(core.handle(Prepare(0, 1, 9, p.hash))) == ["unknown_sender"]
    assert ignored(core.handle(object())) == ["unknown_message"]


def test_verification_result_for_nothing_is_ignored() -> None:
    core = PbftCore(0, [1] * 4)
    assert ignored(core.on_proposal_verified(1, bytes(32), True)) == ["unexpected"]
    assert ignored(core.on_executed(1, bytes(32))) == ["unexpected"]
    assert ignored(core.on_committed(1)) == ["unexpected"]


# -- leader, sealing and the pipeline -----------------------------------------------------------


def test_start_notifies_only_the_first_leader() -> None:
    acts = [PbftCore(i, [1] * 4).start() for i in range(4)]
    assert of(acts[1], SealRange) == [SealRange(1, 1)]
    assert all(of(acts[i], SealRange) == [] for i in (0, 2, 3))
    assert of(PbftCore(2, [1] * 4, leader_period=2).start(), SealRange) == []
    assert of(PbftCore(0, [1] * 4, leader_period=2).start(), SealRange) == [SealRange(1, 1)]
    restarted = PbftCore(3, [1] * 4, committed_index=6, leader_period=2)
    assert of(restarted.start(), SealRange) == [SealRange(7, 7)]


def test_leader_proposes_without_verifying_its_own_proposal() -> None:
    core = PbftCore(1, [1] * 4)
    core.start()
    p = make_proposal(1, leader=1)
    acts = core.propose(p)
    assert [type(a.message) for a in of(acts, Broadcast)] == [PrePrepare, Prepare]
    assert of(acts, VerifyProposal) == []
    assert sent(acts, PrePrepare)[0].proposal is p
    assert codes(acts)[0] == "proposal_sent"
    assert ignored(PbftCore(0, [1] * 4).propose(p)) == ["not_leader"]
    assert ignored(core.propose(p)) == ["duplicate"]


def test_next_leader_is_notified_at_commit_quorum_before_execution() -> None:
    h = run([1] * 4, blocks=20, hold_executions=True)
    # Nothing executed (all held), yet the leaders of blocks 2 and 3 were told to seal.
    notified = {start: (node, executed) for node, start, _, executed, _ in h.sealings}
    assert notified[2] == (2, 0) and notified[3] == (3, 0)
    assert all(h.executions[node] == [1] for node in range(4))
    h.release().settle()
    assert_all_committed(h, 20)


def test_commit_quorum_triggers_seal_range_on_the_spot() -> None:
    core = PbftCore(2, [1] * 4)
    acts = to_commit_quorum(core, make_proposal(1, leader=1), [1, 3])
    position = {a.code if isinstance(a, Event) else type(a): i for i, a in enumerate(acts)}
    # commit quorum, then the next leader's SealRange, then (and only then) execution starts
    assert position["commit_quorum"] < position[SealRange] < position[Execute]
    assert of(acts, SealRange) == [SealRange(2, 2)] and core.executed_index == 0


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_pipeline_bound_holds(seed: int | None) -> None:
    h = run([1] * 4, pipeline_size=3, blocks=20, hold_executions=True, seed=seed)
    # Blocks 1..3 are in flight; block 4's leader (node 0) waits for room.
    assert sorted(h.proposed) == [1, 2, 3]
    assert "window_full" in codes(h.actions[0])
    assert not any(start == 4 for _, start, *_ in h.sealings)
    assert h.max_ahead == 3
    h.release().settle()
    assert_all_committed(h, 20)
    assert h.max_ahead == 3  # never more than pipeline_size ahead of the proposer's commits
    starts = sorted(start for _, start, *_ in h.sealings)
    assert starts[:20] == list(range(1, 21))  # every turn handed out exactly once


def test_leader_period_range_is_cut_at_the_high_water_mark() -> None:
    h = run([1] * 4, leader_period=2, pipeline_size=2, blocks=9, hold_executions=True)
    assert (1, 2, 2) in [(n, s, e) for n, s, e, _, _ in h.sealings]  # not [2, 3]
    h.release().settle()
    assert_all_committed(h, 9)
    ranges = [(n, s, e) for n, s, e, _, _ in h.sealings]
    assert (1, 3, 3) in ranges  # the rest of node 1's period, once block 1 committed


def test_execution_in_order_when_commit_quorums_complete_out_of_order() -> None:
    core = PbftCore(0, [1] * 4, pipeline_size=3)
    p1 = make_proposal(1, leader=1)
    p2 = make_proposal(2, leader=2, parent=p1.hash)
    acts = to_commit_quorum(core, p2, [2, 3])
    assert "commit_quorum" in codes(acts) and of(acts, Execute) == []
    acts = to_commit_quorum(core, p1, [1, 2])
    assert of(acts, Execute) == [Execute(p1)]
    acts = core.on_executed(1, executed_hash(p1))
    assert of(acts, Execute) == [Execute(p2)]  # started as soon as block 1 finished
    assert ignored(core.on_executed(1, executed_hash(p1))) == ["unexpected"]


def test_ledger_commit_is_strictly_in_order() -> None:
    core = PbftCore(0, [1] * 4)
    p1 = make_proposal(1, leader=1)
    p2 = make_proposal(2, leader=2, parent=p1.hash)
    to_commit_quorum(core, p1, [1, 2, 3])
    to_commit_quorum(core, p2, [1, 2, 3])
    core.on_executed(1, executed_hash(p1))
    acts = core.on_executed(2, executed_hash(p2))
    for v in (1, 2):  # block 2's stable checkpoint first
        acts += core.handle(CheckPoint(0, 2, v, executed_hash(p2)))
    assert of(acts, CommitBlock) == []
    assert "stable_checkpoint" in codes(acts)
    acts = []
    for v in (3, 2):
        acts += core.handle(CheckPoint(0, 1, v, executed_hash(p1)))
    assert of(acts, CommitBlock) == [CommitBlock(1, p1, executed_hash(p1), (0, 2, 3))]
    assert of(core.handle(CheckPoint(0, 1, 1, executed_hash(p1))), CommitBlock) == []
    acts = core.on_committed(1)
    assert of(acts, CommitBlock) == [CommitBlock(2, p2, executed_hash(p2), (0, 1, 2))]


def test_checkpoint_quorum_on_another_hash_commits_nothing() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    to_commit_quorum(core, p, [1, 2, 3])
    core.on_executed(1, b"\x01" * 32)  # our execution disagrees with everyone else's
    acts = []
    for v in (1, 2, 3):
        acts += core.handle(CheckPoint(0, 1, v, executed_hash(p)))
    assert of(acts, CommitBlock) == []
    assert "checkpoint_mismatch" in codes(acts)


# -- faults and the timer -----------------------------------------------------------------------


def test_one_of_four_silent_still_commits() -> None:
    h = run([1] * 4, silent=(0,), blocks=20)
    for node in h.alive():
        # Node 0 leads block 4: with no view change yet the chain waits there.
        assert h.committed(node) == [1, 2, 3]
        assert PBFT_TIMER not in h.timers[node]  # nothing in flight, nothing to time out


def test_two_of_four_silent_nothing_commits_and_the_timer_fires() -> None:
    h = run([1] * 4, silent=(2, 3), blocks=20)
    assert all(h.committed(node) == [] for node in (0, 1))
    assert h.timers[0] == h.timers[1] == {PBFT_TIMER: 3_000_000}  # deadlines; the clock is at 0
    assert h.advance() and h.now == 3_000_000  # both fire
    assert sorted(node for node, _ in h.taken(ViewChangeNeeded)) == [0, 1]
    assert all(vc == ViewChangeNeeded(1, 1, "timeout") for _, vc in h.taken(ViewChangeNeeded))
    assert all("timeout" in codes(h.actions[node]) for node in (0, 1))
    assert h.cores[0].view == 0  # view change itself comes later


def test_timer_is_set_while_in_flight_and_cancelled_when_idle() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    acts = core.handle(PrePrepare(0, 1, 1, p))
    assert of(acts, SetTimer) == [SetTimer(PBFT_TIMER, 3_000_000)] and "timer_set" in codes(acts)
    acts = core.on_proposal_verified(1, p.hash, True)
    assert of(acts, SetTimer)  # restarted on progress
    to_commit_quorum(core, p, [1, 2, 3])
    core.on_executed(1, executed_hash(p))
    acts = []
    for v in (1, 2):
        acts += core.handle(CheckPoint(0, 1, v, executed_hash(p)))
    assert core.timer_armed
    acts = core.on_committed(1)
    assert of(acts, CancelTimer) == [CancelTimer(PBFT_TIMER)] and not core.timer_armed
    assert "timer_cancelled" in codes(acts)
    assert ignored(core.on_timer(PBFT_TIMER)) == ["stale_timer"]


def test_timer_in_a_run_ends_cancelled() -> None:
    h = run([1] * 4, seed=5, blocks=3)
    for node in range(4):
        timer_actions = [a for a in h.actions[node] if type(a) in (SetTimer, CancelTimer)]
        assert timer_actions and type(timer_actions[-1]) is CancelTimer
        assert not h.cores[node].timer_armed


def test_timeout_while_executing_just_restarts_the_timer() -> None:
    core = PbftCore(0, [1] * 4)
    acts = to_commit_quorum(core, make_proposal(1, leader=1), [1, 2, 3])
    assert of(acts, Execute)
    acts = core.on_timer(PBFT_TIMER)
    assert of(acts, ViewChangeNeeded) == [] and of(acts, SetTimer)
    assert codes(acts) == ["timeout_extended"] and core.timer_armed


def test_rejected_proposal_sends_nothing_and_times_out() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    acts = core.on_proposal_verified(1, p.hash, False)
    assert codes(acts) == ["proposal_rejected"] and of(acts, Broadcast) == []
    assert core.timer_armed
    acts = core.on_timer(PBFT_TIMER)
    assert of(acts, ViewChangeNeeded) == [ViewChangeNeeded(1, 1, "timeout")]


def test_pool_size_arms_and_cancels_the_timer() -> None:
    core = PbftCore(0, [1] * 4)
    assert of(core.on_pool_size(5), SetTimer) and core.timer_armed
    assert core.on_pool_size(5) == []
    assert of(core.on_pool_size(0), CancelTimer) and not core.timer_armed


# -- events, messages and sizes ------------------------------------------------------------------


def test_events_off_emit_no_events() -> None:
    on = run([1] * 4, seed=9, blocks=20)
    off = run([1] * 4, seed=9, blocks=20, events=False)
    assert_all_committed(off, 20)
    assert off.chain == on.chain
    assert all(events(acts) == [] for acts in off.actions)
    assert all(events(acts) for acts in on.actions)
    quiet = PbftCore(0, [1] * 4, events=False)
    assert quiet.handle(PrePrepare(0, 1, 2, make_proposal(1, leader=2))) == []


def test_events_cover_the_steps_of_a_block() -> None:
    h = run([1] * 4, blocks=2)
    leader, follower = set(codes(h.actions[1])), set(codes(h.actions[0]))
    for code in ("proposal_sent", "prepare_quorum", "commit_quorum", "execute",
                 "checkpoint_sent", "stable_checkpoint", "ledger_commit", "committed",
                 "seal_notified", "timer_set", "timer_cancelled"):
        assert code in leader, code
    assert {"proposal_received", "proposal_verified"} <= follower
    reserved = {"code", "text", "node", "t", "event"}
    assert all(not reserved & set(e.fields()) for acts in h.actions for e in events(acts))


def test_preprepare_grows_by_32_bytes_per_tx() -> None:
    sizes = [PrePrepare(0, 1, 1, make_proposal(1, leader=1, txs=t)).wire_size()
             for t in (10, 11, 12, 1000, 2047, 2048)]
    assert sizes[1] - sizes[0] == sizes[2] - sizes[1] == 32
    assert sizes[4] - sizes[3] == 32 * 1047
    assert sizes[5] - sizes[4] == 32 + 2  # 65,536 bytes of hashes: the bin header grows 3 → 5
    for t in (0, 1, 7, 8, 300, 2100):
        pre = PrePrepare(3, 1, 1, make_proposal(1, leader=1, txs=t))
        assert pre.wire_size() == len(pre.encode()) + MESSAGE_OVERHEAD + PROPOSAL_HEADER_OVERHEAD
        assert pre.wire_size() == pre.wire_size()


def test_vote_sizes_and_kinds() -> None:
    digest = b"\x07" * 32
    for cls, kind, packet in ((Prepare, "Prepare", 1), (Commit, "Commit", 2),
                              (CheckPoint, "CheckPoint", 9)):
        message = cls(0, 12, 3, digest)
        assert (message.kind, message.packet_type) == (kind, packet)
        assert message.wire_size() == (
            len(message.encode()) + MESSAGE_OVERHEAD + PROPOSAL_SIGNATURE_OVERHEAD
        )
        assert 200 < message.wire_size() < 260
    assert (PrePrepare.kind, PrePrepare.packet_type) == ("PrePrepare", 0)


def test_proposal_tx_ids_are_read_only_and_not_copied_per_tx() -> None:
    ids = np.arange(5, dtype=np.int64)
    p = Proposal(1, 0, 1, proposal_hash(1, bytes(32), ids, 0, 1), bytes(32), ids, 0)
    assert not p.tx_ids.flags.writeable and ids.flags.writeable
    assert np.shares_memory(p.tx_ids, ids)
    with pytest.raises(ValueError):
        p.tx_ids[0] = 7
    with pytest.raises(ValueError):
        Proposal(1, 0, 1, b"short", bytes(32), ids, 0)
    with pytest.raises(ValueError):
        Proposal(1, 0, 1, bytes(32), bytes(32), ids.astype(np.int32), 0)
    assert "txs=5" in repr(p)


def test_proposal_hash_covers_the_transactions() -> None:
    ids = np.arange(4, dtype=np.int64)
    base = proposal_hash(1, bytes(32), ids, 5, 0)
    assert len(base) == 32
    assert base != proposal_hash(1, bytes(32), ids[::-1].copy(), 5, 0)
    assert base != proposal_hash(2, bytes(32), ids, 5, 0)
    assert base == proposal_hash(1, bytes(32), ids.copy(), 5, 0)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError):
        PbftCore(4, [1] * 4)
    with pytest.raises(ValueError):
        PbftCore(0, [1, 0, 1])
    with pytest.raises(ValueError):
        PbftCore(0, [1] * 4, leader_period=0)
    with pytest.raises(ValueError):
        PbftCore(0, [1] * 4, pipeline_size=0)
    core = PbftCore(0, [1] * 4, timeout_us=1000)
    assert (core.timeout_us, core.change_cycle, core.view, core.committed_index) == (1000, 0, 0, 0)
