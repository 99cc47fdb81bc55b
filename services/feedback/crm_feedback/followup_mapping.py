"""Follow-up plans and visits as protobuf messages."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from crm.feedback.v1 import followup_pb2
from crm_feedback.followup_store import PlanState
from crm_feedback.models import FacilityRow, VisitRow
from crm_feedback.plan_terms import FACILITY_TYPES, RISK_TIERS, VISIT_KINDS
from crm_runtime.wire import date_message, money_message, timestamp

FACILITY_TYPE_ENUM: dict[Any, Any] = {name: number for number, name in FACILITY_TYPES.items()}
RISK_TIER_ENUM: dict[Any, Any] = {name: number for number, name in RISK_TIERS.items()}
VISIT_KIND_ENUM: dict[Any, Any] = {name: number for number, name in VISIT_KINDS.items()}
PLAN_STATE_ENUM: dict[Any, Any] = {
    "open": followup_pb2.PLANNED_VISIT_STATE_OPEN,
    "on_time": followup_pb2.PLANNED_VISIT_STATE_ON_TIME,
    "late": followup_pb2.PLANNED_VISIT_STATE_LATE,
    "overdue": followup_pb2.PLANNED_VISIT_STATE_OVERDUE,
}
ISSUE_CODES = {
    followup_pb2.VISIT_ISSUE_PROJECT_DELAYED: "PROJECT_DELAYED",
    followup_pb2.VISIT_ISSUE_PAYMENT_DIFFICULTY: "PAYMENT_DIFFICULTY",
    followup_pb2.VISIT_ISSUE_KEY_STAFF_LEFT: "KEY_STAFF_LEFT",
    followup_pb2.VISIT_ISSUE_PRODUCTION_HALTED: "PRODUCTION_HALTED",
    followup_pb2.VISIT_ISSUE_LITIGATION: "LITIGATION",
}
ISSUE_ENUM: dict[Any, Any] = {code: number for number, code in ISSUE_CODES.items()}
PRODUCTION = {
    followup_pb2.PRODUCTION_STATUS_NORMAL: "normal",
    followup_pb2.PRODUCTION_STATUS_REDUCED: "reduced",
    followup_pb2.PRODUCTION_STATUS_HALTED: "halted",
}
PRODUCTION_ENUM: dict[Any, Any] = {name: number for number, name in PRODUCTION.items()}


def visit_name(facility: str, visit_id: str) -> str:
    """Return a visit's resource name."""
    return f"{facility}/visits/{visit_id}"


def planned_message(facility: str, state: PlanState) -> followup_pb2.PlannedVisit:
    """Return a PlannedVisit with its outcome."""
    message = followup_pb2.PlannedVisit(
        due_date=date_message(state.row.due),
        kind=VISIT_KIND_ENUM.get(state.row.kind, 0),
        reason=state.row.reason,
        milestone=state.row.milestone,
        state=PLAN_STATE_ENUM[state.state],
        fulfilled_by=visit_name(facility, state.visit_id) if state.visit_id else "",
    )
    if state.row.overdue_flag_time is not None:
        message.overdue_flag_time.CopyFrom(timestamp(state.row.overdue_flag_time))
    return message


def plan_message(row: FacilityRow, states: list[PlanState]) -> followup_pb2.FollowupPlan:
    """Return a facility's FollowupPlan."""
    message = followup_pb2.FollowupPlan(
        name=f"{row.facility}/followupPlan",
        facility=row.facility,
        facility_type=FACILITY_TYPE_ENUM.get(row.facility_type, 0),
        risk_tier=RISK_TIER_ENUM.get(row.risk_tier, 0),
        disbursement_date=date_message(row.disbursed_on),
        maturity_date=date_message(row.maturity),
        milestones=[
            followup_pb2.Milestone(
                display_name=m["name"], due_date=date_message(date.fromisoformat(m["due"]))
            )
            for m in json.loads(row.milestones)
        ],
        product=row.product,
        amount=money_message(row.amount),
        relationship_manager=row.relationship_manager,
        team=row.team,
        planned_visits=[planned_message(row.facility, state) for state in states],
        create_time=timestamp(row.create_time),
    )
    if row.completed_on is not None:
        message.completion_date.CopyFrom(date_message(row.completed_on))
    return message


def visit_message(facility: str, row: VisitRow) -> followup_pb2.Visit:
    """Return a Visit message."""
    details = json.loads(row.details)
    message = followup_pb2.Visit(
        name=visit_name(facility, row.id),
        visit_date=date_message(row.visit_date),
        kind=VISIT_KIND_ENUM.get(row.kind, 0),
        milestone=row.milestone,
        issue_codes=[ISSUE_ENUM[c] for c in row.issue_codes.split(",") if c in ISSUE_ENUM],
        issues=details.get("issues", []),
        next_steps=details.get("next_steps", ""),
        notes=details.get("notes", ""),
        regression_reason=details.get("regression_reason", ""),
        production_status=PRODUCTION_ENUM.get(details.get("production_status", ""), 0),
        key_staff_departed=details.get("key_staff_departed", []),
        controller_unreachable=details.get("controller_unreachable", False),
        litigation_pending=details.get("litigation_pending", False),
        payment_overdue_days=details.get("payment_overdue_days", 0),
        missed_milestones=details.get("missed_milestones", []),
        recorded_by=row.recorded_by,
        create_time=timestamp(row.create_time),
        risk_signals=[followup_pb2.RiskSignal(**signal) for signal in json.loads(row.signals)],
    )
    if row.progress_pct is not None:
        message.progress_percent = row.progress_pct
    if row.planned_progress_pct is not None:
        message.planned_progress_percent = row.planned_progress_pct
    return message
