"""The simulation engine: simpy's clock and event queue, below every other package.

It imports only simpy and the standard library; ``fiscosim.net``, ``fiscosim.node`` and
``fiscosim.sim`` build on it. It owns:

- :mod:`fiscosim.engine.simpy_adapter` — every touch of simpy's private attributes (the clock
  ``_now``, the queue ``_queue``, the event ids ``_eid``), checked against the installed simpy
  at import; nothing else in fiscosim reads or writes ``env._anything``;
- :mod:`fiscosim.engine.clock` — :func:`schedule` (a plain callback at a time),
  :class:`Timer` (cancellable, one-shot) and :data:`US`, the clock's unit;
- :mod:`fiscosim.engine.environment` — :class:`CountingEnvironment`, the environment of a run.
"""

from fiscosim.engine.clock import US, Timer, schedule
from fiscosim.engine.environment import CountingEnvironment

__all__ = ["US", "CountingEnvironment", "Timer", "schedule"]
