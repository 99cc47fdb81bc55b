"""Tests for next-best-action recommendations: which fire, why, and in what order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from client_segmentation_factories import (
    TODAY,
    activity_facts,
    cash_rich_wholesaler,
    client_facts,
    credit_facts,
    dormant_developer,
    features_of,
    flagged_wind_farm,
    segments_of,
    state_steel_mill,
    young_tech_founder,
)

from crm_client.segmentation.recommendations import Recommendation, recommend

NEW_CREDIT = {"TAILORED_GROWTH_LOAN", "SUPPLY_CHAIN_FINANCE"}


def recommendations_for(features: dict[str, object]) -> list[Recommendation]:
    """Return recommend() for features and the built-in segments they fall into."""
    return recommend(features, segments_of(features))


def by_code(features: dict[str, object]) -> dict[str, Recommendation]:
    return {item.code: item for item in recommendations_for(features)}


def growth_features(grade: str, growth_percent: int, **credit: object) -> dict[str, object]:
    """Return a client whose revenue grew ``growth_percent`` and whose grade is ``grade``."""
    revenue = client_facts(
        revenue_prev_wan=Decimal(10000), revenue_wan=Decimal(10000 + 100 * growth_percent)
    )
    return features_of(client=revenue, credit=credit_facts(grade=grade, **credit))


class TestGrowthLoan:
    def test_offered_to_a_high_growth_strong_tier_firm_with_the_facts(self) -> None:
        """35% growth and an A+ rating earn a growth loan whose reason cites both."""
        offer = by_code(growth_features("A+", 35))["TAILORED_GROWTH_LOAN"]
        assert offer.reason == "revenue grew 35% yoy and grade A+ (strong tier)"
        assert offer.title_zh == "成长型企业定制贷款"

    def test_offered_to_the_young_tech_founder(self) -> None:
        """Doubling revenue at A+ is exactly the growth-loan case."""
        reason = by_code(young_tech_founder())["TAILORED_GROWTH_LOAN"].reason
        assert reason == "revenue grew 100% yoy and grade A+ (strong tier)"

    @pytest.mark.parametrize(
        ("grade", "growth", "offered"),
        [("AAA", 20, True), ("AA-", 50, True), ("A-", 20, True), ("A", 19, False),
         ("BBB+", 60, False), ("BB", 60, False)],
    )  # fmt: skip
    def test_needs_twenty_percent_growth_and_a_prime_or_strong_grade(
        self, grade: str, growth: int, offered: bool
    ) -> None:
        """The threshold is inclusive at 20% and standard or worse tiers never qualify."""
        assert ("TAILORED_GROWTH_LOAN" in by_code(growth_features(grade, growth))) is offered

    @pytest.mark.parametrize(
        "credit",
        [
            {"potential_risk": True},
            {"warning_level": "orange"},
            {"warning_level": "red"},
        ],
    )
    def test_never_offered_with_a_risk_signal(self, credit: dict[str, object]) -> None:
        """A potential-risk flag or serious warning blocks new credit even at AAA and +80%."""
        codes = set(by_code(growth_features("AAA", 80, **credit)))
        assert not codes & NEW_CREDIT
        assert "CREDIT_ENHANCEMENT" in codes

    @pytest.mark.parametrize("grade", ["CCC", "CCC–C", "D"])
    def test_never_offered_to_distressed_or_default(self, grade: str) -> None:
        """Distressed and defaulted clients get a workout review instead of new credit."""
        codes = set(by_code(growth_features(grade, 80)))
        assert not codes & NEW_CREDIT
        assert "ASSET_PRESERVATION_REVIEW" in codes

    def test_never_offered_in_the_potential_risk_segment(self) -> None:
        """Membership of beh-potential-risk alone (e.g. a user-tuned rule) blocks new credit."""
        features = growth_features("AA", 50)
        items = recommend(features, segments_of(features) | {"beh-potential-risk"})
        codes = {item.code for item in items}
        assert not codes & NEW_CREDIT
        enhancement = next(item for item in items if item.code == "CREDIT_ENHANCEMENT")
        assert "beh-potential-risk" in enhancement.reason


class TestRiskActions:
    def test_credit_enhancement_for_sub_investment_cites_the_grade(self) -> None:
        """A BB client is offered a guarantee/collateral structure, citing the grade."""
        offer = by_code(features_of(credit=credit_facts(grade="BB")))["CREDIT_ENHANCEMENT"]
        assert offer.reason.startswith("grade BB (sub_investment tier)")
        assert "担保增信" in offer.title_zh

    def test_dormant_developer_gets_risk_actions_not_credit(self) -> None:
        """Collapsed cash, no transactions for 140 days and BB: enhancement, visit, call."""
        items = recommendations_for(dormant_developer())
        assert [item.code for item in items] == [
            "CREDIT_ENHANCEMENT", "RISK_REVIEW_VISIT", "REACTIVATION_CALL",
        ]  # fmt: skip
        enhancement, visit, call = items
        assert "grade BB (sub_investment tier)" in enhancement.reason
        assert "average balance collapsed by 92%" in enhancement.reason
        assert visit.reason.startswith("average balance fell 92% vs the previous 90 days")
        assert "CNY 0.3m" in visit.reason
        assert call.reason.startswith("no transaction for 140 days")

    def test_flagged_wind_farm_gets_enhancement_and_monitoring(self) -> None:
        """A red-flagged project-finance client: enhancement first, then monitoring."""
        items = recommendations_for(flagged_wind_farm())
        assert [item.code for item in items] == ["CREDIT_ENHANCEMENT", "PROJECT_FINANCE_MONITORING"]
        assert "potential-risk flag raised by an early warning" in items[0].reason
        assert "open red warning" in items[0].reason

    @pytest.mark.parametrize(("average", "visit"), [(Decimal(700), True), (Decimal(701), False)])
    def test_risk_review_visit_from_a_thirty_percent_fall(
        self, average: Decimal, visit: bool
    ) -> None:
        """A fall of 30% or more in average balance prompts a visit."""
        activity = activity_facts(avg_balance_wan=average, prev_avg_balance_wan=Decimal(1000))
        assert ("RISK_REVIEW_VISIT" in by_code(features_of(activity=activity))) is visit

    def test_reactivation_for_no_transactions_without_a_last_date(self) -> None:
        """A client that never transacted is called, and the reason says so."""
        activity = activity_facts(txn_count_90d=0, last_txn_date=None)
        reason = by_code(features_of(activity=activity))["REACTIVATION_CALL"].reason
        assert reason.startswith("no transactions in the last 90 days")

    def test_active_client_gets_no_reactivation(self) -> None:
        """A client who transacted two days ago is not called."""
        assert "REACTIVATION_CALL" not in by_code(features_of())


class TestGrowthProducts:
    def test_supply_chain_finance_for_a_busy_manufacturer(self) -> None:
        """The steel mill's 180 transactions in 90 days earn supply-chain finance."""
        offer = by_code(state_steel_mill())["SUPPLY_CHAIN_FINANCE"]
        assert offer.reason == "manufacturing (C3120) with 180 transactions in 90 days"

    def test_supply_chain_finance_for_a_busy_wholesaler_but_not_a_retailer(self) -> None:
        """Wholesale (division 51) qualifies; retail (52) does not."""
        assert "wholesale (F5123)" in by_code(cash_rich_wholesaler())["SUPPLY_CHAIN_FINANCE"].reason
        retailer = features_of(
            client=client_facts(industry_code="F5211"), activity=activity_facts(txn_count_90d=95)
        )
        assert "SUPPLY_CHAIN_FINANCE" not in by_code(retailer)

    def test_supply_chain_finance_needs_high_activity(self) -> None:
        """A quiet manufacturer (29 transactions) is not offered trade finance."""
        quiet = features_of(activity=activity_facts(txn_count_90d=29))
        assert "SUPPLY_CHAIN_FINANCE" not in by_code(quiet)

    def test_cash_management_for_high_balances_without_loans(self) -> None:
        """CNY 25m average balance and no loans: offer cash management, citing both."""
        offer = by_code(cash_rich_wholesaler())["CASH_MANAGEMENT"]
        assert offer.reason == "average balance CNY 25.0m and no loan products"

    def test_no_cash_management_once_the_client_borrows(self) -> None:
        """A client with a loan product is not the cash-management target."""
        borrower = features_of(
            activity=activity_facts(avg_balance_wan=Decimal(2500), loan_products_used=1)
        )
        assert "CASH_MANAGEMENT" not in by_code(borrower)

    def test_project_finance_monitoring_package(self) -> None:
        """Project-finance clients always get the monitoring package."""
        features = features_of(client=client_facts(is_project_finance=True))
        assert "milestones" in by_code(features)["PROJECT_FINANCE_MONITORING"].reason


class TestOrdering:
    def test_sorted_by_priority_with_unique_codes(self) -> None:
        """Results are ordered by priority (then code) and each code appears once."""
        features = features_of(
            client=client_facts(is_project_finance=True, industry_code="F5123"),
            activity=activity_facts(
                txn_count_90d=95, avg_balance_wan=Decimal(2500), loan_products_used=0,
                prev_avg_balance_wan=Decimal(2400), last_txn_date=TODAY - timedelta(days=1),
            ),
            credit=credit_facts(grade="AA"),
        )  # fmt: skip
        items = recommendations_for(features)
        assert [item.code for item in items] == [
            "SUPPLY_CHAIN_FINANCE", "PROJECT_FINANCE_MONITORING", "CASH_MANAGEMENT",
        ]  # fmt: skip
        assert items == sorted(items, key=lambda item: (item.priority, item.code))

    def test_deterministic(self) -> None:
        """The same inputs always give the same list."""
        assert recommendations_for(dormant_developer()) == recommendations_for(dormant_developer())

    def test_empty_features_give_no_recommendations(self) -> None:
        """With nothing known there is nothing to recommend, and nothing raises."""
        assert recommend({}, set()) == []
