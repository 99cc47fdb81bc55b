"""Recipient names and request-edge checks.

Notify's own resources (templates, messages, tasks, topics, subscriptions, campaigns, alerts)
declare their name patterns in the protos (`google.api.resource`), and handlers parse them with
`crm_runtime.names`. Recipients and segments are other services' resources, which notify's
protos do not declare, so their patterns are written here, under the same id rule.
"""

from __future__ import annotations

import re
from typing import Final

from crm_runtime.names import NamePattern
from crm_runtime.validation import Violations as Violations  # noqa: PLC0414 - re-exported

STAFF: Final = NamePattern.of("staff/{staff}")
CLIENT: Final = NamePattern.of("clients/{client}")
KEY_PERSON: Final = NamePattern.of("clients/{client}/keyPersons/{key_person}")
SEGMENT: Final = NamePattern.of("segments/{segment}")
# Ids callers choose for templates and topics (AIP-122 user-specified ids).
RESOURCE_ID_RE: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PREFERENCES_SUFFIX: Final = "/preferences"


def is_staff(name: str) -> bool:
    """Return True for staff/{staff}."""
    return STAFF.regex.fullmatch(name) is not None


def is_key_person(name: str) -> bool:
    """Return True for clients/{client}/keyPersons/{key_person}."""
    return KEY_PERSON.regex.fullmatch(name) is not None


def is_segment(name: str) -> bool:
    """Return True for segments/{segment}."""
    return SEGMENT.regex.fullmatch(name) is not None


def is_recipient(name: str) -> bool:
    """Return True for staff/{s}, clients/{c} and clients/{c}/keyPersons/{k}."""
    return is_staff(name) or is_key_person(name) or CLIENT.regex.fullmatch(name) is not None


def recipient_kind(name: str) -> str:
    """Return the domain recipient kind: "staff" or "client_contact"."""
    return "staff" if is_staff(name) else "client_contact"


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
