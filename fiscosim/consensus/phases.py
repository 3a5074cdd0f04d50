"""A block's phase at one node, and every move between phases: one table, checked on each move.

In the spirit of h11's ``_state.py``: :data:`MOVES` lists, for each :class:`Phase`, the phases
a block may move to and why; :func:`check_move` refuses any other move with
:class:`IllegalMove`. :meth:`fiscosim.consensus.pbft.PbftCore._move` is the only place that
changes a block's phase, and it asks :func:`check_move` first.

The normal case walks down the enum (docs/pbft.md, "Four message rounds per block")::

    EMPTY ─PrePrepare─► VERIFYING ─txpool ok─► ACCEPTED ─Prepare weight ≥ Q─► PRECOMMITTED
      └─our own proposal, an empty re-proposal─┘             ─Commit weight ≥ Q─► COMMITTED
    COMMITTED ─executed─► EXECUTED ─CheckPoint weight ≥ Q─► STABLE ─ledger commit─► (dropped)

and the failure cases move sideways: a txpool refusal (REJECTED), a view change that voids a
precommit (PRECOMMITTED → ACCEPTED) or abandons a proposal (→ EMPTY), a committed proposal
fetched from the others (FETCHING → COMMITTED). A block at COMMITTED or beyond never moves back:
its content is final.
"""

from __future__ import annotations

from enum import IntEnum


class Phase(IntEnum):
    """Where one block stands at this node; ordered, so ``phase >= COMMITTED`` reads "committed
    by consensus (and maybe further)"."""

    EMPTY = 0
    """No proposal accepted for the block (votes for it may already be waiting)."""
    VERIFYING = 1
    """A PrePrepare (or re-proposal) passed the checks; the txpool is filling the proposal."""
    FETCHING = 2
    """A committed proposal fetched from the others (§1.5): the txpool is filling it."""
    REJECTED = 3
    """The txpool refused the proposal; the block waits for a view change or a fetch."""
    ACCEPTED = 4
    """The proposal is verified (or our own): our Prepare is out, Prepares for its hash count."""
    PRECOMMITTED = 5
    """Prepare weight ≥ Q in this view: our Commit is out (FISCO's precommit)."""
    COMMITTED = 6
    """Commit weight ≥ Q (or a fetched committed proposal): final, waits for execution."""
    EXECUTED = 7
    """Executed: our CheckPoint on the executed hash is out."""
    STABLE = 8
    """CheckPoint weight ≥ Q on our executed hash: waits for its ledger commit."""


EMPTY = Phase.EMPTY
VERIFYING = Phase.VERIFYING
FETCHING = Phase.FETCHING
REJECTED = Phase.REJECTED
ACCEPTED = Phase.ACCEPTED
PRECOMMITTED = Phase.PRECOMMITTED
COMMITTED = Phase.COMMITTED
EXECUTED = Phase.EXECUTED
STABLE = Phase.STABLE

MOVES: dict[Phase, frozenset[Phase]] = {
    # a PrePrepare or a re-proposal to verify; our own proposal or an empty re-proposal; a
    # committed proposal fetched from the others
    EMPTY: frozenset({VERIFYING, ACCEPTED, FETCHING}),
    # the txpool's verdict; a view change abandons it; the block was committed with another
    # proposal (an equivocating leader), fetched
    VERIFYING: frozenset({ACCEPTED, REJECTED, EMPTY, FETCHING}),
    # the fetched committed proposal is filled, or refused (the next CheckPoint asks again)
    FETCHING: frozenset({COMMITTED, REJECTED}),
    # re-proposed in a new view: verify again; abandoned; the committed proposal fetched
    REJECTED: frozenset({VERIFYING, EMPTY, FETCHING}),
    # the Prepare quorum; abandoned by a view change; the committed proposal fetched: ours
    # (committed at once) or another one
    ACCEPTED: frozenset({PRECOMMITTED, EMPTY, COMMITTED, FETCHING}),
    # the Commit quorum; a new view voids the precommit; the committed proposal fetched
    PRECOMMITTED: frozenset({COMMITTED, ACCEPTED, FETCHING}),
    COMMITTED: frozenset({EXECUTED}),
    EXECUTED: frozenset({STABLE}),
    STABLE: frozenset(),  # the ledger commit drops the block's state
}
"""For each phase, the phases a block may move to."""


class IllegalMove(RuntimeError):
    """A block was asked to make a move :data:`MOVES` does not allow: a bug in the core."""


def check_move(index: int, old: Phase, new: Phase) -> None:
    """Refuses (:class:`IllegalMove`) a move of block ``index`` that :data:`MOVES` does not list."""
    if new not in MOVES[old]:
        raise IllegalMove(f"block {index} cannot move from {old.name} to {new.name}")


__all__ = [
    "ACCEPTED",
    "COMMITTED",
    "EMPTY",
    "EXECUTED",
    "FETCHING",
    "MOVES",
    "PRECOMMITTED",
    "REJECTED",
    "STABLE",
    "VERIFYING",
    "IllegalMove",
    "Phase",
    "check_move",
]
