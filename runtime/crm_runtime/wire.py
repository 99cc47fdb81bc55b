"""Conversions between Python values and the well-known protobuf types every service maps.

Timestamps, calendar dates (google.type.Date), amounts (google.type.Money, yuan by default)
and etags. Kept here so that each service's mapping module holds only its own messages.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from google.protobuf import timestamp_pb2
from google.type import date_pb2, money_pb2

NANOS_PER_UNIT = 10**9


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp:
    """Return a Timestamp for an aware datetime (unset for None)."""
    stamp = timestamp_pb2.Timestamp()
    if value is not None:
        stamp.FromDatetime(value)
    return stamp


def date_message(value: date | None) -> date_pb2.Date:
    """Return a google.type.Date (unset for None)."""
    if value is None:
        return date_pb2.Date()
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def to_date(value: date_pb2.Date) -> date | None:
    """Return a Python date, or None when the message is unset or not a real date."""
    if value.year == 0 and value.month == 0 and value.day == 0:
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        return None


def money_message(amount: Decimal | None, currency: str = "CNY") -> money_pb2.Money:
    """Return a Money message for an amount (unset for None)."""
    if amount is None:
        return money_pb2.Money()
    units = int(amount)
    nanos = int((amount - units) * NANOS_PER_UNIT)
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def money_to_decimal(value: money_pb2.Money) -> Decimal:
    """Return the amount of a Money message."""
    return Decimal(value.units) + Decimal(value.nanos) / Decimal(NANOS_PER_UNIT)


def etag(row_id: str, version: int) -> str:
    """Return an opaque etag for a row version."""
    return hashlib.sha256(f"{row_id}:{version}".encode()).hexdigest()[:20]
