"""Rate a client: fitted statement factors, expert overlays, calibrated PD, grade, caps.

The statement factors of the version (``fitted/<version>.json``) earn points that add up to
at most 100; expert overlays for repayment behaviour, signals and market sensitivity deduct
points for what statements cannot show. The score maps to log-odds
(``base − score / points_per_log_odds``), the version's calibration curve maps those to a
one-year PD (``pd_curve``), and the PD to a grade of the master scale.
A non-performing facility makes the grade D; a corroborated warning caps it (``caps``).

Reason codes say why the grade is what it is: a cap that changed the grade comes first,
then the factors and overlays that cost the most points, largest first.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Final

from crm_risk.rating.model.caps import WARNING_LEVELS, OpenWarning, corroborated
from crm_risk.rating.model.features import Feature, RatingFeatures
from crm_risk.rating.model.industry import industry_group
from crm_risk.rating.model.policy import review_due, validate_override
from crm_risk.rating.model.scale import MASTER_SCALES, grade_for_pd, grade_rank
from crm_risk.rating.model.scorecard_config import DEFAULT_SCORECARD, SCORECARDS, Knots
from crm_risk.rating.model.scorecard_model import FactorSpec, ScorecardModel, load_model
from crm_risk.rating.model.statements import AUDIT_OPINIONS, AuditOpinion

__all__ = [
    "DEFAULT", "MAX_REASON_CODES", "FactorScore", "OpenWarning", "RatingInputs",
    "RatingResult", "ReasonCode", "RepaymentHistory", "SignalCounts", "interpolate", "rate",
    "review_due", "validate_override",
]

DEFAULT: Final = DEFAULT_SCORECARD
MAX_REASON_CODES: Final = 4


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
    """Everything the scorecard reads about one client; shares are fractions 0-1.

    ``features`` are None when the client has no statement on file; ``size_class`` is the
    MIIT size class the client service classified (empty when unknown: scored neutral).
    """

    industry_code: str
    features: RatingFeatures | None
    size_class: str = ""
    repayment: RepaymentHistory = field(default_factory=RepaymentHistory)
    signals: SignalCounts = field(default_factory=SignalCounts)
    floating_rate_debt_share: float = 0.0
    fx_revenue_share: float = 0.0
    open_warnings: tuple[OpenWarning, ...] = ()
    has_npl_facility: bool = False
    audit_opinion: AuditOpinion = "unqualified"


@dataclass(frozen=True)
class ReasonCode:
    """Why the grade is what it is: a cap, or a factor with the points it cost."""

    code: str
    dimension: str
    impact_points: float
    description: str


@dataclass(frozen=True)
class FactorScore:
    """What one factor saw and earned."""

    code: str
    dimension: str
    value: Feature
    bin: str
    points: float
    max_points: float

    def as_record(self) -> dict[str, str | float]:
        """Return the factor as stored with a rating (and sent as FactorScore)."""
        return {"code": self.code, "dimension": self.dimension, "value": _shown(self.value),
                "bin": self.bin, "points": round(self.points, 4),
                "max_points": round(self.max_points, 4)}


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
    factors: tuple[FactorScore, ...] = ()


def interpolate(x: float, knots: Knots) -> float:
    """Return the value at ``x`` along ascending knots, flat beyond both ends."""
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
    counts = {"repayment.max_dpd_12m": inputs.repayment.max_dpd_12m,
              "repayment.late_payments_12m": inputs.repayment.late_payments_12m,
              **{f"signals.{k}": v for k, v in vars(inputs.signals).items()}}
    for name, count in counts.items():
        if count < 0:
            msg = f"{name} must not be negative, got {count}"
            raise ValueError(msg)
    for warning in inputs.open_warnings:
        if warning.level not in WARNING_LEVELS:
            msg = f"unknown warning level {warning.level!r}"
            raise ValueError(msg)
    if inputs.audit_opinion not in AUDIT_OPINIONS:
        msg = f"unknown audit opinion {inputs.audit_opinion!r}"
        raise ValueError(msg)


def _shown(value: Feature) -> str:
    if isinstance(value, float):
        return "none" if math.isnan(value) else f"{value:.3g}"
    return "n/a" if value is None else value


def _factor(model: ScorecardModel, f: FactorSpec, inputs: RatingInputs, group: str
            ) -> tuple[FactorScore, str]:
    """Score one fitted factor; return it and the text of its reason code."""
    if f.feature == "industry_group":
        raw: Feature = group
    elif f.feature == "size_class":
        raw = inputs.size_class or None
    else:
        raw = None if inputs.features is None else inputs.features.values.get(f.feature)
    value = model.relative(f.feature, group, raw) if f.peer_relative else raw
    spec = f.bin_for(value)
    text = f"{f.label}: {_shown(raw)}"
    if f.peer_relative and isinstance(raw, float) and math.isfinite(raw):
        table = model.peers[f.feature]
        text += f" vs {group} median {table.get(group, table['*']).median:.3g}"
    scored = FactorScore(f.code, f.dimension, raw, spec.label, model.points(f, spec),
                         model.max_points(f))
    return scored, f"{text} ({spec.label})"


def _overlays(inputs: RatingInputs, version: str) -> list[tuple[str, str, float, str]]:
    """Return (code, dimension, log-odds added, text) of every overlay that applies."""
    config = SCORECARDS[version]
    rep, sig = inputs.repayment, inputs.signals
    facts = {"BH_PAST_DUE": rep.max_dpd_12m, "BH_LATE_PAYMENTS": rep.late_payments_12m,
             "SG_CROSS_DEFAULT": sig.cross_default, "SG_LITIGATION": sig.litigation,
             "SG_TAX_ARREARS": sig.tax_arrears, "SG_MANAGEMENT_CHANGE": sig.management_change,
             "SG_NEGATIVE_NEWS": sig.negative_news,
             "MK_FLOATING_RATE": inputs.floating_rate_debt_share,
             "MK_FX_REVENUE": inputs.fx_revenue_share}
    found = [(o.code, o.dimension, interpolate(facts[o.code], o.knots),
              f"{o.label}: {facts[o.code]:g}") for o in config.overlays]
    if inputs.features is None:
        found.append(("FN_NO_STATEMENT", "financial", config.no_statement_log_odds,
                      "no financial statement on file"))
    if inputs.audit_opinion in {"adverse", "disclaimer"}:
        found.append(("OP_AUDIT_UNRELIABLE", "operational", config.unreliable_audit_log_odds,
                      f"audit opinion {inputs.audit_opinion}"))
    return [o for o in found if o[2] > 0]


def _cap(model_grade: str, inputs: RatingInputs, version: str, scale_version: str
         ) -> tuple[str, list[str], ReasonCode | None]:
    """Return the capped grade, the caps that changed it and the cap's reason code."""
    if inputs.has_npl_facility:
        if model_grade == "D":
            return "D", [], None
        return "D", ["NPL_FACILITY_D"], ReasonCode(
            "NPL_FACILITY_D", "cap", 0.0, "a facility is non-performing: the grade is D")
    found = corroborated(inputs.open_warnings)
    cap = SCORECARDS[version].warning_caps.get(found.level)
    if cap is None or grade_rank(model_grade, version=scale_version) >= grade_rank(
            cap, version=scale_version):
        return model_grade, [], None
    code = f"WARNING_{found.level.upper()}_CAP_{cap}"
    text = (f"grade capped at {cap} (model grade {model_grade}): {found.level} warning "
            f"corroborated by {', '.join(found.evidence)}")
    return cap, [code], ReasonCode(code, "cap", 0.0, text)


def rate(inputs: RatingInputs, *, version: str = DEFAULT) -> RatingResult:
    """Rate one client with scorecard ``version``; raise ValueError on invalid inputs."""
    _validate(inputs)
    model = load_model(version)
    config = SCORECARDS[version]
    scale = MASTER_SCALES[model.master_scale_version]
    group = industry_group(inputs.industry_code)
    k = model.points_per_log_odds
    dimensions: dict[str, float] = {}
    losses: list[ReasonCode] = []
    factors = []
    for spec in model.factors:
        scored, text = _factor(model, spec, inputs, group)
        factors.append(scored)
        dimensions[spec.dimension] = dimensions.get(spec.dimension, 0.0) + scored.points
        losses.append(ReasonCode(spec.code, spec.dimension, scored.max_points - scored.points,
                                 text))
    for code, dimension, added, text in _overlays(inputs, version):
        dimensions[dimension] = dimensions.get(dimension, 0.0) - k * added
        losses.append(ReasonCode(code, dimension, k * added, text))
    score = sum(dimensions.values())
    model_pd = max(model.pd(score), scale.pd_floor)
    model_grade = grade_for_pd(model_pd, version=scale.version)
    grade, caps, cap_reason = _cap(model_grade, inputs, version, scale.version)
    # A capped grade keeps PD and grade consistent: PD rises to the capped band's floor.
    pd = model_pd if grade == model_grade else max(model_pd, scale.band(grade).pd_low)
    losses = sorted((r for r in losses if r.impact_points >= config.min_reason_points),
                    key=lambda r: (-r.impact_points, r.code))[:MAX_REASON_CODES]
    return RatingResult(
        grade=grade, pd=pd, score=score, dimension_scores=dimensions,
        reason_codes=([cap_reason] if cap_reason else []) + losses, caps_applied=caps,
        scorecard_version=model.version, master_scale_version=scale.version,
        model_grade=model_grade, model_pd=model_pd, factors=tuple(factors),
    )
