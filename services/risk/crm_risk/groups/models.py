"""Risk's copy of the client service's groups, memberships and guarantees between clients.

Filled only from events (GroupRecorded, GroupMembershipChanged, GuaranteeRecorded,
GuaranteeEnded); ended rows stay with `ended` set, as in the client service.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel


class CreditGroupRow(SQLModel, table=True):
    """A group and its parent ("" for a top-level group)."""

    __tablename__ = "risk_credit_group"

    id: str = Field(primary_key=True, max_length=63)
    display_name: str = Field(default="", max_length=200)
    parent_id: str = Field(default="", max_length=63)


class RiskGroupMemberRow(SQLModel, table=True):
    """A client's membership of a group."""

    __tablename__ = "risk_group_member"

    id: str = Field(primary_key=True, max_length=36)
    group_id: str = Field(max_length=63, index=True)
    client_id: str = Field(max_length=64, index=True)
    share_percent: float = 0.0
    ended: bool = False


class ClientGuaranteeRow(SQLModel, table=True):
    """A guarantee one client gives for another (the edges of the guarantee graph)."""

    __tablename__ = "risk_client_guarantee"

    id: str = Field(primary_key=True, max_length=36)
    guarantor_id: str = Field(max_length=64, index=True)
    beneficiary_id: str = Field(max_length=64, index=True)
    facility: str = Field(default="", max_length=200)
    amount_cny: Decimal = Field(sa_column=Column(Numeric(20, 2), nullable=False))
    ended: bool = False


GROUP_TABLES = ["risk_credit_group", "risk_group_member", "risk_client_guarantee"]
