"""Conversions between table rows and protobuf messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from crm_client.segmentation.features import credit_tier
from crm_runtime.enums import stored_names
from crm_runtime.wire import date_message, etag, money_message, timestamp

# Stored names of the proto enums (crm_runtime.enums): OWNERSHIP_TYPE_STATE_OWNED is
# "state_owned" in the store. Number -> name to store, name -> number to answer.
OWNERSHIP, OWNERSHIP_BY_NAME = stored_names(client_pb2.OwnershipType)
SIZE = stored_names(client_pb2.SizeClass).by_name
STATE = stored_names(client_pb2.ClientState).by_name
ROLE, ROLE_BY_NAME = stored_names(client_pb2.KeyPersonRole)
GENDER, GENDER_BY_NAME = stored_names(client_pb2.Gender)
EDUCATION, EDUCATION_BY_NAME = stored_names(client_pb2.Education)
INCOME, INCOME_BY_NAME = stored_names(client_pb2.IncomeBand)
SEGMENT_KIND, SEGMENT_KIND_BY_NAME = stored_names(client_pb2.SegmentKind)


def _enum(table: Mapping[str, Any], key: str) -> Any:
    """Return the enum number for a stored name; 0 (UNSPECIFIED) for an unknown one."""
    return table.get(key, 0)






def client_message(row: ClientRow | Row[Any]) -> client_pb2.Client:
    """Return the Client message for a row (the credit tier follows from its grade)."""
    return client_pb2.Client(
        name=f"clients/{row.id}",
        display_name=row.display_name,
        credit_code=row.credit_code,
        industry_code=row.industry_code,
        region_code=row.region_code,
        ownership_type=_enum(OWNERSHIP_BY_NAME, row.ownership_type),
        founding_date=date_message(row.founding_date),
        registered_capital=money_message(row.registered_capital),
        employee_count=row.employee_count,
        annual_revenue=money_message(row.annual_revenue),
        total_assets=money_message(row.total_assets),
        previous_annual_revenue=money_message(row.previous_annual_revenue),
        group=row.group_name,
        state=_enum(STATE, row.state),
        size_class=_enum(SIZE, row.size_class),
        size_standard_version=row.size_standard_version,
        size_class_reason=row.size_class_reason,
        project_finance=row.project_finance,
        relationship_manager=row.relationship_manager,
        team=row.team,
        credit_grade=row.credit_grade,
        credit_tier=credit_tier(row.credit_grade or None),
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
        birth_date=date_message(row.birth_date),
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
