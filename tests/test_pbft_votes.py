"""``PbftCore.handle_votes`` (a phase's votes in one call, the aggregated vote mode) against the
same votes given to ``handle`` one by one: the same actions, in the same order, and the same
state afterwards, whatever the votes (duplicates, unknown senders, other views, hashes and
blocks mixed in), the node's state (before the PrePrepare, accepted, committed, executed),
the weights and whether the trace's events are on.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from fiscosim.consensus import CheckPoint, Commit, PbftCore, Prepare, PrePrepare
from fiscosim.consensus.driver import make_proposal
from fiscosim.consensus.messages import executed_hash

KINDS = (Prepare, Commit, CheckPoint)


def _core(weights: list[int], stage: int, events: bool) -> tuple[PbftCore, bytes]:
    """Node 0, block 1 proposed by node 1, brought to ``stage``: 0 nothing yet, 1 accepted,
    2 committed by consensus (Prepare and Commit quorums from everybody), 3 executed."""
    core = PbftCore(0, weights, events=events)
    proposal = make_proposal(1, leader=1)
    if stage >= 1:
        core.handle(PrePrepare(0, 1, 1, proposal))
        core.on_proposal_verified(1, proposal.hash, True)
    if stage >= 2:
        for voter in range(1, len(weights)):
            core.handle(Prepare(0, 1, voter, proposal.hash))
            core.handle(Commit(0, 1, voter, proposal.hash))
    if stage >= 3:
        core.on_executed(1, executed_hash(proposal.hash))
    return core, proposal.hash


def _state(core: PbftCore) -> list:
    """What the votes can change: every slot's phase and vote tables."""
    out = []
    for index, slot in sorted(core._slots.items()):
        tables = []
        for table in (slot.prepares, slot.commits, slot.checkpoints):
            tables.append(sorted((repr(k), sorted(v.voters), v.weight) for k, v in table.items()))
        out.append((index, slot.phase, tables))
    return out


@st.composite
def cases(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(4, 10))
    weights = draw(st.one_of(st.just([1] * n), st.lists(st.integers(1, 4), min_size=n,
                                                        max_size=n)))
    stage = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(KINDS))
    count = draw(st.integers(0, 2 * n))
    odd = draw(st.floats(0, 1))  # how often a vote is not the phase's
    votes = []
    for _ in range(count):
        sender = draw(st.integers(0, n - 1))
        view, block, other_hash = 0, 1, False
        if draw(st.floats(0, 1)) < odd:
            what = draw(st.sampled_from(("sender", "view", "block", "hash")))
            if what == "sender":
                sender = draw(st.sampled_from((-1, n, n + 3)))
            elif what == "view":
                view = draw(st.integers(1, 3))
            elif what == "block":
                block = draw(st.sampled_from((0, 2, 3, 50)))
            else:
                other_hash = True
        votes.append((sender, view, block, other_hash))
    return weights, stage, kind, votes, draw(st.booleans())


def _messages(kind: type, votes: list, proposal_hash: bytes) -> list:
    out = []
    for sender, view, block, other_hash in votes:
        hash_ = b"\x07" * 32 if other_hash else proposal_hash
        if kind is CheckPoint:
            out.append(CheckPoint(view, block, sender, executed_hash(hash_)))
        else:
            out.append(kind(view, block, sender, hash_))
    return out


@settings(max_examples=400, deadline=None)
@given(cases())
@example(([1] * 4, 1, CheckPoint, [(3, 0, 1, False), (2, 0, 1, False), (1, 0, 1, False)], False))
def test_handle_votes_equals_one_by_one(case: tuple) -> None:
    """The example: CheckPoints for a block this node has not committed; at f + 1 they make it
    ask their senders for the block, which counting them at once would do differently."""
    weights, stage, kind, votes, events = case
    one, proposal_hash = _core(weights, stage, events)
    many, _ = _core(weights, stage, events)
    messages = _messages(kind, votes, proposal_hash)
    expected = []
    for message in messages:
        expected += one.handle(message)
    got = many.handle_votes(messages) if messages else []
    assert repr(got) == repr(expected)  # actions hold proposals, whose id arrays lack ==
    assert _state(many) == _state(one)


class _Counting(PbftCore):
    """A core that records what reaches ``handle``."""

    __slots__ = ("calls",)

    def handle(self, message):  # type: ignore[no-untyped-def]
        self.calls.append(message)
        return super().handle(message)


def test_a_quorum_in_one_call_takes_the_fast_path_and_precommits_once() -> None:
    """Ten equal voters, Q = 7: the node's own Prepare and five others are counted at once,
    the sixth completes the quorum in ``handle`` and the node sends its Commit once."""
    one, proposal_hash = _core([1] * 10, 1, False)
    many = _Counting(0, [1] * 10, events=False)
    many.calls = []
    proposal = make_proposal(1, leader=1)
    many.handle(PrePrepare(0, 1, 1, proposal))
    many.on_proposal_verified(1, proposal.hash, True)
    many.calls.clear()
    messages = [Prepare(0, 1, sender, proposal_hash) for sender in range(1, 7)]
    got = many.handle_votes(messages)
    assert many.calls == [messages[-1]]  # one call: the rest were counted in one step
    expected = []
    for message in messages:
        expected += one.handle(message)
    assert repr(got) == repr(expected)  # actions hold proposals, whose id arrays lack ==
    assert [type(a.message).__name__ for a in got if hasattr(a, "message")] == ["Commit"]
    # one vote too many before the last: one by one, so the quorum's moment is the same
    many.calls.clear()
    late = [Commit(0, 1, sender, proposal_hash) for sender in range(1, 10)]
    many.handle_votes(late)
    assert many.calls == late
