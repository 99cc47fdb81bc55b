"""Reporting periods: "2026" (year), "2026-Q3" (quarter) and "2026-07" (month), in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from crm.feedback.v1 import survey_pb2
from crm_runtime.errors import InvalidArgument

_PERIOD_RE = re.compile(r"^(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$")
GRANULARITY = {
    survey_pb2.PERIOD_GRANULARITY_UNSPECIFIED: "quarter",
    survey_pb2.PERIOD_GRANULARITY_MONTH: "month",
    survey_pb2.PERIOD_GRANULARITY_QUARTER: "quarter",
    survey_pb2.PERIOD_GRANULARITY_YEAR: "year",
}


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar period [start, end) in UTC."""

    label: str
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        """Return the period's first day."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """Return the period's last day."""
        return (self.end - timedelta(days=1)).date()


def _month_start(year: int, month: int) -> datetime:
    """Return the first instant of a month (month 13 is January of the next year)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def parse_period(text: str, field: str = "period") -> Period:
    """Return the period a label names, or raise INVALID_ARGUMENT."""
    match = _PERIOD_RE.match(text)
    if match is None or not 1900 <= int(match.group(1)) <= 2999:
        raise InvalidArgument.of(field, "must look like 2026, 2026-Q3 or 2026-07")
    year = int(match.group(1))
    if match.group(2):
        first = (int(match.group(2)) - 1) * 3 + 1
        return Period(text, _month_start(year, first), _month_start(year, first + 3))
    if match.group(3):
        month = int(match.group(3))
        return Period(text, _month_start(year, month), _month_start(year, month + 1))
    return Period(text, _month_start(year, 1), _month_start(year + 1, 1))


def optional_period(text: str, field: str = "period") -> Period | None:
    """Return the period a label names, or None for an empty label."""
    return parse_period(text, field) if text else None


def label_of(moment: datetime, granularity: str) -> str:
    """Return the label of the period of `granularity` that contains `moment`."""
    moment = moment.astimezone(UTC)
    if granularity == "year":
        return f"{moment.year}"
    if granularity == "month":
        return f"{moment.year}-{moment.month:02d}"
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
