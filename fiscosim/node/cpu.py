"""A node's CPU: cores that work is charged to in simulated microseconds (docs/architecture.md rule
3), shared by the node's threads as an operating system shares them.

Work never reads the wall clock: its duration comes from the node's cost model. A *lane* is one
of the node's threads, or one thread pool: all PBFT messages of a node go through one queue and
one thread (docs/fisco-reference.md §1.2), blocks execute one at a time (§2.8), transactions
are verified by a pool over every core. A lane's tasks run one after another: its next task
starts no earlier than its previous one finished.

**Two ways a task gets cores.** The cores keep a per-core "busy until" horizon: the work
already given to them, queued first come, first served. A task of ``work_us`` over
``parallelism`` threads either

- *queues*: it takes the ``parallelism`` cores free soonest and is shared among them so that
  they finish together (a work-stealing pool: a core still busy with a long task takes less of
  it, or none); or
- *time-slices*: it starts at once beside the work already there, its threads getting a fair
  share ``cores / (running + parallelism)`` of the cores each (at most a whole core), as an OS
  scheduler such as Linux's CFS gives every runnable thread. ``running`` counts the threads
  busy when it starts: a core whose horizon is still ahead, and the threads of tasks that are
  time-slicing. Its work is then added to the cores' horizons, so the work queued there
  finishes that much later, and the lanes running beside it lose their share of it (each
  running thread ``work / running``): their next tasks start that much later. The cores never
  do more than ``cores`` microseconds of work per microsecond.

A task takes whichever finishes first. With free cores both are the same; when a backlog fills
the cores (a verification pool behind on an overloaded node), a task of another lane
time-slices beside it instead of waiting behind all of it, so overload slows consensus and
execution by the share the backlog takes, and never starves them. The approximation: a task
already given its finish time is not slowed by work that arrives later; the later work pays
for it instead (it waits behind the pushed horizons), so the total is conserved.

This is a list of per-core horizons and a few lanes, not a simpy resource: O(cores + lanes) per
task and no process per task, which is what lets a run keep up with 50,000 transactions per
second.

**Busy time per lane** (docs/bottleneck.md). Each task also adds, per lane, the part inside
the measured window (:meth:`Cpu.set_window`; the whole run by default) of two intervals:

- *work*: ``work / threads`` µs ending at the task's finish, the time it takes at full speed on
  the threads it runs on. Summed over a lane and divided by the window, that is the lane's
  utilisation: for a serial lane (PBFT, a serial executor, storage) its busy time, for the
  verifier pool (all cores) its core time over the cores, for a DAG executor its core time
  over the threads each block keeps busy. 1.0 means the lane could do no more;
- *occupied*: from the task's start on its lane to its finish. Longer than the work where the
  task time-sliced beside other lanes: a lane occupied all the window whose work stays below
  it is held up by the other lanes on the cores (the CPU is the bound), not by its own cost.

Core time (work × threads) is kept too, for the node's CPU over the window. A few float
operations per task: no event, nothing per transaction.
"""

from __future__ import annotations

import math

_NEVER = 1 << 62
"""Later than any simulated time (µs)."""


class Cpu:
    """``cores`` cores with per-core busy-until times, lanes, and busy-time accounting."""

    __slots__ = ("_busy_until", "_lanes", "_sliced", "_sliced_first", "_sliced_threads",
                 "_win_hi", "_win_lo", "busy_us", "cores", "slowdown")

    def __init__(self, cores: int) -> None:
        if cores < 1:
            raise ValueError(f"a CPU has at least one core, got {cores}")
        self.cores = cores
        self._busy_until = [0] * cores
        self._lanes: dict[str | None, list] = {}
        """Per lane: ``[free from, work µs, occupied µs, core µs]``: when its next task may
        start, and its usage inside the window (the module docstring), in one entry so that a
        task looks its lane up once. Work on no lane (None) is counted, never serialised."""
        self._sliced: dict[object, tuple[int, int]] = {}
        """Time-slicing tasks still running: key → (finish, threads)."""
        self._sliced_first = _NEVER
        """The earliest finish in :attr:`_sliced` (or later: a bound to skip the purge)."""
        self._sliced_threads = 0
        """The threads of :attr:`_sliced`."""
        self.busy_us = 0
        """Core-microseconds of work charged so far (utilisation = busy / (cores × time))."""
        self.slowdown = 1.0
        """Every task takes this many times its cost (a slow node, a fault)."""
        self._win_lo = 0
        self._win_hi = _NEVER

    def set_window(self, start_us: int, end_us: int) -> None:
        """Counts the lanes' usage only inside [``start_us``, ``end_us``) (the measured
        window: the summary's, after warm-up to the end of the workload)."""
        self._win_lo = start_us
        self._win_hi = end_us

    def window_usage(self) -> dict[str | None, list[float]]:
        """Per lane, ``[work, occupied, core]`` µs inside the window (the module docstring)."""
        return {lane: entry[1:] for lane, entry in self._lanes.items()
                if entry[1] or entry[2] or entry[3]}

    def reset(self, now: int, prefix: str | None = None) -> None:
        """Drops queued work (a crashed process): every core and lane is free from ``now``.

        With ``prefix``, only the lanes named with it (one node of several on a host,
        :class:`HostShare`): their next tasks start from ``now``. The cores' horizons stay:
        they do not say whose work they hold, so the crashed node's queued work still delays
        its neighbours' (an approximation, on shared hosts only).
        """
        if prefix is None:
            self._busy_until = [now] * self.cores
            for entry in self._lanes.values():  # the usage so far stays
                entry[0] = 0
            self._sliced = {}
        else:
            for lane, entry in self._lanes.items():
                if lane is not None and lane.startswith(prefix):
                    entry[0] = 0
            self._sliced = {key: value for key, value in self._sliced.items()
                            if not (isinstance(key[0], str) and key[0].startswith(prefix))}
        self._sliced_first = min((until for until, _ in self._sliced.values()), default=_NEVER)
        self._sliced_threads = sum(n for _, n in self._sliced.values())

    def run(self, now: int, work_us: int, parallelism: int = 1, lane: str | None = None) -> int:
        """Charges ``work_us`` of single-core work; returns the simulated time it is done.

        >>> cpu = Cpu(2)
        >>> cpu.run(0, 100), cpu.run(0, 100), cpu.run(0, 100)   # the third time-slices
        (100, 100, 150)
        >>> cpu.run(1000, 400, parallelism=2)
        1200
        """
        start = now
        if self.slowdown != 1.0:
            work_us = math.ceil(work_us * self.slowdown)
        entry = self._lanes.get(lane)
        if entry is None:
            entry = self._lanes[lane] = [0, 0.0, 0.0, 0.0]
        elif lane is not None and entry[0] > start:
            start = entry[0]
        if work_us <= 0:
            if lane is not None:
                entry[0] = start
            return start
        busy = self._busy_until
        cores = self.cores
        threads = max(1, min(parallelism, cores))
        self.busy_us += work_us
        if threads == 1:
            core = busy.index(min(busy))
            free = busy[core]
            if free <= start:  # an idle core: both ways are the same
                done = start + work_us
                busy[core] = done
            else:
                done = self._contended(start, work_us, 1, lane, free + work_us, [core])
        else:
            order = sorted(range(cores), key=busy.__getitem__)[:threads]
            if busy[order[-1]] <= start:  # enough idle cores
                done = start + -(-work_us // threads)
                for core in order:
                    busy[core] = done
            else:
                queued = _water_fill(work_us, [start if busy[core] < start else busy[core]
                                               for core in order])
                done = self._contended(start, work_us, threads, lane, queued, order)
        if lane is not None:
            entry[0] = done
        lo = self._win_lo
        if done > lo and start < self._win_hi:
            # The window's usage (module docstring), inline: this runs for every task.
            hi = self._win_hi
            end = done if done < hi else hi
            if threads == 1:
                begin = done - work_us
                if begin < lo:
                    begin = lo
                if end > begin:
                    entry[1] += end - begin
                    entry[3] += end - begin
            else:
                begin = done - work_us / threads
                if begin < lo:
                    begin = lo
                if end > begin:
                    entry[1] += end - begin
                    entry[3] += (end - begin) * threads
            entry[2] += end - (start if start > lo else lo)
        return done

    def _contended(self, start: int, work_us: int, threads: int, lane: str | None,
                   queued: int, order: list[int]) -> int:
        """When a task that would queue until ``queued`` on the cores ``order`` (some of them
        still busy after ``start``) is done: then, or sooner by time-slicing beside the work
        there (the module docstring)."""
        busy = self._busy_until
        cores = self.cores
        running = 0
        for until in busy:
            if until > start:
                running += 1
        sliced = self._sliced
        if sliced:
            if self._sliced_first <= start:  # some have finished: forget them
                for key in [key for key, (until, _) in sliced.items() if until <= start]:
                    del sliced[key]
                self._sliced_first = min((until for until, _ in sliced.values()),
                                         default=_NEVER)
                self._sliced_threads = sum(n for _, n in sliced.values())
            running += self._sliced_threads
        share = min(1.0, cores / (running + threads))
        slice_done = start + math.ceil(work_us / (threads * share))
        if slice_done < queued:
            done = slice_done
            # The work still takes cores: whatever is queued behind finishes that much later.
            every = sorted(range(cores), key=busy.__getitem__)
            finish = _water_fill(work_us, [start if busy[core] < start else busy[core]
                                           for core in every])
            for core in every:
                if busy[core] < finish:
                    busy[core] = finish
            # The lanes it shared the cores with lost that much time between them: their next
            # tasks start later (each running thread gave up work / running).
            delay = math.ceil(work_us / running) if running else 0
            if delay:
                for other, entry in self._lanes.items():
                    if entry[0] > start and other != lane and other is not None:
                        entry[0] += delay
            sliced[(lane, start, len(sliced))] = (done, threads)
            self._sliced_threads += threads
            if done < self._sliced_first:
                self._sliced_first = done
            return done
        for core in order:
            busy[core] = queued
        return queued

    def utilisation(self, elapsed_us: int) -> float:
        """Fraction of the cores' time spent working over ``elapsed_us``."""
        if elapsed_us <= 0:
            return 0.0
        return min(1.0, self.busy_us / (self.cores * elapsed_us))


class GroupCpu:
    """A group's view of a CPU its node shares with other groups (docs/fisco-reference.md §4).

    The cores, their busy times and the slowdown are the node's; the lanes are the group's
    own (each group has its own PBFT thread, executor and storage queue), named
    ``"<group>/<lane>"`` on the shared CPU. A crash is the node's process: all of it stops.
    """

    __slots__ = ("base", "prefix")

    def __init__(self, base: Cpu | GroupCpu, prefix: str) -> None:
        self.base = base
        self.prefix = prefix

    @property
    def cores(self) -> int:
        return self.base.cores

    @property
    def slowdown(self) -> float:
        return self.base.slowdown

    @slowdown.setter
    def slowdown(self, factor: float) -> None:
        self.base.slowdown = factor

    def run(self, now: int, work_us: int, parallelism: int = 1, lane: str | None = None) -> int:
        return self.base.run(now, work_us, parallelism,
                             None if lane is None else self.prefix + lane)

    def reset(self, now: int) -> None:
        self.base.reset(now)

    def utilisation(self, elapsed_us: int) -> float:
        return self.base.utilisation(elapsed_us)

    def machine(self) -> Cpu:
        """The physical CPU under this view (and any view it is a view of)."""
        base = self.base
        while not isinstance(base, Cpu):
            base = base.base
        return base

    def window_usage(self) -> dict[str | None, list[float]]:
        """This view's lanes' usage in the window (:meth:`Cpu.window_usage`), its prefix
        stripped; work on no lane is under ``"~"``."""
        prefix = self.prefix
        cut = len(prefix)
        return {lane[cut:]: usage for lane, usage in self.base.window_usage().items()
                if lane is not None and lane.startswith(prefix)}


class HostShare(GroupCpu):
    """One node's share of a host's CPU, where several nodes run on one machine (build_chain's
    default, FISCO's stress-test pages: docs/hosts.md).

    As a group's view, with the node's name for prefix (``"<node>/<lane>"``), and two
    differences: a crash drops this node's lanes, not its neighbours' (:meth:`Cpu.reset` with a
    prefix), and :meth:`utilisation` is this node's own share of the host's cores. A slowdown
    is the machine's: it slows every node on it.
    """

    __slots__ = ("busy_us",)

    def __init__(self, base: Cpu, prefix: str) -> None:
        super().__init__(base, prefix)
        self.busy_us = 0
        """Core-microseconds of this node's work (after the host's slowdown)."""

    def run(self, now: int, work_us: int, parallelism: int = 1, lane: str | None = None) -> int:
        base = self.base
        before = base.busy_us
        done = base.run(now, work_us, parallelism, self.prefix + (lane or "~"))
        self.busy_us += base.busy_us - before
        return done

    def reset(self, now: int) -> None:
        self.base.reset(now, self.prefix)

    def utilisation(self, elapsed_us: int) -> float:
        """This node's share of the host's core time over ``elapsed_us``."""
        if elapsed_us <= 0:
            return 0.0
        return min(1.0, self.busy_us / (self.base.cores * elapsed_us))


def _water_fill(work_us: int, free: list[int]) -> int:
    """When ``work_us`` shared over cores free at ``free`` (ascending) is done, each taking
    work from the time it is free so that all finish together; cores free only after that take
    none."""
    used = 1
    total = work_us + free[0]
    finish = total
    while used < len(free):
        if finish <= free[used]:
            break
        total += free[used]
        used += 1
        finish = total / used
    return math.ceil(finish)
