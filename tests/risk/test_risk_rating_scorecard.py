"""Tests for the rating scorecard: scores, PD, grades, caps and reason codes."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_risk.rating.ratios import Ratios
from crm_risk.rating.scale import grade_for_pd, grade_rank
from crm_risk.rating.scorecard import (
    RatingInputs,
    RepaymentHistory,
    SignalCounts,
    interpolate,
    rate,
)
from crm_risk.rating.scorecard_config import SCORECARDS, Benchmark

GOOD_RATIOS = Ratios(debt_to_assets=0.45, current_ratio=1.5, interest_cover=8.0, roa=0.07,
                     revenue_growth=0.12, debt_to_ebitda=2.0)
STRONG = RatingInputs(industry_code="D4415", ratios=GOOD_RATIOS)
WEAK = RatingInputs(
    industry_code="K7010",
    ratios=Ratios(debt_to_assets=0.9, current_ratio=0.9, interest_cover=0.8, roa=-0.02,
                  revenue_growth=-0.3, debt_to_ebitda=12.0),
    repayment=RepaymentHistory(max_dpd_12m=45, late_payments_12m=3),
    signals=SignalCounts(litigation=4),
)


class TestScore:
    def test_strong_client_scores_high(self) -> None:
        """A client at or above every benchmark scores near the top and rates investment grade."""
        result = rate(STRONG)
        assert result.dimension_scores["credit"] == pytest.approx(100.0)
        assert result.dimension_scores["operational"] == pytest.approx(100.0)
        # Only the section's outlook (75) and risk (80) points are below 100.
        assert result.score == pytest.approx(50 + 0.15 * 87.5 + 20 + 0.15 * 88)
        assert grade_rank(result.grade) <= grade_rank("A-")
        assert result.caps_applied == []

    def test_pd_follows_the_logistic_calibration(self) -> None:
        """PD is the configured logistic of the score; the grade is the PD's band."""
        config = SCORECARDS["SC-2026.1"]
        for inputs in (STRONG, WEAK):
            result = rate(inputs)
            expected = 1 / (1 + math.exp(-(config.intercept + config.slope * result.score)))
            assert result.model_pd == pytest.approx(max(expected, 0.0005))
            assert result.model_grade == grade_for_pd(result.model_pd)

    def test_weak_client_scores_worse(self) -> None:
        """Poor ratios, arrears and litigation give a sub-investment grade."""
        result = rate(WEAK)
        assert result.score < rate(STRONG).score - 30
        assert grade_rank(result.grade) > grade_rank("BBB-")

    def test_versions_are_recorded(self) -> None:
        """Results name the scorecard and master scale that produced them."""
        result = rate(STRONG)
        assert (result.scorecard_version, result.master_scale_version) == ("SC-2026.1",
                                                                           "MS-2026.1")

    def test_missing_financials_score_below_average(self) -> None:
        """No statements scores worse than good statements but is still rated."""
        result = rate(replace(STRONG, ratios=None))
        assert result.score < rate(STRONG).score
        assert "CR_DEBT_RATIO_HIGH" in {r.code for r in result.reason_codes}

    def test_no_interest_expense_counts_as_full_cover(self) -> None:
        """Undefined interest cover (no interest) earns full points."""
        no_interest = replace(STRONG, ratios=replace(GOOD_RATIOS, interest_cover=None))
        assert rate(no_interest).score == pytest.approx(rate(STRONG).score)

    def test_watchlist_division_scores_lower(self) -> None:
        """A steel class (division 31) scores below a general-equipment class (34)."""
        steel = rate(replace(STRONG, industry_code="C3120"))
        machinery = rate(replace(STRONG, industry_code="C3411"))
        assert steel.score < machinery.score
        assert "IN_WATCHLIST_INDUSTRY" in {r.code for r in steel.reason_codes}

    @pytest.mark.parametrize(
        "change",
        [{"fx_revenue_share": 1.5}, {"floating_rate_debt_share": -0.1},
         {"signals": SignalCounts(litigation=-1)}, {"open_warning_level": "purple"},
         {"industry_code": "Z99"}, {"industry_code": "K3011"},
         {"audit_opinion": "glowing"}],
    )
    def test_invalid_inputs_are_rejected(self, change: dict[str, object]) -> None:
        """Inputs outside their domain raise ValueError."""
        with pytest.raises(ValueError):
            rate(replace(STRONG, **change))  # type: ignore[arg-type]


class TestMonotonicity:
    def test_interpolation_is_flat_beyond_the_ends(self) -> None:
        """Points are clamped outside the knots and linear between them."""
        knots = Benchmark(good=0.4, average=0.6, poor=0.8).knots()
        assert [interpolate(x, knots) for x in (0.0, 0.4, 0.5, 0.8, 1.0, 5.0, math.inf)] == \
            pytest.approx([100.0, 100.0, 80.0, 20.0, 0.0, 0.0, 0.0])

    def test_unordered_benchmark_is_rejected(self) -> None:
        """A benchmark whose average is not between good and poor cannot be configured."""
        with pytest.raises(ValueError, match="strictly ordered"):
            Benchmark(good=0.4, average=0.8, poor=0.6)

    @settings(max_examples=200, deadline=None)
    @given(
        section=st.sampled_from(["C3011", "D4411", "E4710", "F5211", "G5320", "I6513",
                                 "K7010", "B0610", "N7810"]),
        base=st.tuples(st.floats(0.1, 1.2), st.floats(0.2, 3.0), st.floats(-2, 20),
                       st.floats(-0.2, 0.2), st.floats(-0.5, 0.5), st.floats(0, 15)),
        worse=st.tuples(*[st.floats(0, 1)] * 6),
        counts=st.tuples(*[st.integers(0, 5)] * 7),
        extra=st.tuples(*[st.integers(0, 3)] * 7),
    )
    def test_worse_inputs_never_score_better(
        self, section: str, base: tuple[float, ...], worse: tuple[float, ...],
        counts: tuple[int, ...], extra: tuple[int, ...],
    ) -> None:
        """Worse ratios, more arrears and more signals never raise the score."""
        debt, current, cover, roa, growth, lev = base
        d_debt, d_current, d_cover, d_roa, d_growth, d_lev = worse

        def inputs(r: Ratios, c: tuple[int, ...]) -> RatingInputs:
            return RatingInputs(
                industry_code=section, ratios=r,
                repayment=RepaymentHistory(max_dpd_12m=c[0], late_payments_12m=c[1]),
                signals=SignalCounts(litigation=c[2], tax_arrears=c[3], negative_news=c[4],
                                     management_change=c[5], cross_default=c[6]),
            )

        better = Ratios(debt_to_assets=debt, current_ratio=current, interest_cover=cover,
                        roa=roa, revenue_growth=growth, debt_to_ebitda=lev)
        poorer = Ratios(debt_to_assets=debt + d_debt, current_ratio=current - d_current,
                        interest_cover=cover - 5 * d_cover, roa=roa - d_roa,
                        revenue_growth=growth - d_growth, debt_to_ebitda=lev + 5 * d_lev)
        more = tuple(a + b for a, b in zip(counts, extra, strict=True))
        assert rate(inputs(poorer, more)).score <= rate(inputs(better, counts)).score + 1e-9


class TestCaps:
    @pytest.mark.parametrize(
        ("level", "grade", "cap"),
        [("red", "B", "WARNING_RED_CAP_B"), ("orange", "BB", "WARNING_ORANGE_CAP_BB"),
         ("yellow", "BBB-", "WARNING_YELLOW_CAP_BBB-")],
    )
    def test_warning_caps_a_strong_grade(self, level: str, grade: str, cap: str) -> None:
        """An open warning caps the grade and raises PD to the capped band."""
        result = rate(replace(STRONG, open_warning_level=level))  # type: ignore[arg-type]
        assert result.grade == grade
        assert result.caps_applied == [cap]
        assert grade_for_pd(result.pd) == grade
        assert result.model_grade == rate(STRONG).grade

    def test_blue_warning_does_not_cap(self) -> None:
        """Blue warnings are handled by the business unit and do not cap ratings."""
        assert rate(replace(STRONG, open_warning_level="blue")).caps_applied == []

    def test_cap_that_does_not_bind_is_not_reported(self) -> None:
        """A yellow cap on a grade already worse than BBB- changes nothing."""
        result = rate(replace(WEAK, open_warning_level="yellow"))
        assert result.caps_applied == []
        assert result.grade == result.model_grade

    def test_npl_facility_means_default(self) -> None:
        """Any NPL facility puts the client in D with PD 1, warnings aside."""
        result = rate(replace(STRONG, has_npl_facility=True, open_warning_level="red"))
        assert (result.grade, result.pd) == ("D", 1.0)
        assert result.caps_applied == ["NPL_FACILITY_D"]


class TestReasonCodes:
    def test_codes_name_the_weak_factors_sorted_by_impact(self) -> None:
        """Top reason codes are the biggest point losses, largest first (worked by hand)."""
        inputs = replace(STRONG, industry_code="C3120", fx_revenue_share=0.8,
                         signals=SignalCounts(litigation=6, tax_arrears=2))
        codes = rate(inputs).reason_codes
        # Lost points: litigation .2*.25*100 = 5, watch list .15*.4*80 = 4.8,
        # tax arrears .2*.2*100 = 4, section C .15*.6*35 = 3.15; outlook (3.0) and
        # FX (2.2) fall outside the top four.
        assert [c.code for c in codes] == ["OP_LITIGATION", "IN_WATCHLIST_INDUSTRY",
                                           "OP_TAX_ARREARS", "IN_SECTION_RISK"]
        assert [c.impact_points for c in codes] == pytest.approx([5.0, 4.8, 4.0, 3.15])
        assert [c.dimension for c in codes] == ["operational", "industry", "operational",
                                                "industry"]

    def test_fx_exposure_is_a_reason(self) -> None:
        """All revenue in foreign currency shows up as a market reason code."""
        codes = rate(replace(STRONG, fx_revenue_share=1.0)).reason_codes
        assert codes[0].code == "MK_FX_SENSITIVE"
        assert codes[0].impact_points == pytest.approx(0.15 * 0.25 * 70)

    def test_impacts_explain_the_whole_gap(self) -> None:
        """When few factors lose points, their impacts add up to 100 - score."""
        result = rate(STRONG)
        assert [c.code for c in result.reason_codes] == ["MK_OUTLOOK_WEAK", "IN_SECTION_RISK"]
        total = sum(c.impact_points for c in result.reason_codes)
        assert total == pytest.approx(100 - result.score)

    def test_descriptions_are_informative(self) -> None:
        """Descriptions carry the factor and its value."""
        [code] = [c for c in rate(WEAK).reason_codes if c.code == "CR_DEBT_RATIO_HIGH"]
        assert "debt_to_assets 0.9" in code.description
