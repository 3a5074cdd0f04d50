"""Calibrate's repeated measurements: median, spread and the noise flag on synthetic numbers."""

from __future__ import annotations

import pytest

from fiscosim.calibrate import noise_warnings
from fiscosim.calibrate.measure import (
    NOISE_THRESHOLD,
    Measurement,
    is_noisy,
    per_unit_us,
    repeat,
    spread,
)


def test_median_min_max_of_an_odd_and_an_even_count():
    odd = Measurement((5.0, 1.0, 3.0))
    assert (odd.median, odd.min, odd.max) == (3.0, 1.0, 5.0)
    even = Measurement((1.0, 2.0, 3.0, 10.0))
    assert even.median == 2.5


@pytest.mark.parametrize(
    ("samples", "noisy"),
    [
        ([100.0] * 5, False),  # identical repeats
        ([100.0, 101.0, 99.0, 100.5, 100.2], False),  # 2 % spread
        ([100.0, 105.0, 110.0], False),  # exactly 10 %: not above the threshold
        ([100.0, 105.0, 111.0], True),  # 11 %
        ([972.0, 663.0], True),  # the two SM2 readings that motivated this: 38 %
        ([10.0, 10.0, 10.0, 10.0, 30.0], True),  # one disturbed repeat out of five
        ([7.0], False),  # a single run cannot show noise
    ],
)
def test_the_noise_flag(samples, noisy):
    assert is_noisy(samples) is noisy
    assert Measurement(tuple(samples)).noisy is noisy


def test_spread_and_threshold_edges():
    assert NOISE_THRESHOLD == 0.10
    assert spread([2.0, 4.0]) == pytest.approx(2 / 3)
    assert spread([0.0, 0.0]) == 0.0
    assert spread([0.0, 0.0, 1.0]) == float("inf")  # median 0: any width is noise
    assert is_noisy([100.0, 120.0], threshold=0.25) is False
    with pytest.raises(ValueError):
        spread([])
    with pytest.raises(ValueError):
        Measurement(())


def test_median_resists_one_outlier_that_the_flag_reports():
    measurement = Measurement((10.0, 10.1, 9.9, 10.0, 50.0))
    assert measurement.median == 10.0
    assert measurement.noisy
    assert measurement.summary() == {
        "runs": 5, "median": 10.0, "min": 9.9, "max": 50.0, "noisy": True,
    }  # fmt: skip


def test_provenance_record_and_scaling():
    record = Measurement((4.0, 2.0, 3.0)).scaled(0.5).provenance("how", "lib", fallback=True)
    assert record == {
        "source": "measured", "how": "how", "runs": 3, "median": 1.5, "min": 1.0,
        "max": 2.0, "noisy": True, "backend": "lib", "fallback": True,
    }  # fmt: skip
    assert "fallback" not in Measurement((1.0,)).provenance("how", "lib")


def test_noise_warnings_name_only_the_noisy_figures():
    lines = noise_warnings(
        {
            "quiet": {"median": 10.0, "min": 9.9, "max": 10.1, "noisy": False, "runs": 5},
            "loud": {"median": 10.0, "min": 8.0, "max": 13.0, "noisy": True, "runs": 5},
        },
        where="evm X.",
    )
    assert len(lines) == 1 and lines[0].startswith("evm X.loud: noisy, spread 50%")


def test_per_unit_us_and_repeat_count_their_calls():
    calls = []
    value = per_unit_us(lambda: calls.append(1), units=10, min_seconds=0.0)
    assert calls == [1] and value > 0
    samples = iter([3.0, 1.0, 2.0, 9.0])
    measurement = repeat(lambda: next(samples), 3)  # the first is the discarded warm-up
    assert measurement.samples == (1.0, 2.0, 9.0)
    with pytest.raises(ValueError):
        repeat(lambda: 1.0, 0)
    with pytest.raises(ValueError):
        per_unit_us(lambda: None, 0, 0.0)
