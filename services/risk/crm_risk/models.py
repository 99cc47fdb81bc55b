"""Tables of the risk service (SQLModel). Amounts are Numeric(20,2) yuan unless noted.

Warning and monitoring tables live in models_monitoring.py; RISK_TABLES lists both.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, LargeBinary, Numeric, String, Text
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column

MONEY = Numeric(20, 2)


class ClientFactRow(SQLModel, table=True):
    """What the risk service knows about a client, learned from the client service's events."""

    __tablename__ = "risk_client"

    client_id: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(default="", max_length=200)
    industry_code: str = Field(default="", max_length=8)
    region_code: str = Field(default="", max_length=6)
    group_name: str = Field(default="", max_length=128)
    size_class: str = Field(default="", max_length=8)
    relationship_manager: str = Field(default="", max_length=128, index=True)
    team: str = Field(default="", max_length=128)
    # Set by red/orange warnings and NPL classifications; the review task re-rates and clears it.
    rerate_requested: bool = Field(default=False, index=True)
    rerate_reason: str = Field(default="", max_length=200)
    next_review_date: date | None = Field(default=None, index=True)
    update_time: datetime = Field(sa_column=utc_column())


class FacilityRow(SQLModel, table=True):
    """A loan or credit line with its running balances and classification facts."""

    __tablename__ = "risk_facility"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    client_id: str = Field(max_length=64, index=True)
    facility_type: str = Field(max_length=24)
    amount: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    currency: str = Field(max_length=3)
    # Committed amount converted to CNY at registration (concentration is measured in CNY).
    amount_cny: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    term_months: int
    purpose_category: str = Field(max_length=24)
    drawdown_account: str = Field(max_length=64)
    loan_account: str = Field(default="", max_length=64, index=True)
    declared_purpose: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    entrusted_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    collaterals_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    total_project_investment: Decimal | None = Field(default=None, sa_column=Column(MONEY))
    start_date: date
    drawn: Decimal = Field(default=Decimal(0), sa_column=Column(MONEY, nullable=False))
    repaid: Decimal = Field(default=Decimal(0), sa_column=Column(MONEY, nullable=False))
    days_past_due: int = 0
    technical_delay: bool = False
    restructured: bool = False
    restructure_observation_failed: bool = False
    credit_impaired: bool = False
    ecl_ratio: float = 0.0
    evades_debt: bool = False
    external_rating_cut: bool = False
    new_loan_repays_old: bool = False
    borrower_finances_normal: bool = False
    share_90dpd_all_banks: float = 0.0
    purpose_changed: bool = False
    category: str = Field(default="normal", max_length=16)
    version: int = 1
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())


class GuaranteeRow(SQLModel, table=True):
    """A guarantee of a facility; a natural person's name is stored encrypted only."""

    __tablename__ = "risk_guarantee"

    seq: int | None = Field(default=None, primary_key=True)
    facility_seq: int = Field(foreign_key="risk_facility.seq", index=True)
    guarantor_kind: str = Field(max_length=24)
    name_plain: str = Field(default="", max_length=200)
    name_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    name_masked: str = Field(max_length=200)
    guarantor_client: str = Field(default="", max_length=80)
    amount: Decimal = Field(sa_column=Column(MONEY, nullable=False))


class FacilityEventRow(SQLModel, table=True):
    """A drawdown, repayment, past-due update or restructuring of a facility."""

    __tablename__ = "risk_facility_event"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    facility_seq: int = Field(foreign_key="risk_facility.seq", index=True)
    event_type: str = Field(max_length=16)
    amount: Decimal | None = Field(default=None, sa_column=Column(MONEY))
    effective_date: date
    days_past_due: int = 0
    technical_delay: bool = False
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recorded_by: str = Field(max_length=128)
    create_time: datetime = Field(sa_column=utc_column())


class ClassificationChangeRow(SQLModel, table=True):
    """One five-category (re)classification of a facility with the triggers behind it."""

    __tablename__ = "risk_classification_change"

    seq: int | None = Field(default=None, primary_key=True)
    facility_seq: int = Field(foreign_key="risk_facility.seq", index=True)
    category: str = Field(max_length=16)
    previous_category: str = Field(max_length=16)
    triggers_json: str = Field(sa_column=Column(Text, nullable=False))
    cause: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    change_time: datetime = Field(sa_column=utc_column())


class StatementRow(SQLModel, table=True):
    """One period's statements. Line items are one JSON document of exact decimal strings:
    the statement is always read whole and never queried by line item."""

    __tablename__ = "risk_statement"
    __table_args__ = (Index("ix_risk_statement_client_period", "client_id", "period_end"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    client_id: str = Field(max_length=64)
    period_start: date
    period_end: date
    audited: bool
    audit_opinion: str = Field(max_length=16)
    amounts_json: str = Field(sa_column=Column(Text, nullable=False))
    submitted_by: str = Field(max_length=128)
    create_time: datetime = Field(sa_column=utc_column())


class RatingRow(SQLModel, table=True):
    """A rating with everything needed to explain and reproduce it."""

    __tablename__ = "risk_rating"
    __table_args__ = (Index("ix_risk_rating_client_seq", "client_id", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    client_id: str = Field(max_length=64)
    grade: str = Field(max_length=8)
    pd: float
    score: float
    model_grade: str = Field(max_length=8)
    model_pd: float
    dimension_scores_json: str = Field(sa_column=Column(Text, nullable=False))
    reason_codes_json: str = Field(sa_column=Column(Text, nullable=False))
    caps_json: str = Field(sa_column=Column(Text, nullable=False))
    inputs_json: str = Field(sa_column=Column(Text, nullable=False))
    # Every fitted factor's value, bin and points (SC-2027.1 on; "[]" before, and for
    # override ratings, which take a grade rather than a score).
    factors_json: str = Field(default="[]", sa_column=Column(Text, nullable=False,
                                                              server_default="[]"))
    scorecard_version: str = Field(max_length=32)
    master_scale_version: str = Field(max_length=32)
    ratio_thresholds_version: str = Field(max_length=32)
    trigger: str = Field(max_length=16)
    statement_id: str = Field(default="", max_length=36)
    previous_grade: str = Field(default="", max_length=8)
    override_id: str = Field(default="", max_length=36)
    floating_rate_share: float = 0.0
    fx_revenue_share: float = 0.0
    rated_by: str = Field(max_length=128)
    effective_time: datetime = Field(sa_column=utc_column())
    next_review_date: date


class RatingOverrideRow(SQLModel, table=True):
    """A proposed grade override and its four-eyes decision."""

    __tablename__ = "risk_rating_override"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    client_id: str = Field(max_length=64, index=True)
    rating_id: str = Field(max_length=36)
    from_grade: str = Field(max_length=8)
    to_grade: str = Field(max_length=8)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    proposer: str = Field(max_length=128)
    approver: str = Field(default="", max_length=128)
    state: str = Field(max_length=16)
    resulting_rating_id: str = Field(default="", max_length=36)
    decision_comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    create_time: datetime = Field(sa_column=utc_column())
    decide_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class MonitoringProfileRow(SQLModel, table=True):
    """Own accounts and related parties of a client; the party list is encrypted (it names
    natural persons), with a masked copy for responses."""

    __tablename__ = "risk_monitoring_profile"

    client_id: str = Field(primary_key=True, max_length=64)
    own_accounts_json: str = Field(sa_column=Column(Text, nullable=False))
    related_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    related_masked_json: str = Field(sa_column=Column(Text, nullable=False))
    # The group the client is traced with ("" = the one the client service reported).
    group_name: str = Field(default="", max_length=128, index=True)
    registered_name: str = Field(default="", max_length=200)
    version: int = 1
    update_time: datetime = Field(sa_column=utc_column())


class ExposureTotalRow(SQLModel, table=True):
    """Committed exposure in CNY per concentration key, kept up to date with every facility
    and client move, so a new facility's limits are checked without reading the book."""

    __tablename__ = "risk_exposure_total"

    dimension: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=128)
    amount_cny: Decimal = Field(sa_column=Column(MONEY, nullable=False))


class RulesetConfigRow(SQLModel, table=True):
    """Every monitoring rule-set configuration put in force; the newest row is current."""

    __tablename__ = "risk_ruleset_config"

    seq: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=32)
    overrides_json: str = Field(sa_column=Column(Text, nullable=False))
    label: str = Field(sa_column=Column(String(64), nullable=False))
    updated_by: str = Field(max_length=128)
    update_time: datetime = Field(sa_column=utc_column())


from crm_risk import models_monitoring as _monitoring  # noqa: E402 - registers the other tables.
from crm_risk import models_playbooks as _playbooks  # noqa: E402
from crm_risk import models_projects as _projects  # noqa: E402

RISK_TABLES = [
    "risk_client",
    "risk_facility",
    "risk_guarantee",
    "risk_facility_event",
    "risk_classification_change",
    "risk_statement",
    "risk_rating",
    "risk_rating_override",
    "risk_monitoring_profile",
    "risk_exposure_total",
    "risk_ruleset_config",
    *_monitoring.MONITORING_TABLES,
    *_playbooks.PLAYBOOK_TABLES,
    *_projects.PROJECT_TABLES,
]
