"""Tests for ratio computation and ratio signals."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from crm_risk.rating.ratios import (
    RATIO_NAMES,
    RATIO_THRESHOLDS,
    Ratios,
    compute_ratios,
    ratio_signals,
)
from crm_risk.rating.statements import (
    BalanceSheet,
    CashFlowStatement,
    FinancialStatement,
    IncomeStatement,
)

D = Decimal


def current_statement() -> FinancialStatement:
    """Return the hand-worked 2024 example."""
    return FinancialStatement(
        period_start=date(2024, 1, 1), period_end=date(2024, 12, 31),
        balance=BalanceSheet(
            total_assets=D(1000), current_assets=D(400), inventory=D(100), receivables=D(120),
            cash=D(80), total_liabilities=D(600), current_liabilities=D(250),
            short_term_debt=D(100), long_term_debt=D(200), equity=D(400),
            advance_receipts=D(50),
        ),
        income=IncomeStatement(
            revenue=D(1200), cost_of_sales=D(900), operating_profit=D(90),
            interest_expense=D(20), ebit=D(100), net_profit=D(60),
            depreciation_amortisation=D(50),
        ),
        cash_flow=CashFlowStatement(D(70), D(-40), D(-10)),
        audited=True, audit_opinion="unqualified",
    )


def previous_statement() -> FinancialStatement:
    """Return the hand-worked 2023 example."""
    return FinancialStatement(
        period_start=date(2023, 1, 1), period_end=date(2023, 12, 31),
        balance=BalanceSheet(
            total_assets=D(900), current_assets=D(350), inventory=D(80), receivables=D(100),
            cash=D(70), total_liabilities=D(540), current_liabilities=D(220),
            short_term_debt=D(90), long_term_debt=D(180), equity=D(360),
            advance_receipts=D(40),
        ),
        income=IncomeStatement(
            revenue=D(1000), cost_of_sales=D(760), operating_profit=D(80),
            interest_expense=D(18), ebit=D(90), net_profit=D(50), ebitda=D(130),
        ),
        cash_flow=CashFlowStatement(D(-10), D(-30), D(45)),
        audited=True, audit_opinion="unqualified",
    )


class TestComputeRatios:
    def test_hand_computed_example(self) -> None:
        """Every ratio matches the value worked out by hand."""
        r = compute_ratios(current_statement(), previous_statement())
        expected = {
            "debt_to_assets": 0.6, "current_ratio": 1.6, "quick_ratio": 1.2,
            "interest_cover": 5.0, "ocf": 70.0, "ocf_to_current_liabilities": 0.28,
            "roa": 60 / 950, "roe": 60 / 380, "revenue_growth": 0.2,
            "receivable_days": 110 / 1200 * 365, "inventory_days": 90 / 900 * 365,
            "debt_to_ebitda": 2.0, "net_gearing": 0.55, "cash_to_short_debt": 0.8,
            "debt_ratio_ex_advances": 550 / 950,
        }
        for name, value in expected.items():
            assert r.value(name) == pytest.approx(value), name
        assert r.ocf_negative_years == 0

    def test_yoy_is_relative_change_against_previous_ratios(self) -> None:
        """yoy holds (now - before) / |before| for every ratio."""
        r = compute_ratios(current_statement(), previous_statement())
        assert set(r.yoy) == set(RATIO_NAMES)
        assert r.yoy["debt_to_assets"] == pytest.approx(0.0)
        assert r.yoy["current_ratio"] == pytest.approx((1.6 - 350 / 220) / (350 / 220))
        assert r.yoy["receivable_days"] == pytest.approx((110 / 1200 * 365 - 36.5) / 36.5)
        assert r.yoy["ocf"] == pytest.approx((70 - -10) / 10)
        assert r.yoy["revenue_growth"] is None  # the previous year has no growth figure

    def test_without_previous_uses_closing_balances(self) -> None:
        """Without a previous period, averages are closing balances and growth is None."""
        r = compute_ratios(current_statement(), None)
        assert r.roa == pytest.approx(0.06)
        assert r.roe == pytest.approx(0.15)
        assert r.receivable_days == pytest.approx(120 / 1200 * 365)
        assert r.revenue_growth is None
        assert r.yoy == {}

    def test_quarter_is_annualised(self) -> None:
        """Flows of a 91-day quarter are scaled to a year before dividing."""
        st = replace(current_statement(), period_start=date(2024, 1, 1),
                     period_end=date(2024, 3, 31))
        st = replace(st, income=replace(st.income, revenue=D(300), net_profit=D(15)))
        r = compute_ratios(st, None)
        assert r.receivable_days == pytest.approx(120 / 300 * 91)
        assert r.roa == pytest.approx(15 * 365 / 91 / 1000)

    def test_zero_denominators_give_none(self) -> None:
        """Ratios with a zero denominator are undefined, not errors."""
        st = current_statement()
        st = replace(
            st,
            balance=replace(st.balance, current_liabilities=D(0), short_term_debt=D(0),
                            advance_receipts=D(0)),
            income=replace(st.income, interest_expense=D(0), revenue=D(0)),
        )
        r = compute_ratios(st, None)
        assert r.current_ratio is None
        assert r.quick_ratio is None
        assert r.interest_cover is None
        assert r.cash_to_short_debt is None
        assert r.receivable_days is None

    def test_debt_without_ebitda_is_unbounded(self) -> None:
        """Debt with zero or negative EBITDA is infinitely levered, not None."""
        st = current_statement()
        st = replace(st, income=replace(st.income, ebit=D(-60), depreciation_amortisation=D(10)))
        r = compute_ratios(st, None)
        assert r.debt_to_ebitda == math.inf

    def test_negative_equity(self) -> None:
        """Negative equity leaves ROE undefined and net gearing unbounded."""
        st = current_statement()
        st = replace(st, balance=replace(st.balance, total_liabilities=D(1100), equity=D(-100)))
        r = compute_ratios(st, None)
        assert r.roe is None
        assert r.net_gearing == math.inf

    def test_two_negative_ocf_years(self) -> None:
        """Negative operating cash flow in both years counts two years."""
        st = current_statement()
        st = replace(st, cash_flow=CashFlowStatement(D(-5), D(0), D(0)))
        assert compute_ratios(st, previous_statement()).ocf_negative_years == 2
        assert compute_ratios(st, None).ocf_negative_years == 1


def codes(signals: list) -> dict[str, str]:  # type: ignore[type-arg]
    """Map signal code to severity."""
    return {s.code: s.severity for s in signals}


class TestRatioSignals:
    def test_healthy_ratios_raise_nothing(self) -> None:
        """The hand-worked example is healthy for manufacturing."""
        r = compute_ratios(current_statement(), previous_statement())
        assert ratio_signals(r, industry_section="C") == []

    @pytest.mark.parametrize(
        ("value", "severity"), [(1.2, None), (1.19, "warning"), (1.0, "warning"), (0.99, "red")]
    )
    def test_current_ratio_thresholds_are_strict(self, value: float, severity: str | None) -> None:
        """Current ratio below 1.2 warns and below 1.0 is red; the boundary itself is fine."""
        found = codes(ratio_signals(Ratios(current_ratio=value), industry_section="C"))
        assert found.get("CURRENT_RATIO_LOW") == severity

    @pytest.mark.parametrize(
        ("section", "value", "severity"),
        [("C", 0.70, None), ("C", 0.71, "warning"), ("C", 0.81, "red"),
         ("K", 0.81, None), ("K", 0.86, "warning"), ("K", 0.91, "red")],
    )
    def test_debt_ratio_depends_on_section(
        self, section: str, value: float, severity: str | None
    ) -> None:
        """Manufacturing warns above 70 % (red 80 %); real estate above 85 %."""
        found = codes(ratio_signals(Ratios(debt_to_assets=value), industry_section=section))
        assert found.get("DEBT_RATIO_HIGH") == severity

    def test_full_industry_code_is_accepted(self) -> None:
        """A class code such as K7010 selects its section's thresholds."""
        found = codes(ratio_signals(Ratios(debt_to_assets=0.86), industry_section="K7010"))
        assert found == {"DEBT_RATIO_HIGH": "warning"}

    def test_signal_carries_value_and_threshold(self) -> None:
        """A signal reports the ratio, its value and the breached threshold."""
        [signal] = ratio_signals(Ratios(debt_to_ebitda=9.0), industry_section="C")
        assert (signal.code, signal.severity, signal.ratio) == ("DEBT_TO_EBITDA_HIGH", "red",
                                                                "debt_to_ebitda")
        assert (signal.value, signal.threshold) == (9.0, 8.0)

    @pytest.mark.parametrize(
        ("ratios", "code", "severity"),
        [
            (Ratios(quick_ratio=0.7), "QUICK_RATIO_LOW", "warning"),
            (Ratios(quick_ratio=0.4), "QUICK_RATIO_LOW", "red"),
            (Ratios(interest_cover=1.5), "INTEREST_COVER_LOW", "warning"),
            (Ratios(interest_cover=0.5), "INTEREST_COVER_LOW", "red"),
            (Ratios(ocf=-1.0, ocf_negative_years=1), "OCF_NEGATIVE", "warning"),
            (Ratios(ocf=-1.0, ocf_negative_years=2), "OCF_NEGATIVE", "red"),
            (Ratios(revenue_growth=-0.15), "REVENUE_DECLINE", "warning"),
            (Ratios(revenue_growth=-0.35), "REVENUE_DECLINE", "red"),
            (Ratios(debt_to_ebitda=6.0), "DEBT_TO_EBITDA_HIGH", "warning"),
            (Ratios(debt_to_ebitda=math.inf), "DEBT_TO_EBITDA_HIGH", "red"),
            (Ratios(yoy={"receivable_days": 0.31}), "RECEIVABLE_DAYS_UP", "warning"),
            (Ratios(roa=-0.01), "ROA_LOW", "red"),
        ],
    )
    def test_each_rule_fires(self, ratios: Ratios, code: str, severity: str) -> None:
        """Each DOMAIN §9 rule raises its code at the right severity."""
        assert codes(ratio_signals(ratios, industry_section="C")).get(code) == severity

    def test_receivable_days_up_exactly_30_percent_is_fine(self) -> None:
        """The +30 % rule needs strictly more than 30 %."""
        r = Ratios(yoy={"receivable_days": 0.30})
        assert "RECEIVABLE_DAYS_UP" not in codes(ratio_signals(r, industry_section="C"))

    def test_three_red_lines_only_for_real_estate(self) -> None:
        """Breaching all three red lines is red in section K and ignored elsewhere."""
        r = Ratios(debt_ratio_ex_advances=0.75, net_gearing=1.2, cash_to_short_debt=0.5)
        found = [s for s in ratio_signals(r, industry_section="K") if s.code == "THREE_RED_LINES"]
        assert [(s.severity, s.value) for s in found] == [("red", 3.0)]
        assert "THREE_RED_LINES" not in codes(ratio_signals(r, industry_section="C"))
        one = Ratios(debt_ratio_ex_advances=0.75)
        assert codes(ratio_signals(one, industry_section="K"))["THREE_RED_LINES"] == "warning"

    def test_thresholds_are_versioned(self) -> None:
        """The default threshold set is registered under its version key."""
        assert RATIO_THRESHOLDS["RT-2026.1"].version == "RT-2026.1"
        with pytest.raises(KeyError):
            ratio_signals(Ratios(), industry_section="C", version="RT-1999.1")
