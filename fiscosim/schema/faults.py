"""Faults injected during a run (:class:`FaultSpec`): what each kind reads, the roles a fault
may name instead of a node (:data:`FAULT_ROLES`), and the byzantine behaviours a fault may
name, which are :data:`fiscosim.faults.behaviours.BEHAVIOURS`:

>>> from typing import get_args
>>> get_args(Behaviour) == BEHAVIOURS
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from fiscosim.faults.behaviours import BEHAVIOURS
from fiscosim.schema.errors import Invalid
from fiscosim.schema.fields import MODEL, Float, Int
from fiscosim.schema.limits import MAX_DELAY_MS, MAX_RUN_S

Behaviour = Literal[BEHAVIOURS]  # type: ignore[valid-type]
"""What ``behaviour`` of a byzantine fault may be: the behaviours fiscosim.faults.byzantine
models."""


class FaultSpec(BaseModel):
    """One fault at a simulated time, optionally undone at ``until_s``.

    ``crash``/``restart`` (``nodes``), ``partition`` (``groups``; nodes in no group form one
    more) / ``heal``, ``loss`` (network-wide ``rate``), ``delay`` (``nodes``' outgoing
    messages take ``delay_ms`` more), ``slow`` (``nodes``' CPUs take ``factor`` × as long),
    ``byzantine`` (``nodes`` misbehave as ``behaviour`` says: silent, equivocate,
    withhold_votes, wrong_votes, forge_signatures, forge_txs, reorder, forge_light;
    docs/faults.md). A node named in a byzantine fault is not honest: the safety checker leaves
    its chain out.
    """

    model_config = MODEL

    at_s: Float | None = Field(None, ge=0, le=2 * MAX_RUN_S)
    """When, in simulated seconds from the start; before the run's end (duration_s + drain_s),
    or the fault would never happen. Give either at_s or at_block."""
    at_block: Int | None = Field(None, ge=1, le=1_000_000_000)
    """Instead of at_s: when block ``at_block`` is first sealed or first committed by an honest
    sealer (``block_event``). Single-group scenarios only."""
    block_event: Literal["sealed", "committed"] | None = None
    """With at_block: ``sealed`` (its leader seals it) or ``committed`` (the default: the first
    honest sealer writes it to its ledger)."""
    kind: Literal["crash", "restart", "partition", "heal", "loss", "delay", "slow", "byzantine"]
    nodes: list[str] = []
    """The nodes it hits (crash, restart, delay, slow), by name, or by role for crash, delay and
    slow in a single-group scenario: ``leader`` (the leader of the lowest block not yet
    committed by the most advanced honest sealer, in its view; during a view change the leader
    of the view it moves to) or ``next_leader`` (the leader of the block after that), resolved
    when the fault starts; the fault log says which node it was."""
    groups: list[list[str]] | None = None
    """The sides of a partition."""
    rate: Float | None = Field(None, ge=0, lt=1)
    """Message loss probability (loss), in [0, 1); 0 is no loss. At ``until_s`` the rate before
    the fault returns."""
    delay_ms: Float | None = Field(None, ge=0, le=MAX_DELAY_MS)
    """Extra delay of every message the nodes send (delay), or a reorder node's longest hold
    (byzantine), in ms: 0..60000 (one minute)."""
    factor: Float | None = Field(None, gt=0, le=10_000)
    """CPU slowdown factor (slow). At most 10,000 (a 1 ms task takes 10 s: beyond it the node
    is crashed, not slow)."""
    behaviour: Behaviour | None = None
    """What a byzantine node does (byzantine): silent (sends no PrePrepare or NewView),
    equivocate (as leader, two proposals to two halves; colluding votes follow), withhold_votes
    (no Prepare, Commit or CheckPoint), wrong_votes (votes for a hash no proposal has),
    forge_signatures (invalid signatures on its PBFT messages), forge_txs (invalid signatures
    on the transactions it pushes or serves), reorder (each PBFT message held a random
    0..delay_ms, 50 by default), forge_light (forged headers and proofs to light nodes)."""
    until_s: Float | None = Field(None, gt=0, le=2 * MAX_RUN_S)
    """Undo the fault then: restart, heal, loss 0, no delay, factor 1. None: it stays. With
    at_block, use for_s."""
    for_s: Float | None = Field(None, gt=0, le=2 * MAX_RUN_S)
    """Instead of until_s: undo the fault this long after it started (at_s or at_block)."""

    @model_validator(mode="after")
    def _check_kind(self) -> FaultSpec:
        if (self.at_s is None) == (self.at_block is None):
            where = "at_s" if self.at_s is None else "at_block"
            raise Invalid(where, "a fault starts either at_s or at_block" + (
                "; it has neither" if self.at_s is None else "; it has both"),
                           "give one of them")
        if self.block_event is not None and self.at_block is None:
            raise Invalid("block_event", "block_event needs at_block",
                           "add at_block, or remove block_event")
        if self.until_s is not None and self.at_block is not None:
            raise Invalid("until_s", "a fault started at_block is undone for_s after it "
                           "starts, not at until_s", "use for_s")
        if self.until_s is not None and self.for_s is not None:
            raise Invalid("for_s", "until_s and for_s say the same thing", "keep one")
        roles = [name for name in self.nodes if name in FAULT_ROLES]
        if roles and self.kind not in ("crash", "delay", "slow"):
            raise Invalid("nodes", f"a {self.kind} fault cannot name a role ({roles[0]})",
                           "name the nodes; roles are for crash, delay and slow faults")
        needs = {"crash": "nodes", "restart": "nodes", "delay": "nodes", "slow": "nodes",
                 "partition": "groups", "loss": "rate", "byzantine": "nodes"}
        need = needs.get(self.kind)
        # Tested against None and [], not for truth: a rate of 0 is a value (no loss).
        if need and getattr(self, need) in (None, []):
            fix = {"rate": "set rate, a loss probability in [0, 1)",
                   "groups": "give the sides, e.g. groups: [[node0, node1], [node2, node3]]"}
            raise Invalid(need, f"a {self.kind} fault needs {need}",
                           fix.get(need, f"give the {need} it applies to"))
        extra = {"delay": "delay_ms", "slow": "factor", "byzantine": "behaviour"}.get(self.kind)
        if extra and getattr(self, extra) is None:
            raise Invalid(extra, f"a {self.kind} fault needs {extra}", f"set {extra}")
        if self.until_s is not None and self.at_s is not None and self.until_s <= self.at_s:
            raise Invalid("until_s", f"{self.until_s} is not after at_s {self.at_s}",
                           "undo the fault after it starts, or leave until_s out")
        for undo in ("until_s", "for_s"):
            if getattr(self, undo) is not None and self.kind in ("restart", "heal"):
                raise Invalid(undo, f"a {self.kind} cannot be undone", f"leave {undo} out")
        # A field the kind does not read would be dropped without a word: refuse it.
        uses = _FAULT_FIELDS[self.kind]
        if self.kind == "byzantine" and self.behaviour != "reorder":
            uses = uses - {"delay_ms"}
        for name in ("nodes", "groups", "rate", "delay_ms", "factor", "behaviour"):
            if name not in uses and getattr(self, name) not in (None, []):
                what = (f"a byzantine fault with behaviour {self.behaviour}"
                        if self.kind == "byzantine" else f"a {self.kind} fault")
                takes = ", ".join(sorted(uses | {"at_s", "at_block", "kind"}))
                raise Invalid(name, f"{name} does not apply to {what}",
                               f"remove it; {what} takes {takes}")
        for i, name in enumerate(self.nodes):
            if name in self.nodes[:i]:
                raise Invalid(("nodes", i), f"node {name!r} is listed twice",
                               "name each node once")
        side_of: dict[str, int] = {}
        for g, side in enumerate(self.groups or []):
            if not side:
                raise Invalid(("groups", g), "a side of the partition is empty",
                               "list the nodes of each side; nodes in no side form one more")
            for i, name in enumerate(side):
                if name in side_of:
                    where = ("twice on one side of the partition" if side_of[name] == g
                             else f"on two sides of the partition, groups.{side_of[name]} and "
                                  f"groups.{g}")
                    raise Invalid(("groups", g, i), f"node {name!r} is {where}",
                                   "put each node on one side")
                side_of[name] = g
        return self


_FAULT_FIELDS: dict[str, frozenset[str]] = {
    "crash": frozenset({"nodes", "until_s", "for_s"}),
    "restart": frozenset({"nodes"}),
    "partition": frozenset({"groups", "until_s", "for_s"}),
    "heal": frozenset(),
    "loss": frozenset({"rate", "until_s", "for_s"}),
    "delay": frozenset({"nodes", "delay_ms", "until_s", "for_s"}),
    "slow": frozenset({"nodes", "factor", "until_s", "for_s"}),
    "byzantine": frozenset({"nodes", "behaviour", "delay_ms", "until_s", "for_s"}),
}
"""The fields each fault kind reads (besides at_s, at_block, block_event and kind):
fiscosim.faults.injector."""

FAULT_ROLES = ("leader", "next_leader")
"""What a fault's ``nodes`` may name instead of a node: resolved when the fault starts."""
