"""Aggregated vote delivery (``network.votes: aggregate``): a phase's votes reach a node in one
step, at the instant its quorum of them has arrived, instead of one network delivery each.

In the exact mode every vote is a delivery: with n sealers a block's three vote phases are
3n(n-1) of them, most of a large run's work. Here a broadcast vote's copies are timed as a
broadcast times them (the sender's uplink, then the link's latency, each link in FIFO order;
:meth:`~fiscosim.net.network.Network.broadcast_arrivals`, all copies at once) and written into
the phase's arrival matrix (sender × receiver). A phase is one *key*: (Prepare or Commit, view,
block, hash), or (CheckPoint, block, executed hash). Each receiver's quorum instant is the
arrival at which the weight of the votes that reached it attains its threshold, the quorum
less its own weight (the core counts its own vote itself): the k-th order statistic of its
column when the weights are equal, the weighted one otherwise. One event per key wakes at the
earliest pending quorum instant and hands every receiver whose instant has come all the votes
that reached it by then, in arrival order; the last one's verification is a task on its
PBFT thread from its arrival, as in the exact mode, and the others' are charged to its cores
(the summary's utilisation reports them under the lane "other").

What it leaves out, measured against the exact mode in docs/performance.md ("Aggregated
votes"): a vote reaches a node's core only with its phase's quorum; one that arrives later
(about a third of them) is charged to the PBFT thread before the node's next quorum but never
counted, so the core's voter sets hold the quorum, not every voter; the votes before the
quorum's last are charged to the cores when the quorum is handed over, not to the PBFT thread
as they arrive (charged on the thread after the fact, they would queue behind work that came
after them, which made latencies up to ~3 % higher at 100 sealers); a node that is down at its
quorum instant never gets the phase;
the latencies are drawn per sender rather than per link, and a vote's FIFO order is kept with
the sender's other votes, not with its other messages. The scenario allows the mode only
without byzantine nodes, partitions, loss and delay faults, on a full mesh of distinct
machines, with one group, and not with a trace.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from fiscosim.engine.simpy_adapter import schedule_call

_NEVER = np.iinfo(np.int64).max
TRACE_REFUSED = ("network.votes: aggregate delivers votes in batches, which a trace cannot "
                 "show one by one (run without a trace, or set network.votes: exact)")
"""Why a run with aggregated votes takes no trace (the command line and Simulation.run)."""
KEEP_BLOCKS = 64
"""Phases of blocks this far behind the newest one voted on are dropped, finished or not."""


class _Phase:
    """One key's votes: who sent one, when each copy arrives where, who has been handed them.

    Row ``i`` of ``arrivals`` is the ``i``-th vote posted (``senders[i]``, ``envelopes[i]``,
    ``sizes[i]``), column ``j`` receiver ``j``."""

    __slots__ = ("arrivals", "charged", "crossing", "envelopes", "handed", "index", "posted_by",
                 "rows", "scheduled", "senders", "sizes", "votes", "weight")

    def __init__(self, n: int, index: int) -> None:
        self.index = index
        self.arrivals = np.full((n, n), _NEVER, dtype=np.int64)
        self.rows = 0
        self.senders = np.zeros(n, dtype=np.intp)
        self.sizes = np.zeros(n, dtype=np.int64)
        self.envelopes = np.empty(n, dtype=object)
        self.votes = np.empty(n, dtype=object)
        self.posted_by: set[int] = set()
        self.weight = 0
        self.crossing = np.full(n, _NEVER, dtype=np.int64)
        self.handed = np.zeros(n, dtype=bool)
        self.charged = np.full(n, _NEVER, dtype=np.int64)
        """Per receiver handed the phase: its votes arriving by then are counted or charged."""
        self.scheduled = _NEVER


class VoteBoard:
    """The phases in flight and their receivers' quorum instants (the module docstring).

    ``weights[i]``: consensus weight of network id ``i`` (0 for a node that does not vote);
    ``quorum``: the weight a phase needs. :meth:`bind` gives it, once the nodes exist,
    ``deliver(dst, arrivals, senders, votes, envelope)``: the votes that reached ``dst`` by
    now, in arrival order (int64 arrival times, the senders' ids, the votes as an object
    array) and one of their envelopes (all of one kind); and ``late(dst, arrivals, sizes,
    envelope)``: votes that reached ``dst`` after it was handed their phase, not taken with
    :meth:`take_late` before the phase ended (arrival times and payload sizes).
    """

    def __init__(self, env: Any, weights: list[int], quorum: int) -> None:
        self.env = env
        self.n = len(weights)
        self.weights = np.asarray(weights, dtype=np.int64)
        self.quorum = quorum
        self.thresholds = np.maximum(quorum - self.weights, 1)
        self._least = int(self.thresholds.min())
        voting = self.weights[self.weights > 0]
        self._equal = int(voting.min()) if len(voting) and voting.min() == voting.max() else 0
        self._need = -(-(quorum - self._equal) // self._equal) if self._equal else 0
        self._phases: dict[Hashable, _Phase] = {}
        self._newest = -1
        self._voters = int((self.weights > 0).sum())
        self._deliver: Callable[..., None] = _unbound
        self._late: Callable[[int, np.ndarray, np.ndarray, Any], None] = _unbound
        self.posted = 0
        """Copies posted."""
        self.handed = 0
        """Quorums handed to receivers (one per receiver and phase)."""

    def bind(self, deliver: Callable[..., None],
             late: Callable[[int, np.ndarray, np.ndarray, Any], None]) -> None:
        """Sets how votes reach their receivers (the world, once its nodes exist)."""
        self._deliver = deliver
        self._late = late

    def post(self, src: int, dsts: np.ndarray, arrivals: np.ndarray, envelope: Any,
             key: Hashable, index: int, size: int = 0, vote: Any = None) -> None:
        """``src``'s vote (``envelope``, ``size`` payload bytes, carrying ``vote`` for the
        receivers) for phase ``key`` of block ``index`` reaches ``dsts`` at ``arrivals``."""
        phase = self._phases.get(key)
        if phase is None:
            phase = self._phases[key] = _Phase(self.n, index)
            if index > self._newest:
                self._newest = index
                # Phases far behind the newest block belong to blocks long committed (a
                # crashed voter leaves its phases unfinished): drop them.
                stale = [k for k, p in self._phases.items() if p.index < index - KEEP_BLOCKS]
                for k in stale:
                    self._end(k)
        self.posted += len(dsts)
        if src in phase.posted_by:
            return  # a vote sent twice (a resend): the first copy counts
        row = phase.rows
        phase.arrivals[row, dsts] = arrivals
        phase.senders[row] = src
        phase.sizes[row] = size
        phase.envelopes[row] = envelope
        phase.votes[row] = vote
        phase.posted_by.add(src)
        phase.rows = row + 1
        phase.weight += int(self.weights[src])
        # A receiver handed the phase already gets this vote late (take_late).
        if phase.weight < self._least:
            return
        # A receiver's quorum instant moves only if this vote reaches it before it: a later
        # arrival leaves the k-th earliest (or the weighted crossing) where it was.
        moved = dsts[(arrivals < phase.crossing[dsts]) & ~phase.handed[dsts]]
        if len(moved):
            phase.crossing[moved] = self._crossing(phase, moved, arrivals, dsts)
        first = int(phase.crossing.min())
        if first == _NEVER and phase.rows == self._voters:
            self._end(key)  # every vote posted and nothing pending: done
            return
        if first < phase.scheduled:
            phase.scheduled = first
            schedule_call(self.env, first, self._wake, key, first)

    def take_late(self, dst: int, now: int) -> list[tuple[np.ndarray, np.ndarray, Any]]:
        """The votes that reached ``dst`` after it was handed their phase and by ``now``, not
        taken before: ``[(arrival times, payload sizes, an envelope of the phase)]``."""
        out = []
        for phase in self._phases.values():
            charged = phase.charged[dst]
            if charged >= now:  # not handed (_NEVER), or taken up to now already
                continue
            column = phase.arrivals[:phase.rows, dst]
            due = np.flatnonzero((column > charged) & (column <= now))
            phase.charged[dst] = now
            if len(due):
                out.append((column[due], phase.sizes[due], phase.envelopes[0]))
        return out

    def forget_late(self, dst: int) -> None:
        """``dst`` went down: the late votes of the phases it was handed are never charged."""
        for phase in self._phases.values():
            if phase.handed[dst]:
                phase.charged[dst] = _NEVER - 1

    def _end(self, key: Hashable) -> None:
        """Drops phase ``key``; its late votes not taken yet go to their receivers."""
        phase = self._phases.pop(key)
        rows = phase.rows
        if not rows or not phase.handed.any():
            return
        block = phase.arrivals[:rows]
        pending = (block > phase.charged) & (block < _NEVER)
        for dst in np.flatnonzero(pending.any(axis=0)).tolist():
            mine = np.flatnonzero(pending[:, dst])
            self._late(dst, block[mine, dst], phase.sizes[mine], phase.envelopes[0])

    def _crossing(self, phase: _Phase, receivers: np.ndarray, arrivals: np.ndarray,
                  dsts: np.ndarray) -> np.ndarray:
        """``receivers``' quorum instants with the vote just posted (``arrivals`` at
        ``dsts``, the last row), _NEVER where not reached yet."""
        rows = phase.rows
        block = phase.arrivals[:rows, receivers]
        if self._equal:
            # every voter weighs the same: a sealer needs the k-th earliest of its column
            need = self._need
            if need > rows:
                return np.full(len(receivers), _NEVER, dtype=np.int64)
            if need <= 0:
                return block.min(axis=0)
            old = phase.crossing[receivers]
            fresh = old == _NEVER
            if fresh.all() or need == 1:
                return np.partition(block, need - 1, axis=0)[need - 1]
            # Where a k-th earliest stood, the new vote (earlier than it) pushes it out: the
            # new k-th is the later of the new arrival and the old (k-1)-th, which is the
            # latest arrival before the old k-th if k-1 of them are before it, else the old
            # k-th itself (a tie).
            known = ~fresh
            cols = receivers[known]
            prior = phase.arrivals[:rows - 1, cols]
            bound = old[known]
            before = prior < bound
            latest = np.where(before, prior, -1).max(axis=0)
            kth_less_one = np.where(before.sum(axis=0) == need - 1, latest, bound)
            new_arrival = phase.arrivals[rows - 1, cols]
            out = np.empty(len(receivers), dtype=np.int64)
            out[known] = np.maximum(new_arrival, kth_less_one)
            if fresh.any():
                out[fresh] = np.partition(block[:, fresh], need - 1, axis=0)[need - 1]
            return out
        order = np.argsort(block, axis=0, kind="stable")
        sorted_arrivals = np.take_along_axis(block, order, axis=0)
        weight = np.cumsum(self.weights[phase.senders[:rows]][order], axis=0)
        reached = weight >= self.thresholds[receivers]
        first = reached.argmax(axis=0)
        crossing = sorted_arrivals[first, np.arange(len(receivers))]
        crossing[~reached.any(axis=0)] = _NEVER
        return crossing

    def _wake(self, key: Hashable, at: int) -> None:
        phase = self._phases.get(key)
        if phase is None or phase.scheduled != at:
            return  # superseded by an earlier wake, or the phase is gone
        now = self.env.now
        rows = phase.rows
        envelope = phase.envelopes[0]
        due = np.flatnonzero(phase.crossing <= now)
        for dst in due.tolist():
            column = phase.arrivals[:rows, dst]
            arrived = np.flatnonzero(column <= now)
            # in arrival order, a tie by sender id (the order the exact mode's heap gives)
            order = arrived[np.lexsort((phase.senders[arrived], column[arrived]))]
            phase.handed[dst] = True
            phase.charged[dst] = now
            phase.crossing[dst] = _NEVER
            self.handed += 1
            self._deliver(dst, column[order], phase.senders[order], phase.votes[order],
                          envelope)
        first = int(phase.crossing.min())
        if first == _NEVER and phase.rows == self._voters:
            self._end(key)  # every vote posted and nothing pending: done
            return
        phase.scheduled = first
        if first < _NEVER:
            schedule_call(self.env, first, self._wake, key, first)

    def __len__(self) -> int:
        return len(self._phases)


def _unbound(*args: Any) -> None:  # pragma: no cover - the world binds before the run
    raise RuntimeError("a vote board was used before the world bound it to its nodes")
