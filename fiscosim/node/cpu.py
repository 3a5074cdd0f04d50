"""A node's CPU: cores that work is charged to in simulated microseconds (docs/architecture.md rule
3).

Work never reads the wall clock: its duration comes from the node's cost model. A task of
``work_us`` spread over ``parallelism`` threads is shared among the ``parallelism`` cores that
are free soonest so that they finish together (a work-stealing pool): a core still busy with a
long serial task takes less of it, or none. A *lane*
is a sequence of tasks that run one after another, like a single worker thread in FISCO (all
PBFT messages of a node go through one queue and one thread, docs/fisco-reference.md §1.2; execution
is serial, §2.8): a lane's next task starts no earlier than its previous one finished.

This is a list of per-core "busy until" times, not a simpy resource: O(cores) per task and no
process per task, which is what lets a run keep up with 50,000 transactions per second.
"""

from __future__ import annotations

import math


class Cpu:
    """``cores`` cores with per-core busy-until times, lanes, and busy-time accounting."""

    __slots__ = ("_busy_until", "_lanes", "busy_us", "cores", "slowdown")

    def __init__(self, cores: int) -> None:
        if cores < 1:
            raise ValueError(f"a CPU has at least one core, got {cores}")
        self.cores = cores
        self._busy_until = [0] * cores
        self._lanes: dict[str, int] = {}
        self.busy_us = 0
        """Core-microseconds of work charged so far (utilisation = busy / (cores × time))."""
        self.slowdown = 1.0
        """Every task takes this many times its cost (a slow node, a fault)."""

    def reset(self, now: int) -> None:
        """Drops queued work (a crashed process): every core and lane is free from ``now``."""
        self._busy_until = [now] * self.cores
        self._lanes = {}

    def run(self, now: int, work_us: int, parallelism: int = 1, lane: str | None = None) -> int:
        """Charges ``work_us`` of single-core work; returns the simulated time it is done.

        >>> cpu = Cpu(2)
        >>> cpu.run(0, 100), cpu.run(0, 100), cpu.run(0, 100)   # the third waits for a core
        (100, 100, 200)
        >>> cpu.run(1000, 400, parallelism=2)
        1200
        """
        start = now
        if self.slowdown != 1.0:
            work_us = math.ceil(work_us * self.slowdown)
        if lane is not None:
            start = max(start, self._lanes.get(lane, 0))
        if work_us <= 0:
            if lane is not None:
                self._lanes[lane] = start
            return start
        busy = self._busy_until
        if parallelism == 1:
            core = busy.index(min(busy))
            free = busy[core]
            done = (start if start > free else free) + work_us
            busy[core] = done
            self.busy_us += work_us
            if lane is not None:
                self._lanes[lane] = done
            return done
        threads = max(1, min(parallelism, self.cores))
        # Water-filling: the work goes to the `threads` cores free soonest and is shared so
        # that they all finish together, as a work-stealing pool (FISCO uses TBB) would do;
        # a core still busy with a long task simply takes a smaller share, or none.
        order = sorted(range(self.cores), key=busy.__getitem__)[:threads]
        free = [max(start, busy[core]) for core in order]
        used = 1
        total = work_us + free[0]
        finish = total
        while used < threads:
            if finish <= free[used]:
                break
            total += free[used]
            used += 1
            finish = total / used
        done = math.ceil(finish)
        for core in order[:used]:
            busy[core] = done
        self.busy_us += work_us
        if lane is not None:
            self._lanes[lane] = done
        return done

    def utilisation(self, elapsed_us: int) -> float:
        """Fraction of the cores' time spent working over ``elapsed_us``."""
        if elapsed_us <= 0:
            return 0.0
        return min(1.0, self.busy_us / (self.cores * elapsed_us))
