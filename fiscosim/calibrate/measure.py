"""Repeated measurements for ``fiscosim calibrate``: samples, their median, spread and noise flag.

Every figure calibrate reports is measured ``R`` times (``--repeats``); the profile keeps the
median and, in its provenance, the minimum, the maximum and whether the spread was large enough
to call the figure noisy. A sample is the mean cost of one unit of work over a timed block (all
the rounds that fit in the block, at least one), so a disturbance inside a block raises that
sample, and the median over blocks discards the disturbed ones as long as they are a minority.

>>> m = Measurement((10.0, 10.2, 9.9, 10.1, 10.0))
>>> m.median, m.min, m.max, m.noisy
(10.0, 9.9, 10.2, False)
>>> Measurement((10.0, 14.0, 10.0)).noisy   # spread 40 % of the median
True
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

NOISE_THRESHOLD = 0.10
"""A figure is *noisy* when (max − min) / median of its repeats exceeds this.

Why 10 %: on a quiet host the figures calibrate measures repeat within a few percent (the
shipped reference-2core profile's three calibrations agree within 0.4 % for verification and
hashing, and within 11 % for the msgpack figures, the only ones that moved). A spread above
10 % means some repeat ran under interference (another process, a frequency change, a page
cache miss) large enough to move a mean by several percent; the median still discards a
minority of such repeats, but the figure deserves a second run on a quieter machine."""


def spread(samples: Sequence[float]) -> float:
    """(max − min) / median of ``samples``; 0 for one sample, inf when the median is 0.

    >>> spread([1.0, 2.0, 3.0])
    1.0
    >>> spread([5.0])
    0.0
    """
    if not samples:
        raise ValueError("spread of no samples")
    middle = statistics.median(samples)
    width = max(samples) - min(samples)
    if width == 0:
        return 0.0
    return width / middle if middle > 0 else float("inf")


def is_noisy(samples: Sequence[float], threshold: float = NOISE_THRESHOLD) -> bool:
    """Whether the spread of ``samples`` exceeds ``threshold`` (see :data:`NOISE_THRESHOLD`).

    >>> is_noisy([100, 105, 109]), is_noisy([100, 105, 111]), is_noisy([972, 663])
    (False, True, True)
    """
    return spread(samples) > threshold


@dataclass(frozen=True, slots=True)
class Measurement:
    """The repeats of one figure, each a cost per unit (microseconds unless said otherwise)."""

    samples: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a measurement needs at least one sample")

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples))

    @property
    def min(self) -> float:
        return float(min(self.samples))

    @property
    def max(self) -> float:
        return float(max(self.samples))

    @property
    def spread(self) -> float:
        return spread(self.samples)

    @property
    def noisy(self) -> bool:
        return is_noisy(self.samples)

    def scaled(self, factor: float) -> Measurement:
        """The same measurement in another unit (every sample times ``factor``)."""
        return Measurement(tuple(sample * factor for sample in self.samples))

    def summary(self, digits: int = 3) -> dict[str, Any]:
        """``{runs, median, min, max, noisy}``, rounded to ``digits`` decimals."""
        return {
            "runs": len(self.samples),
            "median": round(self.median, digits),
            "min": round(self.min, digits),
            "max": round(self.max, digits),
            "noisy": self.noisy,
        }

    def provenance(
        self, how: str, backend: str, fallback: bool = False, digits: int = 3
    ) -> dict[str, Any]:
        """The record a profile keeps for a measured cost field (docs/profiles.md)."""
        record: dict[str, Any] = {"source": "measured", "how": how, **self.summary(digits)}
        record["backend"] = backend
        if fallback:
            record["fallback"] = True
        return record


def per_unit_us(run: Callable[[], object], units: int, min_seconds: float) -> float:
    """One sample: mean microseconds per unit of ``run()`` (which does ``units`` units) over
    as many calls as fit in ``min_seconds``, at least one."""
    if units < 1:
        raise ValueError("units must be >= 1")
    calls = 0
    clock = time.perf_counter
    started = clock()
    elapsed = 0.0
    while calls == 0 or elapsed < min_seconds:
        run()
        calls += 1
        elapsed = clock() - started
    return elapsed * 1e6 / (calls * units)


def repeat(sample: Callable[[], float], repeats: int, warmup: bool = True) -> Measurement:
    """``repeats`` samples of ``sample()`` (after one discarded warm-up call when ``warmup``)."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    if warmup:
        sample()
    return Measurement(tuple(sample() for _ in range(repeats)))
