"""One-way link latency: a distribution drawn in whole microseconds, and a per-link stream of it.

A :class:`LatencyModel` names a distribution by its own mean and standard deviation in
milliseconds (what a scenario and a ping table speak) and draws integer microseconds (what the
simulated clock counts), vectorised: ``draw(rng, n)`` returns an int64 array.

- ``constant`` — every draw is ``mean_ms``; ``std_ms`` is ignored.
- ``normal`` — truncated at 0 by **redrawing** the negative draws (rejection), not by clipping:
  clipping would pile a spike of zero-latency messages at 0 µs, which no real link has. The price
  is that the mean of the truncated distribution sits slightly above ``mean_ms`` when ``std_ms``
  is comparable to it (by std·φ(m/s)/Φ(m/s): under 1 % once mean ≥ 2.5·std). Redraws happen
  inside a block, so a stream's k-th value is still fixed by its seed alone.
- ``lognormal`` — parameterised by the distribution's own mean and std, converted to the
  underlying normal's ``mu`` and ``sigma``: ``sigma² = ln(1 + (std/mean)²)``,
  ``mu = ln(mean) - sigma²/2``. Right-skewed and positive: a good fit for WAN latencies.

Draws are rounded to the nearest microsecond.

**Bounds.** ``mean_ms`` and ``std_ms`` may not exceed :data:`MAX_LATENCY_MS` (one minute): a
one-way latency beyond that is no network, and a std of 1e300 ms once drew values whose rounding
to int64 wrapped around to negative delays. Within the bound a normal draw would need some 10¹¹
standard deviations to leave the int64 range, and a lognormal one more than 10 standard
deviations of its underlying normal (a chance below 1e-23 a draw). Whatever the cause,
:meth:`LatencyModel.draw` raises rather than hand out a value outside ``0..MAX_DRAW_US``: it
never clips.

Drawing one value at a time from numpy costs about a microsecond of Python overhead per
message; :meth:`LatencyModel.stream` instead draws blocks of :data:`BLOCK` values from a link's
own generator and hands them out one by one. The k-th value of a stream depends only on that
stream's generator and k, never on other links' traffic: that is what keeps a run deterministic
when traffic elsewhere changes.

>>> import numpy as np
>>> model = LatencyModel("lognormal", mean_ms=20.0, std_ms=5.0)
>>> draws = model.draw(np.random.default_rng(1), 4)
>>> draws.dtype.name, len(draws), bool((draws > 0).all())
('int64', 4, True)
>>> LatencyModel("constant", 10.0).draw(np.random.default_rng(1), 3).tolist()
[10000, 10000, 10000]
>>> nxt = LatencyModel("normal", 1.0, 0.1).stream(np.random.default_rng(5)).__next__
>>> type(nxt()) is int
True
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

Distribution = Literal["constant", "normal", "lognormal"]
DISTRIBUTIONS: tuple[str, ...] = ("constant", "normal", "lognormal")

MAX_LATENCY_MS = 60_000.0
"""The largest ``mean_ms`` and ``std_ms`` a model accepts: one minute, far above any real link's
one-way latency and far below what an int64 of µs holds (``fiscosim.schema.limits.MAX_DELAY_MS`` is
the same bound for scenarios)."""
MAX_DRAW_US = 2**62
"""The largest draw handed out (~146,000 years): a float above it is no longer a latency but an
overflow, and it stays clear of int64's limit when added to the clock."""

BLOCK = 256
"""Draws per refill of a link's stream. Numpy's per-call overhead (a few µs) is spread over the
block; the buffer is a packed int64 array (8 bytes a value, not a 28-byte Python int), so even a
100-node full mesh with all of its 9,900 directed links busy holds only ~20 MB of draws."""


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """A one-way latency distribution, given by its mean and std in ms, drawn in integer µs."""

    distribution: Distribution = "constant"
    mean_ms: float = 1.0
    std_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"unknown latency distribution {self.distribution!r}; "
                f"expected one of {', '.join(DISTRIBUTIONS)}"
            )
        # Written so that NaN fails too.
        if not 0 <= self.mean_ms <= MAX_LATENCY_MS:
            raise ValueError(
                f"mean_ms must be a number in [0, {MAX_LATENCY_MS:.0f}] ms, got {self.mean_ms}"
            )
        if not 0 <= self.std_ms <= MAX_LATENCY_MS:
            raise ValueError(
                f"std_ms must be a number in [0, {MAX_LATENCY_MS:.0f}] ms, got {self.std_ms}"
            )
        if self.distribution == "lognormal" and self.std_ms > 0 and self.mean_ms == 0:
            raise ValueError("a lognormal latency needs mean_ms > 0 when std_ms > 0")

    @property
    def is_constant(self) -> bool:
        """True when every draw is the same value (no randomness is consumed)."""
        return self.distribution == "constant" or self.std_ms == 0

    @property
    def mean_us(self) -> int:
        """The nominal mean in whole microseconds (the value of every constant draw)."""
        return round(self.mean_ms * 1000)

    def with_mean(self, mean_ms: float) -> LatencyModel:
        """The same distribution and jitter around another mean (a region pair's latency).

        >>> LatencyModel("normal", 5.0, 1.0).with_mean(80.0)
        LatencyModel(distribution='normal', mean_ms=80.0, std_ms=1.0)
        """
        return LatencyModel(self.distribution, mean_ms, self.std_ms)

    def lognormal_params(self) -> tuple[float, float]:
        """``(mu, sigma)`` of the underlying normal (in ln-µs) for this mean and std.

        >>> mu, sigma = LatencyModel("lognormal", 20.0, 5.0).lognormal_params()
        >>> round(math.exp(mu + sigma**2 / 2))   # the mean, in µs
        20000
        """
        mean_us = self.mean_ms * 1000
        std_us = self.std_ms * 1000
        ratio = std_us / mean_us
        # Beyond 1e150 the square would overflow a float; there log1p(r²) is 2·ln(r) to double
        # precision. Below it the formula is unchanged, so are existing runs' draws.
        sigma2 = math.log1p(ratio**2) if ratio < 1e150 else 2 * math.log(ratio)
        return math.log(mean_us) - sigma2 / 2, math.sqrt(sigma2)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` one-way latencies in integer µs (int64), drawn from ``rng``.

        A constant model consumes nothing from ``rng``. A value that is not a number in
        ``0..MAX_DRAW_US`` raises RuntimeError: rounding it to int64 would wrap it around
        (a negative delay), and clipping it would hide that the model is wrong.
        """
        if self.is_constant:
            return np.full(n, self.mean_us, dtype=np.int64)
        mean_us = self.mean_ms * 1000
        std_us = self.std_ms * 1000
        if self.distribution == "normal":
            values = rng.normal(mean_us, std_us, n)
            # Rejection: redraw only the negatives until none is left. The mean is >= 0, so at
            # least half of each round is accepted and this ends after a few rounds.
            negative = values < 0
            while negative.any():
                values[negative] = rng.normal(mean_us, std_us, int(negative.sum()))
                negative = values < 0
        else:
            mu, sigma = self.lognormal_params()
            values = rng.lognormal(mu, sigma, n)
        if n:
            # Once per block, not per message; written so that NaN fails too.
            low, high = values.min(), values.max()
            if not (low >= 0 and high <= MAX_DRAW_US):
                bad = low if not low >= 0 else high
                raise RuntimeError(
                    f"{self!r} drew {bad} µs, outside 0..{MAX_DRAW_US} µs: "
                    "a latency must be a finite number >= 0"
                )
        return np.rint(values).astype(np.int64)

    def stream(self, rng: np.random.Generator, block: int = BLOCK) -> Iterator[int]:
        """An endless iterator of latencies (Python ints, µs) drawn ``block`` at a time.

        For a given ``rng`` state and ``block`` the sequence is fixed: the k-th value does not
        depend on when it is asked for. A constant model gives ``itertools.repeat``.
        """
        if self.is_constant:
            return itertools.repeat(self.mean_us)
        return self._blocks(rng, block)

    def _blocks(self, rng: np.random.Generator, block: int) -> Iterator[int]:
        while True:
            # array('q') yields plain Python ints one at a time from packed storage; tolist()
            # would materialise the whole block as int objects (~4.5x the memory).
            yield from array("q", self.draw(rng, block).tobytes())


def uniform_stream(rng: np.random.Generator, block: int = BLOCK) -> Iterator[float]:
    """An endless iterator of uniform [0, 1) floats drawn ``block`` at a time (loss decisions).

    The raw uniforms are kept, not ``u < p`` booleans, so the loss rate may change during a run
    (a fault) without changing which numbers the stream holds.
    """
    while True:
        yield from array("d", rng.random(block).tobytes())
