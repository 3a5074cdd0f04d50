"""Scheduling a plain callback on the simpy clock without a process or an Event per call.

A simpy process, or even a full ``simpy.Event``, per message or CPU task would dominate the cost
of a run at 50,000 TPS or with 100 nodes; most of the simulator's work is "call this function at
time t". :func:`schedule` puts a tiny object straight into simpy's event queue, which simpy then
processes like any event (it only reads ``callbacks`` and ``_ok``). simpy orders its queue by
time, priority and insertion, so callbacks at one instant run in the order they were scheduled:
deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.core import NORMAL


class _Call:
    """What simpy's ``Environment.step`` needs of an event, and nothing else."""

    __slots__ = ("_args", "_fn", "_ok", "_value", "callbacks")

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        self._fn = fn
        self._args = args
        self._ok = True
        self._value = None
        self.callbacks = [self._fire]

    def _fire(self, _event: Any) -> None:
        self._fn(*self._args)


def schedule(env: simpy.Environment, at_us: int, fn: Callable[..., Any], *args: Any) -> None:
    """Calls ``fn(*args)`` at simulated time ``at_us`` (integer µs; now if it is in the past)."""
    now = env._now
    heappush(env._queue, (at_us if at_us > now else now, NORMAL, next(env._eid), _Call(fn, args)))


class Timer:
    """A cancellable one-shot timer: cancelling bumps a generation, so a stale firing is ignored.

    simpy cannot take an event back out of its queue; counting generations is the cheap way.
    """

    __slots__ = ("_env", "_fn", "_generation", "deadline")

    def __init__(self, env: simpy.Environment, fn: Callable[[], Any]) -> None:
        self._env = env
        self._fn = fn
        self._generation = 0
        self.deadline: int | None = None

    def set(self, delay_us: int) -> None:
        """(Re)starts the timer to fire ``delay_us`` from now."""
        self._generation += 1
        generation = self._generation
        self.deadline = self._env.now + delay_us
        schedule(self._env, self.deadline, self._fire, generation)

    def cancel(self) -> None:
        self._generation += 1
        self.deadline = None

    @property
    def armed(self) -> bool:
        return self.deadline is not None

    def _fire(self, generation: int) -> None:
        if generation == self._generation:
            self.deadline = None
            self._fn()
