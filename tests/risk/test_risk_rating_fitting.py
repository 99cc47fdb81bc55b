"""Tests for the fitting tools: monotonic binning, logistic regression, calibration."""

from __future__ import annotations

import math
import random

import pytest

from crm_sim.rating.binning import category_bins, information_value, monotonic_bins
from crm_sim.rating.calibration import calibrated_intercept
from crm_sim.rating.logistic import fit_logistic


def sample(n: int, seed: int = 1) -> tuple[list[float], list[bool]]:
    """Values whose default probability falls with the value, plus noise."""
    rng = random.Random(seed)
    xs = [rng.gauss(0, 1) for _ in range(n)]
    ys = [rng.random() < 1 / (1 + math.exp(3 + 1.2 * x)) for x in xs]
    return xs, ys


class TestBinning:
    def test_bins_are_monotonic_in_the_declared_direction(self) -> None:
        """Lower values are riskier: default rates fall from bin to bin, WoE too."""
        xs, ys = sample(20000)
        bins = monotonic_bins(xs, ys, direction="lower", total_defaults=sum(ys), total=len(ys))
        assert len(bins) >= 3
        rates = [b.default_rate for b in bins]
        assert rates == sorted(rates, reverse=True)
        assert [b.woe for b in bins] == sorted((b.woe for b in bins), reverse=True)
        assert sum(b.count for b in bins) == len(xs)

    def test_the_wrong_direction_collapses_to_one_bin(self) -> None:
        """Declaring that higher values are riskier when they are not leaves no evidence."""
        xs, ys = sample(20000)
        bins = monotonic_bins(xs, ys, direction="higher", total_defaults=sum(ys), total=len(ys))
        assert len(bins) == 1
        assert information_value(bins, sum(ys), len(ys)) == pytest.approx(0.0, abs=1e-3)

    def test_fixed_cuts_are_kept_when_they_separate(self) -> None:
        """Expert cut points are used instead of quantiles."""
        xs, ys = sample(20000)
        bins = monotonic_bins(xs, ys, direction="lower", total_defaults=sum(ys), total=len(ys),
                              cuts=(-1.0, 0.0, 1.0))
        assert [b.upper for b in bins] == [-1.0, 0.0, 1.0, None]

    def test_categories_get_their_own_woe(self) -> None:
        """A riskier category has a higher risk WoE."""
        cats = ["a"] * 1000 + ["b"] * 1000
        ys = [i < 20 for i in range(1000)] + [i < 80 for i in range(1000)]
        bins = category_bins(cats, ys, total_defaults=sum(ys), total=len(ys))
        assert bins["b"].woe > 0 > bins["a"].woe


class TestLogistic:
    def test_recovers_the_generating_coefficients(self) -> None:
        """On 20,000 draws the fit lands near intercept -3 and slope -1.2."""
        xs, ys = sample(20000, seed=2)
        fit = fit_logistic([[x] for x in xs], ys)
        assert fit.intercept == pytest.approx(-3.0, abs=0.15)
        assert fit.coefficients[0] == pytest.approx(-1.2, abs=0.1)
        assert fit.standard_errors[0] > 0

    def test_calibration_moves_the_mean_pd_to_the_target(self) -> None:
        """Shifting the intercept sets the mean PD without touching the ranking."""
        log_odds = [-4.0, -3.0, -2.0, -1.0]
        shifted = calibrated_intercept(0.0, log_odds, 0.04)
        mean = sum(1 / (1 + math.exp(-(z + shifted))) for z in log_odds) / len(log_odds)
        assert mean == pytest.approx(0.04, abs=1e-6)
