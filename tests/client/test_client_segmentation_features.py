"""Tests for the feature catalogue, the master scale, credit tiers and build_features."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from client_segmentation_factories import (
    TODAY,
    activity_facts,
    client_facts,
    credit_facts,
    features_of,
    owner_facts,
)

from crm_client.segmentation.engine import build_features, completed_years
from crm_client.segmentation.features import (
    CREDIT_TIERS,
    FEATURES,
    KNOWN_FEATURES,
    MASTER_SCALE,
    CreditFacts,
    credit_tier,
    grade_rank,
)

REQUIRED_FEATURES = {
    "client.size_class", "client.industry_section", "client.industry_division",
    "client.region_province", "client.ownership_type", "client.firm_age_years",
    "client.employees", "client.revenue_wan", "client.assets_wan",
    "client.registered_capital_wan", "client.is_project_finance", "client.lifecycle_state",
    "client.revenue_growth", "owner.age", "owner.gender", "owner.education", "owner.occupation",
    "owner.income_band", "activity.txn_count_90d", "activity.txn_count_prev_90d",
    "activity.inflow_90d_wan", "activity.outflow_90d_wan", "activity.avg_balance_wan",
    "activity.end_balance_wan", "activity.balance_trend", "activity.products_used",
    "activity.loan_products_used", "activity.days_since_last_txn", "credit.grade",
    "credit.grade_rank", "credit.pd", "credit.potential_risk", "credit.warning_level",
}  # fmt: skip


class TestCatalogue:
    def test_catalogue_covers_every_required_feature(self) -> None:
        """All features the brief and the built-in segments rely on are catalogued."""
        assert REQUIRED_FEATURES <= KNOWN_FEATURES

    def test_specs_are_keyed_by_their_own_name_and_typed(self) -> None:
        """Each spec's name matches its key and its type is one of the three kinds."""
        for name, spec in FEATURES.items():
            assert spec.name == name
            assert spec.type in ("number", "string", "bool")
            assert spec.description


class TestMasterScale:
    def test_ranks_follow_the_scale_from_aaa_to_d(self) -> None:
        """AAA is 1, AA- is 4, B is 15, CCC-C is 18 and D is 19 (MS-2027.1)."""
        assert [grade_rank(grade) for grade in MASTER_SCALE] == list(range(1, 20))
        assert (grade_rank("AAA"), grade_rank("AA-"), grade_rank("B")) == (1, 4, 15)

    @pytest.mark.parametrize("spelling", ["CCC", "CCC–C", "CCC-C", "ccc—c", " CC ", "C"])
    def test_every_spelling_of_the_ccc_band_ranks_18(self, spelling: str) -> None:
        """The CCC–C band accepts hyphen, en dash, em dash and its member grades."""
        assert grade_rank(spelling) == 18

    @pytest.mark.parametrize("bad", ["", "AAAA", "BBB++", "E", "A1"])
    def test_unknown_grades_raise(self, bad: str) -> None:
        """A grade outside the scale is a ValueError, never a silent rank."""
        with pytest.raises(ValueError, match="unknown credit grade"):
            grade_rank(bad)

    @pytest.mark.parametrize(
        ("grade", "tier"),
        [
            ("AAA", "prime"), ("AA+", "prime"), ("AA", "prime"), ("AA-", "prime"),
            ("A+", "strong"), ("A", "strong"), ("A-", "strong"),
            ("BBB+", "standard"), ("BBB", "standard"), ("BBB-", "standard"),
            ("BB+", "sub_investment"), ("BB", "sub_investment"), ("BB-", "sub_investment"),
            ("B+", "sub_investment"), ("B", "sub_investment"), ("B-", "sub_investment"),
            ("CCC+", "distressed"), ("CCC–C", "distressed"), ("CCC", "distressed"),
            ("D", "default"),
            (None, "unrated"), ("  ", "unrated"),
        ],
    )  # fmt: skip
    def test_credit_tier_of_each_grade(self, grade: str | None, tier: str) -> None:
        """Tiers group the scale as documented; no grade means unrated."""
        assert credit_tier(grade) == tier

    def test_tiers_are_the_documented_set(self) -> None:
        """Every tier the function can return is in CREDIT_TIERS."""
        produced = {credit_tier(grade) for grade in (*MASTER_SCALE, None)}
        assert produced == set(CREDIT_TIERS)


class TestFactsValidation:
    def test_unknown_size_class_is_rejected(self) -> None:
        """A size class outside large/medium/small/micro fails at construction."""
        with pytest.raises(ValueError, match="size_class"):
            client_facts(size_class="huge")

    def test_unknown_ownership_type_is_rejected(self) -> None:
        """Ownership must be one of the five documented types."""
        with pytest.raises(ValueError, match="ownership_type"):
            client_facts(ownership_type="public")

    def test_unknown_grade_and_warning_level_are_rejected(self) -> None:
        """Credit facts refuse grades off the scale and warning colours we do not know."""
        with pytest.raises(ValueError, match="unknown credit grade"):
            CreditFacts(grade="Z", pd=None, potential_risk=False, warning_level=None)
        with pytest.raises(ValueError, match="warning_level"):
            CreditFacts(grade="A", pd=None, potential_risk=False, warning_level="purple")


class TestCompletedYears:
    def test_counts_only_completed_years(self) -> None:
        """The day before the anniversary is still the previous year."""
        assert completed_years(date(1985, 7, 1), date(2025, 6, 30)) == 39
        assert completed_years(date(1985, 6, 30), date(2025, 6, 30)) == 40

    def test_leap_day_birthdays_count_on_march_first(self) -> None:
        """Someone born on 29 February completes a year on 1 March in common years."""
        assert completed_years(date(2000, 2, 29), date(2025, 2, 28)) == 24
        assert completed_years(date(2000, 2, 29), date(2025, 3, 1)) == 25

    def test_future_dates_are_rejected(self) -> None:
        """A founding or birth date after today is a data error."""
        with pytest.raises(ValueError, match="after today"):
            completed_years(TODAY + timedelta(days=1), TODAY)


class TestBuildFeatures:
    def test_every_catalogue_key_is_present(self) -> None:
        """The mapping has exactly the catalogue's keys, so rules never see a missing name."""
        assert set(features_of()) == KNOWN_FEATURES

    def test_values_match_their_catalogue_types(self) -> None:
        """Numbers are numbers (not bools), strings strings, bools bools, or null."""
        expected = {"number": (int, float, Decimal), "string": (str,), "bool": (bool,)}
        for name, value in features_of().items():
            if value is None:
                continue
            spec_type = FEATURES[name].type
            assert isinstance(value, expected[spec_type]), name
            assert spec_type == "bool" or not isinstance(value, bool), name

    def test_client_features_are_derived_from_codes_and_dates(self) -> None:
        """Section, division, province, firm age and revenue growth come from the facts."""
        features = features_of()
        assert features["client.industry_section"] == "C"
        assert features["client.industry_division"] == "30"
        assert features["client.region_province"] == "44"
        assert features["client.firm_age_years"] == 13
        assert features["client.revenue_growth"] == Decimal("0.125")

    def test_revenue_growth_is_null_without_a_positive_base(self) -> None:
        """No prior revenue (or zero) means growth is unknown, not infinite."""
        for previous in (None, Decimal(0)):
            features = features_of(client=client_facts(revenue_prev_wan=previous))
            assert features["client.revenue_growth"] is None

    def test_owner_and_activity_features_are_derived(self) -> None:
        """Owner age, balance trend and days since last transaction are computed."""
        features = features_of(
            owner=owner_facts(birth_date=date(1985, 7, 1)),
            activity=activity_facts(
                avg_balance_wan=Decimal(700), prev_avg_balance_wan=Decimal(1000),
                last_txn_date=TODAY - timedelta(days=17),
            ),
        )  # fmt: skip
        assert features["owner.age"] == 39
        assert features["activity.balance_trend"] == Decimal("-0.3")
        assert features["activity.days_since_last_txn"] == 17

    def test_a_transaction_dated_tomorrow_counts_as_today(self) -> None:
        """Cross-time-zone value dates do not produce negative dormancy."""
        activity = activity_facts(last_txn_date=TODAY + timedelta(days=1))
        assert features_of(activity=activity)["activity.days_since_last_txn"] == 0

    def test_credit_features_normalise_the_grade(self) -> None:
        """The grade is stored in master-scale spelling with its rank and tier."""
        features = features_of(credit=credit_facts(grade="ccc–c", potential_risk=True))
        assert features["credit.grade"] == "CCC-C"
        assert features["credit.grade_rank"] == 18
        assert features["credit.tier"] == "distressed"
        assert features["credit.potential_risk"] is True

    def test_missing_sections_read_as_null_and_unrated(self) -> None:
        """Without owner, activity or credit facts their features are null; tier is unrated."""
        features = build_features(
            client=client_facts(), owner=None, activity=None, credit=None, today=TODAY
        )
        assert set(features) == KNOWN_FEATURES
        assert all(features[name] is None for name in KNOWN_FEATURES if name.startswith("owner."))
        assert features["activity.txn_count_90d"] is None
        assert features["credit.grade"] is None
        assert features["credit.grade_rank"] is None
        assert features["credit.tier"] == "unrated"
        assert features["credit.potential_risk"] is False
