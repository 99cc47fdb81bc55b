"""Turn a client's facts into features and evaluate compiled segment rules against them.

The functions here are pure: the service layer loads facts and definitions from its store,
calls ``build_features`` and ``evaluate_memberships`` whenever a client's profile, activity or
rating changes, and records ``diff_memberships`` as membership history and events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from crm_client.segmentation.builtin import BUILTIN_SEGMENTS, SegmentDefinition
from crm_client.segmentation.expr import CompiledExpression, compile_expression
from crm_client.segmentation.features import (
    KNOWN_FEATURES,
    ActivityFacts,
    ClientFacts,
    CreditFacts,
    OwnerFacts,
    credit_tier,
    grade_rank,
    normalize_grade,
)


@dataclass(frozen=True, slots=True)
class CompiledSegment:
    """A segment definition at one version, with its rule ready to evaluate."""

    segment_id: str
    version: int
    expression: CompiledExpression


@dataclass(frozen=True, slots=True)
class MembershipDiff:
    """Segments a client joined and left between two evaluations."""

    joined: set[str]
    left: set[str]

    @property
    def changed(self) -> bool:
        """Return whether membership changed at all."""
        return bool(self.joined or self.left)


def compile_segment(definition: SegmentDefinition, *, version: int = 1) -> CompiledSegment:
    """Compile ``definition`` against the feature catalogue; raise ExpressionError if invalid."""
    expression = compile_expression(definition.expression, known_features=KNOWN_FEATURES)
    return CompiledSegment(definition.segment_id, version, expression)


def compile_builtin_segments() -> tuple[CompiledSegment, ...]:
    """Return every built-in segment compiled at version 1."""
    return tuple(compile_segment(definition) for definition in BUILTIN_SEGMENTS)


def evaluate_memberships(
    definitions: Iterable[CompiledSegment], features: Mapping[str, object]
) -> set[str]:
    """Return the ids of the segments whose rule holds for ``features``."""
    return {segment.segment_id for segment in definitions if segment.expression.evaluate(features)}


def diff_memberships(old: set[str], new: set[str]) -> MembershipDiff:
    """Return which segments were joined and left going from ``old`` to ``new``."""
    return MembershipDiff(joined=new - old, left=old - new)


def completed_years(start: date, today: date) -> int:
    """Return whole years from ``start`` to ``today`` (a 29 February start counts on 1 March)."""
    if start > today:
        raise ValueError(f"date {start.isoformat()} is after today ({today.isoformat()})")
    before_anniversary = (today.month, today.day) < (start.month, start.day)
    return today.year - start.year - int(before_anniversary)


def _relative_change(current: Decimal, previous: Decimal | None) -> Decimal | None:
    """Return (current - previous) / previous, or None when there is no positive base."""
    if previous is None or previous <= 0:
        return None
    return (current - previous) / previous


def build_features(
    *,
    client: ClientFacts,
    owner: OwnerFacts | None,
    activity: ActivityFacts | None,
    credit: CreditFacts | None,
    today: date,
) -> dict[str, object]:
    """Return the full feature mapping (every catalogue key, null where unknown) for a client."""
    features: dict[str, object] = dict.fromkeys(KNOWN_FEATURES)
    features.update(_client_features(client, today))
    if owner is not None:
        features.update(_owner_features(owner, today))
    if activity is not None:
        features.update(_activity_features(activity, today))
    features.update(_credit_features(credit))
    return features


def _client_features(client: ClientFacts, today: date) -> dict[str, object]:
    code = client.industry_code.strip().upper()
    division = code[1:3]
    return {
        "client.size_class": client.size_class,
        "client.industry_code": code,
        "client.industry_section": code[:1] or None,
        "client.industry_division": division if len(division) == 2 and division.isdigit() else None,
        "client.region_code": client.region_code,
        "client.region_province": client.region_code[:2] or None,
        "client.ownership_type": client.ownership_type,
        "client.firm_age_years": completed_years(client.founded, today),
        "client.employees": client.employees,
        "client.revenue_wan": client.revenue_wan,
        "client.assets_wan": client.assets_wan,
        "client.registered_capital_wan": client.registered_capital_wan,
        "client.is_project_finance": client.is_project_finance,
        "client.lifecycle_state": client.lifecycle_state,
        "client.revenue_growth": _relative_change(client.revenue_wan, client.revenue_prev_wan),
    }


def _owner_features(owner: OwnerFacts, today: date) -> dict[str, object]:
    age = None if owner.birth_date is None else completed_years(owner.birth_date, today)
    return {
        "owner.age": age,
        "owner.gender": owner.gender,
        "owner.education": owner.education,
        "owner.occupation": owner.occupation,
        "owner.income_band": owner.income_band,
    }


def _activity_features(activity: ActivityFacts, today: date) -> dict[str, object]:
    days_since = None
    if activity.last_txn_date is not None:
        # Clamp at 0: a value date "tomorrow" from another time zone is not negative dormancy.
        days_since = max(0, (today - activity.last_txn_date).days)
    return {
        "activity.txn_count_90d": activity.txn_count_90d,
        "activity.txn_count_prev_90d": activity.txn_count_prev_90d,
        "activity.inflow_90d_wan": activity.inflow_90d_wan,
        "activity.outflow_90d_wan": activity.outflow_90d_wan,
        "activity.avg_balance_wan": activity.avg_balance_wan,
        "activity.end_balance_wan": activity.end_balance_wan,
        "activity.balance_trend": _relative_change(
            activity.avg_balance_wan, activity.prev_avg_balance_wan
        ),
        "activity.products_used": activity.products_used,
        "activity.loan_products_used": activity.loan_products_used,
        "activity.days_since_last_txn": days_since,
    }


def _credit_features(credit: CreditFacts | None) -> dict[str, object]:
    if credit is None:
        # No rating record yet: unrated, and no warning has flagged the client.
        return {"credit.tier": "unrated", "credit.potential_risk": False}
    grade = normalize_grade(credit.grade) if credit.grade and credit.grade.strip() else None
    return {
        "credit.grade": grade,
        "credit.grade_rank": None if grade is None else grade_rank(grade),
        "credit.tier": credit_tier(grade),
        "credit.pd": credit.pd,
        "credit.potential_risk": credit.potential_risk,
        "credit.warning_level": credit.warning_level,
    }
