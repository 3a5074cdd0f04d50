"""Statistics across a sweep point's seeds: Student t quantiles and confidence intervals.

Written without scipy, which is only a test dependency (the tests check these numbers against
``scipy.stats``): the t quantile inverts the t distribution's CDF, itself the regularized
incomplete beta function evaluated by its continued fraction (Numerical Recipes' ``betacf``,
with the modified Lentz method) and ``math.lgamma``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

_TINY = 1e-300
_EPS = 1e-16
_MAX_CF_TERMS = 100_000
_LOG_SQRT_PI = 0.5 * math.log(math.pi)


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz method)."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_CF_TERMS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b})")


def _log_gamma_half_ratio(a: float) -> float:
    """ln Γ(a + 1/2) − ln Γ(a), without the cancellation of two large lgamma values."""
    if a < 20.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    # The asymptotic series of ln Γ(z + 1/2) − ln Γ(z) (Bernoulli polynomials at 1/2); at
    # z ≥ 20 the next term is below 1e-17.
    r = 1.0 / a
    r2 = r * r
    return (0.5 * math.log(a)
            + r * (-1.0 / 8.0 + r2 * (1.0 / 192.0 + r2 * (-1.0 / 640.0 + r2 * (
                17.0 / 14336.0 + r2 * (-5115.0 / 3041280.0))))))


def _log_beta(a: float, b: float) -> float:
    """ln B(a, b); exact to rounding for the t distribution's B(ν/2, 1/2) at any ν."""
    if b == 0.5:
        return _LOG_SQRT_PI - _log_gamma_half_ratio(a)
    if a == 0.5:
        return _LOG_SQRT_PI - _log_gamma_half_ratio(b)
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _betai(a: float, b: float, x: float, y: float) -> float:
    """The regularized incomplete beta function I_x(a, b), given both x and y = 1 - x.

    Taking y separately keeps the precision that computing ``1 - x`` would lose when x is
    close to 1 (a t statistic near zero, or many degrees of freedom).
    """
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_x = math.log1p(-y) if x > 0.5 else math.log(x)
    log_y = math.log1p(-x) if y > 0.5 else math.log(y)
    log_front = a * log_x + b * log_y - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, y) / b


def _t_pdf(t: float, df: float) -> float:
    log_norm = _log_gamma_half_ratio(df / 2.0) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1.0) / 2.0 * math.log1p(t * t / df))


def _t_centre(t: float, df: float) -> float:
    """P(0 < T < t) for t ≥ 0: accurate where t is small (no cancellation against 0.5)."""
    tt = t * t
    return 0.5 * _betai(0.5, df / 2.0, tt / (df + tt), df / (df + tt))


def _t_tail(t: float, df: float) -> float:
    """P(T > t) for t ≥ 0: accurate far in the tail."""
    tt = t * t
    return 0.5 * _betai(df / 2.0, 0.5, df / (df + tt), tt / (df + tt))


def _initial_guess(p: float, df: float) -> float:
    """A starting point for Newton's method: closed forms for df 1 and 2, else Cornish-Fisher."""
    q = 1.0 - p
    if df == 1.0:
        return math.tan(math.pi * (p - 0.5))
    if df == 2.0:
        return (2.0 * p - 1.0) / math.sqrt(2.0 * p * q)
    z = NormalDist().inv_cdf(p)
    z3 = z**3
    return (z + (z3 + z) / (4.0 * df)
            + (5.0 * z**5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df))


@lru_cache(maxsize=4096)
def _t_upper_quantile(p: float, df: float) -> float:
    """The t quantile for 0.5 < p < 1, by Newton's method kept inside a shrinking bracket."""
    # Near the centre the equation is solved for P(0 < T < t) = p - 0.5 and in the tail for
    # P(T > t) = 1 - p: both right-hand sides are exact in floating point, and each side's
    # probability is computed without cancellation, so t keeps its relative precision.
    centred = p < 0.75
    target = p - 0.5 if centred else 1.0 - p

    def excess(t: float) -> float:
        """Positive while t is below the quantile."""
        return target - _t_centre(t, df) if centred else _t_tail(t, df) - target

    lo, hi = 0.0, 1.0
    while excess(hi) > 0.0:
        lo, hi = hi, hi * 2.0
        if math.isinf(hi):
            raise ArithmeticError(f"t quantile overflows (p={p}, df={df})")
    t = _initial_guess(p, df)
    if not (lo < t < hi) or not math.isfinite(t):
        t = 0.5 * (lo + hi)
    for _ in range(500):
        g = excess(t)
        if g == 0.0:
            return t
        if g > 0.0:
            lo = t
        else:
            hi = t
        slope = _t_pdf(t, df)
        step = g / slope if slope > 0.0 else math.inf
        candidate = t + step
        if not (lo < candidate < hi):
            # Newton left the bracket: bisect instead (geometrically while it spans decades).
            candidate = math.sqrt(lo * hi) if lo > 0.0 and hi > 4.0 * lo else 0.5 * (lo + hi)
            step = candidate - t
        t = candidate
        if abs(step) <= 4.0 * _EPS * abs(t) or hi - lo <= 4.0 * _EPS * hi:
            return t
    return t


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile (the inverse CDF) at probability p with df degrees of freedom.

    Agrees with ``scipy.stats.t.ppf`` to a relative 1e-9 or better (tests/test_sweep_stats.py
    checks df 1..1000 and p up to 0.9999). df need not be an integer.

    >>> round(t_quantile(0.975, 4), 6)
    2.776445
    >>> t_quantile(0.025, 4) == -t_quantile(0.975, 4)
    True
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p!r}")
    if not df > 0.0:  # also refuses NaN
        raise ValueError(f"t_quantile: df must be positive, got {df!r}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -_t_upper_quantile(1.0 - p, float(df))
    return _t_upper_quantile(float(p), float(df))


@dataclass(frozen=True)
class Summary:
    """One metric over a point's runs: count, moments, a Student t interval, order statistics.

    Fields that need more values than there are hold None: everything but ``n`` when n = 0,
    and ``std``, ``sem``, ``ci_low`` and ``ci_high`` when n = 1.
    """

    n: int
    mean: float | None
    std: float | None
    sem: float | None
    ci_low: float | None
    ci_high: float | None
    median: float | None
    min: float | None
    max: float | None

    @property
    def ci_half_width(self) -> float | None:
        """Half the interval's width (``repeat.until``'s stopping rule compares it to |mean|)."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_high - self.ci_low) / 2.0


def _total(values: Sequence[float]) -> float:
    # fsum is exact, but raises on inf + -inf where plain sum gives NaN.
    return math.fsum(values) if all(math.isfinite(v) for v in values) else sum(values)


def summarize(values: Sequence[float], ci: float = 0.95) -> Summary:
    """Count, mean, sample std (ddof 1), standard error, Student t interval, median, min, max.

    NaN values are dropped before anything is counted (a run whose summary lacks the metric
    gives NaN in the runs table, and is not a value), so ``n`` counts the others. The interval
    is mean ± t_{(1+ci)/2, n-1} · sem, as ``scipy.stats.t.interval(ci, n-1, loc, scale=sem)``.

    >>> s = summarize([1.0, 2.0, 3.0, float("nan")])
    >>> s.n, s.mean, s.std, s.median
    (3, 2.0, 1.0, 2.0)
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"summarize: ci must be in (0, 1), got {ci!r}")
    kept = sorted(float(v) for v in values if not math.isnan(v))
    n = len(kept)
    if n == 0:
        return Summary(0, None, None, None, None, None, None, None, None)
    mean = _total(kept) / n
    middle = n // 2
    median = kept[middle] if n % 2 else (kept[middle - 1] + kept[middle]) / 2.0
    if n == 1:
        return Summary(1, mean, None, None, None, None, median, kept[0], kept[-1])
    std = math.sqrt(_total([(v - mean) ** 2 for v in kept]) / (n - 1))
    sem = std / math.sqrt(n)
    half = t_quantile((1.0 + ci) / 2.0, n - 1) * sem
    return Summary(n, mean, std, sem, mean - half, mean + half, median, kept[0], kept[-1])
