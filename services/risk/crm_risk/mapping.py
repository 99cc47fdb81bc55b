"""Conversions between table rows and crm.risk.v1 messages, and enum name tables."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from crm.risk.v1 import facility_pb2, rating_pb2, warning_pb2
from crm_risk.models import (
    ClassificationChangeRow,
    FacilityEventRow,
    FacilityRow,
    GuaranteeRow,
    RatingOverrideRow,
    RatingRow,
)
from crm_risk.models_monitoring import WarningRow, WarningSignalRow
from crm_risk.playbooks import PLAYBOOKS
from crm_runtime.enums import stored_names
from crm_runtime.wire import date_message, etag, money_message, timestamp

FACILITY_TYPES: dict[int, str] = {
    facility_pb2.FACILITY_TYPE_WORKING_CAPITAL: "working_capital",
    facility_pb2.FACILITY_TYPE_FIXED_ASSET: "fixed_asset",
    facility_pb2.FACILITY_TYPE_PROJECT_FINANCE: "project_finance",
    facility_pb2.FACILITY_TYPE_TRADE_FINANCE: "trade_finance",
}
PURPOSES: dict[int, str] = {
    facility_pb2.PURPOSE_CATEGORY_OPERATING_TURNOVER: "operating_turnover",
    facility_pb2.PURPOSE_CATEGORY_RAW_MATERIALS: "raw_materials",
    facility_pb2.PURPOSE_CATEGORY_EQUIPMENT: "equipment",
    facility_pb2.PURPOSE_CATEGORY_CONSTRUCTION: "construction",
    facility_pb2.PURPOSE_CATEGORY_TRADE_SETTLEMENT: "trade_settlement",
    facility_pb2.PURPOSE_CATEGORY_OTHER: "other",
}
COLLATERALS: dict[int, str] = {
    facility_pb2.COLLATERAL_TYPE_REAL_ESTATE: "real_estate",
    facility_pb2.COLLATERAL_TYPE_EQUIPMENT: "equipment",
    facility_pb2.COLLATERAL_TYPE_RECEIVABLES: "receivables",
    facility_pb2.COLLATERAL_TYPE_FINANCIAL: "financial",
    facility_pb2.COLLATERAL_TYPE_EQUITY: "equity",
    facility_pb2.COLLATERAL_TYPE_INVENTORY: "inventory",
}
GUARANTORS: dict[int, str] = {
    facility_pb2.GUARANTOR_KIND_CORPORATE: "corporate",
    facility_pb2.GUARANTOR_KIND_INDIVIDUAL: "individual",
    facility_pb2.GUARANTOR_KIND_GUARANTEE_COMPANY: "guarantee_company",
}
EVENT_TYPES: dict[int, str] = {
    facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN: "drawdown",
    facility_pb2.FACILITY_EVENT_TYPE_REPAYMENT: "repayment",
    facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE: "past_due",
    facility_pb2.FACILITY_EVENT_TYPE_RESTRUCTURE: "restructure",
}
CATEGORIES: dict[str, Any] = {
    "normal": facility_pb2.LOAN_CATEGORY_NORMAL,
    "special_mention": facility_pb2.LOAN_CATEGORY_SPECIAL_MENTION,
    "substandard": facility_pb2.LOAN_CATEGORY_SUBSTANDARD,
    "doubtful": facility_pb2.LOAN_CATEGORY_DOUBTFUL,
    "loss": facility_pb2.LOAN_CATEGORY_LOSS,
}
LEVELS: dict[int, str] = {
    warning_pb2.WARNING_LEVEL_BLUE: "blue",
    warning_pb2.WARNING_LEVEL_YELLOW: "yellow",
    warning_pb2.WARNING_LEVEL_ORANGE: "orange",
    warning_pb2.WARNING_LEVEL_RED: "red",
}
LEVEL_NUMBERS: dict[str, Any] = {v: k for k, v in LEVELS.items()}
STATES: dict[str, Any] = {
    "open": warning_pb2.WARNING_STATE_OPEN,
    "acknowledged": warning_pb2.WARNING_STATE_ACKNOWLEDGED,
    "resolved": warning_pb2.WARNING_STATE_RESOLVED,
    "dismissed": warning_pb2.WARNING_STATE_DISMISSED,
}
STATE_NAMES: dict[int, str] = {v: k for k, v in STATES.items()}
# transactions, statements, external, concentration, contagion, guarantee_circle.
SOURCES: dict[str, Any] = dict(stored_names(warning_pb2.WarningSource).by_name)
SOURCE_NAMES: dict[int, str] = {v: k for k, v in SOURCES.items()}
TRIGGERS: dict[str, Any] = {
    "initial": rating_pb2.RATING_TRIGGER_INITIAL,
    "manual": rating_pb2.RATING_TRIGGER_MANUAL,
    "periodic": rating_pb2.RATING_TRIGGER_PERIODIC,
    "event": rating_pb2.RATING_TRIGGER_EVENT,
    "override": rating_pb2.RATING_TRIGGER_OVERRIDE,
}
OVERRIDE_STATES: dict[str, Any] = {
    "proposed": rating_pb2.RATING_OVERRIDE_STATE_PROPOSED,
    "approved": rating_pb2.RATING_OVERRIDE_STATE_APPROVED,
    "rejected": rating_pb2.RATING_OVERRIDE_STATE_REJECTED,
    "superseded": rating_pb2.RATING_OVERRIDE_STATE_SUPERSEDED,
}


def by_name(table: dict[int, str]) -> dict[str, Any]:
    """Return the reverse of an enum-number → name table."""
    return {v: k for k, v in table.items()}




def facility_message(row: FacilityRow, guarantees: list[GuaranteeRow]) -> facility_pb2.Facility:
    """Return the Facility message; individual guarantors' names stay masked."""
    purposes, kinds = by_name(PURPOSES), by_name(GUARANTORS)
    collateral_kinds = by_name(COLLATERALS)
    message = facility_pb2.Facility(
        name=f"clients/{row.client_id}/facilities/{row.id}",
        facility_type=by_name(FACILITY_TYPES).get(row.facility_type, 0),
        amount=money_message(row.amount, row.currency),
        term_months=row.term_months,
        purpose_category=purposes.get(row.purpose_category, 0),
        drawdown_account=row.drawdown_account,
        loan_account=row.loan_account,
        declared_purpose=row.declared_purpose,
        entrusted_counterparties=[
            facility_pb2.Counterparty(display_name=c["display_name"], account=c["account"],
                                      industry_code=c.get("industry_code", ""))
            for c in json.loads(row.entrusted_json)
        ],
        collaterals=[
            facility_pb2.Collateral(
                collateral_type=collateral_kinds.get(c["type"], 0),
                description=c["description"],
                value=money_message(Decimal(c["value"]), c["currency"]),
            )
            for c in json.loads(row.collaterals_json)
        ],
        guarantees=[
            facility_pb2.Guarantee(
                guarantor_kind=kinds.get(g.guarantor_kind, 0),
                guarantor_display_name=g.name_masked,
                guarantor_client=g.guarantor_client,
                amount=money_message(g.amount, row.currency),
            )
            for g in guarantees
        ],
        start_date=date_message(row.start_date),
        drawn_amount=money_message(row.drawn, row.currency),
        outstanding_amount=money_message(row.drawn - row.repaid, row.currency),
        days_past_due=row.days_past_due,
        category=CATEGORIES.get(row.category, 0),
        restructured=row.restructured,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        etag=etag(row.id, row.version),
    )
    if row.total_project_investment is not None:
        message.total_project_investment.CopyFrom(
            money_message(row.total_project_investment, row.currency)
        )
    return message


def event_message(row: FacilityEventRow, facility: FacilityRow) -> facility_pb2.FacilityEvent:
    """Return a FacilityEvent message."""
    return facility_pb2.FacilityEvent(
        name=f"clients/{facility.client_id}/facilities/{facility.id}/events/{row.id}",
        event_type=by_name(EVENT_TYPES).get(row.event_type, 0),
        amount=money_message(row.amount, facility.currency),
        effective_date=date_message(row.effective_date),
        days_past_due=row.days_past_due,
        technical_delay=row.technical_delay,
        note=row.note,
        recorded_by=row.recorded_by,
        create_time=timestamp(row.create_time),
    )


def change_message(
    row: ClassificationChangeRow, facility: FacilityRow
) -> facility_pb2.ClassificationChange:
    """Return a ClassificationChange message."""
    return facility_pb2.ClassificationChange(
        facility=f"clients/{facility.client_id}/facilities/{facility.id}",
        category=CATEGORIES.get(row.category, 0),
        previous_category=CATEGORIES.get(row.previous_category, 0),
        triggers=[
            facility_pb2.ClassificationTrigger(
                code=t["code"], category=CATEGORIES.get(t["category"], 0), reason=t["reason"]
            )
            for t in json.loads(row.triggers_json)
        ],
        cause=row.cause,
        actor=row.actor,
        change_time=timestamp(row.change_time),
    )


def rating_message(row: RatingRow) -> rating_pb2.Rating:
    """Return a Rating message."""
    client = f"clients/{row.client_id}"
    return rating_pb2.Rating(
        name=f"{client}/ratings/{row.id}",
        grade=row.grade,
        probability_of_default=row.pd,
        score=row.score,
        dimension_scores=json.loads(row.dimension_scores_json),
        reason_codes=[rating_pb2.ReasonCode(**r) for r in json.loads(row.reason_codes_json)],
        caps_applied=json.loads(row.caps_json),
        model_grade=row.model_grade,
        model_probability_of_default=row.model_pd,
        scorecard_version=row.scorecard_version,
        master_scale_version=row.master_scale_version,
        ratio_thresholds_version=row.ratio_thresholds_version,
        trigger=TRIGGERS.get(row.trigger, 0),
        statement=f"{client}/statements/{row.statement_id}" if row.statement_id else "",
        previous_grade=row.previous_grade,
        rating_override=f"{client}/ratingOverrides/{row.override_id}" if row.override_id else "",
        rated_by=row.rated_by,
        effective_time=timestamp(row.effective_time),
        next_review_date=date_message(row.next_review_date),
        floating_rate_debt_share=row.floating_rate_share,
        fx_revenue_share=row.fx_revenue_share,
        factors=[rating_pb2.FactorScore(**f) for f in json.loads(row.factors_json or "[]")],
    )


def override_message(row: RatingOverrideRow) -> rating_pb2.RatingOverride:
    """Return a RatingOverride message."""
    client = f"clients/{row.client_id}"
    return rating_pb2.RatingOverride(
        name=f"{client}/ratingOverrides/{row.id}",
        rating=f"{client}/ratings/{row.rating_id}",
        from_grade=row.from_grade,
        to_grade=row.to_grade,
        reason=row.reason,
        proposer=row.proposer,
        approver=row.approver,
        state=OVERRIDE_STATES.get(row.state, 0),
        resulting_rating=(
            f"{client}/ratings/{row.resulting_rating_id}" if row.resulting_rating_id else ""
        ),
        decision_comment=row.decision_comment,
        create_time=timestamp(row.create_time),
        decide_time=timestamp(row.decide_time),
    )


def warning_message(row: WarningRow, signals: list[WarningSignalRow]) -> warning_pb2.Warning:
    """Return a Warning message with its signals and the playbook of its level."""
    client = f"clients/{row.client_id}"
    book = PLAYBOOKS[row.level]
    return warning_pb2.Warning(
        name=f"warnings/{row.id}",
        client=client,
        facility=f"{client}/facilities/{row.facility_id}" if row.facility_id else "",
        rule=row.rule,
        source=SOURCES.get(row.source, 0),
        level=LEVEL_NUMBERS[row.level],
        base_level=LEVEL_NUMBERS[row.base_level],
        escalation_reason=row.escalation_reason,
        state=STATES.get(row.state, 0),
        summary=row.summary,
        signals=[
            warning_pb2.WarningSignal(
                rule=s.rule,
                rule_version=s.rule_version,
                level=LEVEL_NUMBERS[s.level],
                message=s.message,
                evidence_transactions=json.loads(s.evidence_json),
                facts=json.loads(s.facts_json),
                detect_time=timestamp(s.detect_time),
            )
            for s in signals
        ],
        playbook=warning_pb2.Playbook(
            level=LEVEL_NUMBERS[book.level],
            response_working_days=book.response_working_days,
            actions=list(book.actions),
        ),
        sla_due_time=timestamp(row.sla_due_time),
        owner=row.owner,
        raise_time=timestamp(row.raise_time),
        update_time=timestamp(row.update_time),
        acknowledge_time=timestamp(row.acknowledge_time),
        close_time=timestamp(row.close_time),
        closed_by=row.closed_by,
        close_reason=row.close_reason,
        confirmed=row.confirmed,
        dedupe_key=row.dedupe_key,
        etag=etag(row.id, row.version),
    )
