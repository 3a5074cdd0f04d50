"""The one door to simpy's internals: every read or write of ``env._now``, ``env._queue`` and
``env._eid`` in fiscosim is in this module, and nowhere else.

What it offers (``env`` is a ``simpy.Environment`` or a subclass that keeps its queue, not a
``simpy.RealtimeEnvironment``):

- :func:`schedule_call` — ``fn(*args)`` at a time, as one small entry in simpy's queue;
- :func:`advance_clock_if_idle` — move simpy's clock forward to a time no queued event precedes
  (what the network's delivery queue does between arrivals, ``fiscosim.net.network``);
- :func:`advance_clock` — set the clock outright (tests that need a clock past an arrival);
- :func:`check_simpy` — run at import: the installed simpy still has the internals above, with
  the shapes assumed here, or a RuntimeError naming its version.

Why not simpy's public API (``env.schedule(event, priority, delay)``, ``env.now``,
``env.peek()``, an ``Event`` subclass per callback, one simpy event per arrival time)? It was
measured, and it costs more than the 3 % this project allows for a cleaner path.
``python benchmarks/simpy_api.py`` (in-process, 3 runs each interleaved A/B, medians; Python
3.11.7, simpy 4.1.2, a 2-vCPU AMD EPYC without AVX-512 shared with other work; 2026-12-02),
wall seconds, private (this module) against public:

    pbft-100-2k, duration_s=3 warmup_s=1 drain_s=1:
        private 9.40 9.70 9.69 -> 9.69    public 11.01 11.18 10.84 -> 11.01    +13.6 %
    pbft-4-50k:
        private 20.35 19.95 18.95 -> 19.95    public 19.82 21.35 20.43 -> 20.43    +2.4 %
    an earlier, busier session: +10.8 % (9.56 -> 10.58) and +9.2 % (25.85 -> 28.22)

Which half costs (``--variants private,public-schedule,public-drain``): ``env.schedule`` with
an Event subclass instead of :func:`schedule_call`, +0.4 % and +2.0 %; a simpy step per arrival
time instead of :func:`advance_clock_if_idle`, +15.8 % and +7.1 % (pbft-100-2k steps simpy
596,000 times instead of 425,000). The public half of ``schedule`` is not public either: an
Event subclass that skips ``Event.__init__`` must set ``_ok`` and ``_value`` itself, as simpy's
own ``Timeout`` does. Both paths give the same run (the benchmark checks that the summaries
are equal, apart from ``events``, which counts simpy steps). The pin in pyproject.toml
(``SIMPY_PIN``) is the tested range; ``tests/test_engine_adapter.py`` fails on a simpy whose
internals differ.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.core import NORMAL

SIMPY_PIN = ">=4.1,<4.2"
"""The simpy versions this adapter was tested with (pyproject.toml pins the same range)."""
TESTED_SIMPY = ((4, 1), (4, 2))
""":data:`SIMPY_PIN` as (lowest included, first excluded) (major, minor) pairs."""


class _Call:
    """What ``simpy.Environment.step`` needs of an event, and nothing else.

    ``step`` pops ``(time, priority, eid, event)``, swaps ``event.callbacks`` out, calls each
    with the event, then reads ``event._ok`` (only a failed event reads more). A full
    ``simpy.Event`` per callback costs its ``__init__`` and a ``__dict__``; this costs one
    slotted object.
    """

    __slots__ = ("_args", "_fn", "_ok", "_value", "callbacks")

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        self._fn = fn
        self._args = args
        self._ok = True
        self._value = None
        self.callbacks = [self._fire]

    def _fire(self, _event: Any) -> None:
        self._fn(*self._args)


def schedule_call(env: simpy.Environment, at_us: int, fn: Callable[..., Any], *args: Any) -> None:
    """Calls ``fn(*args)`` at simulated time ``at_us`` (now if it is in the past).

    simpy orders its queue by (time, priority, insertion), so calls at one instant run in the
    order they were scheduled, interleaved with simpy's own NORMAL events in that same order.
    """
    now = env._now
    heappush(env._queue, (at_us if at_us > now else now, NORMAL, next(env._eid), _Call(fn, args)))


def advance_clock_if_idle(env: simpy.Environment, at: int) -> bool:
    """Moves ``env``'s clock forward to ``at`` if no queued simpy event is due at or before it.

    Returns whether it did. The caller then runs what is due at ``at`` itself, without a simpy
    event for it: exactly what ``env.step`` would have done had that work been the next event
    in simpy's queue, since nothing queued comes before it (an event due at ``at`` itself is
    let run first). ``at`` must not be before the clock.
    """
    queue = env._queue
    if queue and queue[0][0] <= at:
        return False
    env._now = at
    return True


def advance_clock(env: simpy.Environment, at: int) -> None:
    """Sets ``env``'s clock to ``at`` whatever is queued (for tests; a run never needs it)."""
    env._now = at


def simpy_version() -> str:
    return getattr(simpy, "__version__", "unknown")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def version_is_tested(version: str | None = None) -> bool:
    """Whether ``version`` (default: the installed simpy's) is in :data:`SIMPY_PIN`."""
    low, high = TESTED_SIMPY
    return low <= _version_tuple(version or simpy_version()) < high


def check_simpy() -> None:
    """Checks that simpy keeps the internals this module uses; RuntimeError if not.

    It builds an environment, schedules a real event through simpy's public ``schedule`` and
    looks at the queue entry, then runs one :func:`schedule_call` and one clock advance through
    ``step``. About 20 µs, once, at import.
    """
    try:
        env = simpy.Environment()
        problems = [f"no env.{name}" for name in ("_now", "_queue", "_eid")
                    if not hasattr(env, name)]
        if not problems:
            probe = simpy.Event(env)
            env.schedule(probe, NORMAL, 5)
            queue = env._queue
            entry = queue[0] if isinstance(queue, list) and len(queue) == 1 else None
            if not (type(entry) is tuple and len(entry) == 4 and entry[0] == 5
                    and entry[1] == NORMAL and type(entry[2]) is int and entry[3] is probe):
                problems.append(f"a queue entry is {entry!r}, not (time, priority, eid, event)")
            else:
                queue.clear()
                fired: list[int] = []
                schedule_call(env, 3, fired.append, env.now)
                schedule_call(env, 3, fired.append, 1)
                env.step()
                env.step()
                if fired != [0, 1] or env.now != 3:
                    problems.append(f"schedule_call ran {fired} at {env.now}, not [0, 1] at 3")
                elif not advance_clock_if_idle(env, 7) or env.now != 7:
                    problems.append("setting env._now did not move env.now")
    except Exception as error:  # any failure here means the internals differ
        problems = [f"{type(error).__name__}: {error}"]
    if problems:
        raise RuntimeError(
            f"simpy {simpy_version()} does not have the internals fiscosim's simpy adapter "
            f"uses ({'; '.join(problems)}). fiscosim was tested with simpy{SIMPY_PIN}: "
            f"install that (pip install 'simpy{SIMPY_PIN}')."
        )


check_simpy()
