"""The simpy environment a run uses: :class:`CountingEnvironment`, which counts its events."""

from __future__ import annotations

import simpy


class CountingEnvironment(simpy.Environment):
    """A simpy environment that counts the events it processes (reported as ``events``).

    Its clock starts at 0 and counts integer microseconds. Only ``step`` is changed, so the
    simpy adapter's assumptions (:mod:`fiscosim.engine.simpy_adapter`) hold for it.
    """

    def __init__(self) -> None:
        super().__init__(initial_time=0)
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()
