"""The sweep's statistics (fiscosim/sweep/stats.py) against scipy.stats, which they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from fiscosim.sweep.stats import Summary, summarize, t_quantile

PS = (0.501, 0.51, 0.55, 0.6, 0.7, 0.749, 0.75, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999,
      0.9995, 0.9999)


def test_t_quantile_matches_scipy_over_df_1_to_1000():
    worst = 0.0
    for df in range(1, 1001):
        expected = sp.t.ppf(PS, df)
        got = np.array([t_quantile(p, df) for p in PS])
        worst = max(worst, float(np.max(np.abs(got - expected) / np.abs(expected))))
    assert worst <= 1e-9


@pytest.mark.parametrize("df", [0.5, 1.5, 2.5, 3.7, 12.25, 2_000, 10_000, 1e6])
def test_t_quantile_fractional_and_large_df(df):
    for p in PS:
        assert t_quantile(p, df) == pytest.approx(sp.t.ppf(p, df), rel=1e-9, abs=0)


@pytest.mark.parametrize("offset", [1e-9, 1e-7, 1e-4, 0.1, 0.2499])
def test_t_quantile_near_the_centre_keeps_relative_precision(offset):
    # scipy.stats.t.ppf itself loses digits this close to 0.5 (for df 4 and 6, say), so the
    # check is against the closed forms for df 1 and 2.
    p = 0.5 + offset
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-12)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)),
                                             rel=1e-12)


@pytest.mark.parametrize("df", [1, 2, 5, 30, 999])
def test_t_quantile_is_odd_about_one_half(df):
    assert t_quantile(0.5, df) == 0.0
    for p in PS:
        assert t_quantile(1.0 - p, df) == -t_quantile(p, df)
        assert t_quantile(1.0 - p, df) == pytest.approx(sp.t.ppf(1.0 - p, df), rel=1e-9)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5, math.nan, math.inf])
def test_t_quantile_refuses_p_outside_0_1(p):
    with pytest.raises(ValueError, match="p must be in"):
        t_quantile(p, 3)


@pytest.mark.parametrize("df", [0, -1, math.nan, -math.inf])
def test_t_quantile_refuses_df_not_positive(df):
    with pytest.raises(ValueError, match="df must be positive"):
        t_quantile(0.975, df)


# A hand-made table: (values, ci).
TABLE = [
    ([981.2, 975.4, 990.1], 0.95),
    ([405.1, 398.7, 410.3, 402.2, 399.9], 0.95),
    ([12.0, 18.0], 0.95),
    ([1.0, 2.0, 3.0, 4.0, 100.0], 0.9),
    ([0.25, 0.5, 0.125, 0.75, 0.3, 0.2, 0.9], 0.99),
    (list(np.random.default_rng(7).normal(500.0, 40.0, size=40)), 0.95),
]


@pytest.mark.parametrize(("values", "ci"), TABLE)
def test_summarize_matches_numpy_and_scipy(values, ci):
    s = summarize(values, ci)
    array = np.asarray(values)
    n = len(values)
    assert s.n == n
    assert s.mean == pytest.approx(array.mean(), rel=1e-14)
    assert s.std == pytest.approx(array.std(ddof=1), rel=1e-12)
    assert s.sem == pytest.approx(sp.sem(array), rel=1e-12)
    low, high = sp.t.interval(ci, n - 1, loc=array.mean(), scale=sp.sem(array))
    assert s.ci_low == pytest.approx(low, rel=1e-10)
    assert s.ci_high == pytest.approx(high, rel=1e-10)
    assert s.ci_half_width == pytest.approx((high - low) / 2, rel=1e-9)
    assert s.median == np.median(array)
    assert (s.min, s.max) == (array.min(), array.max())


def test_summarize_of_nothing_has_only_n():
    assert summarize([]) == Summary(0, None, None, None, None, None, None, None, None)


def test_summarize_of_one_value_has_no_spread():
    s = summarize([7.5])
    assert s == Summary(1, 7.5, None, None, None, None, 7.5, 7.5, 7.5)
    assert s.ci_half_width is None


def test_summarize_drops_nan_before_counting():
    with_nan = summarize([3.0, math.nan, 1.0, 2.0, math.nan])
    assert with_nan == summarize([1.0, 2.0, 3.0])
    assert with_nan.n == 3
    assert summarize([math.nan, math.nan]).n == 0
    assert summarize([math.nan, 4.0]) == summarize([4.0])


def test_summarize_of_equal_values_has_a_zero_width_interval():
    s = summarize([5.0, 5.0, 5.0])
    assert (s.std, s.sem, s.ci_low, s.ci_high) == (0.0, 0.0, 5.0, 5.0)


def test_summarize_accepts_ints_and_any_sequence():
    assert summarize((1, 2, 3, 4)).median == 2.5
    assert summarize(np.array([1.0, 2.0])).mean == 1.5


@pytest.mark.parametrize("ci", [0.0, 1.0, 95, -0.5])
def test_summarize_refuses_ci_outside_0_1(ci):
    with pytest.raises(ValueError, match="ci must be in"):
        summarize([1.0, 2.0], ci)


def test_wider_confidence_gives_a_wider_interval():
    values = [1.0, 2.0, 4.0, 8.0]
    widths = [summarize(values, ci).ci_half_width for ci in (0.5, 0.9, 0.95, 0.99)]
    assert widths == sorted(widths)
    assert len(set(widths)) == 4
