"""Formatting of API JSON for pages: money, times, enum names, resource ids."""

from __future__ import annotations

from typing import Any

from jinja2 import Undefined

_ENUM_PREFIXES = (
    "WARNING_LEVEL_", "WARNING_STATE_", "WARNING_SOURCE_", "TASK_STATE_", "FACILITY_TYPE_",
    "LOAN_CLASS_", "FIVE_CATEGORY_", "RATING_TRIGGER_", "RATING_OVERRIDE_STATE_",
    "DELIVERY_STATE_", "CHANNEL_", "DISPATCH_STATE_", "CAMPAIGN_STATE_", "CLIENT_SIZE_",
    "SIZE_", "KEY_PERSON_ROLE_", "ALERT_STATE_", "MOVE_CAUSE_", "CLASSIFICATION_",
    "SEGMENT_KIND_", "SEGMENT_MOVE_DIRECTION_", "CONCENTRATION_DIMENSION_", "APPROVAL_STAGE_",
    "SIZE_CLASS_", "LOAN_CATEGORY_", "VISIT_KIND_",
)

# "SIZE_CLASS_LARGE" must lose "SIZE_CLASS_", not just "SIZE_".
_LONGEST_FIRST = sorted(_ENUM_PREFIXES, key=len, reverse=True)


def money(value: Any) -> str:
    """Return google.type.Money JSON as "12,345,678 CNY" (whole units)."""
    if not isinstance(value, dict):
        return ""
    units = int(value.get("units", 0) or 0)
    return f"{units:,} {value.get('currencyCode', '')}".strip()


def when(value: Any) -> str:
    """Return an RFC 3339 timestamp as "2026-12-07 23:05" (UTC)."""
    text = str(value or "")
    return text[:16].replace("T", " ") if text else ""


def enum(value: Any) -> str:
    """Return an enum name without its type prefix, lower case ("WARNING_LEVEL_RED" → red)."""
    text = str(value or "")
    for prefix in _LONGEST_FIRST:
        if text.startswith(prefix):
            return text[len(prefix):].lower().replace("_", " ")
    return text.lower().replace("_", " ")


def last(name: Any) -> str:
    """Return the last segment of a resource name ("clients/7/ratings/3" → "3")."""
    return str(name or "").rsplit("/", 1)[-1]


def percent(value: Any) -> str:
    """Return a fraction as a percentage with one decimal."""
    if isinstance(value, Undefined):  # JSON leaves out zero and unset fields.
        return ""
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return ""


def number(value: Any, digits: int = 1) -> str:
    """Return a number with `digits` decimals, or "" when absent."""
    if isinstance(value, Undefined):
        return ""
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return ""
