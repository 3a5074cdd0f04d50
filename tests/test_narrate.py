"""fiscosim.trace.narrate: the PBFT core's events in words (the texts of the trace's notes).

The core's own tests assert on events; these check the sentences, which the trace must keep
byte for byte (tests/test_golden.py checks whole traces).
"""

from __future__ import annotations

import dataclasses

import pytest
from test_pbft import events, make_proposal
from test_pbft_viewchange import clients_waiting

from fiscosim.consensus import PbftCore, Prepare, PrePrepare
from fiscosim.consensus import events as ev
from fiscosim.consensus.driver import Driver
from fiscosim.trace.narrate import _TEXTS, Narrator, narrate

LABELS = [f"sealer {i} (n{i})" for i in range(4)]


def test_every_event_type_has_words() -> None:
    types = {getattr(ev, name) for name in ev.__all__ if name not in ("TEXT", "Event")}
    assert types == set(_TEXTS)


def test_quorum_names_the_voters_by_index_or_label() -> None:
    event = ev.QuorumReached("prepare", 1, 0, 3, 3, (0, 1, 3), bytes(32))
    assert narrate(event, 0) == (
        "prepare quorum for block 1 in view 0 (weight 3/3: nodes 0,1,3): sending Commit")
    assert Narrator(0, LABELS)(dataclasses.replace(event, phase="commit")) == (
        "commit quorum for block 1 in view 0 (weight 3/3: sealer 0 (n0), sealer 1 (n1), "
        "sealer 3 (n3)): committed by consensus")
    assert event.code == "prepare_quorum"
    assert event.fields() == {"index": 1, "view": 0, "weight": 3, "quorum": 3,
                              "voters": (0, 1, 3), "hash": bytes(32)}


def test_new_view_sent_lists_its_empty_reproposals() -> None:
    named = Narrator(2, LABELS)
    assert named(ev.NewViewSent(5, 0, 1, (5, 6, 7), (6, 7))) == (
        "sealer 2 (n2) starts view 1: re-proposing [5, 6, 7] (empty: 6,7)")
    assert named(ev.NewViewSent(5, 0, 1, (5,), ())) == (
        "sealer 2 (n2) starts view 1: re-proposing [5]")


@pytest.mark.parametrize(("event", "text"), [
    (ev.Ignored(3, 0, "Prepare", "stale", sender=1, detail=(4, False)),
     "ignored: Prepare for block 3 from node 1: already committed up to 4"),
    (ev.Ignored(3, 1, "Commit", "in_view_change", sender=2, message_view=1, detail=(2,)),
     "ignored: Commit for block 3 from node 2 is in view 1, we are in view 1 moving to view 2"),
    (ev.Ignored(3, 0, "PrePrepare", "duplicate"),
     "ignored: PrePrepare for block 3 already received"),
    (ev.Ignored(3, 0, "PrePrepare", "duplicate", sender=1, detail=(2,)),
     "ignored: a PrePrepare for block 3 in view 2 is already held"),
    (ev.Ignored(3, 0, "ViewChange", "proof_below_quorum", sender=1, to_view=1,
                detail=(4, 2, 3)),
     "ignored: ViewChange to view 1 from node 1: proof for block 4 has Prepare weight 2 < Q = 3"),
    (ev.Ignored(1, 0, "NewView", "bad_view_changes", sender=1, to_view=1,
                detail=("proof", 2, "bad_voters", (4, (0, 0, 1)))),
     "ignored: NewView for view 1 from node 1: the ViewChange from node 2: proof for block 4 "
     "names voters (0, 0, 1)"),
    (ev.Ignored(1, 0, "RecoverRequest", "unknown_sender", sender=9),
     "ignored: RecoverRequest from node 9, not another consensus node"),
    (ev.Ignored(2, 0, "CommittedProposalRequest", "not_committed_here", sender=1,
                detail=(True,)),
     "ignored: node 1 asks for block 2's committed proposal: we hold none with a Commit quorum "
     "(it is in our ledger: block sync serves it)"),
    (ev.ProposalRefused(4, 0, "PrePrepare", "out_of_window", detail=(3,)),
     "ignored: block 4 is beyond the high water mark 3"),
    (ev.CommittedProposalRequested(2, 0, 2, (1, 3), bytes(32), "not_precommitted", 1),
     "CheckPoints of weight 2 for block 2 (> f = 1, not precommitted): asking nodes 1,3 for "
     "its committed proposal"),
])
def test_sentences(event: ev.Event, text: str) -> None:
    assert narrate(event, 0) == text


def test_text_only_fields_stay_out_of_the_trace() -> None:
    refused = ev.ProposalRefused(4, 0, "PrePrepare", "stale", detail=(5,))
    assert refused.code == "ignored"
    assert refused.fields() == {"index": 4, "view": 0, "message": "PrePrepare", "reason": "stale"}
    held = ev.Reproposal(2, 1, bytes(32), held=True)
    assert held.fields() == {"index": 2, "view": 1, "hash": bytes(32)}


def test_every_event_of_the_test_runs_has_words() -> None:
    """The driver's runs (random orders, a silent leader, duplicates) narrate without error."""
    runs = [Driver([1] * 4, seed=3, blocks=12, duplicate=1.0).start().settle(),
            clients_waiting([1] * 4, blocks=8, silent=(1,)).run(),
            clients_waiting([1] * 4, blocks=8, seed=5, silent=(0,)).run()]
    narrators = [Narrator(i, LABELS) for i in range(4)]
    told = 0
    for run in runs:
        for node, acts in enumerate(run.actions):
            for event in events(acts):
                assert narrators[node](event)
                told += 1
    assert told > 100
    core = PbftCore(0, [1] * 4)
    p = make_proposal(1, leader=1)
    acts = core.handle(PrePrepare(0, 1, 1, p)) + core.handle(Prepare(0, 1, 7, p.hash))
    assert [narrate(e, 0) for e in events(acts)][-1] == (
        "ignored: Prepare for block 1 from node 7, not a consensus node")
