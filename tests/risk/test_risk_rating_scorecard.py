"""Tests for scorecard SC-2027.3 (the default): fitted factors, overlays, PD, grades, caps,
reasons. Its calibration curve has tests of its own (test_risk_rating_calibration).

The fitted numbers change when the model is refitted; these tests pin behaviour that must
survive any refit (worst and best bins, orderings, the cap first), not coefficients.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from rating_support import STRONG, WEAK, factor, inputs, strong_statement

from crm_risk.rating.model.caps import OpenWarning
from crm_risk.rating.model.scale import grade_for_pd, grade_rank
from crm_risk.rating.model.scorecard import RepaymentHistory, SignalCounts, interpolate, rate
from crm_risk.rating.model.scorecard_model import load_model

D = Decimal


class TestScore:
    def test_strong_client_rates_better_than_weak(self) -> None:
        """Strong statements score higher, with a lower PD and a better grade."""
        strong, weak = rate(STRONG), rate(WEAK)
        assert strong.score > weak.score + 40
        assert strong.pd < weak.pd
        assert grade_rank(strong.grade) <= grade_rank("BBB-") < grade_rank(weak.grade)

    def test_pd_follows_the_calibration_curve_of_the_score(self) -> None:
        """log-odds = base − score / points_per_log_odds; PD = floor + (1 − floor) ·
        σ(intercept + slope · log-odds); the grade is the PD's band."""
        model = load_model("SC-2027.3")
        curve = model.calibration
        assert not curve.is_identity
        for case in (STRONG, WEAK):
            result = rate(case)
            log_odds = model.base_log_odds - result.score / model.points_per_log_odds
            expected = curve.floor + (1 - curve.floor) / (
                1 + math.exp(-(curve.intercept + curve.slope * log_odds)))
            assert result.model_pd == pytest.approx(max(expected, 0.0005))
            assert result.model_grade == grade_for_pd(result.model_pd)

    def test_score_is_the_sum_of_factor_points_and_overlay_deductions(self) -> None:
        """Dimension scores add up to the score; factors earn between 0 and their maximum."""
        result = rate(replace(WEAK, repayment=RepaymentHistory(max_dpd_12m=20)))
        assert sum(result.dimension_scores.values()) == pytest.approx(result.score)
        assert result.dimension_scores["behaviour"] < 0
        for f in result.factors:
            assert 0.0 <= f.points <= f.max_points + 1e-9
        assert sum(f.max_points for f in result.factors) == pytest.approx(100.0)

    def test_versions_are_recorded(self) -> None:
        """Results name the scorecard and master scale that produced them."""
        result = rate(STRONG)
        assert (result.scorecard_version, result.master_scale_version) == ("SC-2027.3",
                                                                           "MS-2027.1")

    def test_the_previous_versions_stay_rateable(self) -> None:
        """Ratings made with SC-2027.1 and SC-2027.2 can be reproduced: both still rate,
        SC-2027.2 with the plain logistic of its log-odds (no curve)."""
        first = rate(STRONG, version="SC-2027.1")
        assert first.scorecard_version == "SC-2027.1"
        assert "SZ_ASSETS" not in {f.code for f in first.factors}
        second = rate(WEAK, version="SC-2027.2")
        model = load_model("SC-2027.2")
        assert model.calibration.is_identity
        assert second.model_pd == 1 / (1 + math.exp(-(model.base_log_odds - second.score
                                                       / model.points_per_log_odds)))

    def test_no_statement_is_rated_worse_than_a_good_one(self) -> None:
        """Without statements the client is still rated, worse, and told why."""
        result = rate(replace(STRONG, features=None, audit_opinion="none"))
        assert result.pd > rate(STRONG).pd
        assert "FN_NO_STATEMENT" in {r.code for r in result.reason_codes}

    def test_past_due_days_raise_the_pd(self) -> None:
        """The repayment overlay adds risk the statements cannot show."""
        late = rate(replace(STRONG, repayment=RepaymentHistory(max_dpd_12m=45,
                                                               late_payments_12m=2)))
        assert late.pd > rate(STRONG).pd
        assert "BH_PAST_DUE" in {r.code for r in late.reason_codes}


class TestInterestCover:
    def test_zero_interest_with_negative_ebit_scores_poorly(self) -> None:
        """No interest and negative EBIT earns no interest-cover points; no interest with
        positive EBIT earns them all."""
        losing = strong_statement(interest_expense=D(0), ebit=D(-30), operating_profit=D(-30))
        earning = strong_statement(interest_expense=D(0))
        worst = factor(rate(inputs(losing)), "CV_INTEREST_COVER")
        best = factor(rate(inputs(earning)), "CV_INTEREST_COVER")
        assert worst.value == -math.inf and worst.points == 0.0
        assert best.points == pytest.approx(best.max_points) and best.max_points > 0

    def test_capitalised_interest_counts_in_interest_cover(self) -> None:
        """The factor reads EBIT / (expensed + capitalised interest)."""
        capitalising = strong_statement(interest_expense=D(8), capitalised_interest=D(66))
        seen = factor(rate(inputs(capitalising)), "CV_INTEREST_COVER")
        assert seen.value == pytest.approx(148 / 74)


class TestStartUp:
    def test_start_up_with_one_statement_is_rated_with_the_start_up_factor(self) -> None:
        """One statement and no founding date: the age factor's start-up bin applies, it is
        a reason code, and the same figures for a 20-year-old firm rate better."""
        single = replace(strong_statement(), founding_date=None)
        startup = rate(inputs(single))
        age = factor(startup, "AG_FIRM_AGE")
        assert age.bin.startswith("start-up")
        assert age.points < age.max_points
        assert "AG_FIRM_AGE" in {r.code for r in startup.reason_codes}
        established = rate(inputs(replace(single, founding_date=date(2004, 1, 1))))
        assert not factor(established, "AG_FIRM_AGE").bin.startswith("start-up")
        assert established.pd < startup.pd


class TestCaps:
    def test_capped_grade_names_the_cap_first(self) -> None:
        """Statements and transactions both warning: the corroborated orange warning caps
        the grade at BB, and the cap is the first reason code."""
        warnings = (OpenWarning("statements", "financial_ratios", "red"),
                    OpenWarning("transactions", "funds_diversion", "orange"))
        result = rate(replace(STRONG, open_warnings=warnings))
        assert grade_rank(result.model_grade) < grade_rank("BB")
        assert result.grade == "BB"
        assert result.caps_applied == ["WARNING_ORANGE_CAP_BB"]
        assert result.reason_codes[0].code == "WARNING_ORANGE_CAP_BB"
        assert result.reason_codes[0].dimension == "cap"
        assert "statements:financial_ratios" in result.reason_codes[0].description
        assert result.pd >= 0.034  # the BB band's floor

    def test_uncorroborated_ratio_warning_does_not_cap(self) -> None:
        """A red warning from the statements alone leaves the model grade standing."""
        result = rate(replace(STRONG, open_warnings=(
            OpenWarning("statements", "financial_ratios", "red"),)))
        assert result.grade == result.model_grade and result.caps_applied == []

    def test_cross_default_caps_on_its_own(self) -> None:
        """A cross-default reported by another bank is a fact, not a suspicion."""
        result = rate(replace(STRONG, signals=SignalCounts(cross_default=1), open_warnings=(
            OpenWarning("external", "external_cross_default", "red"),)))
        assert result.grade == "B" and result.reason_codes[0].code == "WARNING_RED_CAP_B"

    def test_npl_facility_means_default(self) -> None:
        """A non-performing facility makes the grade D whatever the score."""
        result = rate(replace(STRONG, has_npl_facility=True))
        assert (result.grade, result.pd) == ("D", 1.0)
        assert result.reason_codes[0].code == "NPL_FACILITY_D"


class TestInputs:
    @pytest.mark.parametrize("share", [-0.1, 1.1])
    def test_shares_outside_zero_to_one_are_rejected(self, share: float) -> None:
        """Fractions outside 0-1 are a caller error."""
        with pytest.raises(ValueError, match="fraction"):
            rate(replace(STRONG, fx_revenue_share=share))

    def test_negative_counts_are_rejected(self) -> None:
        """Negative counts are a caller error."""
        with pytest.raises(ValueError, match="must not be negative"):
            rate(replace(STRONG, signals=SignalCounts(litigation=-1)))

    def test_interpolate_is_flat_beyond_the_knots(self) -> None:
        """Knots interpolate linearly and hold their end values outside."""
        knots = ((0.0, 0.0), (10.0, 1.0))
        assert [interpolate(x, knots) for x in (-5, 0, 5, 10, 50)] == [0, 0, 0.5, 1, 1]
