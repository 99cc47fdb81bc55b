"""Messages of groups, memberships and guarantees, and the stored names of their enums."""

from __future__ import annotations

from crm.client.v1 import client_pb2
from crm_client.models_groups import GroupMemberRow, GroupRow, GuaranteeRow
from crm_runtime.enums import stored_names
from crm_runtime.wire import date_message, money_message, timestamp

CONTROL, CONTROL_BY_NAME = stored_names(client_pb2.ControlType)
GUARANTEE_TYPE, GUARANTEE_TYPE_BY_NAME = stored_names(client_pb2.GuaranteeType)


def group_message(row: GroupRow) -> client_pb2.Group:
    """Return a Group message."""
    return client_pb2.Group(
        name=f"groups/{row.id}", display_name=row.display_name,
        parent_group=f"groups/{row.parent_id}" if row.parent_id else "",
        create_time=timestamp(row.create_time),
    )


def member_message(row: GroupMemberRow, client_id: str) -> client_pb2.GroupMember:
    """Return a GroupMember message."""
    message = client_pb2.GroupMember(
        name=f"groups/{row.group_id}/members/{row.id}", client=f"clients/{client_id}",
        control_type=CONTROL_BY_NAME.get(row.control_type, 0),  # type: ignore[arg-type]
        share_percent=row.share_percent, valid_from=date_message(row.valid_from),
        create_time=timestamp(row.create_time),
    )
    if row.valid_to is not None:
        message.valid_to.CopyFrom(date_message(row.valid_to))
    return message


def guarantee_message(
    row: GuaranteeRow, guarantor_id: str, beneficiary_id: str
) -> client_pb2.Guarantee:
    """Return a Guarantee message."""
    message = client_pb2.Guarantee(
        name=f"clients/{guarantor_id}/guarantees/{row.id}",
        guarantor=f"clients/{guarantor_id}", beneficiary=f"clients/{beneficiary_id}",
        facility=row.facility, amount=money_message(row.amount),
        guarantee_type=GUARANTEE_TYPE_BY_NAME.get(row.guarantee_type, 0),  # type: ignore[arg-type]
        valid_from=date_message(row.valid_from), create_time=timestamp(row.create_time),
    )
    if row.valid_to is not None:
        message.valid_to.CopyFrom(date_message(row.valid_to))
    return message
