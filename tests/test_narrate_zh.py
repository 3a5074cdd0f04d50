"""fiscosim.trace.zh: the narration in Simplified Chinese (``--lang zh``).

A Chinese sentence must say what the English one says: every event type has one, and for each
event (every branch of the English functions: each Ignored reason, each proof flaw, each cause)
the Chinese sentence carries the English one's numbers, hashes and node labels, in the same
order. The trace's other records (``narration._WORDS``) have the same keys and placeholders.
"""

from __future__ import annotations

import re
import string

import pytest
from test_pbft import events
from test_pbft_viewchange import clients_waiting

from fiscosim.consensus import events as ev
from fiscosim.consensus.driver import Driver
from fiscosim.trace import zh
from fiscosim.trace.narrate import _PEER_MESSAGES, _TEXTS, LANGUAGES, Narrator, narrate, short
from fiscosim.trace.narration import _WORDS

LABELS = [f"sealer {i} (n{i})" for i in range(4)]
ZH_LABELS = [zh.LABEL.format(i=i, name=f"n{i}") for i in range(4)]
H1 = bytes.fromhex("1a2b3c4d") + bytes(28)
"""A hash whose short form ("1a2b3c4d") has digits, so a hash left out or moved shows."""
H2 = bytes.fromhex("5e6f7a8b") + bytes(28)

CJK = re.compile(r"[\u4e00-\u9fff]")


def numbers(text: str) -> list[str]:
    """The runs of digits in a sentence, in order (block numbers, views, weights, hashes'
    digits, node indexes)."""
    return re.findall(r"\d+", text)


def _ignored(message: str, reason: str, index: int = 5, view: int = 1,
             **fields: object) -> ev.Ignored:
    return ev.Ignored(index, view, message, reason, **fields)  # type: ignore[arg-type]


EVENTS: list[ev.Event] = [
    # the normal case
    ev.SealNotified(5, 7, 1),
    ev.WindowFull(9, 1, 8),
    ev.ProposalSent(5, 1, 2, 30, H1),
    ev.ProposalReceived(5, 1, 2, 30, H1),
    ev.ProposalVerified(5, 1, H1),
    ev.ProposalVerified(5, 1, H1, to_view=2),
    ev.ProposalVerified(5, 1, H1, executed=True),
    ev.ProposalRejected(5, 1, H1),
    ev.ProposalRejected(5, 1, H1, fetched=True),
    ev.QuorumReached("prepare", 5, 1, 3, 3, (0, 2, 3), H1),
    ev.QuorumReached("commit", 5, 1, 4, 3, (0, 1, 2, 3), H1),
    ev.Executing(5, 1, 30),
    ev.CheckPointSent(5, 1, H1),
    ev.CheckpointMismatch(5, H1, H2, 3),
    ev.StableCheckpoint(5, 1, 3, 3, (0, 1, 2), H1),
    ev.StableCheckpoint(6, 1, 4, 3, (0, 1, 2, 3), H1, waiting=True),
    ev.LedgerCommit(5, 1, (0, 1, 3)),
    ev.Committed(5, 1, 16),
    # timers
    ev.TimerSet(5, 1, 3000000, "proposal 5 in flight"),
    ev.TimerSet(5, 1, 3000000, "transactions are pending"),
    ev.TimerSet(5, 1, 3000000, "progress"),
    ev.TimerSet(5, 1, 6000000, "view change to view 2"),
    ev.TimerSet(5, 1, 6000000),
    ev.TimerCancelled(5, 1),
    ev.TimeoutExtended(5, 1, 3000000, busy=4),
    ev.Timeout(5, 1, 2),
    ev.Timeout(5, 1, 3, in_view_change=True),
    ev.CheckpointResent(5, 1, 2, H1, quorum=3, after_us=3000000),
    # view change
    ev.ViewChangeSent(5, 1, 2, "timeout", 0, (5, 6)),
    ev.ViewChangeSent(5, 1, 2, "empty_block", 0, ()),
    ev.ViewChangeSent(5, 1, 2, "leader_unreachable", 0, ()),
    ev.ViewChangeSent(5, 1, 3, "fast_view_change", 0, (6,)),
    ev.ViewChangeResent(8, 1, 2),
    ev.ViewChangeReceived(4, 1, 2, 3, 2, 3, (5, 6)),
    ev.FastViewChange(5, 1, 3, 2, threshold=2),
    ev.LeaderUnreachable(5, 1, 2, 2),
    ev.EmptyBlock(5, 1, 2, 2),
    ev.ViewChangeQuorum(5, 1, 2, 3, 3, 3, (0, 1, 2)),
    ev.NewViewSent(5, 1, 2, (5, 6, 7), (6, 7)),
    ev.NewViewSent(5, 1, 2, (5,), ()),
    ev.NewViewAccepted(5, 1, 2, 3, (5, 6), view_changes=3),
    ev.Reproposal(5, 2, H1, held=True),
    ev.Reproposal(6, 2, H1, txs=0),
    ev.Reproposal(7, 2, H1, txs=30),
    ev.Unsealed(5, 2, H1, 30, "late_verdict"),
    ev.Unsealed(5, 2, H1, 30, "committed_elsewhere"),
    ev.Unsealed(5, 2, H1, 30, "not_reproposed"),
    ev.Deferred(5, 1, "PrePrepare", "future_view", 3, 2),
    ev.Deferred(5, 1, "Prepare", "future_view", 3, 2),
    # recovery and block sync
    ev.RecoverSent(5, 1),
    ev.RecoverResponseSent(5, 1, 3),
    ev.Recovered(5, 2, quorum=3),
    ev.Synced(9, 1, 20),
    # the committed-proposal fetch
    ev.CommittedProposalRequested(5, 1, 2, (1, 3), H1, "resent"),
    ev.CommittedProposalRequested(5, 1, 2, (1, 3), H1, "view_change"),
    ev.CommittedProposalRequested(5, 1, 2, (1, 3), H1, "not_precommitted", 1),
    ev.CommittedProposalSent(5, 1, 3, H1, commit_view=1),
    ev.CommittedProposalReceived(5, 2, H1, (0, 1, 3), 3, proof_view=1),
    ev.CommittedProposalAccepted(5, 2, H1),
    # Ignored: reports from the runtime, unknown messages
    _ignored("verification", "unexpected", detail=(H1,)),
    _ignored("execution", "unexpected", detail=(4,)),
    _ignored("ledger commit", "unexpected", detail=(4,)),
    _ignored("timer", "stale_timer", detail=("pbft",)),
    _ignored("leader check", "own_leadership"),
    _ignored("Bogus", "unknown_message"),
    # Ignored: the peer messages
    _ignored("RecoverRequest", "unknown_sender", sender=9),
    _ignored("ViewChange", "unknown_sender", sender=9),
    _ignored("NewView", "unknown_sender", sender=2),
    _ignored("RecoverResponse", "stale_view", sender=2, to_view=0, view=1),
    _ignored("RecoverResponse", "duplicate", sender=2),
    _ignored("CommittedProposalRequest", "not_committed_here", sender=2, detail=(True,)),
    _ignored("CommittedProposalRequest", "not_committed_here", sender=2, detail=(False,)),
    # Ignored: ViewChange
    _ignored("ViewChange", "stale_committed", index=4, sender=2, to_view=3, detail=(6,)),
    _ignored("ViewChange", "stale_view", index=4, sender=2, to_view=1, view=2),
    _ignored("ViewChange", "far_future_view", index=4, sender=2, to_view=30, detail=(10,)),
    _ignored("ViewChange", "conflicting_committed_hash", index=4, sender=2, to_view=3,
             detail=(H1, H2)),
    _ignored("ViewChange", "duplicate", index=4, sender=2, to_view=3),
    _ignored("ViewChange", "malformed_proof", index=4, sender=2, to_view=3,
             detail=(7, 2, 8, 3)),
    _ignored("ViewChange", "bad_voters", index=4, sender=2, to_view=3, detail=(7, (0, 0, 1))),
    _ignored("ViewChange", "proof_below_quorum", index=4, sender=2, to_view=3,
             detail=(7, 2, 3)),
    # Ignored: NewView
    _ignored("NewView", "conflicting", detail=(H1, H2)),
    _ignored("NewView", "stale_view", sender=3, to_view=1, view=2),
    _ignored("NewView", "far_future_view", sender=3, to_view=30, detail=(10,)),
    _ignored("NewView", "bad_view_changes", sender=3, to_view=2, detail=("view", 4)),
    _ignored("NewView", "bad_view_changes", sender=3, to_view=2, detail=("twice", 1)),
    _ignored("NewView", "bad_view_changes", sender=3, to_view=2, detail=("sender", 9)),
    _ignored("NewView", "bad_view_changes", sender=3, to_view=2,
             detail=("proof", 1, "malformed_proof", (7, 2, 8, 3))),
    _ignored("NewView", "bad_view_changes", sender=3, to_view=2,
             detail=("proof", 1, "bad_voters", (7, (0, 0, 1)))),
    _ignored("NewView", "bad_view_changes", sender=3, to_view=2,
             detail=("proof", 1, "proof_below_quorum", (7, 2, 3))),
    _ignored("NewView", "no_quorum", sender=3, to_view=2, detail=(2, 3)),
    _ignored("NewView", "wrong_leader", sender=3, to_view=2, detail=(1,)),
    _ignored("NewView", "bad_reproposals", sender=3, to_view=2, detail=((5, 6), (5, 6, 7))),
    # Ignored: PrePrepare
    _ignored("PrePrepare", "malformed", sender=2, detail=(8,)),
    _ignored("PrePrepare", "wrong_leader", sender=2, leader=3),
    _ignored("PrePrepare", "conflicting", hash=H1, detail=(H2,)),
    _ignored("PrePrepare", "duplicate", sender=2, detail=(2,)),
    _ignored("PrePrepare", "duplicate"),
    _ignored("PrePrepare", "stale", sender=2, detail=(6, True)),
    # Ignored: the votes
    _ignored("Prepare", "stale", index=3, sender=1, detail=(4, False)),
    _ignored("CheckPoint", "stale", index=3, sender=1, detail=(4, True)),
    _ignored("Commit", "out_of_window", index=30, sender=1, detail=(15,)),
    _ignored("Prepare", "unknown_sender", sender=7),
    _ignored("Commit", "duplicate", sender=2),
    _ignored("CommittedProposalResponse", "duplicate", sender=2),
    _ignored("CommittedProposalResponse", "unexpected", sender=2),
    _ignored("CommittedProposalResponse", "bad_proof", sender=2, detail=("block", 6, 7)),
    _ignored("CommittedProposalResponse", "bad_proof", sender=2, detail=("voters", (0, 0, 1))),
    _ignored("CommittedProposalResponse", "bad_proof", sender=2, detail=("weight", 2, 3)),
    _ignored("Commit", "in_view_change", index=3, view=1, sender=2, message_view=1,
             detail=(2,)),
    _ignored("Prepare", "stale_view", index=3, view=2, sender=2, message_view=0, detail=(2,)),
    _ignored("Prepare", "far_future_view", index=3, view=1, sender=2, message_view=40,
             detail=(1,)),
    # ProposalRefused
    ev.ProposalRefused(5, 1, "PrePrepare", "in_view_change", detail=(2,)),
    ev.ProposalRefused(5, 1, "PrePrepare", "not_leader"),
    ev.ProposalRefused(5, 1, "PrePrepare", "stale", detail=(6,)),
    ev.ProposalRefused(5, 1, "PrePrepare", "out_of_window", detail=(3,)),
]
"""At least one event of every type, and one per branch of the English sentence functions."""


def test_every_event_type_has_chinese_words() -> None:
    """A sentence added in English only (narrate._TEXTS) fails here until zh.TEXTS has it."""
    assert set(zh.TEXTS) == set(_TEXTS)
    types = {getattr(ev, name) for name in ev.__all__ if name not in ("TEXT", "Event")}
    assert set(zh.TEXTS) == types


def test_the_copies_in_zh_match_narrate() -> None:
    """zh.py does not import narrate.py (narrate imports it): its routing set and hash
    shortener are copies, kept equal here."""
    assert zh._PEER_MESSAGES == _PEER_MESSAGES
    assert zh.short(H1) == short(H1) == "1a2b3c4d"


def test_every_event_type_has_a_case_here() -> None:
    assert {type(event) for event in EVENTS} == set(_TEXTS)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("labelled", [False, True], ids=["indexes", "labels"])
def test_chinese_sentence_carries_the_english_numbers(event: ev.Event, labelled: bool) -> None:
    english = Narrator(0, LABELS if labelled else None)(event)
    chinese = Narrator(0, ZH_LABELS if labelled else None, lang="zh")(event)
    assert numbers(chinese) == numbers(english), (english, chinese)
    assert CJK.search(chinese), chinese
    assert "node" not in chinese and "sealer " not in chinese, chinese


def test_quorum_in_chinese() -> None:
    event = ev.QuorumReached("commit", 1, 0, 3, 3, (0, 1, 3), bytes(32))
    assert narrate(event, 0, lang="zh") == (
        "区块 1 在视图 0 中达到 Commit Quorum（权重 3/3：节点 0,1,3）：已由共识提交")
    assert Narrator(0, ZH_LABELS, "zh")(event) == (
        "区块 1 在视图 0 中达到 Commit Quorum（权重 3/3：共识节点 0 (n0), 共识节点 1 (n1), "
        "共识节点 3 (n3)）：已由共识提交")


def test_english_is_the_default_and_unchanged() -> None:
    event = ev.Ignored(3, 0, "Prepare", "stale", sender=1, detail=(4, False))
    text = "ignored: Prepare for block 3 from node 1: already committed up to 4"
    assert narrate(event, 0) == narrate(event, 0, lang="en") == text
    assert Narrator(0).who(2) == "node 2" and Narrator(0).whos([1, 2]) == "nodes 1,2"
    assert Narrator(0, lang="zh").who(2) == "节点 2"
    assert Narrator(0, lang="zh").whos([1, 2], "") == "1,2"


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="fr") as caught:
        Narrator(0, lang="fr")
    assert all(lang in str(caught.value) for lang in LANGUAGES)
    assert set(LANGUAGES) == {"en", "zh"}


def _placeholders(template: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(template)
                  if name is not None)


def test_words_have_the_english_keys_and_placeholders() -> None:
    english = _WORDS["en"]
    assert set(zh.WORDS) == set(english)
    for key, template in english.items():
        assert _placeholders(zh.WORDS[key]) == _placeholders(template), key
    assert all(CJK.search(text) for text in zh.WORDS.values())


def test_label_has_the_sealer_placeholders() -> None:
    assert _placeholders(zh.LABEL) == ["i", "name"]
    assert zh.LABEL.format(i=2, name="node3") == "共识节点 2 (node3)"
    assert zh.WORDS["sealers"].strip() == zh.LABEL.split(" ")[0]


def test_every_event_of_the_test_runs_has_chinese_words() -> None:
    """The driver's runs (random orders, a silent leader, duplicates): every event's Chinese
    sentence carries its English one's numbers."""
    runs = [Driver([1] * 4, seed=3, blocks=12, duplicate=1.0).start().settle(),
            clients_waiting([1] * 4, blocks=8, silent=(1,)).run()]
    told = 0
    for run in runs:
        for node, acts in enumerate(run.actions):
            english, chinese = Narrator(node, LABELS), Narrator(node, ZH_LABELS, "zh")
            for event in events(acts):
                assert numbers(chinese(event)) == numbers(english(event)), event
                told += 1
    assert told > 100
