"""Callbacks on the simulated clock: :func:`schedule` and the cancellable :class:`Timer`.

A simpy process, or even a full ``simpy.Event``, per message or CPU task would dominate the cost
of a run at 50,000 TPS or with 100 nodes; most of the simulator's work is "call this function at
time t". :func:`schedule` is :func:`fiscosim.engine.simpy_adapter.schedule_call`: one small
entry in simpy's queue, processed like any event. simpy orders its queue by time, priority and
insertion, so callbacks at one instant run in the order they were scheduled: deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from fiscosim.engine.simpy_adapter import schedule_call

US = 1_000_000
"""Microseconds per second: simulated time is integer microseconds (docs/architecture.md,
decision 11)."""

schedule = schedule_call
"""``schedule(env, at_us, fn, *args)``: calls ``fn(*args)`` at simulated time ``at_us`` (integer
µs; now if it is in the past)."""


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
        schedule_call(self._env, self.deadline, self._fire, generation)

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
