"""Tests for the fitting tools: monotonic binning, logistic regression, calibration."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from crm_sim.rating.binning import category_bins, information_value, monotonic_bins
from crm_sim.rating.calibration import calibrated_intercept
from crm_sim.rating.candidates import POLICY_COEFFICIENT
from crm_sim.rating.logistic import fit_logistic
from crm_sim.rating.selection import select_factors


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

    def test_continuous_values_keep_readable_cuts_inside_their_gaps(self) -> None:
        """Log-assets-like values (around 18, gaps of 1e-4): every quantile cut survives
        rounding, as a short number between the two values it separates (rounding to a
        fixed three digits threw most of them away and left one bin)."""
        rng = random.Random(3)
        xs = [18 + rng.gauss(0, 1.5) for _ in range(20000)]
        ys = [rng.random() < 1 / (1 + math.exp(3 + 0.8 * (x - 18))) for x in xs]
        bins = monotonic_bins(xs, ys, direction="lower", total_defaults=sum(ys), total=len(ys),
                              quantiles=5, min_share=0.0, min_defaults=0, min_z=0.0)
        assert len(bins) == 5
        ordered = sorted(xs)
        for b, q in zip(bins[:-1], (1, 2, 3, 4), strict=True):
            assert b.upper is not None
            assert ordered[q * 4000 - 1] <= b.upper < ordered[q * 4000]
            assert len(f"{b.upper:g}") <= 8

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

    def test_an_offset_enters_with_coefficient_one(self) -> None:
        """With a second column's effect given as an offset, the fit recovers the first."""
        rng = random.Random(4)
        rows = [(rng.gauss(0, 1), rng.gauss(0, 1)) for _ in range(20000)]
        ys = [rng.random() < 1 / (1 + math.exp(3 + 1.2 * a - 0.8 * b)) for a, b in rows]
        fit = fit_logistic([[a] for a, _ in rows], ys, offsets=[0.8 * b for _, b in rows])
        assert fit.intercept == pytest.approx(-3.0, abs=0.15)
        assert fit.coefficients[0] == pytest.approx(-1.2, abs=0.1)

    def test_calibration_moves_the_mean_pd_to_the_target(self) -> None:
        """Shifting the intercept sets the mean PD without touching the ranking."""
        log_odds = [-4.0, -3.0, -2.0, -1.0]
        shifted = calibrated_intercept(0.0, log_odds, 0.04)
        mean = sum(1 / (1 + math.exp(-(z + shifted))) for z in log_odds) / len(log_odds)
        assert mean == pytest.approx(0.04, abs=1e-6)


class TestSelection:
    """Stepwise selection on WoE columns: ordinary factors must earn their place, policy
    factors stay at their fixed coefficient when the evidence would drop them."""

    @staticmethod
    def select(noise_code: str) -> tuple[list[dict[str, Any]], list[str]]:
        rng = random.Random(5)
        n = 20000
        signal = [rng.choice((-1.0, 0.0, 1.0)) for _ in range(n)]
        columns = {"LQ_CASH_TO_SHORT_DEBT": signal,
                   noise_code: [rng.choice((-0.5, 0.5)) for _ in range(n)]}
        ys = [rng.random() < 1 / (1 + math.exp(3 - 1.0 * x)) for x in signal]
        entries = [{"code": code, "iv": 0.5} for code in columns]
        log: list[str] = []
        kept, _ = select_factors(
            entries, ys,
            lambda chosen: [[columns[e["code"]][i] for e in chosen] for i in range(n)], log=log)
        return kept, log

    def test_noise_is_dropped(self) -> None:
        """An ordinary factor without evidence leaves; the real one stays with its weight."""
        kept, log = self.select("PR_ROA")
        assert [e["code"] for e in kept] == ["LQ_CASH_TO_SHORT_DEBT"]
        assert kept[0]["coefficient"] == pytest.approx(1.0, abs=0.1)
        assert kept[0]["policy"] is False
        assert log[0].startswith("dropped PR_ROA")

    def test_a_policy_factor_without_evidence_keeps_its_fixed_weight(self) -> None:
        """Interest cover is policy: kept at POLICY_COEFFICIENT, flagged, and logged."""
        kept, log = self.select("CV_INTEREST_COVER")
        cover = next(e for e in kept if e["code"] == "CV_INTEREST_COVER")
        assert (cover["coefficient"], cover["policy"], cover["z"]) == (
            POLICY_COEFFICIENT, True, None)
        assert log[0].startswith("kept CV_INTEREST_COVER by policy")

    def test_uninformative_bins_are_dropped_even_for_policy(self) -> None:
        """A fixed weight on bins that carry no information is not policy."""
        log: list[str] = []
        kept, _ = select_factors([{"code": "CV_INTEREST_COVER", "iv": 0.001}], [True, False],
                                 lambda chosen: [[] for _ in range(2)], log=log)
        assert kept == [] and log[0].startswith("dropped CV_INTEREST_COVER: IV")
