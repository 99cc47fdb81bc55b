"""Locale-aware value formatting used by template filters.

Every formatter is a pure function of its input and the locale. Locale-specific text (month
names, currency placement) is spelled out here instead of relying on the process locale,
which differs between developer machines and containers.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final, Literal

Locale = Literal["zh-CN", "en"]
SUPPORTED_LOCALES: Final[tuple[Locale, ...]] = ("zh-CN", "en")
VariableType = Literal["string", "money", "date", "number", "percent"]
VARIABLE_TYPES: Final[frozenset[str]] = frozenset({"string", "money", "date", "number", "percent"})

_EN_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CENT: Final = Decimal("0.01")
# Plain decimal text only: exponents, "NaN" and surrounding spaces are rejected on purpose so
# that a malformed upstream amount fails loudly instead of rendering something surprising.
_DECIMAL_TEXT: Final = re.compile(r"-?\d+(\.\d+)?")
_MOBILE_SEPARATORS: Final = re.compile(r"[\s\-()]")


def normalize_locale(locale: str) -> Locale:
    """Return the supported locale for a BCP 47 tag such as "zh-CN", "zh_Hans" or "en-GB"."""
    tag = locale.strip().replace("_", "-").lower()
    if tag == "zh" or tag.startswith(("zh-cn", "zh-hans")):
        return "zh-CN"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    raise ValueError(f"unsupported locale {locale!r}")


def to_decimal(value: object) -> Decimal:
    """Return `value` as a finite Decimal; accept int, float, Decimal and plain decimal text."""
    if isinstance(value, bool):
        # bool is an int subclass; True rendered as ¥1.00 would hide a caller bug.
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        # repr() is the shortest round-tripping text: 0.1 stays 0.1, not 0.1000000000000000055.
        result = Decimal(repr(value))
    elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        result = Decimal(value)
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("expected a finite number")
    return result


def to_date(value: object) -> date:
    """Return `value` as a calendar date; accept date, datetime and ISO 8601 text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date, got {value!r}") from None
    raise ValueError(f"expected a date, got {type(value).__name__}")


def coerce(value: object, variable_type: str) -> object:
    """Check `value` against a declared variable type and return its canonical form."""
    if variable_type == "string":
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        return value
    if variable_type in ("money", "percent"):
        to_cents(value if variable_type == "money" else to_decimal(value) * 100)
        return to_decimal(value)
    if variable_type == "number":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return to_decimal(value)
    if variable_type == "date":
        return to_date(value)
    raise ValueError(f"unknown variable type {variable_type!r}")


def to_cents(value: object) -> Decimal:
    """Return `value` rounded half-up to two decimals, or raise ValueError if it is too large."""
    try:
        return to_decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        # Decimal's default context holds 28 digits; beyond that quantize cannot be exact.
        raise ValueError("number is too large to format") from None


def format_money(value: object, locale: Locale) -> str:
    """Format an amount in yuan: en "¥1,234,567.00", zh-CN "1,234,567.00元"."""
    amount = to_cents(value)
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.2f}"
    return f"{sign}¥{digits}" if locale == "en" else f"{sign}{digits}元"


def format_percent(value: object, locale: Locale) -> str:
    """Format a fraction as a percentage with two decimals: 0.0345 → "3.45%"."""
    del locale  # Both supported locales write percentages the same way.
    scaled = to_cents(to_decimal(value) * 100)
    return f"{scaled:,.2f}%"


def format_date(value: object, locale: Locale) -> str:
    """Format a date: en "28 Nov 2026", zh-CN "2026年11月28日"."""
    day = to_date(value)
    if locale == "en":
        return f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def format_number(value: object, locale: Locale) -> str:
    """Format a plain number without grouping or rounding."""
    del locale
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return str(to_decimal(value))


def mask_mobile(value: object) -> str:
    """Mask a mobile number for display: "13812345678" → "138****5678".

    Numbers of 8+ digits keep the first 3 and last 4; shorter ones keep only the last 2.
    A "+86" country prefix is kept as is and not counted.
    """
    text = _MOBILE_SEPARATORS.sub("", str(value))
    prefix = ""
    if text.startswith("+86"):
        prefix, text = "+86", text[3:]
    if len(text) >= 8:
        return f"{prefix}{text[:3]}{'*' * (len(text) - 7)}{text[-4:]}"
    keep = text[-2:] if len(text) > 2 else ""
    return f"{prefix}{'*' * (len(text) - len(keep))}{keep}"


def format_default(value: object, variable_type: str, locale: Locale) -> str:
    """Format a value the way its declared type reads best when no filter is given."""
    if variable_type == "money":
        return format_money(value, locale)
    if variable_type == "percent":
        return format_percent(value, locale)
    if variable_type == "date":
        return format_date(value, locale)
    if variable_type == "number":
        return format_number(value, locale)
    return str(value)
