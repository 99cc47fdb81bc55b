"""Conversions shared by the RPC groups: timestamps, dates, money, etags."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from google.protobuf import duration_pb2, timestamp_pb2
from google.type import date_pb2, money_pb2


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """Return a Timestamp for a datetime (naive values are UTC, as SQLite returns them)."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(aware(value))
    return stamp


def aware(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime (SQLite gives naive UTC back)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def date_msg(value: date | None) -> date_pb2.Date:
    """Return a google.type.Date (unset for None)."""
    if value is None:
        return date_pb2.Date()
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def duration(value: timedelta | None) -> duration_pb2.Duration | None:
    """Return a Duration, or None for an unknown one."""
    if value is None:
        return None
    message = duration_pb2.Duration()
    message.FromTimedelta(value)
    return message


def money(amount: Decimal) -> money_pb2.Money:
    """Return CNY Money for a yuan amount."""
    units = int(amount)
    nanos = int((amount - units) * 10**9)
    return money_pb2.Money(currency_code="CNY", units=units, nanos=nanos)


def etag(row_id: str, version: int) -> str:
    """Return an opaque etag for a row version."""
    return hashlib.sha256(f"{row_id}:{version}".encode()).hexdigest()[:20]
