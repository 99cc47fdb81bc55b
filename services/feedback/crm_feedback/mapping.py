"""Conversions shared by the RPC groups: timestamps, dates, money, etags."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from decimal import Decimal

from google.protobuf import duration_pb2, timestamp_pb2
from google.type import date_pb2, money_pb2


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """Return a Timestamp for an aware datetime (stored times read back aware, in UTC)."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


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
