"""Tests for the size and multi-year trend factors of the default scorecard.

The issue asks for factors for size and trends; the fit keeps them where the evidence
carries them and at a small fixed policy weight where it would not (docs/RISK.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from rating_support import STRONG, factor, inputs, levered, scaled, strong_statement

from crm_risk.rating.model import scorecard
from crm_risk.rating.model.features import rating_features
from crm_risk.rating.model.scorecard import DEFAULT, rate
from crm_risk.rating.model.scorecard_model import load_model, model_from_json
from crm_risk.rating.model.statement_checks import statement_violations
from crm_risk.rating.model.statements import CashFlowStatement

D = Decimal


class TestSizeAndTrends:
    def test_size_and_trend_factors_have_a_place(self) -> None:
        """The default scorecard weighs a size factor and a multi-year trend, positively."""
        model = load_model(DEFAULT)
        size = [f for f in model.factors if f.feature in {"log_assets", "log_revenue",
                                                          "size_class"}]
        trends = [f for f in model.factors if f.dimension == "trend"]
        assert size and trends
        assert all(f.coefficient > 0 for f in (*size, *trends))

    def test_a_larger_firm_with_the_same_ratios_rates_better(self) -> None:
        """Same statements in thousands of yuan and in billions: only size differs."""
        history = (strong_statement(2022), strong_statement(2023), strong_statement(2024))
        small = rate(inputs(*(scaled(st, 100) for st in history)))
        large = rate(inputs(*(scaled(st, 1_000_000) for st in history)))
        assert small.pd > large.pd
        assert (factor(small, "SZ_ASSETS").points
                < factor(large, "SZ_ASSETS").points == factor(large, "SZ_ASSETS").max_points)

    def test_rising_leverage_costs_trend_points(self) -> None:
        """The same latest year after three years of rising debt rates worse."""
        steady = rate(STRONG)
        history = (levered(strong_statement(2022), 0.30), levered(strong_statement(2023), 0.33),
                   strong_statement(2024))
        assert all(statement_violations(st) == [] for st in history)
        rising = rate(inputs(*history))
        assert factor(rising, "TR_LEVERAGE").value == pytest.approx(0.08)
        assert factor(rising, "TR_LEVERAGE").points < factor(steady, "TR_LEVERAGE").points
        assert rising.pd > steady.pd

    def test_revenue_trend_is_read_for_established_firms_only(self) -> None:
        """A young firm's growth is its ramp-up: not a trend (the age factor prices it)."""
        young = [replace(st, founding_date=date(2021, 6, 1))
                 for st in (strong_statement(2022), strong_statement(2023))]
        assert rating_features(young).values["revenue_trend"] is None
        assert STRONG.features is not None
        assert STRONG.features.values["revenue_trend"] == pytest.approx(0.0)

    def test_cash_flow_trend_compares_the_latest_year_with_earlier_ones(self) -> None:
        """OCF / assets of the latest year minus the mean of the earlier ones."""
        latest = replace(strong_statement(2024), cash_flow=CashFlowStatement(D(70), D(-60),
                                                                             D(60)))
        features = rating_features([strong_statement(2022), strong_statement(2023), latest])
        assert features.values["ocf_trend"] == pytest.approx((70 - 170) / 1000)

    def test_the_client_size_class_reaches_a_size_class_factor(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A version that fits the MIIT class reads it from the inputs (unknown: neutral)."""
        document = {
            "version": DEFAULT, "master_scale_version": "MS-2027.1", "intercept": -3.0,
            "points_per_log_odds": 100.0, "peers": {},
            "factors": [{"code": "SZ_SME_CLASS", "feature": "size_class",
                         "dimension": "profile", "label": "MIIT size class",
                         "coefficient": 1.0, "missing": {"woe": 0.0, "label": "not known"},
                         "categories": {"large": {"woe": -0.5, "label": "large"},
                                        "micro": {"woe": 0.5, "label": "micro"}}}],
        }
        monkeypatch.setattr(scorecard, "load_model", lambda _: model_from_json(document))
        seen = {size: rate(replace(STRONG, size_class=size)) for size in ("large", "", "micro")}
        assert [factor(r, "SZ_SME_CLASS").value for r in seen.values()] == ["large", None,
                                                                            "micro"]
        assert seen["large"].pd < seen[""].pd < seen["micro"].pd
