"""Validation at the servicer edge: names, money, dates, field violations (INVALID_ARGUMENT)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from google.type import date_pb2, money_pb2

from crm_runtime.errors import InvalidArgument
from crm_runtime.validation import Violations as Violations  # noqa: PLC0414 - re-exported

# Client ids are the client service's; the risk service accepts any URL-safe id so that core
# banking and test data with their own ids work too.
_ID = r"[A-Za-z0-9_-]{1,64}"
CLIENT_RE = re.compile(rf"^clients/({_ID})$")
FACILITY_RE = re.compile(rf"^clients/({_ID})/facilities/([0-9a-f]{{32}})$")
STATEMENT_RE = re.compile(rf"^clients/({_ID})/statements/([0-9a-f]{{32}})$")
RATIOS_RE = re.compile(rf"^clients/({_ID})/statements/([0-9a-f]{{32}})/ratios$")
RATING_RE = re.compile(rf"^clients/({_ID})/ratings/([0-9a-f]{{32}})$")
OVERRIDE_RE = re.compile(rf"^clients/({_ID})/ratingOverrides/([0-9a-f]{{32}})$")
PROFILE_RE = re.compile(rf"^clients/({_ID})/monitoringProfile$")
WARNING_RE = re.compile(r"^warnings/([0-9a-f]{32})$")
STAFF_RE = re.compile(r"^staff/[A-Za-z0-9._-]{1,64}$")
MAX_MONEY_YUAN = Decimal("1e15")
CENT = Decimal("0.01")
MAX_TEXT = 2000


def parse_name(value: str, pattern: re.Pattern[str], field: str) -> tuple[str, ...]:
    """Return the ids inside a resource name, or raise INVALID_ARGUMENT."""
    match = pattern.match(value)
    if match is None:
        raise InvalidArgument.of(field, f"must match {pattern.pattern[1:-1]}")
    return match.groups()


def client_id_of(value: str, field: str) -> str:
    """Return the client id of a clients/{client} name, or raise INVALID_ARGUMENT."""
    return parse_name(value, CLIENT_RE, field)[0]


def to_date(value: date_pb2.Date) -> date | None:
    """Return a Python date, or None when the message is unset or not a real date."""
    if value.year == 0 and value.month == 0 and value.day == 0:
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        return None


def check_date(v: Violations, field: str, value: date_pb2.Date, *, required: bool) -> date | None:
    """Return the date, recording a violation when it is missing or impossible."""
    unset = value.year == 0 and value.month == 0 and value.day == 0
    parsed = to_date(value)
    if unset and required:
        v.add(field, "is required")
    elif not unset and parsed is None:
        v.add(field, "is not a valid calendar date")
    return parsed


def money_is_set(value: money_pb2.Money) -> bool:
    """Return True unless the Money message is entirely empty."""
    return bool(value.currency_code or value.units or value.nanos)


def money_to_decimal(value: money_pb2.Money) -> Decimal:
    """Return the amount of a Money message."""
    return Decimal(value.units) + Decimal(value.nanos) / Decimal(10**9)


def check_money(
    v: Violations,
    field: str,
    value: money_pb2.Money,
    *,
    required: bool = False,
    currencies: frozenset[str] = frozenset({"CNY"}),
    allow_negative: bool = False,
    positive: bool = False,
) -> Decimal | None:
    """Return the amount of a valid Money field (None when unset), recording any violation."""
    if not money_is_set(value):
        if required:
            v.add(field, "is required")
        return None
    problems = len(v.items)
    if value.currency_code not in currencies:
        v.add(f"{field}.currency_code", f"must be one of {', '.join(sorted(currencies))}")
    if abs(value.nanos) >= 10**9:
        v.add(f"{field}.nanos", "must be between -999,999,999 and 999,999,999")
    elif (value.units > 0 > value.nanos) or (value.units < 0 < value.nanos):
        v.add(f"{field}.nanos", "must have the same sign as units")
    if len(v.items) > problems:
        return None
    amount = money_to_decimal(value)
    if amount != amount.quantize(CENT):
        v.add(field, "must have at most two decimals")
    elif amount < 0 and not allow_negative:
        v.add(field, "must not be negative")
    elif positive and amount <= 0:
        v.add(field, "must be positive")
    elif abs(amount) > MAX_MONEY_YUAN:
        v.add(field, "is implausibly large")
    else:
        return amount
    return None


def money_message(amount: Decimal | None, currency: str = "CNY") -> money_pb2.Money:
    """Return a Money message for an amount (unset for None)."""
    if amount is None:
        return money_pb2.Money()
    units = int(amount)
    nanos = int((amount - units) * 10**9)
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def date_message(value: date | None) -> date_pb2.Date:
    """Return a google.type.Date (unset for None)."""
    if value is None:
        return date_pb2.Date()
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)
