"""Resource names, recipient kinds and request-edge validation helpers."""

from __future__ import annotations

import re
from typing import Final

from crm_runtime.errors import InvalidArgument
from crm_runtime.validation import Violations as Violations  # noqa: PLC0414 - re-exported

STAFF_RE: Final = re.compile(r"^staff/[A-Za-z0-9._-]{1,64}$")
CLIENT_RE: Final = re.compile(r"^clients/[0-9a-f]{32}$")
KEY_PERSON_RE: Final = re.compile(r"^clients/[0-9a-f]{32}/keyPersons/[0-9a-f]{32}$")
TEAM_RE: Final = re.compile(r"^teams/[A-Za-z0-9._-]{1,64}$")
RESOURCE_ID_RE: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HEX_ID_RE: Final = r"[0-9a-f]{32}"
TEMPLATE_NAME_RE: Final = re.compile(r"^templates/([a-z0-9]+(?:-[a-z0-9]+)*)$")
TOPIC_NAME_RE: Final = re.compile(r"^topics/([a-z0-9]+(?:-[a-z0-9]+)*)$")
SUBSCRIPTION_NAME_RE: Final = re.compile(
    rf"^topics/([a-z0-9]+(?:-[a-z0-9]+)*)/subscriptions/({HEX_ID_RE})$"
)
SEGMENT_NAME_RE: Final = re.compile(r"^segments/[a-z0-9]+(?:-[a-z0-9]+)*$")
MESSAGE_NAME_RE: Final = re.compile(rf"^messages/({HEX_ID_RE})$")
CAMPAIGN_NAME_RE: Final = re.compile(rf"^campaigns/({HEX_ID_RE})$")
TASK_NAME_RE: Final = re.compile(rf"^tasks/({HEX_ID_RE})$")
ALERT_NAME_RE: Final = re.compile(rf"^alerts/({HEX_ID_RE})$")
PREFERENCES_SUFFIX: Final = "/preferences"


def parse_name(value: str, pattern: re.Pattern[str], field: str) -> str:
    """Return the id captured by `pattern` in a resource name, or raise INVALID_ARGUMENT."""
    match = pattern.match(value)
    if match is None:
        raise InvalidArgument.of(field, f"must match {pattern.pattern[1:-1]}")
    return match.group(1)


def is_recipient(name: str) -> bool:
    """Return True for staff/{s}, clients/{c} and clients/{c}/keyPersons/{k}."""
    return bool(STAFF_RE.match(name) or CLIENT_RE.match(name) or KEY_PERSON_RE.match(name))


def recipient_kind(name: str) -> str:
    """Return the domain recipient kind: "staff" or "client_contact"."""
    return "staff" if STAFF_RE.match(name) else "client_contact"


def check_recipient(v: Violations, field: str, name: str) -> None:
    """Record a violation unless `name` is a recipient name."""
    if not is_recipient(name):
        v.add(field, "must be staff/{staff}, clients/{client} or clients/{client}/keyPersons/{id}")


def require_recipient(field: str, name: str) -> None:
    """Raise INVALID_ARGUMENT unless `name` is a recipient name."""
    v = Violations()
    check_recipient(v, field, name)
    v.raise_if_any()


def client_of(recipient: str) -> str:
    """Return clients/{c} for a client or key-person recipient, else ""."""
    if recipient.startswith("clients/"):
        return "/".join(recipient.split("/")[:2])
    return ""


def check_resource_id(v: Violations, field: str, value: str) -> None:
    """Record a violation unless `value` is 3–63 lower-case letters, digits and hyphens."""
    if not (3 <= len(value) <= 63 and RESOURCE_ID_RE.match(value)):
        v.add(field, "must be 3-63 lower-case letters, digits and hyphens")
