"""Tables of the feedback service (SQLModel). Names carry a feedback_ prefix: all services'
tables share one metadata in the test process. Amounts are CNY with two decimals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, LargeBinary, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column

MONEY = Numeric(20, 2)


class ClientMirrorRow(SQLModel, table=True):
    """Who serves a client, learned from the client service's events."""

    __tablename__ = "feedback_client"

    client: str = Field(primary_key=True, max_length=64)
    relationship_manager: str = Field(default="", max_length=128, index=True)
    team: str = Field(default="", max_length=128, index=True)
    update_time: datetime = Field(sa_column=utc_column())


class ClientSegmentRow(SQLModel, table=True):
    """A client's current segment, learned from SegmentMembershipChanged."""

    __tablename__ = "feedback_client_segment"

    client: str = Field(primary_key=True, max_length=64)
    segment: str = Field(primary_key=True, max_length=80)


class SurveyRow(SQLModel, table=True):
    """The current state of a survey; its versions are in SurveyVersionRow."""

    __tablename__ = "feedback_survey"

    survey_id: str = Field(primary_key=True, max_length=64)
    version: int = 1
    deleted: bool = False
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())


class SurveyVersionRow(SQLModel, table=True):
    """One immutable version of a survey definition (JSON of the domain definition)."""

    __tablename__ = "feedback_survey_version"

    survey_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    definition: str = Field(sa_column=Column(Text, nullable=False))
    fingerprint: str = Field(max_length=64)
    changed_by: str = Field(max_length=128)
    change_time: datetime = Field(sa_column=utc_column())


class DispatchRow(SQLModel, table=True):
    """One survey sent (or scheduled) to one recipient."""

    __tablename__ = "feedback_dispatch"
    __table_args__ = (Index("ix_feedback_dispatch_due", "state", "send_time"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=32, unique=True)
    survey_id: str = Field(max_length=64, index=True)
    survey_version: int
    client: str = Field(max_length=64, index=True)
    recipient: str = Field(max_length=160)
    facility: str = Field(default="", max_length=160)
    locale: str = Field(max_length=8)
    trigger: str = Field(max_length=24)
    # Dedupe key of an automatic trigger (one survey per triggering event), else NULL.
    trigger_key: str | None = Field(default=None, max_length=200, unique=True)
    state: str = Field(max_length=16)
    relationship_manager: str = Field(default="", max_length=128, index=True)
    team: str = Field(default="", max_length=128, index=True)
    product: str = Field(default="", max_length=64)
    segments: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    channel_hint: str = Field(default="", max_length=32)
    send_time: datetime = Field(sa_column=utc_column())
    due_time: datetime = Field(sa_column=utc_column())
    answer_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    create_time: datetime = Field(sa_column=utc_column())


class AnswerRow(SQLModel, table=True):
    """The one answer of a dispatch; the primary key makes a second answer impossible."""

    __tablename__ = "feedback_answer"

    dispatch_id: str = Field(primary_key=True, max_length=32)
    survey_id: str = Field(max_length=64, index=True)
    survey_version: int
    answers: str = Field(sa_column=Column(Text, nullable=False))
    nps_score: int | None = None
    csat_score: int | None = None
    free_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    themes: str = Field(default="", max_length=256)
    risk_codes: str = Field(default="", max_length=256)
    submitted_by: str = Field(max_length=128)
    submit_time: datetime = Field(sa_column=utc_column())


class SignalRow(SQLModel, table=True):
    """A risk signal sent to the risk service (ExternalSignalRaised)."""

    __tablename__ = "feedback_signal"

    id: str = Field(primary_key=True, max_length=32)
    client: str = Field(max_length=64, index=True)
    facility: str = Field(default="", max_length=160)
    code: str = Field(max_length=32)
    severity: str = Field(max_length=8)
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=200)
    occurred_time: datetime = Field(sa_column=utc_column())


class FacilityRow(SQLModel, table=True):
    """A facility under post-loan follow-up, with its plan's terms."""

    __tablename__ = "feedback_facility"

    seq: int | None = Field(default=None, primary_key=True)
    facility: str = Field(max_length=160, unique=True)
    client: str = Field(max_length=64, index=True)
    facility_type: str = Field(max_length=24)
    risk_tier: str = Field(max_length=8)
    product: str = Field(default="", max_length=64)
    amount: Decimal = Field(default=Decimal(0), sa_column=Column(MONEY, nullable=False))
    disbursed_on: date
    maturity: date
    completed_on: date | None = None
    milestones: str = Field(sa_column=Column(Text, nullable=False))
    relationship_manager: str = Field(default="", max_length=128, index=True)
    team: str = Field(default="", max_length=128, index=True)
    create_time: datetime = Field(sa_column=utc_column())


class PlannedVisitRow(SQLModel, table=True):
    """A visit a facility's plan requires; overdue_flag_time is set when the RM is told."""

    __tablename__ = "feedback_planned_visit"

    id: int | None = Field(default=None, primary_key=True)
    facility_seq: int = Field(foreign_key="feedback_facility.seq", index=True)
    due: date = Field(index=True)
    kind: str = Field(max_length=24)
    reason: str = Field(max_length=300)
    milestone: str = Field(default="", max_length=120)
    overdue_flag_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class VisitRow(SQLModel, table=True):
    """A visit the RM recorded."""

    __tablename__ = "feedback_visit"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=32, unique=True)
    facility_seq: int = Field(foreign_key="feedback_facility.seq", index=True)
    visit_date: date
    kind: str = Field(max_length=24)
    progress_pct: float | None = None
    planned_progress_pct: float | None = None
    milestone: str = Field(default="", max_length=120)
    issue_codes: str = Field(default="", max_length=200)
    details: str = Field(sa_column=Column(Text, nullable=False))
    signals: str = Field(sa_column=Column(Text, nullable=False))
    recorded_by: str = Field(max_length=128)
    create_time: datetime = Field(sa_column=utc_column())


class LoanEventRow(SQLModel, table=True):
    """A loan event already applied (dedupe by event id)."""

    __tablename__ = "feedback_loan_event"

    event_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=16)
    facility: str = Field(max_length=160)
    occur_time: datetime = Field(sa_column=utc_column())
    receive_time: datetime = Field(sa_column=utc_column())


class StageEventRow(SQLModel, table=True):
    """One approval-stage event; the primary key dedupes redelivered events."""

    __tablename__ = "feedback_stage_event"

    event_id: str = Field(primary_key=True, max_length=128)
    case_id: str = Field(max_length=128, index=True)
    branch: str = Field(max_length=64)
    product: str = Field(max_length=64)
    stage: str = Field(max_length=24)
    kind: str = Field(max_length=12)
    event_time: datetime = Field(sa_column=utc_column())
    actor: str = Field(default="", max_length=128)
    receive_time: datetime = Field(sa_column=utc_column())


class ApprovalCaseRow(SQLModel, table=True):
    """A loan application: the branch, product and start of its earliest event."""

    __tablename__ = "feedback_approval_case"
    __table_args__ = (Index("ix_feedback_case_start", "start_time"),)

    case_id: str = Field(primary_key=True, max_length=128)
    branch: str = Field(max_length=64, index=True)
    product: str = Field(max_length=64, index=True)
    start_time: datetime = Field(sa_column=utc_column())


class WarningRow(SQLModel, table=True):
    """An early warning and how its owner responded (from risk events)."""

    __tablename__ = "feedback_warning"

    warning: str = Field(primary_key=True, max_length=128)
    client: str = Field(max_length=64, index=True)
    level: str = Field(max_length=8)
    relationship_manager: str = Field(default="", max_length=128, index=True)
    team: str = Field(default="", max_length=128, index=True)
    raise_time: datetime = Field(sa_column=utc_column(index=True))
    ack_due_time: datetime = Field(sa_column=utc_column())
    acknowledged_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    resolved_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class RatingChangeRow(SQLModel, table=True):
    """A rating change of a client, attributed to its RM at the time."""

    __tablename__ = "feedback_rating_change"

    event_id: str = Field(primary_key=True, max_length=64)
    client: str = Field(max_length=64, index=True)
    grade: str = Field(max_length=8)
    previous_grade: str = Field(default="", max_length=8)
    move: int = 0
    relationship_manager: str = Field(default="", max_length=128, index=True)
    team: str = Field(default="", max_length=128, index=True)
    effective_time: datetime = Field(sa_column=utc_column(index=True))


class KpiSnapshotRow(SQLModel, table=True):
    """A frozen KPI period."""

    __tablename__ = "feedback_kpi_snapshot"

    period: str = Field(primary_key=True, max_length=16)
    weights_version: str = Field(max_length=64)
    scorecard_count: int
    snapshot_by: str = Field(max_length=128)
    snapshot_time: datetime = Field(sa_column=utc_column())


class KpiScorecardRow(SQLModel, table=True):
    """A frozen scorecard (the Scorecard message as computed at snapshot time)."""

    __tablename__ = "feedback_kpi_scorecard"
    __table_args__ = (UniqueConstraint("period", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=16, index=True)
    subject: str = Field(max_length=128)
    scope: str = Field(max_length=8)
    team: str = Field(default="", max_length=128)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


FEEDBACK_TABLES = [
    "feedback_client",
    "feedback_client_segment",
    "feedback_survey",
    "feedback_survey_version",
    "feedback_dispatch",
    "feedback_answer",
    "feedback_signal",
    "feedback_facility",
    "feedback_planned_visit",
    "feedback_visit",
    "feedback_loan_event",
    "feedback_stage_event",
    "feedback_approval_case",
    "feedback_warning",
    "feedback_rating_change",
    "feedback_kpi_snapshot",
    "feedback_kpi_scorecard",
]
