"""Versioned scorecard configuration: factors, benchmarks, bins, weights, calibration.

Every number that shapes a rating lives here, under a version key, so that a rating
can be reproduced from its ``scorecard_version`` alone. A new calibration is a new
version, never an edit of an old one.

Factor points run from 0 (worst) to 100 (best) along piecewise-linear knots. Ratio
benchmarks give ``good`` → 100, ``average`` → 60, ``poor`` → 20 points and fall to 0
one further (poor − average) step beyond ``poor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# (x, points) pairs with x strictly ascending.
Knots = tuple[tuple[float, float], ...]

GOOD_POINTS: Final = 100.0
AVERAGE_POINTS: Final = 60.0
POOR_POINTS: Final = 20.0


@dataclass(frozen=True)
class Benchmark:
    """Industry benchmark values of one ratio; good may be above or below poor."""

    good: float
    average: float
    poor: float

    def __post_init__(self) -> None:
        """Reject benchmarks that are not strictly ordered, which would break monotonicity."""
        ascending = self.good < self.average < self.poor
        descending = self.good > self.average > self.poor
        if not (ascending or descending):
            msg = f"benchmark {self} must be strictly ordered good → average → poor"
            raise ValueError(msg)

    def knots(self) -> Knots:
        """Return the benchmark as ascending knots for interpolation."""
        extreme = self.poor + (self.poor - self.average)
        pairs = (
            (self.good, GOOD_POINTS), (self.average, AVERAGE_POINTS),
            (self.poor, POOR_POINTS), (extreme, 0.0),
        )
        return tuple(sorted(pairs))


@dataclass(frozen=True)
class Factor:
    """One scored factor: its reason code, dimension, weight inside it and label."""

    code: str
    dimension: str
    weight: float
    label: str


BENCHMARK_RATIOS: Final = (
    "debt_to_assets", "current_ratio", "interest_cover", "roa", "revenue_growth",
    "debt_to_ebitda",
)


def _bench(*triples: tuple[float, float, float]) -> dict[str, Benchmark]:
    """Build one section's table from (good, average, poor) triples in BENCHMARK_RATIOS order."""
    if len(triples) != len(BENCHMARK_RATIOS):
        msg = f"expected {len(BENCHMARK_RATIOS)} benchmark triples, got {len(triples)}"
        raise ValueError(msg)
    pairs = zip(BENCHMARK_RATIOS, triples, strict=True)
    return {name: Benchmark(*triple) for name, triple in pairs}


@dataclass(frozen=True)
class ScorecardConfig:
    """One scorecard version. Section-keyed tables fall back to the "*" entry."""

    version: str
    master_scale_version: str
    dimension_weights: dict[str, float]
    factors: tuple[Factor, ...]
    benchmarks: dict[str, dict[str, Benchmark]]
    missing_ratio_points: float
    max_dpd_knots: Knots
    late_payment_knots: Knots
    cross_default_knots: Knots
    industry_outlook_points: dict[str, float]
    floating_rate_knots: Knots
    fx_revenue_knots: Knots
    audit_opinion_points: dict[str, float]
    management_change_knots: Knots
    litigation_knots: Knots
    tax_arrears_knots: Knots
    negative_news_knots: Knots
    section_risk_points: dict[str, float]
    watchlist_divisions: frozenset[str]
    watchlist_points: float
    # PD = 1 / (1 + exp(-(intercept + slope * score))); slope < 0 so better scores
    # mean lower PD.
    intercept: float
    slope: float
    # Open warning level -> best grade allowed while it is open.
    warning_caps: dict[str, str]

    def __post_init__(self) -> None:
        """Check that weights sum to one per dimension and overall."""
        if abs(sum(self.dimension_weights.values()) - 1.0) > 1e-9:
            msg = f"{self.version}: dimension weights must sum to 1"
            raise ValueError(msg)
        for dimension in self.dimension_weights:
            total = sum(f.weight for f in self.factors if f.dimension == dimension)
            if abs(total - 1.0) > 1e-9:
                msg = f"{self.version}: factor weights of {dimension} sum to {total}, not 1"
                raise ValueError(msg)
        if self.slope >= 0:
            msg = f"{self.version}: calibration slope must be negative"
            raise ValueError(msg)


DEFAULT_SCORECARD: Final = "SC-2026.1"

_FACTORS_2026_1: Final = (
    Factor("CR_DEBT_RATIO_HIGH", "credit", 0.16, "debt-to-assets ratio"),
    Factor("CR_CURRENT_RATIO_LOW", "credit", 0.10, "current ratio"),
    Factor("CR_INTEREST_COVER_LOW", "credit", 0.14, "interest cover"),
    Factor("CR_ROA_LOW", "credit", 0.12, "return on assets"),
    Factor("CR_REVENUE_WEAK", "credit", 0.08, "revenue growth"),
    Factor("CR_DEBT_TO_EBITDA_HIGH", "credit", 0.12, "interest-bearing debt / EBITDA"),
    Factor("CR_PAST_DUE", "credit", 0.12, "maximum days past due in 12 months"),
    Factor("CR_LATE_PAYMENTS", "credit", 0.08, "late payments in 12 months"),
    Factor("CR_CROSS_DEFAULT", "credit", 0.08, "cross-default signals"),
    Factor("MK_OUTLOOK_WEAK", "market", 0.50, "industry outlook"),
    Factor("MK_RATE_SENSITIVE", "market", 0.25, "floating-rate share of debt"),
    Factor("MK_FX_SENSITIVE", "market", 0.25, "foreign-currency share of revenue"),
    Factor("OP_AUDIT_OPINION", "operational", 0.25, "audit opinion"),
    Factor("OP_MANAGEMENT_CHANGE", "operational", 0.15, "management changes in 12 months"),
    Factor("OP_LITIGATION", "operational", 0.25, "litigation signals in 12 months"),
    Factor("OP_TAX_ARREARS", "operational", 0.20, "tax-arrears signals in 12 months"),
    Factor("OP_NEGATIVE_NEWS", "operational", 0.15, "negative news in 12 months"),
    Factor("IN_SECTION_RISK", "industry", 0.60, "industry section risk"),
    Factor("IN_WATCHLIST_INDUSTRY", "industry", 0.40, "watch-list industry division"),
)

SCORECARDS: Final[dict[str, ScorecardConfig]] = {
    "SC-2026.1": ScorecardConfig(
        version="SC-2026.1",
        master_scale_version="MS-2026.1",
        dimension_weights={"credit": 0.50, "market": 0.15, "operational": 0.20, "industry": 0.15},
        factors=_FACTORS_2026_1,
        # House benchmarks in the spirit of SASAC 企业绩效评价标准值 (good/average/poor).
        # Order: debt/assets, current ratio, interest cover, ROA, revenue growth, debt/EBITDA.
        benchmarks={
            "B": _bench((0.40, 0.60, 0.75), (1.6, 1.1, 0.8), (8.0, 3.0, 1.2),
                        (0.08, 0.03, 0.0), (0.12, 0.03, -0.12), (1.5, 3.0, 5.5)),
            "C": _bench((0.40, 0.58, 0.72), (2.0, 1.3, 0.9), (8.0, 3.5, 1.2),
                        (0.08, 0.035, 0.0), (0.15, 0.05, -0.10), (1.5, 3.5, 6.0)),
            "D": _bench((0.50, 0.65, 0.78), (1.2, 0.8, 0.5), (5.0, 2.5, 1.2),
                        (0.05, 0.025, 0.0), (0.10, 0.04, -0.05), (3.0, 5.5, 8.0)),
            "E": _bench((0.60, 0.72, 0.85), (1.6, 1.2, 0.95), (6.0, 3.0, 1.2),
                        (0.05, 0.02, 0.0), (0.15, 0.05, -0.10), (2.0, 4.0, 7.0)),
            "F": _bench((0.45, 0.62, 0.78), (1.8, 1.3, 1.0), (8.0, 3.5, 1.2),
                        (0.07, 0.03, 0.0), (0.15, 0.05, -0.10), (1.5, 3.5, 6.0)),
            "G": _bench((0.45, 0.60, 0.75), (1.5, 1.0, 0.7), (6.0, 3.0, 1.2),
                        (0.05, 0.025, 0.0), (0.12, 0.04, -0.08), (2.0, 4.0, 6.5)),
            "I": _bench((0.30, 0.45, 0.65), (2.5, 1.6, 1.0), (12.0, 5.0, 1.5),
                        (0.10, 0.04, 0.0), (0.25, 0.08, -0.10), (1.0, 2.5, 5.0)),
            "K": _bench((0.65, 0.78, 0.88), (2.0, 1.4, 1.0), (4.0, 2.2, 1.0),
                        (0.04, 0.015, 0.0), (0.10, 0.0, -0.20), (3.0, 6.0, 10.0)),
            "*": _bench((0.45, 0.60, 0.75), (1.8, 1.2, 0.9), (8.0, 3.0, 1.2),
                        (0.06, 0.03, 0.0), (0.12, 0.04, -0.10), (1.5, 3.5, 6.0)),
        },
        # Missing financials score below average: no statement is not good news.
        missing_ratio_points=40.0,
        max_dpd_knots=((0, 100.0), (7, 70.0), (30, 40.0), (60, 15.0), (90, 0.0)),
        late_payment_knots=((0, 100.0), (1, 75.0), (3, 40.0), (6, 0.0)),
        cross_default_knots=((0, 100.0), (1, 10.0), (2, 0.0)),
        industry_outlook_points={
            "B": 45.0, "C": 60.0, "D": 75.0, "E": 50.0, "F": 60.0, "G": 65.0, "I": 80.0,
            "K": 30.0, "*": 60.0,
        },
        floating_rate_knots=((0.0, 100.0), (0.5, 70.0), (1.0, 40.0)),
        fx_revenue_knots=((0.0, 100.0), (0.3, 70.0), (1.0, 30.0)),
        audit_opinion_points={
            "unqualified": 100.0, "qualified": 50.0, "none": 40.0, "adverse": 10.0,
            "disclaimer": 0.0,
        },
        management_change_knots=((0, 100.0), (1, 70.0), (3, 20.0), (5, 0.0)),
        litigation_knots=((0, 100.0), (1, 70.0), (3, 30.0), (6, 0.0)),
        tax_arrears_knots=((0, 100.0), (1, 40.0), (2, 0.0)),
        negative_news_knots=((0, 100.0), (2, 70.0), (5, 30.0), (10, 0.0)),
        section_risk_points={
            "B": 40.0, "C": 65.0, "D": 80.0, "E": 50.0, "F": 60.0, "G": 65.0, "I": 75.0,
            "K": 25.0, "*": 60.0,
        },
        # 两高一剩: coal, cement/glass, steel, non-ferrous (aluminium); DOMAIN §5.
        watchlist_divisions=frozenset({"06", "30", "31", "32"}),
        watchlist_points=20.0,
        # Fitted with evaluate.fit_logistic_calibration on synthetic.generate_history
        # (30,000 clients, seed 20260101), which is not the report's default seed.
        intercept=6.408,
        slope=-0.1399,
        warning_caps={"red": "B", "orange": "BB", "yellow": "BBB-"},
    ),
}
