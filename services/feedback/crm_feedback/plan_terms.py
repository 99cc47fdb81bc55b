"""Terms of a follow-up plan as a request gives them, checked at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from crm.feedback.v1 import followup_pb2
from crm_feedback.domain.followups import Milestone
from crm_feedback.validation import Violations, money_yuan, to_date
from crm_runtime.validation import STAFF_RE, TEAM_RE

FACILITY_TYPES = {
    followup_pb2.FACILITY_TYPE_PROJECT_FINANCE: "project_finance",
    followup_pb2.FACILITY_TYPE_FIXED_ASSET: "fixed_asset",
    followup_pb2.FACILITY_TYPE_WORKING_CAPITAL: "working_capital",
}
RISK_TIERS = {
    followup_pb2.RISK_TIER_LOW: "low",
    followup_pb2.RISK_TIER_MEDIUM: "medium",
    followup_pb2.RISK_TIER_HIGH: "high",
    followup_pb2.RISK_TIER_WATCH: "watch",
}
VISIT_KINDS = {
    followup_pb2.VISIT_KIND_SITE_VISIT: "site_visit",
    followup_pb2.VISIT_KIND_PROGRESS_CHECK: "progress_check",
    followup_pb2.VISIT_KIND_MILESTONE_CHECK: "milestone_check",
}
MAX_MILESTONES = 50


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """Validated terms of a follow-up plan."""

    facility_type: str
    risk_tier: str
    disbursed_on: date
    maturity: date
    milestones: tuple[Milestone, ...]
    product: str
    amount: Decimal
    relationship_manager: str
    team: str


def check_terms(plan: followup_pb2.FollowupPlan, prefix: str, v: Violations) -> PlanTerms | None:
    """Return the plan's terms, recording every problem under `prefix` (None if any)."""
    start = len(v.items)
    facility_type = FACILITY_TYPES.get(plan.facility_type, "")
    if not facility_type:
        v.add(f"{prefix}facility_type", "is required")
    risk_tier = RISK_TIERS.get(plan.risk_tier, "")
    if not risk_tier:
        v.add(f"{prefix}risk_tier", "is required")
    disbursed = to_date(plan.disbursement_date, f"{prefix}disbursement_date", v)
    maturity = to_date(plan.maturity_date, f"{prefix}maturity_date", v)
    if disbursed and maturity and maturity <= disbursed:
        v.add(f"{prefix}maturity_date", "must be after the disbursement date")
    milestones: list[Milestone] = []
    if len(plan.milestones) > MAX_MILESTONES:
        v.add(f"{prefix}milestones", f"at most {MAX_MILESTONES}")
    for index, item in enumerate(plan.milestones):
        path = f"{prefix}milestones[{index}]"
        name = item.display_name.strip()
        if not name or len(name) > 120:
            v.add(f"{path}.display_name", "must be 1-120 characters")
        elif name in {m.name for m in milestones}:
            v.add(f"{path}.display_name", "must be unique")
        due = to_date(item.due_date, f"{path}.due_date", v)
        if due and disbursed and due <= disbursed:
            v.add(f"{path}.due_date", "must be after the disbursement date")
        if name and due:
            milestones.append(Milestone(name, due))
    if len(plan.product) > 64:
        v.add(f"{prefix}product", "must be at most 64 characters")
    amount = money_yuan(plan.amount, f"{prefix}amount", v)
    if plan.relationship_manager and not STAFF_RE.match(plan.relationship_manager):
        v.add(f"{prefix}relationship_manager", "must look like staff/{staff}")
    if plan.team and not TEAM_RE.match(plan.team):
        v.add(f"{prefix}team", "must look like teams/{team}")
    if len(v.items) > start or disbursed is None or maturity is None:
        return None
    return PlanTerms(
        facility_type, risk_tier, disbursed, maturity, tuple(milestones), plan.product,
        Decimal(str(round(amount, 2))), plan.relationship_manager, plan.team,
    )
