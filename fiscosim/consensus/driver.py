"""A reference driver for :class:`~fiscosim.consensus.pbft.PbftCore`: n cores in memory, a
virtual clock and a seeded delivery order, playing the runtime's part in miniature.

The core is sans-I/O (docs/architecture.md rule 1): it returns actions and never carries them
out. :class:`Driver` carries them out the simplest faithful way, so that the tests, the docs and
a student can watch a group of cores agree (docs/pbft.md, "Driving the core by hand"):

- a message (``Broadcast``, ``Send``) goes into the bag of things *in flight*; each
  :meth:`~Driver.step` takes one out, the oldest (FIFO) or, with a ``seed``, a random one, so a
  seed is one delivery order. Messages may be lost, duplicated or delayed (``drop``, ``loss``,
  ``duplicate``, ``delay``);
- the runtime's slow work is in flight too, and its answer is delivered like a message:
  ``VerifyProposal`` → ``on_proposal_verified`` (ok unless ``verify`` says no), ``Execute`` →
  ``on_executed`` with :func:`~fiscosim.consensus.messages.executed_hash`, ``CommitBlock`` →
  the ledger records the block, then ``on_committed``; ``SealRange`` → the sealer proposes
  blocks of three made-up transactions (:func:`make_proposal`), up to ``blocks``;
- ``SetTimer``/``CancelTimer`` arm and disarm timers on the virtual clock (integer µs). Time
  stands still while anything is in flight (a network delay is nothing next to a 3 s timeout);
  :meth:`~Driver.advance` jumps to the next deadline, :meth:`~Driver.run` repeats both until
  every live node committed ``blocks`` blocks or nothing is left to happen;
- faults: :meth:`~Driver.crash` a node (now or at a given step), :meth:`~Driver.restart` it
  (a fresh core that recovers the view), :meth:`~Driver.isolate` it from the network, and
  :meth:`~Driver.sync` a node that fell behind (block sync in miniature);
- it records every action of every node (``actions``, ``log``) and every ledger (``ledger``),
  and it checks the core's contract as it goes (execution and ledger commits one at a time and in
  order, the pipeline bound, signature weight ≥ Q, timers as the core says) and safety: no two
  nodes commit different blocks at one height (:class:`SafetyViolation`, at once).

Four nodes commit three blocks, without a timer ever firing::

    >>> from fiscosim.consensus.driver import Driver
    >>> d = Driver([1, 1, 1, 1], blocks=3).start().run()
    >>> [d.committed(node) for node in range(4)]
    [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]]
    >>> d.check_safety()
    >>> d.now, [d.proposed[i].leader for i in (1, 2, 3)]
    (0, [1, 2, 3])
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from fiscosim.chain.config import quorum
from fiscosim.consensus.actions import (
    Action,
    Broadcast,
    CancelTimer,
    CommitBlock,
    Event,
    Execute,
    SealRange,
    Send,
    SetTimer,
    Unseal,
    VerifyProposal,
    ViewChangeNeeded,
    ViewEntered,
)
from fiscosim.consensus.messages import (
    CHECKPOINT_TIMER,
    HASH_SIZE,
    PBFT_TIMER,
    PbftMessage,
    PrePrepare,
    Proposal,
    executed_hash,
    proposal_hash,
)
from fiscosim.consensus.pbft import PbftCore

SECOND = 1_000_000
"""One second of virtual time, in µs."""
ZERO_HASH = bytes(HASH_SIZE)


class ContractViolation(AssertionError):
    """The core broke a rule of its contract or PBFT's safety, as the driver checks them.

    Raised explicitly (not with ``assert``), so the checks hold under ``python -O`` too; an
    AssertionError, so a test runner reports it as a failed check.
    """


def _require(condition: bool, rule: str) -> None:
    if not condition:
        raise ContractViolation(rule)


def make_proposal(index: int, leader: int, txs: int = 3, parent: bytes = ZERO_HASH,
                  view: int = 0, salt: int = 0) -> Proposal:
    """Block ``index`` sealed by ``leader``: ``txs`` made-up transaction ids (``salt`` makes a
    different block for the same index, as an equivocating leader would)."""
    first = index * 10 + salt * 1000
    ids = np.arange(first, first + txs, dtype=np.int64)
    timestamp = index * 1000
    digest = proposal_hash(index, parent, ids, timestamp, leader)
    return Proposal(index, view, leader, digest, parent, ids, timestamp)


class SafetyViolation(AssertionError):
    """Two nodes committed different blocks at one height."""


class InFlight(NamedTuple):
    """Something on its way to ``node``: a message, or the runtime's answer to an action.

    ``what`` is a :class:`~fiscosim.consensus.messages.PbftMessage`, or the action being
    answered (``VerifyProposal``, ``Execute``, ``CommitBlock``, ``SealRange``). ``incarnation``
    is the node's life it was meant for: a restart forgets what was meant for the old one.
    """

    node: int
    what: Any
    incarnation: int

    def __str__(self) -> str:
        what, node = self.what, self.node
        if type(what) is SealRange:
            return f"node {node}: seal blocks {what.start}..{what.end}"
        done = {VerifyProposal: "txpool verified", Execute: "executed", CommitBlock: "stored"}
        if type(what) in done:
            index = what.index if type(what) is CommitBlock else what.proposal.index
            return f"node {node}: {done[type(what)]} block {index}"
        block = f" for block {what.index}" if hasattr(what, "index") else ""
        return f"node {node} gets {what.kind}{block} from node {what.sender} (view {what.view})"


class Sealing(NamedTuple):
    """A ``SealRange`` and where its node stood when it was told (executed, committed)."""

    node: int
    start: int
    end: int
    executed: int
    committed: int


class Driver:
    """n PBFT cores, the runtime's part in miniature, and a virtual clock (module docstring).

    ``weights``: one vote weight per node. ``blocks``: how many blocks the clients want; the
    sealers seal up to there. ``seed``: ``None`` delivers in order (FIFO), an int in that
    seed's random order. ``silent``: nodes crashed from the start. ``report_pool``: each node
    tells its core that transactions wait (``on_pool_size``) until it committed ``blocks``,
    which keeps the view timer running as in FISCO; without it an idle core stops its timer.
    ``hold_executions``: executions finish only at :meth:`release`. ``drop(dest, message)``
    → True loses that message; ``loss`` and ``duplicate`` are probabilities per message
    (drawn from the seed's generator; 1 means always); ``delay(dest, message)`` → µs on the
    way. ``verify(node, proposal)`` → False makes the txpool refuse a proposal. Everything
    else (``leader_period``, ``pipeline_size``, ``events``, ``timeout_us``, ...) goes to each
    :class:`~fiscosim.consensus.pbft.PbftCore`.
    """

    def __init__(self, weights: Sequence[int], *, blocks: int = 20, seed: int | None = None,
                 silent: Sequence[int] = (), report_pool: bool = False,
                 hold_executions: bool = False,
                 drop: Callable[[int, PbftMessage], bool] | None = None, loss: float = 0.0,
                 duplicate: float = 0.0, delay: Callable[[int, PbftMessage], int] | None = None,
                 verify: Callable[[int, Proposal], bool] | None = None,
                 **core_args: Any) -> None:
        self.weights = list(weights)
        self.n = len(self.weights)
        self.quorum = quorum(self.weights)  # Q, worked out here: the core's is checked
        self.core_args = core_args
        self.cores = [PbftCore(i, self.weights, **core_args) for i in range(self.n)]
        self.blocks = blocks
        self.report_pool, self.hold_executions = report_pool, hold_executions
        self.drop, self.loss, self.duplicate, self.delay = drop, loss, duplicate, delay
        self.verify = verify
        self.shuffle = seed is not None
        self.rng = random.Random(0 if seed is None else seed)
        # -- the world: time, what is in flight, who is up
        self.now = 0
        self.steps = 0
        self.in_flight: list[InFlight] = []
        self.later: list[tuple[int, int, InFlight]] = []  # (arrival, order, item): delayed
        self._order = itertools.count()
        self.held: list[InFlight] = []  # finished executions, while hold_executions
        self.timers: list[dict[str, int]] = [{} for _ in range(self.n)]  # name → deadline
        self.down: set[int] = set(silent)
        self.isolated: set[int] = set()
        self.incarnation = [0] * self.n
        self.crash_plan: dict[int, list[int]] = {}  # step → nodes that crash at it
        # -- the runtime of each node
        self.executing: list[int | None] = [None] * self.n
        self.committing: list[int | None] = [None] * self.n
        self.executed = [0] * self.n
        # -- what happened
        self.actions: list[list[Action]] = [[] for _ in range(self.n)]
        self.log: list[tuple[int, int, Action]] = []  # (time, node, action), in order
        self.ledger: list[list[CommitBlock]] = [[] for _ in range(self.n)]
        self.executions: list[list[int]] = [[] for _ in range(self.n)]
        self.chain: dict[int, tuple[bytes, bytes]] = {}  # height → (hash, executed hash)
        self.proposed: dict[int, Proposal] = {}  # the latest block sealed at each index
        self.sealings: list[Sealing] = []
        self.max_ahead = 0  # the furthest a PrePrepare was above its leader's ledger
        self.dropped = 0
        self._carry_out: dict[type, Callable[[int, PbftCore, Any], None]] = {
            Broadcast: self._broadcast, Send: self._send, VerifyProposal: self._verify,
            Execute: self._execute, CommitBlock: self._commit, SealRange: self._seal_range,
            SetTimer: self._set_timer, CancelTimer: self._cancel_timer,
        }

    def __repr__(self) -> str:
        heights = ["down" if node in self.down else str(len(self.ledger[node]))
                   for node in range(self.n)]
        return (f"<Driver: {self.n} nodes, t={self.now} µs, {self.steps} steps, "
                f"{len(self.in_flight)} in flight, ledger heights {', '.join(heights)}>")

    # -- running ------------------------------------------------------------------------------
    def start(self) -> Driver:
        """Boots every live core (and, with ``report_pool``, says transactions wait)."""
        for node in range(self.n):
            self._boot(node)
        return self

    def step(self) -> InFlight | None:
        """Delivers one thing in flight (the oldest, or a random one with a seed) and carries
        out the actions it causes; returns it, or ``None`` when nothing is left to deliver.

        What was meant for a crashed node (or its earlier life) is taken out and lost on the
        way; each thing taken out counts as a step (``steps``)."""
        while self.in_flight:
            if self.shuffle:
                i = self.rng.randrange(len(self.in_flight))
                self.in_flight[i], self.in_flight[-1] = self.in_flight[-1], self.in_flight[i]
            item = self.in_flight.pop() if self.shuffle else self.in_flight.pop(0)
            self.steps += 1
            for node in self.crash_plan.pop(self.steps, ()):
                self.crash(node)
            if item.node not in self.down and item.incarnation == self.incarnation[item.node]:
                self._deliver(item.node, item.what)
                return item
        return None

    def settle(self, max_steps: int = 2_000_000) -> Driver:
        """Delivers until nothing is in flight; the clock does not move."""
        while self.step() is not None:
            _require(self.steps < max_steps, "still busy after max_steps deliveries")
        return self

    def advance(self, max_time: int = 600 * SECOND) -> bool:
        """Moves the clock to the next deadline (a timer, a delayed message), delivers what
        arrives then and fires the timers due; False when nothing is scheduled."""
        due = [(t, node, name) for node in self.alive() for name, t in self.timers[node].items()]
        if not due and not self.later:
            return False
        self.now = min([t for t, _, _ in due] + [t for t, _, _ in self.later[:1]])
        _require(self.now <= max_time, "no progress in the allotted time")
        while self.later and self.later[0][0] == self.now:
            self.in_flight.append(heapq.heappop(self.later)[2])
        for t, node, name in sorted(due):
            if t == self.now and self.timers[node].get(name) == t and node not in self.down:
                del self.timers[node][name]
                self._apply(node, self.cores[node].on_timer(name))
        return True

    def run(self, max_time: int = 600 * SECOND, max_steps: int = 2_000_000) -> Driver:
        """Settles and advances the clock until every live node committed ``blocks`` blocks
        or nothing is left to happen."""
        while True:
            self.settle(max_steps)
            if self.done() or not self.advance(max_time):
                return self

    def release(self) -> Driver:
        """Stops holding executions: the held ones finish (in flight now)."""
        self.hold_executions = False
        self.in_flight.extend(self.held)
        self.held.clear()
        return self

    # -- faults -------------------------------------------------------------------------------
    def crash(self, node: int, at_step: int | None = None) -> None:
        """The node stops now (or just before delivery number ``at_step``): its timers and
        whatever was in flight to it are lost; its ledger stays."""
        if at_step is not None:
            self.crash_plan.setdefault(at_step, []).append(node)
            return
        self.down.add(node)
        self.incarnation[node] += 1
        self.timers[node].clear()

    def restart(self, node: int) -> None:
        """The node starts again from its ledger: a fresh core that recovers the view from
        its peers, as the runtime's restart does (docs/pbft.md, Recovery)."""
        height = len(self.ledger[node])
        self.down.discard(node)
        self.incarnation[node] += 1
        self.timers[node].clear()
        self.executing[node] = self.committing[node] = None
        self.executed[node] = height
        self.cores[node] = PbftCore(node, self.weights, **{
            **self.core_args, "committed_index": height, "recovering": True})
        self._boot(node)

    def sync(self, node: int) -> None:
        """Block sync in miniature (docs/fisco-reference.md §7): the node copies the blocks it
        lacks from the longest live ledger and tells its core (``on_synced``)."""
        source = max(self.alive(), key=lambda other: len(self.ledger[other]))
        missing = self.ledger[source][len(self.ledger[node]):]
        if node in self.down or not missing:
            return
        self.ledger[node].extend(missing)
        top = missing[-1]
        self.executed[node] = max(self.executed[node], top.index)
        for busy in (self.executing, self.committing):
            if busy[node] is not None and busy[node] <= top.index:
                busy[node] = None  # the core ignores that answer when it comes
        self._apply(node, self.cores[node].on_synced(top.index, top.executed_hash))

    def isolate(self, node: int) -> None:
        """Cuts the node off: it runs on, but every message to or from it is lost."""
        self.isolated.add(node)

    def reconnect(self, node: int) -> None:
        """Ends :meth:`isolate`."""
        self.isolated.discard(node)

    # -- what happened ------------------------------------------------------------------------
    def alive(self) -> list[int]:
        """The nodes that are up."""
        return [node for node in range(self.n) if node not in self.down]

    def done(self) -> bool:
        """Every live node has committed ``blocks`` blocks."""
        return all(self.cores[node].committed_index >= self.blocks for node in self.alive())

    def committed(self, node: int) -> list[int]:
        """The heights in ``node``'s ledger, in the order it wrote them."""
        return [block.index for block in self.ledger[node]]

    def events(self, node: int, code: str | None = None) -> list[Event]:
        """The events ``node``'s core emitted (only those with ``code``, if given)."""
        return [a for a in self.actions[node]
                if isinstance(a, Event) and (code is None or a.code == code)]

    def taken(self, kind: type) -> list[tuple[int, Any]]:
        """Every action of type ``kind``, as (node, action), in the order it was carried out."""
        return [(node, a) for _, node, a in self.log if type(a) is kind]

    def messages(self, kind: type) -> list[Any]:
        """Every message of type ``kind`` broadcast or sent, in order."""
        return [a.message for _, _, a in self.log
                if type(a) in (Broadcast, Send) and type(a.message) is kind]

    def check_safety(self) -> None:
        """Raises :class:`SafetyViolation` if two ledgers hold different blocks at a height."""
        seen: dict[int, tuple[bytes, bytes]] = {}
        for node, ledger in enumerate(self.ledger):
            for block in ledger:
                record = (block.proposal.hash, block.executed_hash)
                if seen.setdefault(block.index, record) != record:
                    raise SafetyViolation(f"node {node} committed another block {block.index}")

    # -- the runtime in miniature -------------------------------------------------------------
    def _boot(self, node: int) -> None:
        if node in self.down:
            return
        core = self.cores[node]
        self._apply(node, core.start())
        if self.report_pool and core.committed_index < self.blocks:
            self._apply(node, core.on_pool_size(1))

    def _deliver(self, node: int, what: Any) -> None:
        """Hands ``what`` to the node: a message to its core, an answer to its runtime."""
        core = self.cores[node]
        kind = type(what)
        if kind is SealRange:
            self._seal(node, core, what)
        elif kind is VerifyProposal:
            p = what.proposal
            ok = self.verify is None or self.verify(node, p)
            self._apply(node, core.on_proposal_verified(p.index, p.hash, ok))
        elif kind is Execute:
            p = what.proposal
            if self.executing[node] == p.index:
                self.executing[node] = None
            self._apply(node, core.on_executed(p.index, executed_hash(p.hash)))
        elif kind is CommitBlock:
            if self.committing[node] == what.index:
                self.committing[node] = None
            self._apply(node, core.on_committed(what.index))
            if self.report_pool and what.index >= self.blocks:
                self._apply(node, core.on_pool_size(0))  # the clients got everything
        else:
            self._apply(node, core.handle(what))

    def _seal(self, node: int, core: PbftCore, told: SealRange) -> None:
        """The sealer packs blocks ``told.start..told.end`` (never past ``blocks``: FISCO
        never seals an empty block); the parent is the latest block sealed below (the core
        does not check parents)."""
        for index in range(told.start, min(told.end, self.blocks) + 1):
            below = self.proposed.get(index - 1)
            parent = below.hash if below is not None else ZERO_HASH
            proposal = make_proposal(index, node, parent=parent, view=core.view)
            self.proposed[index] = proposal
            self._apply(node, core.propose(proposal))

    def _apply(self, node: int, acts: list[Action]) -> None:
        """Records and carries out a core's actions, in order (a crashed node's: none)."""
        if node in self.down:
            return
        core = self.cores[node]
        for a in acts:
            self.actions[node].append(a)
            self.log.append((self.now, node, a))
            carry_out = self._carry_out.get(type(a))
            if carry_out is not None:
                carry_out(node, core, a)
            else:  # told, not done
                _require(isinstance(a, (Event, Unseal, ViewChangeNeeded, ViewEntered)),
                         f"an action the driver does not know: {a!r}")
        _require(core.timer_armed == (PBFT_TIMER in self.timers[node]),
                 "the core's PBFT timer flag disagrees with the timers it set")
        _require(core.checkpoint_timer_armed == (CHECKPOINT_TIMER in self.timers[node]),
                 "the core's checkpoint timer flag disagrees with the timers it set")

    def _post(self, node: int, what: Any, delay_us: int = 0) -> None:
        item = InFlight(node, what, self.incarnation[node])
        if delay_us > 0:
            heapq.heappush(self.later, (self.now + delay_us, next(self._order), item))
        else:
            self.in_flight.append(item)

    def _chance(self, p: float) -> bool:
        return p >= 1 or (p > 0 and self.rng.random() < p)

    def _transmit(self, dest: int, message: PbftMessage) -> None:
        """One message on the network: lost, or in flight once or twice, maybe delayed."""
        cut = dest in self.isolated or message.sender in self.isolated
        if cut or (self.drop is not None and self.drop(dest, message)) or self._chance(self.loss):
            self.dropped += 1
            return
        for _ in range(2 if self._chance(self.duplicate) else 1):
            self._post(dest, message, self.delay(dest, message) if self.delay else 0)

    # -- carrying out each kind of action (with the checks of the core's contract) ----------
    def _broadcast(self, node: int, core: PbftCore, a: Broadcast) -> None:
        message = a.message
        _require(message.sender == node, "a node broadcasts its own messages only")
        if type(message) is PrePrepare:
            ahead = message.index - core.committed_index
            _require(ahead <= core.pipeline_size, "pipeline bound broken")
            self.max_ahead = max(self.max_ahead, ahead)
        for dest in range(self.n):
            if dest != node:
                self._transmit(dest, message)

    def _send(self, node: int, core: PbftCore, a: Send) -> None:
        self._transmit(a.dest, a.message)

    def _verify(self, node: int, core: PbftCore, a: VerifyProposal) -> None:
        own_preprepare = a.proposal.leader == node and a.fetch_from is None
        # 2.x's leader executes its own block before its Prepare, as every node does
        _require(not own_preprepare or self.core_args.get("execute_first", False),
                 "a leader never verifies its own proposal")
        self._post(node, a)

    def _execute(self, node: int, core: PbftCore, a: Execute) -> None:
        index = a.proposal.index
        _require(self.executing[node] is None, "two executions in flight")
        _require(index == self.executed[node] + 1, "execution out of order")
        self.executing[node] = self.executed[node] = index
        self.executions[node].append(index)
        (self.held if self.hold_executions else self.in_flight).append(
            InFlight(node, a, self.incarnation[node]))

    def _commit(self, node: int, core: PbftCore, a: CommitBlock) -> None:
        _require(self.committing[node] is None, "two ledger commits in flight")
        _require(a.index == len(self.ledger[node]) + 1, "ledger commit out of order")
        _require(a.index <= self.executed[node], "ledger commit before execution")
        weight = sum(self.weights[s] for s in set(a.signatures))
        _require(weight >= self.quorum, "signature weight below Q")
        record = (a.proposal.hash, a.executed_hash)
        if self.chain.setdefault(a.index, record) != record:
            raise SafetyViolation(f"node {node} committed another block {a.index}")
        self.ledger[node].append(a)
        self.committing[node] = a.index
        self._post(node, a)

    def _seal_range(self, node: int, core: PbftCore, a: SealRange) -> None:
        _require(a.end < core.high_water_mark, "sealing beyond the high water mark")
        self.sealings.append(Sealing(node, a.start, a.end, core.executed_index,
                                     core.committed_index))
        self._post(node, a)

    def _set_timer(self, node: int, core: PbftCore, a: SetTimer) -> None:
        _require(a.name in (PBFT_TIMER, CHECKPOINT_TIMER), f"an unknown timer {a.name!r}")
        self.timers[node][a.name] = self.now + a.delay_us

    def _cancel_timer(self, node: int, core: PbftCore, a: CancelTimer) -> None:
        self.timers[node].pop(a.name, None)


__all__ = ["SECOND", "ZERO_HASH", "ContractViolation", "Driver", "InFlight", "SafetyViolation",
           "Sealing", "make_proposal"]
