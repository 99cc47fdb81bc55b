"""Enum names between protobuf and the domain, and rows → messages for messages and tasks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from crm.notify.v1 import common_pb2, message_pb2, task_pb2, template_pb2, topic_pb2

CHANNEL_NAMES: dict[int, str] = {
    common_pb2.CHANNEL_PUSH: "push",
    common_pb2.CHANNEL_EMAIL: "email",
    common_pb2.CHANNEL_SMS: "sms",
    common_pb2.CHANNEL_CHAT: "chat",
    common_pb2.CHANNEL_TASK: "task",
}
CHANNEL_ENUMS: dict[str, Any] = {name: number for number, name in CHANNEL_NAMES.items()}

CATEGORY_NAMES: dict[int, str] = {
    common_pb2.CATEGORY_SERVICE: "service",
    common_pb2.CATEGORY_MARKETING: "marketing",
    common_pb2.CATEGORY_RISK_ALERT: "risk_alert",
    common_pb2.CATEGORY_SURVEY: "survey",
    common_pb2.CATEGORY_TASK: "task",
}
CATEGORY_ENUMS: dict[str, Any] = {name: number for number, name in CATEGORY_NAMES.items()}

URGENCY_NAMES: dict[int, str] = {
    common_pb2.URGENCY_UNSPECIFIED: "normal",
    common_pb2.URGENCY_NORMAL: "normal",
    common_pb2.URGENCY_URGENT: "urgent",
}
URGENCY_ENUMS: dict[str, Any] = {
    "normal": common_pb2.URGENCY_NORMAL,
    "urgent": common_pb2.URGENCY_URGENT,
}

STATE_NAMES: dict[int, str] = {
    message_pb2.DELIVERY_STATE_QUEUED: "queued",
    message_pb2.DELIVERY_STATE_SENT: "sent",
    message_pb2.DELIVERY_STATE_DELIVERED: "delivered",
    message_pb2.DELIVERY_STATE_FAILED: "failed",
    message_pb2.DELIVERY_STATE_EXPIRED: "expired",
    message_pb2.DELIVERY_STATE_DEAD_LETTER: "dead_letter",
}
STATE_ENUMS: dict[str, Any] = {name: number for number, name in STATE_NAMES.items()}

VARIABLE_TYPE_NAMES: dict[int, str] = {
    template_pb2.VARIABLE_TYPE_STRING: "string",
    template_pb2.VARIABLE_TYPE_MONEY: "money",
    template_pb2.VARIABLE_TYPE_DATE: "date",
    template_pb2.VARIABLE_TYPE_NUMBER: "number",
    template_pb2.VARIABLE_TYPE_PERCENT: "percent",
}
VARIABLE_TYPE_ENUMS: dict[str, Any] = {name: number for number, name in VARIABLE_TYPE_NAMES.items()}

TOPIC_KIND_NAMES: dict[int, str] = {
    topic_pb2.TOPIC_KIND_RATE_CHANGE: "rate_change",
    topic_pb2.TOPIC_KIND_POLICY_INTERPRETATION: "policy_interpretation",
    topic_pb2.TOPIC_KIND_INDUSTRY_NEWS: "industry_news",
    topic_pb2.TOPIC_KIND_PRODUCT_OFFER: "product_offer",
}
TOPIC_KIND_ENUMS: dict[str, Any] = {name: number for number, name in TOPIC_KIND_NAMES.items()}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """Return a Timestamp for a datetime (None stays None)."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def from_timestamp(value: timestamp_pb2.Timestamp) -> datetime:
    """Return an aware UTC datetime for a Timestamp."""
    return value.ToDatetime(tzinfo=UTC)


def etag(kind: str, key: str, version: int) -> str:
    """Return a weak etag for a versioned row."""
    return hashlib.sha256(f"{kind}:{key}:{version}".encode()).hexdigest()[:16]


def message_message(row: Any) -> message_pb2.Message:
    """Return a Message for a notify_message row (ORM object or Core row)."""
    message = message_pb2.Message(
        name=f"messages/{row.id}",
        recipient=row.recipient,
        channel=CHANNEL_ENUMS.get(row.channel, 0),
        category=CATEGORY_ENUMS.get(row.category, 0),
        urgency=URGENCY_ENUMS.get(row.urgency, 0),
        notification=f"notifications/{row.notification}",
        sequence=row.sequence or 0,
        locale=row.locale,
        subject=row.subject,
        body=row.body,
        template=f"templates/{row.template}",
        campaign=f"campaigns/{row.campaign}" if row.campaign else "",
        alert=f"alerts/{row.alert}" if row.alert else "",
        state=STATE_ENUMS.get(row.state, 0),
        attempt_count=row.attempt_count,
        last_error=row.last_error,
        provider_message_id=row.provider_message_id,
        idempotency_key=row.id,
    )
    for field in ("not_before", "next_attempt_time", "expire_time", "create_time"):
        _set_time(message, field, getattr(row, field))
    _set_time(message, "update_time", row.update_time)
    _set_time(message, "deliver_time", row.deliver_time)
    return message


def push_message(row: Any) -> message_pb2.PushMessage:
    """Return the push-stream form of a notify_message row."""
    message = message_pb2.PushMessage(
        message=f"messages/{row.id}",
        recipient=row.recipient,
        sequence=row.sequence,
        category=CATEGORY_ENUMS.get(row.category, 0),
        urgency=URGENCY_ENUMS.get(row.urgency, 0),
        subject=row.subject,
        body=row.body,
        locale=row.locale,
        campaign=f"campaigns/{row.campaign}" if row.campaign else "",
        alert=f"alerts/{row.alert}" if row.alert else "",
    )
    _set_time(message, "create_time", row.create_time)
    return message


def attempt_message(row: Any, message_id: str) -> message_pb2.DeliveryAttempt:
    """Return a DeliveryAttempt for a notify_attempt row."""
    attempt = message_pb2.DeliveryAttempt(
        message=f"messages/{message_id}",
        attempt_number=row.attempt_number,
        state=STATE_ENUMS.get(row.state, 0),
        error=row.error,
        provider_message_id=row.provider_message_id,
    )
    _set_time(attempt, "attempt_time", row.attempt_time)
    return attempt


def task_message(row: Any) -> task_pb2.Task:
    """Return a Task for a notify_task row."""
    task = task_pb2.Task(
        name=f"tasks/{row.id}",
        assignee=row.assignee,
        title=row.title,
        body=row.body,
        category=CATEGORY_ENUMS.get(row.category, 0),
        state=task_pb2.TASK_STATE_OPEN if row.state == "open" else task_pb2.TASK_STATE_COMPLETED,
        client=row.client,
        alert=f"alerts/{row.alert}" if row.alert else "",
        message=f"messages/{row.message}",
        completed_by=row.completed_by,
        resolution=row.resolution,
    )
    for field in ("due_time", "create_time", "complete_time"):
        _set_time(task, field, getattr(row, field))
    return task


def _set_time(message: Any, field: str, value: datetime | None) -> None:
    stamp = timestamp(value)
    if stamp is not None:
        getattr(message, field).CopyFrom(stamp)
