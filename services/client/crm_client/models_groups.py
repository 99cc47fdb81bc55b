"""Tables of credit groups, their members and guarantees between clients.

Memberships and guarantees are history: a change ends a row (valid_to) and never deletes it,
so the group a client was in on any day can be answered later.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column

MONEY = Numeric(20, 2)


class GroupRow(SQLModel, table=True):
    """A credit group; `parent_id` points at its parent group (never back at itself)."""

    __tablename__ = "client_group"

    id: str = Field(primary_key=True, max_length=63)
    display_name: str = Field(max_length=200)
    parent_id: str = Field(default="", max_length=63, index=True)
    created_by: str = Field(max_length=128)
    create_time: datetime = Field(sa_column=utc_column())


class GroupMemberRow(SQLModel, table=True):
    """One client's membership of one group over a period."""

    __tablename__ = "client_group_member"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    group_id: str = Field(foreign_key="client_group.id", index=True, max_length=63)
    client_seq: int = Field(foreign_key="client.seq", index=True)
    control_type: str = Field(max_length=32)
    share_percent: float = 0.0
    valid_from: date
    valid_to: date | None = None
    created_by: str = Field(max_length=128)
    create_time: datetime = Field(sa_column=utc_column())


class GuaranteeRow(SQLModel, table=True):
    """A guarantee the guarantor client gives for the beneficiary client's facility."""

    __tablename__ = "client_guarantee"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    guarantor_seq: int = Field(foreign_key="client.seq", index=True)
    beneficiary_seq: int = Field(foreign_key="client.seq", index=True)
    facility: str = Field(default="", max_length=200)
    amount: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    guarantee_type: str = Field(max_length=32)
    valid_from: date
    valid_to: date | None = None
    created_by: str = Field(max_length=128)
    create_time: datetime = Field(sa_column=utc_column())


GROUP_TABLES = ["client_group", "client_group_member", "client_guarantee"]
