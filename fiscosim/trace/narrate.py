"""The PBFT core's events in words: one sentence per :mod:`~fiscosim.consensus.events` event.

The core emits data (:class:`~fiscosim.consensus.events.Event`); the trace's ``note`` lines
carry its ``code``, this module's ``text`` and the event's fields. A :class:`Narrator` names
the nodes of one group: with ``labels`` (one per consensus index, e.g. "sealer 2 (node3)", the
simulator's) or, without them, "node 2", the consensus index (a core driven by hand). The
simulator builds one per sealer (``me``, its consensus index, is the node the sentences say
"we" of) and hands it to the node's runtime, which sits below this layer and so cannot import
it (docs/architecture.md, layers).

``lang`` picks the language of the sentences (:data:`LANGUAGES`): ``"en"``, this module's
English, or ``"zh"``, Simplified Chinese (:mod:`fiscosim.trace.zh`).

>>> from fiscosim.consensus.events import QuorumReached
>>> Narrator(0)(QuorumReached("prepare", 1, 0, 3, 3, (0, 1, 3), bytes(32)))
'prepare quorum for block 1 in view 0 (weight 3/3: nodes 0,1,3): sending Commit'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fiscosim.consensus import events as ev
from fiscosim.trace import zh


def short(digest: bytes) -> str:
    """A hash in a sentence: its first four bytes in hex."""
    return digest[:4].hex()


_PEER_MESSAGES = frozenset(
    {"ViewChange", "NewView", "RecoverRequest", "RecoverResponse", "CommittedProposalRequest"})
"""Messages whose sender must be another consensus node (not a vote about one block)."""


LANGUAGES = ("en", "zh")
"""The languages a :class:`Narrator` speaks."""


class Narrator:
    """Words for one node's events: ``narrator(event)`` is its sentence, in ``lang`` (one of
    :data:`LANGUAGES`; anything else is a ValueError)."""

    def __init__(self, me: int, labels: Sequence[str] | None = None, lang: str = "en") -> None:
        self.me = me
        self.labels = None if labels is None else tuple(labels)
        self.lang = lang
        self._texts: dict[type, Callable[[Narrator, Any], str]]
        if lang == "en":
            self._texts, self._node, self._nodes = _TEXTS, "node ", "nodes "
        elif lang == "zh":
            self._texts, self._node, self._nodes = zh.TEXTS, zh.NODE, zh.NODES
        else:
            raise ValueError(f"unknown narration language {lang!r}: the languages are "
                             f"{', '.join(LANGUAGES)}")

    def who(self, index: int, prefix: str | None = None) -> str:
        """Consensus node ``index``: its label, else ``prefix`` (by default the language's:
        "node ") and the index ("node 3"). An index outside the consensus list (a stray
        sender) is always written as a number."""
        labels = self.labels
        if labels is not None and 0 <= index < len(labels):
            return labels[index]
        return f"{self._node if prefix is None else prefix}{index}"

    def whos(self, indexes: Iterable[int], prefix: str | None = None) -> str:
        """Several consensus nodes: "nodes 0,1,2" (``prefix``, by default the language's), or
        their labels."""
        if self.labels is None:
            return (self._nodes if prefix is None else prefix) + ",".join(map(str, indexes))
        return ", ".join(self.who(i) for i in indexes)

    def __call__(self, event: ev.Event) -> str:
        return self._texts[type(event)](self, event)


# -- the normal case ----------------------------------------------------------------------------


def _window(e: Any) -> str:
    return f"window now [{e.index + 1}, {e.high_water_mark})"


def _quorum(n: Narrator, e: ev.QuorumReached) -> str:
    then = "sending Commit" if e.phase == "prepare" else "committed by consensus"
    return (f"{e.phase} quorum for block {e.index} in view {e.view} (weight "
            f"{e.weight}/{e.quorum}: {n.whos(e.voters)}): {then}")


def _verified(n: Narrator, e: ev.ProposalVerified) -> str:
    if e.to_view is not None:
        return (f"proposal {short(e.hash)} for block {e.index} verified; no Prepare: a view "
                f"change to view {e.to_view} is under way")
    if e.executed:
        return (f"proposal {short(e.hash)} for block {e.index} verified and executed: "
                "sending Prepare (FISCO 2.x's SignReq)")
    return f"proposal {short(e.hash)} for block {e.index} verified: sending Prepare"


def _rejected(n: Narrator, e: ev.ProposalRejected) -> str:
    if e.fetched:
        return f"fetched proposal {short(e.hash)} for block {e.index} failed verification"
    return (f"proposal {short(e.hash)} for block {e.index} failed verification; "
            "waiting for a view change")


def _stable(n: Narrator, e: ev.StableCheckpoint) -> str:
    waiting = ": waiting for earlier blocks to commit" if e.waiting else ""
    return (f"stable checkpoint for block {e.index} (weight {e.weight}/{e.quorum}: "
            f"{n.whos(e.voters)}){waiting}")


# -- view change --------------------------------------------------------------------------------


def _new_view_sent(n: Narrator, e: ev.NewViewSent) -> str:
    empty = f" (empty: {','.join(map(str, e.empty))})" if e.empty else ""
    return (f"{n.who(n.me)} starts view {e.to_view}: re-proposing {list(e.reproposed)}{empty}")


def _reproposal(n: Narrator, e: ev.Reproposal) -> str:
    if e.held:
        return (f"block {e.index} re-proposed in view {e.view}: we hold it already "
                f"({short(e.hash)})")
    return f"block {e.index} re-proposed in view {e.view} " + (
        "(an empty proposal: no transactions to verify)" if not e.txs else
        f"({e.txs} txs, hash {short(e.hash)}): verifying")


def _unsealed(n: Narrator, e: ev.Unsealed) -> str:
    why = {"late_verdict": "its verification finished after a view change abandoned it",
           "committed_elsewhere": f"block {e.index} was committed with another proposal",
           "not_reproposed": f"view {e.view} does not re-propose it"}[e.cause]
    return (f"proposal {short(e.hash)} for block {e.index} abandoned ({why}): its {e.txs} "
            "transactions go back to pending")


def _timeout(n: Narrator, e: ev.Timeout) -> str:
    stuck = (f"view change to view {e.to_view - 1} did not complete" if e.in_view_change
             else f"block {e.index} not committed")
    return (f"view timer fired in view {e.view} ({stuck}): a view change to view {e.to_view} "
            "is needed")


# -- the committed-proposal fetch ---------------------------------------------------------------


def _requested(n: Narrator, e: ev.CommittedProposalRequested) -> str:
    why = {"resent": "re-broadcast", "view_change": "in a view change",
           "not_precommitted": f"> f = {e.max_faulty}, not precommitted"}[e.cause]
    return (f"CheckPoints of weight {e.weight} for block {e.index} ({why}): asking "
            f"{n.whos(e.dests)} for its committed proposal")


# -- messages left aside ------------------------------------------------------------------------


def _proof_flaw(reason: str, detail: tuple) -> str:
    """Why a ViewChange's prepared proof is invalid (``PbftCore._bad_proofs``)."""
    if reason == "malformed_proof":
        index, view, proposal_index, to_view = detail
        return (f"proof for block {index} (view {view}, proposal for block {proposal_index}) "
                f"does not fit a ViewChange to view {to_view}")
    if reason == "bad_voters":
        return f"proof for block {detail[0]} names voters {detail[1]}"
    index, weight, quorum = detail
    return f"proof for block {index} has Prepare weight {weight} < Q = {quorum}"


def _new_view_flaw(n: Narrator, e: ev.Ignored) -> str:
    """Why a NewView is invalid (``PbftCore._bad_new_view``)."""
    d = e.detail
    if e.reason == "bad_view_changes":
        if d[0] == "view":
            return f"it holds a ViewChange to view {d[1]}"
        if d[0] == "twice":
            return f"it holds a ViewChange from {n.who(d[1])} twice"
        if d[0] == "sender":
            return f"it holds a ViewChange from {d[1]}, which is no consensus index"
        return f"the ViewChange from {n.who(d[1])}: {_proof_flaw(d[2], d[3])}"
    if e.reason == "no_quorum":
        return f"its ViewChanges weigh {d[0]} < Q = {d[1]}"
    if e.reason == "wrong_leader":
        return f"the leader of view {e.to_view} is {n.who(d[0])}"
    return (f"it re-proposes {list(d[0])}, its ViewChanges give {list(d[1])} "
            "(or other proposals)")


def _commit_proof_flaw(d: tuple) -> str:
    """Why a committed proposal's Commit proof is invalid (``PbftCore._bad_commit_proof``)."""
    if d[0] == "block":
        return f"its proof is for block {d[1]} (proposal {d[2]})"
    if d[0] == "voters":
        return f"its proof names voters {d[1]}"
    return f"its proof has Commit weight {d[1]} < Q = {d[2]}"


def _view_change_ignored(n: Narrator, e: ev.Ignored) -> str:
    head = f"ViewChange to view {e.to_view} from {n.who(e.sender)}"
    reason, d = e.reason, e.detail
    if reason == "stale_committed":
        return f"{head} has committed index {e.index}, below ours ({d[0]})"
    if reason == "stale_view":
        return f"{head}: we are in view {e.view}"
    if reason == "far_future_view":
        return f"{head} is more than {d[0]} views ahead"
    if reason == "conflicting_committed_hash":
        return (f"ViewChange from {n.who(e.sender)} commits block {e.index} with hash "
                f"{short(d[0])}, we have {short(d[1])}")
    if reason == "duplicate":
        return f"{head} already held"
    return f"{head}: {_proof_flaw(reason, d)}"


def _new_view_ignored(n: Narrator, e: ev.Ignored) -> str:
    if e.reason == "conflicting":  # a re-proposal against a block committed by consensus here
        return (f"NewView re-proposes {short(e.detail[0])} for block {e.index}, committed by "
                f"consensus with {short(e.detail[1])}")
    head = f"NewView for view {e.to_view} from {n.who(e.sender)}"
    if e.reason == "stale_view":
        return f"{head}: we are in view {e.view}"
    if e.reason == "far_future_view":
        return f"{head} is more than {e.detail[0]} views ahead"
    return f"{head}: {_new_view_flaw(n, e)}"


def _pre_prepare_ignored(n: Narrator, e: ev.Ignored) -> str | None:
    """The PrePrepare-only reasons; None for those every vote shares."""
    if e.reason == "malformed":
        return f"PrePrepare for block {e.index} carries block {e.detail[0]}"
    if e.reason == "wrong_leader":
        return (f"PrePrepare for block {e.index} from {n.who(e.sender)}, but the leader in "
                f"view {e.view} is {n.who(e.leader)}")
    if e.reason == "conflicting":
        return (f"second PrePrepare for block {e.index} in view {e.view} with another hash "
                f"({short(e.hash)}, we hold {short(e.detail[0])})")
    if e.reason == "duplicate" and e.detail:
        return f"a PrePrepare for block {e.index} in view {e.detail[0]} is already held"
    if e.reason == "duplicate" and e.sender is None:
        return f"PrePrepare for block {e.index} already received"
    return None


def _vote_ignored(n: Narrator, e: ev.Ignored) -> str:
    """PrePrepare, Prepare, Commit, CheckPoint and CommittedProposalResponse: the checks of
    their block index, sender and view."""
    head = f"{e.message} for block {e.index} from {n.who(e.sender)}"
    reason, d = e.reason, e.detail
    if reason == "stale":
        return f"{head}: already {'executed' if d[1] else 'committed'} up to {d[0]}"
    if reason == "out_of_window":
        return f"{head} is beyond the window (< {d[0]})"
    if reason == "unknown_sender":
        return f"{head}, not a consensus node"
    if reason == "duplicate":
        return f"{head}: we have it" if e.message == "CommittedProposalResponse" else (
            f"{head} already counted")
    if reason == "unexpected":
        return f"{head}: not asked"
    if reason == "bad_proof":
        return f"{head}: {_commit_proof_flaw(d)}"
    moving = f" moving to view {d[0]}" if reason == "in_view_change" else ""
    return f"{head} is in view {e.message_view}, we are in view {e.view}{moving}"


def _report_ignored(n: Narrator, e: ev.Ignored) -> str | None:
    """Reports from the runtime (a verdict, an execution, a commit, a timer, a leader check)
    and unknown messages."""
    d = e.detail
    if e.message == "verification":
        return f"no proposal {short(d[0])} for block {e.index} awaits verification"
    if e.message == "execution":
        return f"block {e.index} is not the one executing ({d[0]})"
    if e.message == "ledger commit":
        return f"block {e.index} is not the one being committed ({d[0]})"
    if e.message == "timer":
        return f"timer {d[0]!r} is not armed in this core"
    if e.message == "leader check":
        return f"{n.who(n.me)} is the leader it was told is unreachable"
    if e.reason == "unknown_message":
        return f"{e.message} is not a PBFT message this core handles"
    return None


def _peer_ignored(n: Narrator, e: ev.Ignored) -> str:
    """RecoverRequest, RecoverResponse, CommittedProposalRequest; any peer's unknown sender."""
    if e.reason == "unknown_sender":
        return f"{e.message} from {n.who(e.sender)}, not another consensus node"
    if e.reason == "stale_view":
        return (f"RecoverResponse from {n.who(e.sender)} reports view {e.to_view}; we are in "
                f"view {e.view}")
    if e.reason == "duplicate":
        return f"RecoverResponse from {n.who(e.sender)} already counted"
    return (f"{n.who(e.sender)} asks for block {e.index}'s committed proposal: we hold none "
            "with a Commit quorum"
            + (" (it is in our ledger: block sync serves it)" if e.detail[0] else ""))


def _ignored(n: Narrator, e: ev.Ignored) -> str:
    text = _report_ignored(n, e)
    if text is None:
        if e.message in _PEER_MESSAGES and (
                e.reason == "unknown_sender" or e.message not in ("ViewChange", "NewView")):
            text = _peer_ignored(n, e)
        elif e.message == "ViewChange":
            text = _view_change_ignored(n, e)
        elif e.message == "NewView":
            text = _new_view_ignored(n, e)
        else:
            text = (_pre_prepare_ignored(n, e) if e.message == "PrePrepare" else None) or (
                _vote_ignored(n, e))
    return f"ignored: {text}"


def _refused(n: Narrator, e: ev.ProposalRefused) -> str:
    d = e.detail
    text = {
        "in_view_change": lambda: (f"block {e.index}: a view change or recovery is under way "
                                   f"(view {e.view}, to_view {d[0]})"),
        "not_leader": lambda: f"we are not the leader of block {e.index} in view {e.view}",
        "stale": lambda: f"block {e.index} is already executed (executed {d[0]})",
        "out_of_window": lambda: f"block {e.index} is beyond the high water mark {d[0]}",
    }[e.reason]()
    return f"ignored: {text}"


_TEXTS: dict[type, Callable[[Narrator, Any], str]] = {
    # the normal case
    ev.SealNotified: lambda n, e: (
        f"{n.who(n.me)} leads blocks {e.index}..{e.end} in view {e.view}: sealer notified"),
    ev.WindowFull: lambda n, e: (
        f"our turn to seal block {e.index}, but the pipeline is full (high water mark "
        f"{e.high_water_mark}): waiting for a commit"),
    ev.ProposalSent: lambda n, e: (
        f"{n.who(e.leader)} proposes block {e.index} in view {e.view} ({e.txs} txs, hash "
        f"{short(e.hash)})"),
    ev.ProposalReceived: lambda n, e: (
        f"PrePrepare for block {e.index} from leader {n.who(e.leader, '')} in view {e.view} "
        f"({e.txs} txs, hash {short(e.hash)}): verifying"),
    ev.ProposalVerified: _verified,
    ev.ProposalRejected: _rejected,
    ev.QuorumReached: _quorum,
    ev.Executing: lambda n, e: f"executing block {e.index} ({e.txs} txs)",
    ev.CheckPointSent: lambda n, e: (
        f"block {e.index} executed (hash {short(e.executed_hash)}): sending CheckPoint"),
    ev.CheckpointMismatch: lambda n, e: (
        f"CheckPoints of weight {e.weight} agree on executed hash {short(e.executed_hash)} for "
        f"block {e.index}, but we executed {short(e.ours)}"),
    ev.StableCheckpoint: _stable,
    ev.LedgerCommit: lambda n, e: (
        f"writing block {e.index} to the ledger with {len(e.signers)} signatures"),
    ev.Committed: lambda n, e: f"block {e.index} committed to the ledger; {_window(e)}",
    # timers
    ev.TimerSet: lambda n, e: (f"view timer set for {e.delay_us} µs"
                               + (f" ({e.why})" if e.why else "")),
    ev.TimerCancelled: lambda n, e: "view timer cancelled: nothing in flight",
    ev.TimeoutExtended: lambda n, e: (
        f"view timer fired while block {e.busy} is executing or being stored: restarted for "
        f"{e.delay_us} µs"),
    ev.Timeout: _timeout,
    ev.CheckpointResent: lambda n, e: (
        f"no stable checkpoint for block {e.index} after {e.after_us} µs (weight "
        f"{e.weight}/{e.quorum}): sending our CheckPoint again"),
    # view change
    ev.ViewChangeSent: lambda n, e: (
        f"{n.who(n.me)} asks to move from view {e.view} to view {e.to_view} ({e.reason}): "
        f"committed {e.index - 1}, prepared {list(e.prepared)}"),
    ev.ViewChangeResent: lambda n, e: (
        f"{n.who(n.me)} asks again to move to view {e.to_view}, now with committed "
        f"{e.index - 1}"),
    ev.ViewChangeReceived: lambda n, e: (
        f"ViewChange to view {e.to_view} from {n.who(e.sender)} (committed {e.index}, "
        f"{len(e.prepared)} prepared): weight {e.weight}/{e.quorum} for view {e.to_view}"),
    ev.FastViewChange: lambda n, e: (
        f"ViewChanges of weight {e.weight} ≥ f + 1 = {e.threshold} ask for view {e.to_view}: "
        "joining at once"),
    ev.LeaderUnreachable: lambda n, e: (
        f"leader {n.who(e.leader, '')} is unreachable: view change to view {e.to_view} now"),
    ev.EmptyBlock: lambda n, e: (
        f"{n.who(e.leader, '')}'s block {e.index} is empty: FISCO 2.x does not vote on it, "
        f"every node moves to view {e.to_view} and the next leader seals"),
    ev.ViewChangeQuorum: lambda n, e: (
        f"ViewChanges for view {e.to_view} of weight {e.weight}/{e.quorum} ("
        f"{n.whos(e.voters)}): {n.who(e.leader)} leads view {e.to_view}"),
    ev.NewViewSent: _new_view_sent,
    ev.NewViewAccepted: lambda n, e: (
        f"NewView for view {e.to_view} from {n.who(e.sender)} accepted ({e.view_changes} "
        f"ViewChanges, re-proposing {list(e.reproposed)})"),
    ev.Reproposal: _reproposal,
    ev.Unsealed: _unsealed,
    ev.Deferred: lambda n, e: (
        f"{e.message} for block {e.index} from {n.who(e.sender)} is in view {e.message_view}, "
        f"we are in view {e.view}: "
        + ("held until we reach that view" if e.message == "PrePrepare"
           else "counted for that view")),
    # recovery and block sync
    ev.RecoverSent: lambda n, e: (
        f"{n.who(n.me)} (view {e.view}, committed {e.index - 1}) asks the others for their "
        "view"),
    ev.RecoverResponseSent: lambda n, e: (
        f"telling {n.who(e.dest)} we are in view {e.view} (committed {e.index - 1})"),
    ev.Recovered: lambda n, e: (
        f"nodes of weight ≥ {e.quorum} are in view {e.view}: {n.who(n.me)} continues in view "
        f"{e.view}"),
    ev.Synced: lambda n, e: f"block sync brought the ledger to block {e.index}; {_window(e)}",
    # the committed-proposal fetch
    ev.CommittedProposalRequested: _requested,
    ev.CommittedProposalSent: lambda n, e: (
        f"sending block {e.index}'s committed proposal ({short(e.hash)}, Commit quorum of view "
        f"{e.commit_view}) to {n.who(e.dest)}"),
    ev.CommittedProposalReceived: lambda n, e: (
        f"block {e.index}'s committed proposal ({short(e.hash)}, Commit quorum "
        f"{n.whos(e.voters, '')} in view {e.proof_view}) from {n.who(e.sender)}: verifying"),
    ev.CommittedProposalAccepted: lambda n, e: (
        f"block {e.index}'s committed proposal {short(e.hash)} is filled: committed by "
        "consensus"),
    # messages and reports left aside
    ev.Ignored: _ignored,
    ev.ProposalRefused: _refused,
}
"""Each event type's sentence."""


def narrate(event: ev.Event, me: int, labels: Sequence[str] | None = None,
            lang: str = "en") -> str:
    """The sentence for one event of node ``me`` in ``lang`` (see :class:`Narrator`)."""
    return Narrator(me, labels, lang)(event)


__all__ = ["LANGUAGES", "Narrator", "narrate", "short"]
