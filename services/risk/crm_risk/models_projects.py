"""Tables of project finance: a project facility's plan and its verified progress."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Numeric, Text
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column

MONEY = Numeric(20, 2)


class ProjectPlanRow(SQLModel, table=True):
    """Budget and planned cumulative drawdown curve (JSON [[iso date, percent], ...])."""

    __tablename__ = "risk_project_plan"

    facility_seq: int = Field(foreign_key="risk_facility.seq", primary_key=True)
    budget: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    curve_json: str = Field(sa_column=Column(Text, nullable=False))
    # 0 = the service's configured margin.
    margin_points: float = 0.0
    updated_by: str = Field(max_length=128)
    update_time: datetime = Field(sa_column=utc_column())


class ProjectProgressRow(SQLModel, table=True):
    """One verified observation of physical progress (a visit or a checked milestone)."""

    __tablename__ = "risk_project_progress"

    seq: int | None = Field(default=None, primary_key=True)
    facility_seq: int = Field(foreign_key="risk_facility.seq", index=True)
    percent: float
    as_of: date
    milestone: str = Field(default="", max_length=120)
    source: str = Field(default="", max_length=200)
    recorded_by: str = Field(max_length=128)
    record_time: datetime = Field(sa_column=utc_column())


PROJECT_TABLES = ["risk_project_plan", "risk_project_progress"]
