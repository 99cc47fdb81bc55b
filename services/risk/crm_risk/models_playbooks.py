"""Tables of playbook actions: what a warning's playbook did, and every step of it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, Index, Numeric, Text
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column

MONEY = Numeric(20, 2)


class PlaybookActionRow(SQLModel, table=True):
    """One action: a limit freeze, a refused drawdown or a required visit."""

    __tablename__ = "risk_playbook_action"
    # Drawdowns look for the client's freeze in force; the ORANGE visit for open visits.
    __table_args__ = (Index("ix_risk_playbook_action_client_kind", "client_id", "kind", "state"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    client_id: str = Field(max_length=64)
    warning_id: str = Field(default="", max_length=36)
    kind: str = Field(max_length=24)
    state: str = Field(max_length=16)
    level: str = Field(default="", max_length=8)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    facility_id: str = Field(default="", max_length=36)
    amount: Decimal | None = Field(default=None, sa_column=Column(MONEY))
    currency: str = Field(default="", max_length=3)
    actor: str = Field(max_length=128)
    lift_requested_by: str = Field(default="", max_length=128)
    lift_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    lift_approved_by: str = Field(default="", max_length=128)
    due_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    done_by: str = Field(default="", max_length=200)
    version: int = 1
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())


class PlaybookStepRow(SQLModel, table=True):
    """One step of an action (its audit trail): who moved it from which state to which."""

    __tablename__ = "risk_playbook_step"

    seq: int | None = Field(default=None, primary_key=True)
    action_seq: int = Field(foreign_key="risk_playbook_action.seq", index=True)
    step: str = Field(max_length=24)
    from_state: str = Field(default="", max_length=16)
    to_state: str = Field(max_length=16)
    actor: str = Field(max_length=128)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    step_time: datetime = Field(sa_column=utc_column())


PLAYBOOK_TABLES = ["risk_playbook_action", "risk_playbook_step"]
