"""Tests for the validation statistics (crm_sim.rating.stats)."""

from __future__ import annotations

import math
import random

import pytest

from crm_sim.rating.stats import (
    binomial_cdf,
    binomial_interval,
    chi_square_sf,
    discrimination,
    hosmer_lemeshow,
    migration_matrix,
    population_stability,
)
from crm_sim.rating.systematic import conditional_pd, correlated_interval, implied_correlation


class TestDiscrimination:
    def test_perfect_and_reversed_ranking(self) -> None:
        """Defaults all scored riskier: AUC 1, KS 1; reversed: AUC 0."""
        outcomes = [False, False, True, True]
        assert discrimination([0.1, 0.2, 0.8, 0.9], outcomes).auc == 1.0
        assert discrimination([0.1, 0.2, 0.8, 0.9], outcomes).ks == 1.0
        assert discrimination([0.9, 0.8, 0.2, 0.1], outcomes).auc == 0.0

    def test_ties_count_half(self) -> None:
        """Identical scores carry no information: AUC 0.5, Gini 0."""
        d = discrimination([0.5] * 4, [False, True, False, True])
        assert (d.auc, d.gini) == (0.5, 0.0)

    def test_needs_both_outcomes(self) -> None:
        """A sample without defaults cannot be ranked."""
        with pytest.raises(ValueError, match="at least one default"):
            discrimination([0.1, 0.2], [False, False])


class TestCalibrationTests:
    def test_binomial_cdf_matches_a_hand_computation(self) -> None:
        """P(X ≤ 1) for n = 3, p = 0.5 is 4/8."""
        assert binomial_cdf(1, 3, 0.5) == pytest.approx(0.5)

    def test_binomial_interval_holds_the_expected_count(self) -> None:
        """1000 clients at 4 %: about 28 to 52 defaults at 95 %."""
        low, high = binomial_interval(1000, 0.04)
        assert 26 <= low <= 29 and 51 <= high <= 54
        assert low <= 40 <= high

    def test_chi_square_survival(self) -> None:
        """χ²(2) tail is exp(-x/2); χ²(1) at 3.841 is 5 %."""
        assert chi_square_sf(3.0, 2) == pytest.approx(math.exp(-1.5))
        assert chi_square_sf(3.841, 1) == pytest.approx(0.05, abs=1e-3)

    def test_hosmer_lemeshow_accepts_a_calibrated_model_and_rejects_a_biased_one(self) -> None:
        """Observed = expected gives p 1; observed twice the PD gives a tiny p."""
        calibrated = hosmer_lemeshow([(1000, 10, 0.01), (1000, 50, 0.05)])
        biased = hosmer_lemeshow([(1000, 20, 0.01), (1000, 100, 0.05)])
        assert calibrated.p_value == pytest.approx(1.0)
        assert biased.p_value < 0.001


class TestStability:
    def test_identical_populations_have_zero_psi(self) -> None:
        """Same shares, no shift."""
        assert population_stability({"A": 10, "B": 30}, {"A": 20, "B": 60}) == 0.0

    def test_psi_grows_with_the_shift(self) -> None:
        """A bigger move between buckets gives a bigger index."""
        before = {"A": 50, "B": 50}
        assert (population_stability(before, {"A": 40, "B": 60})
                < population_stability(before, {"A": 20, "B": 80}))

    def test_migration_matrix_counts_pairs(self) -> None:
        """Rows are the first grade, columns the second."""
        matrix = migration_matrix([("A", "A"), ("A", "B"), ("B", "B")], ["A", "B"])
        assert matrix == {"A": {"A": 1, "B": 1}, "B": {"A": 0, "B": 1}}


class TestSystematic:
    @pytest.mark.parametrize(("n", "pd"), [(50, 0.02), (610, 0.04), (346, 0.11), (150, 0.3)])
    def test_without_correlation_it_is_the_binomial_interval(self, n: int, pd: float) -> None:
        """rho = 0: independent defaults, the plain binomial interval."""
        assert correlated_interval(n, pd, 0.0) == binomial_interval(n, pd)

    def test_a_shared_cycle_widens_the_interval(self) -> None:
        """With correlated defaults both ends move out, further for larger books."""
        low, high = binomial_interval(2000, 0.04)
        c_low, c_high = correlated_interval(2000, 0.04, 0.01)
        assert c_low < low and c_high > high

    def test_a_bad_year_raises_every_pd(self) -> None:
        """The conditional PD rises as the factor falls, and is the PD at z = 0 for small
        correlations (exactly the PD at rho = 0)."""
        assert conditional_pd(0.04, 0.02, -2.0) > conditional_pd(0.04, 0.02, 0.0) > (
            conditional_pd(0.04, 0.02, 2.0))
        assert conditional_pd(0.04, 0.0, -3.0) == 0.04
        assert (conditional_pd(0.0, 0.02, -3.0), conditional_pd(1.0, 0.02, 3.0)) == (0.0, 1.0)

    def test_the_correlation_is_recovered_from_yearly_rates(self) -> None:
        """Yearly default rates of Vasicek worlds at rho 2 % (plus sampling noise of 5,000
        clients) imply about 2 %; rates that vary no more than noise imply 0."""
        rng = random.Random(7)
        rates = []
        for _ in range(400):
            p = conditional_pd(0.04, 0.02, rng.gauss(0, 1))
            rates.append(sum(rng.random() < p for _ in range(5000)) / 5000)
        assert implied_correlation(rates, 5000) == pytest.approx(0.02, abs=0.004)
        assert implied_correlation([0.04, 0.0401, 0.0399, 0.04], 5000) == 0.0
