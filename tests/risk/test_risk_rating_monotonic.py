"""The monotonicity test of default rates by grade: isotonic fit, deviance, bootstrap p."""

from __future__ import annotations

import random

import pytest

from crm_sim.rating.monotonic import deviance, isotonic_rates, monotonicity_test


class TestIsotonicRates:
    def test_monotone_rates_are_kept(self):
        """Rates already rising grade by grade are their own monotone fit."""
        groups = [(1000, 3), (800, 6), (500, 10), (200, 20)]
        assert isotonic_rates(groups) == pytest.approx([0.003, 0.0075, 0.02, 0.1])
        assert deviance(groups, isotonic_rates(groups)) == pytest.approx(0.0)

    def test_an_inversion_is_pooled_by_firms(self):
        """A better grade defaulting more than the next is pooled with it, weighted by
        firms: 5 of 400 and 2 of 600 become 7 of 1,000 for both."""
        rates = isotonic_rates([(400, 5), (600, 2), (300, 9)])
        assert rates == pytest.approx([0.007, 0.007, 0.03])

    def test_pooling_cascades_backwards(self):
        """A low rate late in the scale pulls earlier blocks into one."""
        rates = isotonic_rates([(100, 2), (100, 3), (100, 1)])
        assert rates == pytest.approx([0.02, 0.02, 0.02])

    def test_a_grade_without_firms_is_refused(self):
        with pytest.raises(ValueError, match="at least one firm"):
            isotonic_rates([(100, 1), (0, 0)])


class TestMonotonicityTest:
    def test_noise_around_rising_rates_is_consistent_with_monotone(self):
        """Thin good grades drawn from rising true rates cross by chance: the test says so."""
        rng = random.Random(7)
        true = [0.003, 0.004, 0.006, 0.009, 0.013, 0.019, 0.03, 0.05, 0.08]
        firms = [900, 700, 450, 350, 330, 360, 200, 170, 130]
        groups = [(n, sum(rng.random() < p for _ in range(n))) for n, p in zip(firms, true,
                                                                               strict=True)]
        result = monotonicity_test(groups, draws=500)
        assert result.p_value > 0.05

    def test_grades_in_the_wrong_order_are_found(self):
        """A scale whose middle grades default far more than the worse ones is not ordered."""
        groups = [(1000, 5), (1000, 80), (1000, 10), (1000, 12)]
        result = monotonicity_test(groups, draws=500)
        assert result.inversions == 1
        assert result.statistic > 50
        assert result.p_value < 0.01

    def test_already_monotone_needs_no_draws(self):
        result = monotonicity_test([(100, 1), (100, 2), (100, 4)])
        assert (result.inversions, result.statistic, result.p_value) == (0, 0.0, 1.0)

    def test_the_same_input_gives_the_same_p_value(self):
        """The bootstrap uses a fixed seed, so a report can be reproduced."""
        groups = [(400, 5), (600, 2), (300, 9), (200, 8)]
        assert monotonicity_test(groups, draws=300) == monotonicity_test(groups, draws=300)
