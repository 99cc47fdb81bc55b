"""Validation of client-service requests at the servicer edge (INVALID_ARGUMENT + fields)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from google.type import date_pb2, money_pb2

from crm.client.v1 import client_pb2
from crm_client.domain.credit_code import credit_code_problem
from crm_client.domain.industry import miit_sector_of, parse_industry
from crm_client.domain.person_id import mobile_problem, person_id_problem
from crm_client.domain.region import region_problem
from crm_runtime.validation import Violations as Violations  # noqa: PLC0414 - re-exported
from crm_runtime.wire import money_to_decimal

# The id a new segment may take (its name's shape is declared in the proto, see
# crm_runtime.names); built-in and user segments alike read well in URLs and rule text.
SEGMENT_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
STAFF_RE = re.compile(r"^staff/[A-Za-z0-9._-]{1,64}$")
TEAM_RE = re.compile(r"^teams/[A-Za-z0-9._-]{1,64}$")
MAX_MONEY_YUAN = Decimal("1e15")


def to_date(value: date_pb2.Date) -> date | None:
    """Return a Python date, or None when the message is unset."""
    if value.year == 0 and value.month == 0 and value.day == 0:
        return None
    return date(value.year, value.month, value.day)


def check_assignment(
    v: Violations, *, relationship_manager: str, team: str, project_finance: bool
) -> None:
    """Check a new client's first assignment (CreateClient and the bulk import)."""
    if not STAFF_RE.match(relationship_manager):
        v.add("relationship_manager", "is required and must look like staff/{staff}")
    if team and not TEAM_RE.match(team):
        v.add("team", "must look like teams/{team}")
    if project_finance and not team:
        v.add("team", "project-finance clients need a dedicated team")


def check_money(v: Violations, field: str, value: money_pb2.Money, *, required: bool) -> None:
    """Check currency (CNY only), sign, nanos and range."""
    empty = value.units == 0 and value.nanos == 0 and not value.currency_code
    if empty:
        if required:
            v.add(field, "is required")
        return
    if value.currency_code != "CNY":
        v.add(f"{field}.currency_code", "must be CNY")
    if value.units < 0 or value.nanos < 0:
        v.add(field, "must not be negative")
    if abs(value.nanos) >= 10**9:
        v.add(f"{field}.nanos", "must be below 1e9")
    if money_to_decimal(value) > MAX_MONEY_YUAN:
        v.add(field, "is implausibly large")


def check_client_fields(
    v: Violations, client: client_pb2.Client, paths: Iterable[str], *, today: date
) -> None:
    """Validate the fields named in `paths` of a client message."""
    for path in paths:
        prefix = f"client.{path}"
        if path == "display_name":
            if not client.display_name.strip():
                v.add(prefix, "is required")
            elif len(client.display_name) > 200:
                v.add(prefix, "must be at most 200 characters")
        elif path == "credit_code":
            problem = credit_code_problem(client.credit_code)
            if problem:
                v.add(prefix, problem)
        elif path == "industry_code":
            _check_industry(v, prefix, client.industry_code)
        elif path == "region_code":
            problem = region_problem(client.region_code)
            if problem:
                v.add(prefix, problem)
        elif path == "ownership_type":
            if client.ownership_type == client_pb2.OWNERSHIP_TYPE_UNSPECIFIED:
                v.add(prefix, "is required")
            elif client.ownership_type not in client_pb2.OwnershipType.values():
                v.add(prefix, "is not a known ownership type")
        elif path == "founding_date":
            _check_founding(v, prefix, client.founding_date, today)
        elif path == "employee_count":
            if client.employee_count < 0:
                v.add(prefix, "must not be negative")
        elif path in {
            "registered_capital",
            "annual_revenue",
            "total_assets",
            "previous_annual_revenue",
        }:
            check_money(v, prefix, getattr(client, path), required=False)
        elif (
            path == "group"
            and client.group
            and not re.fullmatch(r"groups/[A-Za-z0-9._-]{1,64}", client.group)
        ):
            v.add(prefix, "must look like groups/{group}")


def _check_industry(v: Violations, field: str, code: str) -> None:
    try:
        parse_industry(code)
        miit_sector_of(code)
    except ValueError as exc:
        v.add(field, str(exc))


def _check_founding(v: Violations, field: str, value: date_pb2.Date, today: date) -> None:
    try:
        founded = to_date(value)
    except ValueError:
        v.add(field, "is not a valid date")
        return
    if founded is None:
        v.add(field, "is required")
    elif founded > today:
        v.add(field, "must not be in the future")
    elif founded.year < 1900:
        v.add(field, "must be after 1900")


def check_person(
    v: Violations, person: client_pb2.KeyPerson, *, today: date, prefix: str = "key_person"
) -> None:
    """Validate a key person for creation; `prefix` is its path in the request."""
    if not person.display_name.strip():
        v.add(f"{prefix}.display_name", "is required")
    elif len(person.display_name) > 64:
        v.add(f"{prefix}.display_name", "must be at most 64 characters")
    if person.role == client_pb2.KEY_PERSON_ROLE_UNSPECIFIED:
        v.add(f"{prefix}.role", "is required")
    elif person.role not in client_pb2.KeyPersonRole.values():
        v.add(f"{prefix}.role", "is not a known role")
    if person.id_number:
        problem = person_id_problem(person.id_number, today=today)
        if problem:
            v.add(f"{prefix}.id_number", problem)
    if person.mobile_number:
        problem = mobile_problem(person.mobile_number)
        if problem:
            v.add(f"{prefix}.mobile_number", problem)
    try:
        birth = to_date(person.birth_date)
    except ValueError:
        v.add(f"{prefix}.birth_date", "is not a valid date")
        birth = None
    if birth is not None and (birth > today or birth.year < 1900):
        v.add(f"{prefix}.birth_date", "is out of range")
    for field, value, enum in (
        ("gender", person.gender, client_pb2.Gender),
        ("education", person.education, client_pb2.Education),
        ("income_band", person.income_band, client_pb2.IncomeBand),
    ):
        if value not in enum.values():
            v.add(f"{prefix}.{field}", "is not a known value")
    if len(person.occupation) > 100:
        v.add(f"{prefix}.occupation", "must be at most 100 characters")
