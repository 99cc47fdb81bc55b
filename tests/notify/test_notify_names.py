"""Resource names come from the protos: every name-carrying request field declares its resource."""

from __future__ import annotations

import pytest

from crm.notify.v1 import notify_service_pb2
from crm_notify.names import is_recipient, is_staff
from crm_runtime import names
from crm_runtime.errors import InvalidArgument

SERVICE = notify_service_pb2.DESCRIPTOR.services_by_name["NotificationService"]
# Fields holding a name that are not one of notify's own resources: recipients and segments
# belong to other services, and a preferences name is "{recipient}/preferences".
NOT_NOTIFY_RESOURCES = {"GetPreferencesRequest.name"}


def _name_fields() -> list[tuple[str, str]]:
    fields = []
    for method in SERVICE.methods:
        for field in method.input_type.fields:
            key = f"{method.input_type.name}.{field.name}"
            if field.name in ("name", "parent") and key not in NOT_NOTIFY_RESOURCES:
                fields.append((method.input_type.name, field.name))
    return fields


@pytest.mark.parametrize(("request_name", "field"), _name_fields())
def test_every_name_field_declares_its_resource(request_name: str, field: str) -> None:
    """A handler can parse each name field through crm_runtime.names."""
    request = getattr(notify_service_pb2, request_name)
    assert names.field_pattern(request, field).variables


def test_names_parse_by_variable_and_reject_other_shapes() -> None:
    request = notify_service_pb2.DeleteSubscriptionRequest(
        name="topics/rate-news/subscriptions/" + "0" * 32
    )
    assert names.parse(request, "name") == {"topic": "rate-news", "subscription": "0" * 32}
    with pytest.raises(InvalidArgument):
        names.parse(notify_service_pb2.GetAlertRequest(name="alerts/a/b"), "name")


def test_recipients_follow_the_one_id_rule() -> None:
    assert is_staff("staff/rm-a") and not is_staff("staff/rm-a/x")
    assert is_recipient("clients/" + "a" * 32 + "/keyPersons/kp_1")
    assert is_recipient("clients/C-1001")
    assert not is_recipient("clients/") and not is_recipient("teams/east")
