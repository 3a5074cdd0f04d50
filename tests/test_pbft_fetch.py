"""The committed-proposal fetch (docs/fisco-reference.md §1.5, ``shouldRequestCheckPoint``), fed to
the core.

A node that sees CheckPoints of weight ≥ f + 1 for a block it has not precommitted (or any
CheckPoint during a view change, or a re-broadcast one while it waits for a Commit quorum)
asks their senders for the committed proposal; the answer carries the Commit quorum's voters,
and the node executes the block without taking part in its votes.
"""

from __future__ import annotations

from test_pbft import codes, executed_hash, ignored, make_proposal, of, sent, to_commit_quorum
from test_pbft_viewchange import assert_agree, clients_waiting

from fiscosim.consensus import (
    CHECKPOINT_TIMER,
    CheckPoint,
    Commit,
    CommitBlock,
    CommittedProposalRequest,
    CommittedProposalResponse,
    Execute,
    PbftCore,
    Prepare,
    PreparedProof,
    PrePrepare,
    Send,
    Unseal,
    VerifyProposal,
)
from fiscosim.consensus.messages import MESSAGE_OVERHEAD, PROPOSAL_HEADER_OVERHEAD


def sends(acts: list) -> list[tuple[int, object]]:
    return [(a.dest, a.message) for a in of(acts, Send)]


def response(proposal, sender: int, voters=(0, 1, 2), view: int = 0) -> CommittedProposalResponse:
    proof = PreparedProof(proposal.index, view, proposal, tuple(voters))
    return CommittedProposalResponse(0, proposal.index, sender, proof)


def test_f_plus_one_checkpoints_for_a_block_we_lack_ask_their_senders() -> None:
    core = PbftCore(3, [1] * 4)
    p = make_proposal(1, leader=1)
    h = executed_hash(p)
    assert sends(core.handle(CheckPoint(0, 1, 0, h))) == []  # weight 1 = f: could be a liar
    acts = core.handle(CheckPoint(0, 1, 1, h))
    assert sends(acts) == [(0, CommittedProposalRequest(0, 1, 3)),
                           (1, CommittedProposalRequest(0, 1, 3))]
    assert "committed_proposal_requested" in codes(acts)
    # A third CheckPoint asks its sender too; nobody is asked twice for one CheckPoint.
    assert sends(core.handle(CheckPoint(0, 1, 2, h))) == [(2, CommittedProposalRequest(0, 1, 3))]


def test_checkpoints_on_different_hashes_do_not_add_up() -> None:
    core = PbftCore(3, [1] * 4)
    p, q = make_proposal(1, leader=1), make_proposal(1, leader=1, salt=1)
    assert sends(core.handle(CheckPoint(0, 1, 0, executed_hash(p)))) == []
    assert sends(core.handle(CheckPoint(0, 1, 1, executed_hash(q)))) == []


def test_weighted_threshold_is_f_plus_one_of_weight() -> None:
    # Weights [3,1,1,1]: W = 6, f = ⌊5/3⌋ = 1; node 0 alone (weight 3) is more than f.
    core = PbftCore(3, [3, 1, 1, 1])
    p = make_proposal(1, leader=1)
    assert sends(core.handle(CheckPoint(0, 1, 0, executed_hash(p)))) == [
        (0, CommittedProposalRequest(0, 1, 3))]


def test_a_node_with_a_commit_quorum_answers_with_the_proposal_and_its_voters() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    to_commit_quorum(core, p, [1, 2])
    acts = core.handle(CommittedProposalRequest(0, 1, 3))
    [(dest, answer)] = sends(acts)
    assert dest == 3 and type(answer) is CommittedProposalResponse
    assert answer.proof.proposal is p and answer.proof.voters == (0, 1, 2)
    assert answer.proof.view == 0 and answer.index == 1 and answer.sender == 0
    # Its size: the proposal as a PrePrepare carries it, plus a signature per voter.
    assert answer.wire_size() > MESSAGE_OVERHEAD + PROPOSAL_HEADER_OVERHEAD + 32 * 3
    assert answer.signature_count() == 4


def test_a_node_without_a_commit_quorum_does_not_answer() -> None:
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    core.on_proposal_verified(1, p.hash, True)
    for v in (1, 2):
        core.handle(Prepare(0, 1, v, p.hash))  # precommitted, no Commit quorum
    acts = core.handle(CommittedProposalRequest(0, 1, 3))
    assert sends(acts) == [] and ignored(acts) == ["not_committed_here"]
    assert ignored(core.handle(CommittedProposalRequest(0, 1, 9))) == ["unknown_sender"]


def test_fetched_proposal_is_verified_executed_and_committed() -> None:
    core = PbftCore(3, [1] * 4)
    p = make_proposal(1, leader=1)
    h = executed_hash(p)
    core.handle(CheckPoint(0, 1, 0, h))
    core.handle(CheckPoint(0, 1, 1, h))
    acts = core.handle(response(p, sender=0))
    assert [(a.proposal, a.fetch_from) for a in of(acts, VerifyProposal)] == [(p, 0)]
    acts = core.on_proposal_verified(1, p.hash, True)
    assert [a.proposal for a in of(acts, Execute)] == [p]
    assert sent(acts, Prepare) == [] and sent(acts, Commit) == []  # no votes of its own
    acts = core.on_executed(1, h)
    assert [c.executed_hash for c in sent(acts, CheckPoint)] == [h]  # weight 3: stable
    [commit] = of(acts, CommitBlock)
    assert commit.index == 1 and commit.proposal is p and commit.signatures == (0, 1, 3)
    core.on_committed(1)
    assert core.committed_index == 1
    # A second answer, now stale, changes nothing.
    assert ignored(core.handle(response(p, sender=1))) == ["stale"]


def test_the_fetched_block_can_be_served_on() -> None:
    core = PbftCore(3, [1] * 4)
    p = make_proposal(1, leader=1)
    h = executed_hash(p)
    core.handle(CheckPoint(0, 1, 0, h))
    core.handle(CheckPoint(0, 1, 1, h))
    core.handle(response(p, sender=0, voters=(0, 1, 2)))
    core.on_proposal_verified(1, p.hash, True)
    [(dest, answer)] = sends(core.handle(CommittedProposalRequest(0, 1, 2)))
    assert dest == 2 and answer.proof.voters == (0, 1, 2) and answer.proof.proposal is p


def test_bad_or_unasked_answers_are_ignored() -> None:
    core = PbftCore(3, [1] * 4)
    p = make_proposal(1, leader=1)
    assert ignored(core.handle(response(p, sender=0))) == ["unexpected"]  # nobody asked
    h = executed_hash(p)
    core.handle(CheckPoint(0, 1, 0, h))
    core.handle(CheckPoint(0, 1, 1, h))
    assert ignored(core.handle(response(p, sender=2))) == ["unexpected"]  # not asked
    for voters in [(0, 1), (0, 1, 1), (0, 1, 7)]:
        acts = core.handle(response(p, sender=0, voters=voters))
        assert ignored(acts) == ["bad_proof"] and of(acts, VerifyProposal) == []
    other = make_proposal(2, leader=2)
    wrong_index = CommittedProposalResponse(0, 1, 0, PreparedProof(1, 0, other, (0, 1, 2)))
    assert ignored(core.handle(wrong_index)) == ["bad_proof"]
    # The good one still goes through.
    assert len(of(core.handle(response(p, sender=1)), VerifyProposal)) == 1


def test_a_precommitted_node_waits_for_its_commits_then_asks_on_a_resent_checkpoint() -> None:
    core = PbftCore(3, [1] * 4)
    p = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, p))
    core.on_proposal_verified(1, p.hash, True)
    for v in (0, 1):
        core.handle(Prepare(0, 1, v, p.hash))
    assert core.handle(Commit(0, 1, 3, p.hash))  # its own Commit is out (precommitted)
    h = executed_hash(p)
    assert sends(core.handle(CheckPoint(0, 1, 0, h))) == []
    assert sends(core.handle(CheckPoint(0, 1, 1, h))) == []  # f + 1, but precommitted
    # Node 0 found no stable checkpoint for checkpoint_timeout: it re-broadcasts.
    acts = core.handle(CheckPoint(0, 1, 0, h))
    assert sends(acts) == [(0, CommittedProposalRequest(0, 1, 3))]
    # We already hold that proposal: the answer completes it without a new verification.
    acts = core.handle(response(p, sender=0, voters=(0, 1, 2)))
    assert of(acts, VerifyProposal) == [] and [a.proposal for a in of(acts, Execute)] == [p]


def test_an_equivocated_proposal_we_accepted_is_replaced_and_unsealed() -> None:
    core = PbftCore(3, [1] * 4)
    ours = make_proposal(1, leader=1, salt=1)  # what a lying leader sent us
    committed = make_proposal(1, leader=1)
    core.handle(PrePrepare(0, 1, 1, ours))
    core.on_proposal_verified(1, ours.hash, True)
    h = executed_hash(committed)
    core.handle(CheckPoint(0, 1, 0, h))
    core.handle(CheckPoint(0, 1, 1, h))
    acts = core.handle(response(committed, sender=0))
    assert [a.proposal for a in of(acts, Unseal)] == [ours]
    assert [a.proposal for a in of(acts, VerifyProposal)] == [committed]
    acts = core.on_proposal_verified(1, committed.hash, True)
    assert [a.proposal for a in of(acts, Execute)] == [committed]


def test_lost_commits_are_recovered_by_the_fetch_in_a_run() -> None:
    """Node 2 is down; node 3 loses the Commits of block 3: it is precommitted without a Commit
    quorum, nodes 0 and 1 execute block 3 but weigh 2 < Q = 3, so no stable checkpoint forms.
    Their CheckPoint re-broadcast makes node 3 fetch the block (seed 253 of the fuzzer)."""

    def drop(dest: int, message: object) -> bool:
        return dest == 3 and type(message) is Commit and message.index == 3

    net = clients_waiting([1] * 4, blocks=6, silent=(2,), drop=drop).run()
    assert_agree(net, 6)
    assert net.dropped >= 2
    assert net.events(3, "committed_proposal_requested")
    assert net.events(3, "committed_proposal_accepted")
    assert net.events(0, "checkpoint_resent") or net.events(1, "checkpoint_resent")


def test_checkpoint_timer_is_not_pushed_back_by_later_executions() -> None:
    """The timer measures how long the oldest unstable block has waited."""
    core = PbftCore(0, [1] * 4)
    acts = []
    for index in (1, 2):
        p = make_proposal(index, leader=index % 4)
        if p.leader == 0:
            acts += core.propose(p)
            for v in (1, 2):
                acts += core.handle(Prepare(0, index, v, p.hash))
            for v in (1, 2):
                acts += core.handle(Commit(0, index, v, p.hash))
        else:
            acts += to_commit_quorum(core, p, [1, 2] if p.leader != 2 else [2, 3])
        first = core.on_executed(index, executed_hash(p))
        timers = [a for a in first if getattr(a, "name", None) == CHECKPOINT_TIMER]
        assert len(timers) == (1 if index == 1 else 0), index
