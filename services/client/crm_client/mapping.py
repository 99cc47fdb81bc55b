"""Conversions between table rows and protobuf messages."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from google.protobuf import timestamp_pb2
from google.type import date_pb2, money_pb2
from sqlalchemy import Row

from crm.client.v1 import client_pb2
from crm_client.models import (
    AssignmentRow,
    ClientRow,
    KeyPersonRow,
    MembershipRow,
    SegmentMoveRow,
    SegmentRow,
)

OWNERSHIP = {
    client_pb2.OWNERSHIP_TYPE_STATE_OWNED: "state_owned",
    client_pb2.OWNERSHIP_TYPE_PRIVATE: "private",
    client_pb2.OWNERSHIP_TYPE_FOREIGN: "foreign",
    client_pb2.OWNERSHIP_TYPE_COLLECTIVE: "collective",
    client_pb2.OWNERSHIP_TYPE_MIXED: "mixed",
}
OWNERSHIP_BY_NAME = {v: k for k, v in OWNERSHIP.items()}
SIZE = {
    "large": client_pb2.SIZE_CLASS_LARGE,
    "medium": client_pb2.SIZE_CLASS_MEDIUM,
    "small": client_pb2.SIZE_CLASS_SMALL,
    "micro": client_pb2.SIZE_CLASS_MICRO,
}
STATE = {
    "prospect": client_pb2.CLIENT_STATE_PROSPECT,
    "active": client_pb2.CLIENT_STATE_ACTIVE,
    "suspended": client_pb2.CLIENT_STATE_SUSPENDED,
    "closed": client_pb2.CLIENT_STATE_CLOSED,
}
ROLE = {
    client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE: "legal_representative",
    client_pb2.KEY_PERSON_ROLE_ACTUAL_CONTROLLER: "actual_controller",
    client_pb2.KEY_PERSON_ROLE_CFO: "cfo",
    client_pb2.KEY_PERSON_ROLE_CONTACT: "contact",
    client_pb2.KEY_PERSON_ROLE_GUARANTOR: "guarantor",
}
ROLE_BY_NAME = {v: k for k, v in ROLE.items()}
GENDER = {client_pb2.GENDER_MALE: "male", client_pb2.GENDER_FEMALE: "female"}
GENDER_BY_NAME = {v: k for k, v in GENDER.items()}
EDUCATION = {
    client_pb2.EDUCATION_SECONDARY: "secondary",
    client_pb2.EDUCATION_COLLEGE: "college",
    client_pb2.EDUCATION_BACHELOR: "bachelor",
    client_pb2.EDUCATION_MASTER: "master",
    client_pb2.EDUCATION_DOCTORATE: "doctorate",
}
EDUCATION_BY_NAME = {v: k for k, v in EDUCATION.items()}
INCOME = {
    client_pb2.INCOME_BAND_BELOW_500K: "below_500k",
    client_pb2.INCOME_BAND_500K_2M: "500k_2m",
    client_pb2.INCOME_BAND_ABOVE_2M: "above_2m",
}
INCOME_BY_NAME = {v: k for k, v in INCOME.items()}
SEGMENT_KIND = {
    client_pb2.SEGMENT_KIND_DEMOGRAPHIC: "demographic",
    client_pb2.SEGMENT_KIND_BEHAVIOURAL: "behavioural",
    client_pb2.SEGMENT_KIND_CREDIT_TIER: "credit_tier",
}
SEGMENT_KIND_BY_NAME = {v: k for k, v in SEGMENT_KIND.items()}


def _enum(table: Mapping[str, Any], key: str) -> Any:
    """Return the enum number for a stored name; 0 (UNSPECIFIED) for an unknown one."""
    return table.get(key, 0)


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """Return a Timestamp for an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def date_msg(value: date | None) -> date_pb2.Date:
    """Return a google.type.Date (unset for None)."""
    if value is None:
        return date_pb2.Date()
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def money(amount: Decimal | None) -> money_pb2.Money:
    """Return CNY Money for a yuan amount (unset for None)."""
    if amount is None:
        return money_pb2.Money()
    units = int(amount)
    nanos = int((amount - units) * 10**9)
    return money_pb2.Money(currency_code="CNY", units=units, nanos=nanos)


def etag(row_id: str, version: int) -> str:
    """Return an opaque etag for a row version."""
    return hashlib.sha256(f"{row_id}:{version}".encode()).hexdigest()[:20]


def client_message(row: ClientRow | Row[Any], *, credit_tier: str) -> client_pb2.Client:
    """Return the Client message for a row."""
    return client_pb2.Client(
        name=f"clients/{row.id}",
        display_name=row.display_name,
        credit_code=row.credit_code,
        industry_code=row.industry_code,
        region_code=row.region_code,
        ownership_type=_enum(OWNERSHIP_BY_NAME, row.ownership_type),
        founding_date=date_msg(row.founding_date),
        registered_capital=money(row.registered_capital),
        employee_count=row.employee_count,
        annual_revenue=money(row.annual_revenue),
        total_assets=money(row.total_assets),
        previous_annual_revenue=money(row.previous_annual_revenue),
        group=row.group_name,
        state=_enum(STATE, row.state),
        size_class=_enum(SIZE, row.size_class),
        size_standard_version=row.size_standard_version,
        size_class_reason=row.size_class_reason,
        project_finance=row.project_finance,
        relationship_manager=row.relationship_manager,
        team=row.team,
        credit_grade=row.credit_grade,
        credit_tier=credit_tier,
        potential_risk=row.potential_risk,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        etag=etag(row.id, row.version),
    )


def key_person_message(
    row: KeyPersonRow, client_id: str, *, plain: dict[str, str] | None = None
) -> client_pb2.KeyPerson:
    """Return a KeyPerson; `plain` holds decrypted fields when the caller may see them."""
    person = client_pb2.KeyPerson(
        name=f"clients/{client_id}/keyPersons/{row.id}",
        role=_enum(ROLE_BY_NAME, row.role),
        gender=_enum(GENDER_BY_NAME, row.gender),
        birth_date=date_msg(row.birth_date),
        education=_enum(EDUCATION_BY_NAME, row.education),
        occupation=row.occupation,
        create_time=timestamp(row.create_time),
    )
    if plain is None:
        person.masked = True
        person.display_name = row.name_masked
        person.id_number = row.id_number_masked
        person.mobile_number = row.mobile_masked
    else:
        person.display_name = plain["display_name"]
        person.id_number = plain.get("id_number", "")
        person.mobile_number = plain.get("mobile_number", "")
        person.income_band = _enum(INCOME_BY_NAME, plain.get("income_band", ""))
    return person


def assignment_message(row: AssignmentRow, client_id: str) -> client_pb2.Assignment:
    """Return an Assignment history entry."""
    message = client_pb2.Assignment(
        client=f"clients/{client_id}",
        relationship_manager=row.relationship_manager,
        team=row.team,
        reason=row.reason,
        assigned_by=row.assigned_by,
        start_time=timestamp(row.start_time),
    )
    if row.end_time is not None:
        message.end_time.CopyFrom(timestamp(row.end_time))
    return message


def segment_message(row: SegmentRow, *, member_count: int) -> client_pb2.Segment:
    """Return a Segment definition message."""
    return client_pb2.Segment(
        name=f"segments/{row.segment_id}",
        display_name=row.display_name,
        display_name_zh=row.display_name_zh,
        kind=_enum(SEGMENT_KIND_BY_NAME, row.kind),
        description=row.description,
        expression=row.expression,
        version=row.version,
        built_in=row.built_in,
        member_count=member_count,
        update_time=timestamp(row.update_time),
        etag=etag(row.segment_id, row.version),
    )


def membership_message(
    row: MembershipRow, client_id: str, kind: str
) -> client_pb2.SegmentMembership:
    """Return a SegmentMembership message."""
    return client_pb2.SegmentMembership(
        client=f"clients/{client_id}",
        segment=f"segments/{row.segment_id}",
        kind=_enum(SEGMENT_KIND_BY_NAME, kind),
        join_time=timestamp(row.join_time),
    )


def move_message(row: SegmentMoveRow, client_id: str) -> client_pb2.SegmentMove:
    """Return a SegmentMove history entry."""
    direction = (
        client_pb2.SEGMENT_MOVE_DIRECTION_JOINED
        if row.direction == "joined"
        else client_pb2.SEGMENT_MOVE_DIRECTION_LEFT
    )
    return client_pb2.SegmentMove(
        client=f"clients/{client_id}",
        segment=f"segments/{row.segment_id}",
        direction=direction,
        segment_version=row.segment_version,
        cause=row.cause,
        actor=row.actor,
        move_time=timestamp(row.move_time),
    )
