"""Tests for five-category loan classification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_risk.rating.model.classification import (
    CATEGORIES,
    FacilityFacts,
    category_rank,
    classify,
    is_npl,
)


class TestDaysPastDue:
    @pytest.mark.parametrize(
        ("dpd", "technical", "category"),
        [
            (0, False, "normal"),
            (1, True, "normal"),
            (7, True, "normal"),
            (8, True, "special_mention"),
            (1, False, "special_mention"),
            (7, False, "special_mention"),
            (8, False, "special_mention"),
            (90, False, "special_mention"),
            (91, False, "substandard"),
            (270, False, "substandard"),
            (271, False, "doubtful"),
            (360, False, "doubtful"),
            (361, False, "loss"),
            (361, True, "loss"),
        ],
    )
    def test_dpd_boundaries(self, dpd: int, technical: bool, category: str) -> None:
        """DPD floors switch strictly above 0/90/270/360; technical delays up to 7 days pass."""
        result = classify(FacilityFacts(days_past_due=dpd, technical_delay=technical))
        assert result.category == category

    def test_dpd_trigger_names_the_bound(self) -> None:
        """The DPD trigger records which bound was crossed."""
        [trigger] = classify(FacilityFacts(days_past_due=271)).triggers
        assert (trigger.code, trigger.category) == ("DPD_OVER_270", "doubtful")

    def test_negative_dpd_is_rejected(self) -> None:
        """Negative days past due is an input error."""
        with pytest.raises(ValueError, match="days_past_due"):
            classify(FacilityFacts(days_past_due=-1))


class TestOtherTriggers:
    @pytest.mark.parametrize(
        ("facts", "category", "code"),
        [
            (FacilityFacts(external_rating_sharply_cut=True), "special_mention",
             "EXTERNAL_RATING_CUT"),
            (FacilityFacts(new_loan_repays_old=True), "special_mention", "NEW_LOAN_REPAYS_OLD"),
            (FacilityFacts(cross_default_npl_elsewhere=True), "special_mention",
             "CROSS_DEFAULT_NPL"),
            (FacilityFacts(unauthorised_purpose_change=True), "special_mention",
             "PURPOSE_CHANGED"),
            (FacilityFacts(share_of_debt_over_90dpd_all_banks=0.21), "substandard",
             "CROSS_BANK_90DPD_SHARE"),
            (FacilityFacts(credit_impaired=True, ecl_ratio=0.3), "substandard",
             "CREDIT_IMPAIRED"),
            (FacilityFacts(credit_impaired=True, ecl_ratio=0.5), "doubtful", "CREDIT_IMPAIRED"),
            (FacilityFacts(credit_impaired=True, ecl_ratio=0.9), "loss", "CREDIT_IMPAIRED"),
            (FacilityFacts(evades_debt=True), "doubtful", "EVADES_DEBT"),
        ],
    )
    def test_single_trigger(self, facts: FacilityFacts, category: str, code: str) -> None:
        """Each objective rule sets its category floor and is recorded."""
        result = classify(facts)
        assert result.category == category
        assert [t.code for t in result.triggers] == [code]

    def test_new_loan_repays_old_excused_when_finances_normal(self) -> None:
        """借新还旧 is not a trigger while the debtor's finances are normal."""
        facts = FacilityFacts(new_loan_repays_old=True, borrower_finances_normal=True)
        assert classify(facts).category == "normal"

    def test_cross_bank_share_exactly_20_percent_is_not_substandard(self) -> None:
        """The 20 % cross-bank rule needs strictly more than 20 %."""
        assert classify(FacilityFacts(share_of_debt_over_90dpd_all_banks=0.20)).category == (
            "normal"
        )

    def test_ecl_without_impairment_is_ignored(self) -> None:
        """ECL ratios only matter for credit-impaired assets."""
        assert classify(FacilityFacts(ecl_ratio=0.95)).category == "normal"

    def test_worst_trigger_wins_and_all_are_kept(self) -> None:
        """The worst floor decides; every trigger is listed, worst first."""
        facts = FacilityFacts(days_past_due=100, evades_debt=True,
                              unauthorised_purpose_change=True)
        result = classify(facts)
        assert result.category == "doubtful"
        assert [t.category for t in result.triggers] == [
            "doubtful", "substandard", "special_mention"]


class TestRestructuring:
    @pytest.mark.parametrize(
        ("previous", "category"),
        [(None, "special_mention"), ("normal", "special_mention"),
         ("special_mention", "special_mention"), ("substandard", "substandard"),
         ("doubtful", "substandard")],
    )
    def test_restructured_floor_depends_on_previous_class(
        self, previous: str | None, category: str
    ) -> None:
        """Restructured performing assets are at least 关注; restructured NPLs at least 次级."""
        facts = FacilityFacts(restructured=True, previous_class=previous)  # type: ignore[arg-type]
        assert classify(facts).category == category

    @pytest.mark.parametrize(
        ("previous", "category"),
        [("normal", "substandard"), ("special_mention", "substandard"),
         ("substandard", "doubtful"), ("doubtful", "loss"), ("loss", "loss")],
    )
    def test_failed_observation_downgrades(self, previous: str, category: str) -> None:
        """An NPL trigger in the observation period downgrades a step, to at least 次级."""
        facts = FacilityFacts(restructured=True, restructure_observation_failed=True,
                              previous_class=previous)  # type: ignore[arg-type]
        assert classify(facts).category == category


class TestNpl:
    def test_npl_categories(self) -> None:
        """NPL is substandard, doubtful and loss."""
        assert [is_npl(c) for c in CATEGORIES] == [False, False, True, True, True]

    def test_unknown_category_is_rejected(self) -> None:
        """An unknown category name raises instead of answering False."""
        with pytest.raises(ValueError, match="unknown"):
            is_npl("bad")

    @settings(max_examples=200)
    @given(dpd=st.integers(0, 1000), extra=st.integers(0, 400))
    def test_more_days_never_improve_the_class(self, dpd: int, extra: int) -> None:
        """Classification is monotone in days past due."""
        before = classify(FacilityFacts(days_past_due=dpd)).category
        after = classify(FacilityFacts(days_past_due=dpd + extra)).category
        assert category_rank(after) >= category_rank(before)
