"""Tables of the client-profile service (SQLModel). Amounts are CNY with two decimals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column

MONEY = Numeric(20, 2)


class ClientRow(SQLModel, table=True):
    """A corporate client. `seq` orders pages; `id` is the public identifier."""

    __tablename__ = "client"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    display_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, unique=True)
    industry_code: str = Field(max_length=8)
    region_code: str = Field(max_length=6)
    ownership_type: str = Field(max_length=16)
    founding_date: date
    registered_capital: Decimal | None = Field(default=None, sa_column=Column(MONEY))
    employee_count: int = 0
    annual_revenue: Decimal | None = Field(default=None, sa_column=Column(MONEY))
    previous_annual_revenue: Decimal | None = Field(default=None, sa_column=Column(MONEY))
    total_assets: Decimal | None = Field(default=None, sa_column=Column(MONEY))
    group_name: str = Field(default="", max_length=128)
    state: str = Field(default="prospect", max_length=16)
    size_class: str = Field(max_length=8)
    size_standard_version: str = Field(max_length=32)
    size_class_reason: str = Field(sa_column=Column(Text, nullable=False))
    project_finance: bool = False
    relationship_manager: str = Field(default="", max_length=128, index=True)
    team: str = Field(default="", max_length=128, index=True)
    credit_grade: str = Field(default="", max_length=8)
    credit_pd: float | None = None
    potential_risk: bool = False
    warning_level: str = Field(default="", max_length=8)
    version: int = 1
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())


class KeyPersonRow(SQLModel, table=True):
    """A natural person linked to a client. Personal fields are stored encrypted only."""

    __tablename__ = "key_person"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    client_seq: int = Field(foreign_key="client.seq", index=True)
    role: str = Field(max_length=32)
    name_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    name_masked: str = Field(max_length=64)
    gender: str = Field(default="", max_length=8)
    birth_date: date | None = None
    education: str = Field(default="", max_length=16)
    occupation: str = Field(default="", max_length=100)
    income_band_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    id_number_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    id_number_index: str = Field(default="", max_length=64, index=True)
    id_number_masked: str = Field(default="", max_length=24)
    mobile_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    mobile_masked: str = Field(default="", max_length=16)
    create_time: datetime = Field(sa_column=utc_column())


class AssignmentRow(SQLModel, table=True):
    """An RM/team assignment; end_time is set when it is replaced."""

    __tablename__ = "assignment"

    seq: int | None = Field(default=None, primary_key=True)
    client_seq: int = Field(foreign_key="client.seq", index=True)
    relationship_manager: str = Field(max_length=128)
    team: str = Field(default="", max_length=128)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    assigned_by: str = Field(max_length=128)
    start_time: datetime = Field(sa_column=utc_column())
    end_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ActivityRow(SQLModel, table=True):
    """One period's account-activity summary of a client."""

    __tablename__ = "activity_summary"
    __table_args__ = (UniqueConstraint("client_seq", "period_start", "period_end"),)

    seq: int | None = Field(default=None, primary_key=True)
    client_seq: int = Field(foreign_key="client.seq", index=True)
    period_start: date
    period_end: date
    transaction_count: int = 0
    inflow: Decimal = Field(default=Decimal(0), sa_column=Column(MONEY, nullable=False))
    outflow: Decimal = Field(default=Decimal(0), sa_column=Column(MONEY, nullable=False))
    average_balance: Decimal = Field(default=Decimal(0), sa_column=Column(MONEY, nullable=False))
    end_balance: Decimal = Field(default=Decimal(0), sa_column=Column(MONEY, nullable=False))
    products_used: int = 0
    loan_products_used: int = 0
    last_transaction_date: date | None = None


class OpenWarningRow(SQLModel, table=True):
    """An open early warning reported by the risk service (drives the potential-risk flag)."""

    __tablename__ = "client_open_warning"

    warning: str = Field(primary_key=True, max_length=128)
    client_seq: int = Field(foreign_key="client.seq", index=True)
    level: str = Field(max_length=8)
    rule: str = Field(max_length=64)
    raise_time: datetime = Field(sa_column=utc_column())


class SegmentRow(SQLModel, table=True):
    """The current version of a segment definition."""

    __tablename__ = "segment"

    segment_id: str = Field(primary_key=True, max_length=63)
    display_name: str = Field(max_length=120)
    display_name_zh: str = Field(default="", max_length=120)
    kind: str = Field(max_length=16)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    expression: str = Field(sa_column=Column(Text, nullable=False))
    version: int = 1
    built_in: bool = False
    update_time: datetime = Field(sa_column=utc_column())


class SegmentVersionRow(SQLModel, table=True):
    """Every version a segment definition has had, with who changed it."""

    __tablename__ = "segment_version"

    segment_id: str = Field(primary_key=True, max_length=63)
    version: int = Field(primary_key=True)
    expression: str = Field(sa_column=Column(Text, nullable=False))
    changed_by: str = Field(max_length=128)
    change_time: datetime = Field(sa_column=utc_column())


class MembershipRow(SQLModel, table=True):
    """A client's current membership of a segment."""

    __tablename__ = "segment_membership"
    __table_args__ = (Index("ix_membership_segment", "segment_id", "client_seq"),)

    client_seq: int = Field(foreign_key="client.seq", primary_key=True)
    segment_id: str = Field(primary_key=True, max_length=63)
    segment_version: int
    join_time: datetime = Field(sa_column=utc_column())


class SegmentMoveRow(SQLModel, table=True):
    """History of joins and leaves: who or what moved the client, when and why."""

    __tablename__ = "segment_move"

    seq: int | None = Field(default=None, primary_key=True)
    client_seq: int = Field(foreign_key="client.seq", index=True)
    segment_id: str = Field(sa_column=Column(String(63), nullable=False))
    direction: str = Field(max_length=8)
    segment_version: int
    cause: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    move_time: datetime = Field(sa_column=utc_column())


CLIENT_TABLES = [
    "client",
    "key_person",
    "assignment",
    "activity_summary",
    "client_open_warning",
    "segment",
    "segment_version",
    "segment_membership",
    "segment_move",
]
