"""The default decision threshold (optical_inspection.calibration): which candidate wins, the data-derived margin,
and the bounds reported for new data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optical_inspection.calibration import PASS_QUANTILE, binomial_bounds, calibrate


def test_separated_classes_take_the_pass_quantile_and_catch_every_defect() -> None:
    rng = np.random.default_rng(4)
    passes, defects = rng.uniform(0.0, 1.0, 600), rng.uniform(3.0, 4.0, 600)
    scores, labels = np.r_[passes, defects], np.r_[np.zeros(600), np.ones(600)]
    cal = calibrate(scores, labels, 0.995)
    assert cal is not None and cal.source == "pass_quantile"
    assert cal.threshold == pytest.approx(np.quantile(passes, PASS_QUANTILE))
    assert cal.recall == 1.0 and 0.005 <= cal.false_alarm_rate <= 0.011
    assert cal.recall_lower_bound == pytest.approx(0.05 ** (1 / 600))  # every one of 600 caught: >= 99.5%
    assert "quantile" in cal.note and "the lower is used" in cal.note


def test_overlapping_classes_take_the_weakest_defect_less_the_spread_of_the_weakest() -> None:
    defects = np.r_[[2.0, 2.1, 2.3, 2.6, 3.0], np.linspace(3.0, 6.0, 195)]  # 200 defects, weakest first
    passes = np.linspace(0.0, 2.5, 300)  # overlaps the weakest defects
    scores, labels = np.r_[passes, defects], np.r_[np.zeros(300), np.ones(200)]
    cal = calibrate(scores, labels, 0.99)  # w = ceil(200 * 0.01) = 2: the 3 weakest spread from 2.0 to 2.3
    assert cal is not None and cal.source == "recall_margin" and cal.weakest == 3
    expected = 2.0 * 2.0 / 2.3  # positive scores: the same ratio below the weakest defect
    assert cal.lowest_defect == 2.0 and cal.margin == pytest.approx(2.0 - expected)
    assert cal.threshold == pytest.approx(expected)
    assert (defects > cal.threshold).all() and cal.recall == 1.0
    assert cal.false_alarm_rate == pytest.approx((passes > expected).mean())


def test_a_wide_tail_of_positive_scores_never_takes_the_threshold_below_zero() -> None:
    """30 validation defects whose weakest two spread from 0.295 to 0.754: the same distance below 0.295 would be a
    negative threshold that flags every pair (a softplus score is never negative); the ratio stays above zero."""
    defects = np.r_[[0.295, 0.754], np.linspace(0.8, 3.0, 28)]
    passes = np.linspace(0.0, 0.3, 170)
    cal = calibrate(np.r_[passes, defects], np.r_[np.zeros(170), np.ones(30)], 0.995)
    assert cal is not None and cal.threshold == pytest.approx(0.295 * 0.295 / 0.754)
    assert 0.0 < cal.threshold < 0.295 and cal.recall == 1.0 and cal.false_alarm_rate < 1.0


def test_scores_reaching_zero_or_below_keep_the_distance_margin() -> None:
    defects = np.r_[[-1.0, -0.5], np.linspace(1.0, 3.0, 98)]
    passes = np.linspace(-3.0, -1.5, 100)
    cal = calibrate(np.r_[passes, defects], np.r_[np.zeros(100), np.ones(100)], 0.99)
    assert cal is not None and cal.recall_threshold == pytest.approx(-1.5) and cal.recall == 1.0


def test_a_tighter_tail_gets_a_smaller_margin() -> None:
    passes = np.zeros(100)
    loose = np.r_[[1.0, 2.0, 3.0], np.full(97, 5.0)]
    tight = np.r_[[1.0, 1.01, 1.02], np.full(97, 5.0)]
    a = calibrate(np.r_[passes, loose], np.r_[np.zeros(100), np.ones(100)], 0.98)
    b = calibrate(np.r_[passes, tight], np.r_[np.zeros(100), np.ones(100)], 0.98)
    assert a is not None and b is not None and a.recall_threshold < b.recall_threshold < 1.0


def test_no_defect_or_no_finite_score_gives_no_calibration() -> None:
    assert calibrate(np.arange(10.0), np.zeros(10), 0.99) is None
    assert calibrate(np.array([np.nan, np.inf]), np.array([1, 1]), 0.99) is None
    cal = calibrate(np.array([0.1, np.nan, 2.0]), np.array([0, 1, 1]), 0.99)  # the NaN row is left out
    assert cal is not None and cal.defects == 1 and cal.threshold < 2.0


def test_binomial_bounds_match_known_values() -> None:
    assert binomial_bounds(0, 100)[1] == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-6)
    assert binomial_bounds(100, 100)[0] == pytest.approx(0.05 ** (1 / 100), rel=1e-6)
    low, high = binomial_bounds(5, 10)
    assert low == pytest.approx(0.2224, abs=1e-3) and high == pytest.approx(0.7776, abs=1e-3)
    assert binomial_bounds(0, 0) == (0.0, 1.0)
    assert all(math.isfinite(v) for v in binomial_bounds(3, 20000))
