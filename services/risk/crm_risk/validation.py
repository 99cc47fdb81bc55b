"""Validation at the servicer edge: money, dates, field violations (INVALID_ARGUMENT).

Resource names are parsed by `crm_runtime.names` from the patterns the protos declare."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from google.type import date_pb2, money_pb2

from crm.risk.v1 import risk_service_pb2
from crm_runtime import names
from crm_runtime.validation import Violations as Violations  # noqa: PLC0414 - re-exported
from crm_runtime.wire import money_to_decimal, to_date

# A client's name as the contract declares it (clients/{client}; the client service's ids, and
# the ids core banking and test data use, all fit the one id rule of crm_runtime.names).
CLIENT_NAME = names.field_pattern(risk_service_pb2.CreateFacilityRequest, "parent")
MAX_MONEY_YUAN = Decimal("1e15")
CENT = Decimal("0.01")
MAX_TEXT = 2000



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

