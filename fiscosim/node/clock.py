"""Scheduling a plain callback on the simpy clock without a process per call.

A simpy process per message or per CPU task would dominate the cost of a run at 50,000 TPS;
most of the simulator's work is "call this function at time t". :func:`schedule` does that with
one already-triggered event whose callback is the function: simpy orders events by time, then
by insertion, so callbacks at one instant run in the order they were scheduled — deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.core import NORMAL


def schedule(env: simpy.Environment, at_us: int, fn: Callable[..., Any], *args: Any) -> None:
    """Calls ``fn(*args)`` at simulated time ``at_us`` (integer µs, not before now)."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    event.callbacks.append(lambda _event: fn(*args))
    env.schedule(event, NORMAL, max(0, at_us - env.now))


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
