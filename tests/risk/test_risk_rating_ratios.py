"""Tests for ratio computation, including the CAS items added for SC-2027.1."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from crm_risk.rating.model.features import interest_cover_feature
from crm_risk.rating.model.ratios import RATIO_NAMES, compute_ratios
from crm_risk.rating.model.statements import (
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
            "debt_ratio_ex_advances": 550 / 950, "ocf_to_liabilities": 70 / 600,
            "refinancing_gap": 0.02, "ebitda_margin": 150 / 1200, "impairment_to_assets": 0.0,
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


class TestCasItems:
    """Notes payable, the current portion, shareholder loans and capitalised interest."""

    def test_capitalised_interest_counts_in_interest_cover(self) -> None:
        """Cover is EBIT / (expensed + capitalised interest): a developer capitalising 30 of
        its 50 yuan of interest covers it 2 times, not 5."""
        st = current_statement()
        st = replace(st, income=replace(st.income, capitalised_interest=D(30)))
        assert compute_ratios(st, None).interest_cover == pytest.approx(100 / 50)

    def test_zero_interest_with_negative_ebit_is_the_worst_cover(self) -> None:
        """No interest and a loss: the ratio is undefined, the scoring value is -inf;
        no interest and a profit is +inf."""
        st = current_statement()
        losing = replace(st, income=replace(st.income, interest_expense=D(0), ebit=D(-40)))
        ratios = compute_ratios(losing, None)
        assert ratios.interest_cover is None and ratios.ebit_negative
        assert interest_cover_feature(ratios) == -math.inf
        earning = replace(st, income=replace(st.income, interest_expense=D(0)))
        assert interest_cover_feature(compute_ratios(earning, None)) == math.inf

    def test_short_term_funding_includes_bills_and_current_portion(self) -> None:
        """Cash to short-term debt and the refinancing gap count notes payable and the
        current portion of long-term debt (现金短债比)."""
        st = current_statement()
        st = replace(st, balance=replace(st.balance, notes_payable=D(40),
                                         current_portion_long_term_debt=D(20)))
        r = compute_ratios(st, None)
        assert r.cash_to_short_debt == pytest.approx(80 / 160)
        assert r.refinancing_gap == pytest.approx((160 - 80) / 1000)

    def test_debt_includes_bills_and_shareholder_loans(self) -> None:
        """Debt / EBITDA and net gearing count every interest-bearing item."""
        st = current_statement()
        st = replace(st, balance=replace(st.balance, notes_payable=D(30),
                                         shareholder_loans=D(60)))
        r = compute_ratios(st, None)
        assert r.debt_to_ebitda == pytest.approx(390 / 150)
        assert r.net_gearing == pytest.approx((390 - 80) / 400)

