"""Multi-dimension rating scorecard: factors → points → score → PD → master-scale grade.

Dimensions are credit, market, operational and industry (DESIGN §2). Each factor maps
to 0-100 points along piecewise-linear knots from the versioned configuration; the
weighted total (0-100) is turned into a PD by a logistic calibration and then into a
grade on the master scale. Open warnings and NPL facilities cap the grade.

Reason codes are the factors that lost the most weighted points; their impacts add up
to ``100 - score``, so they explain the whole gap to a perfect score.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from crm_risk.rating.industry import Industry, parse_industry
from crm_risk.rating.policy import review_due, validate_override
from crm_risk.rating.ratios import Ratios
from crm_risk.rating.scale import MASTER_SCALES, grade_for_pd, grade_rank
from crm_risk.rating.scorecard_config import (
    DEFAULT_SCORECARD,
    SCORECARDS,
    Knots,
    ScorecardConfig,
)
from crm_risk.rating.statements import AUDIT_OPINIONS, AuditOpinion

__all__ = [
    "DEFAULT",
    "MAX_REASON_CODES",
    "RatingInputs",
    "RatingResult",
    "ReasonCode",
    "RepaymentHistory",
    "SignalCounts",
    "WarningLevel",
    "interpolate",
    "rate",
    "review_due",
    "validate_override",
]

DEFAULT: Final = DEFAULT_SCORECARD
MAX_REASON_CODES: Final = 4
WarningLevel = Literal["none", "blue", "yellow", "orange", "red"]
WARNING_LEVELS: Final[tuple[str, ...]] = get_args(WarningLevel)


@dataclass(frozen=True)
class RepaymentHistory:
    """Repayment behaviour over the last 12 months, across the client's facilities."""

    max_dpd_12m: int = 0
    late_payments_12m: int = 0


@dataclass(frozen=True)
class SignalCounts:
    """External and internal signals counted over the last 12 months (DOMAIN §7)."""

    litigation: int = 0
    tax_arrears: int = 0
    negative_news: int = 0
    management_change: int = 0
    cross_default: int = 0


@dataclass(frozen=True)
class RatingInputs:
    """Everything the scorecard reads about one client; shares are fractions 0-1."""

    industry_code: str
    ratios: Ratios | None
    repayment: RepaymentHistory = field(default_factory=RepaymentHistory)
    signals: SignalCounts = field(default_factory=SignalCounts)
    floating_rate_debt_share: float = 0.0
    fx_revenue_share: float = 0.0
    open_warning_level: WarningLevel = "none"
    has_npl_facility: bool = False
    audit_opinion: AuditOpinion = "unqualified"


@dataclass(frozen=True)
class ReasonCode:
    """A factor that pulled the score down, with the weighted points it cost."""

    code: str
    dimension: str
    impact_points: float
    description: str


@dataclass(frozen=True)
class RatingResult:
    """A rating with its explanation; ``model_*`` are the values before caps."""

    grade: str
    pd: float
    score: float
    dimension_scores: dict[str, float]
    reason_codes: list[ReasonCode]
    caps_applied: list[str]
    scorecard_version: str
    master_scale_version: str
    model_grade: str
    model_pd: float


def interpolate(x: float, knots: Knots) -> float:
    """Return the points at ``x`` along ascending knots, flat beyond both ends."""
    if x <= knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return knots[-1][1]


def _validate(inputs: RatingInputs) -> None:
    """Reject inputs outside their domain instead of rating nonsense."""
    for name in ("floating_rate_debt_share", "fx_revenue_share"):
        value = getattr(inputs, name)
        if not 0.0 <= value <= 1.0:
            msg = f"{name} must be a fraction between 0 and 1, got {value}"
            raise ValueError(msg)
    counts = {
        "repayment.max_dpd_12m": inputs.repayment.max_dpd_12m,
        "repayment.late_payments_12m": inputs.repayment.late_payments_12m,
        **{f"signals.{k}": v for k, v in vars(inputs.signals).items()},
    }
    for name, count in counts.items():
        if count < 0:
            msg = f"{name} must not be negative, got {count}"
            raise ValueError(msg)
    if inputs.open_warning_level not in WARNING_LEVELS:
        msg = f"unknown warning level {inputs.open_warning_level!r}"
        raise ValueError(msg)
    if inputs.audit_opinion not in AUDIT_OPINIONS:
        msg = f"unknown audit opinion {inputs.audit_opinion!r}"
        raise ValueError(msg)


def _financial_points(
    ratios: Ratios | None, industry: Industry, config: ScorecardConfig
) -> dict[str, tuple[float, str]]:
    """Score the six benchmarked ratios against the section's benchmark table."""
    table = config.benchmarks.get(industry.section, config.benchmarks["*"])
    codes = {
        "debt_to_assets": "CR_DEBT_RATIO_HIGH", "current_ratio": "CR_CURRENT_RATIO_LOW",
        "interest_cover": "CR_INTEREST_COVER_LOW", "roa": "CR_ROA_LOW",
        "revenue_growth": "CR_REVENUE_WEAK", "debt_to_ebitda": "CR_DEBT_TO_EBITDA_HIGH",
    }
    scored: dict[str, tuple[float, str]] = {}
    for ratio, code in codes.items():
        value = None if ratios is None else ratios.value(ratio)
        bench = table[ratio]
        if ratios is not None and ratio == "interest_cover" and value is None:
            # No interest expense at all: nothing to cover.
            scored[code] = (100.0, "no interest expense")
        elif value is None or math.isnan(value):
            scored[code] = (config.missing_ratio_points, f"{ratio} not available")
        else:
            scored[code] = (
                interpolate(value, bench.knots()),
                f"{ratio} {value:.3g} vs section {industry.section} average {bench.average:g}",
            )
    return scored


def _factor_points(
    inputs: RatingInputs, industry: Industry, config: ScorecardConfig
) -> dict[str, tuple[float, str]]:
    """Return (points, description) for every factor code of the scorecard."""
    rep, sig = inputs.repayment, inputs.signals
    section = industry.section

    def counted(knots: Knots, count: int, what: str) -> tuple[float, str]:
        """Score a count along its knots and describe it."""
        return interpolate(count, knots), f"{count} {what}"

    on_watch = industry.division in config.watchlist_divisions
    scored = _financial_points(inputs.ratios, industry, config)
    scored |= {
        "CR_PAST_DUE": counted(config.max_dpd_knots, rep.max_dpd_12m, "max days past due"),
        "CR_LATE_PAYMENTS": counted(config.late_payment_knots, rep.late_payments_12m,
                                    "late payments"),
        "CR_CROSS_DEFAULT": counted(config.cross_default_knots, sig.cross_default,
                                    "cross-default signals"),
        "MK_OUTLOOK_WEAK": (
            config.industry_outlook_points.get(section, config.industry_outlook_points["*"]),
            f"industry outlook for section {section}",
        ),
        "MK_RATE_SENSITIVE": (
            interpolate(inputs.floating_rate_debt_share, config.floating_rate_knots),
            f"{inputs.floating_rate_debt_share:.0%} of debt at floating rates",
        ),
        "MK_FX_SENSITIVE": (
            interpolate(inputs.fx_revenue_share, config.fx_revenue_knots),
            f"{inputs.fx_revenue_share:.0%} of revenue in foreign currency",
        ),
        "OP_AUDIT_OPINION": (
            config.audit_opinion_points[inputs.audit_opinion],
            f"audit opinion {inputs.audit_opinion}",
        ),
        "OP_MANAGEMENT_CHANGE": counted(config.management_change_knots, sig.management_change,
                                        "management changes"),
        "OP_LITIGATION": counted(config.litigation_knots, sig.litigation, "litigation signals"),
        "OP_TAX_ARREARS": counted(config.tax_arrears_knots, sig.tax_arrears,
                                  "tax-arrears signals"),
        "OP_NEGATIVE_NEWS": counted(config.negative_news_knots, sig.negative_news,
                                    "negative news items"),
        "IN_SECTION_RISK": (
            config.section_risk_points.get(section, config.section_risk_points["*"]),
            f"section {section} risk",
        ),
        "IN_WATCHLIST_INDUSTRY": (
            config.watchlist_points if on_watch else 100.0,
            f"division {industry.division} {'is' if on_watch else 'is not'} on the watch list",
        ),
    }
    return scored


def _apply_caps(
    model_grade: str, inputs: RatingInputs, config: ScorecardConfig
) -> tuple[str, list[str]]:
    """Return the capped grade and the caps that actually changed it."""
    version = config.master_scale_version
    if inputs.has_npl_facility:
        return ("D", ["NPL_FACILITY_D"]) if model_grade != "D" else ("D", [])
    cap = config.warning_caps.get(inputs.open_warning_level)
    if cap is not None and grade_rank(model_grade, version=version) < grade_rank(
        cap, version=version
    ):
        return cap, [f"WARNING_{inputs.open_warning_level.upper()}_CAP_{cap}"]
    return model_grade, []


def rate(inputs: RatingInputs, *, version: str = DEFAULT) -> RatingResult:
    """Rate one client with scorecard ``version``; raise ValueError on invalid inputs."""
    _validate(inputs)
    config = SCORECARDS[version]
    scale = MASTER_SCALES[config.master_scale_version]
    industry = parse_industry(inputs.industry_code)
    scored = _factor_points(inputs, industry, config)

    dimension_scores = dict.fromkeys(config.dimension_weights, 0.0)
    losses: list[ReasonCode] = []
    for factor in config.factors:
        points, description = scored[factor.code]
        dimension_scores[factor.dimension] += factor.weight * points
        lost = config.dimension_weights[factor.dimension] * factor.weight * (100.0 - points)
        if lost > 0:
            losses.append(ReasonCode(factor.code, factor.dimension, lost,
                                     f"{factor.label}: {description}"))
    score = sum(config.dimension_weights[d] * s for d, s in dimension_scores.items())

    model_pd = max(1.0 / (1.0 + math.exp(-(config.intercept + config.slope * score))),
                   scale.pd_floor)
    model_grade = grade_for_pd(model_pd, version=scale.version)
    grade, caps = _apply_caps(model_grade, inputs, config)
    # A capped grade keeps PD and grade consistent: PD rises to the capped band's floor.
    pd = model_pd if grade == model_grade else max(model_pd, scale.band(grade).pd_low)

    losses.sort(key=lambda r: (-r.impact_points, r.code))
    return RatingResult(
        grade=grade,
        pd=pd,
        score=score,
        dimension_scores=dimension_scores,
        reason_codes=losses[:MAX_REASON_CODES],
        caps_applied=caps,
        scorecard_version=config.version,
        master_scale_version=scale.version,
        model_grade=model_grade,
        model_pd=model_pd,
    )
