"""Tables the runtime keeps in every service's own store.

Each service's first migration creates them (see crm_runtime.migrations).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Dialect, Index, LargeBinary, String, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always an aware UTC datetime in Python, on every store.

    PostgreSQL keeps the offset (timestamptz); SQLite keeps text without one and hands back
    naive values. Writing converts to UTC and reading attaches UTC, so code never sees a
    naive time and never has to guess which store it came from. A naive value written is
    taken as UTC, the convention of every clock in this code.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    """Return a timezone-aware timestamp column (see UtcDateTime)."""
    return Column(UtcDateTime(), nullable=nullable, index=index)


class OutboxMessage(SQLModel, table=True):
    """An event waiting to be delivered to one subscriber (one row per subscriber)."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_pending", "subscriber", "delivered_time", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64)
    subscriber: str = Field(max_length=64)
    event_type: str = Field(max_length=128)
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_time: datetime = Field(sa_column=utc_column())
    attempts: int = 0
    delivered_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class InboxMessage(SQLModel, table=True):
    """An event this service has applied; the primary key makes a second apply impossible."""

    __tablename__ = "inbox_message"

    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=128)
    source: str = Field(max_length=64)
    received_time: datetime = Field(sa_column=utc_column())


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a mutating call with a request_id."""

    __tablename__ = "idempotency_record"

    method: str = Field(primary_key=True, max_length=128)
    request_id: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64)
    response: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_time: datetime = Field(sa_column=utc_column(index=True))


class PersonalDataAccess(SQLModel, table=True):
    """One access to personal data: who, what, when, why and the outcome.

    Written in the same transaction as the access, so a read cannot happen unaudited.
    """

    __tablename__ = "personal_data_access"

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=128, index=True)
    action: str = Field(max_length=64)
    resource: str = Field(sa_column=Column(String(256), nullable=False, index=True))
    fields: str = Field(max_length=256)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    outcome: str = Field(max_length=32)
    request_id: str = Field(default="", max_length=64)
    trace_id: str = Field(default="", max_length=32)
    access_time: datetime = Field(sa_column=utc_column())


RUNTIME_TABLES = ("outbox_message", "inbox_message", "idempotency_record", "personal_data_access")
