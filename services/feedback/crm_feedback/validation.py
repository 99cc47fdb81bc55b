"""Edge validation helpers: resource names, field violations, dates and timestamps."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from google.protobuf import timestamp_pb2
from google.type import date_pb2, money_pb2

from crm.feedback.v1 import followup_pb2
from crm_runtime import names
from crm_runtime.validation import Violations as Violations  # noqa: PLC0414 - re-exported

# Names are parsed by the patterns the protos declare (crm_runtime.names, one id rule).
# A facility holds its follow-up plan and its visits: its name is the visits' parent.
FACILITY = names.pattern_of(followup_pb2.Visit).parent()
# The client service's clients and segments, which this API refers to by name.
CLIENT = FACILITY.parent()
SEGMENT = names.NamePattern.of("segments/{segment}")
SURVEY_ID = re.compile(names.ID_SEGMENT)
LOCALES = ("zh-CN", "en")
MAX_MONEY_YUAN = 10**15


def to_date(value: date_pb2.Date, field: str, v: Violations) -> date | None:
    """Return a Python date, recording a violation when it is unset or impossible."""
    if value.year == 0 and value.month == 0 and value.day == 0:
        v.add(field, "is required")
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        v.add(field, "is not a valid date")
        return None


def to_datetime(value: timestamp_pb2.Timestamp) -> datetime:
    """Return an aware UTC datetime for a Timestamp."""
    return value.ToDatetime(tzinfo=UTC)


def is_set(value: timestamp_pb2.Timestamp) -> bool:
    """Tell whether a Timestamp was given (the epoch itself counts as unset)."""
    return value.seconds != 0 or value.nanos != 0


def money_yuan(value: money_pb2.Money, field: str, v: Violations) -> float:
    """Return a CNY amount in yuan, recording violations for a wrong currency or sign."""
    if value.units == 0 and value.nanos == 0 and not value.currency_code:
        return 0.0
    if value.currency_code != "CNY":
        v.add(f"{field}.currency_code", "must be CNY")
    if value.units < 0 or value.nanos < 0 or abs(value.nanos) >= 10**9:
        v.add(field, "must be a non-negative amount with nanos below 1e9")
    if value.units > MAX_MONEY_YUAN:
        v.add(field, "is implausibly large")
    return float(value.units) + float(value.nanos) / 1e9
