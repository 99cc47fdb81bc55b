"""Edge validation helpers: resource names, field violations, dates and timestamps."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from google.protobuf import timestamp_pb2
from google.type import date_pb2, money_pb2

from crm_runtime.errors import InvalidArgument
from crm_runtime.validation import STAFF_RE as STAFF_RE  # noqa: PLC0414 - re-exported
from crm_runtime.validation import TEAM_RE as TEAM_RE  # noqa: PLC0414 - re-exported
from crm_runtime.validation import Violations as Violations  # noqa: PLC0414 - re-exported

SURVEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SURVEY_NAME_RE = re.compile(r"^surveys/([A-Za-z0-9][A-Za-z0-9_-]{0,63})$")
DISPATCH_NAME_RE = re.compile(
    r"^surveys/([A-Za-z0-9][A-Za-z0-9_-]{0,63})/dispatches/([0-9a-f]{32})$"
)
CLIENT_NAME_RE = re.compile(r"^clients/([A-Za-z0-9_-]{1,64})$")
FACILITY_NAME_RE = re.compile(r"^clients/([A-Za-z0-9_-]{1,64})/facilities/([A-Za-z0-9_-]{1,64})$")
PLAN_NAME_RE = re.compile(
    r"^(clients/[A-Za-z0-9_-]{1,64}/facilities/[A-Za-z0-9_-]{1,64})/followupPlan$"
)
SEGMENT_NAME_RE = re.compile(r"^segments/[a-z0-9]+(?:-[a-z0-9]+)*$")
LOCALES = ("zh-CN", "en")
MAX_MONEY_YUAN = 10**15


def parse_name(value: str, pattern: re.Pattern[str], field: str) -> re.Match[str]:
    """Return the match of a resource name, or raise INVALID_ARGUMENT."""
    match = pattern.match(value)
    if match is None:
        raise InvalidArgument.of(field, f"must match {pattern.pattern[1:-1]}")
    return match


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
