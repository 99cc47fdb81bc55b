"""Enum names between protobuf and the domain, and rows → messages for messages and tasks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from crm.notify.v1 import notify_pb2

CHANNEL_NAMES: dict[int, str] = {
    notify_pb2.CHANNEL_PUSH: "push",
    notify_pb2.CHANNEL_EMAIL: "email",
    notify_pb2.CHANNEL_SMS: "sms",
    notify_pb2.CHANNEL_CHAT: "chat",
    notify_pb2.CHANNEL_TASK: "task",
}
CHANNEL_ENUMS: dict[str, Any] = {name: number for number, name in CHANNEL_NAMES.items()}

CATEGORY_NAMES: dict[int, str] = {
    notify_pb2.CATEGORY_SERVICE: "service",
    notify_pb2.CATEGORY_MARKETING: "marketing",
    notify_pb2.CATEGORY_RISK_ALERT: "risk_alert",
    notify_pb2.CATEGORY_SURVEY: "survey",
    notify_pb2.CATEGORY_TASK: "task",
}
CATEGORY_ENUMS: dict[str, Any] = {name: number for number, name in CATEGORY_NAMES.items()}

URGENCY_NAMES: dict[int, str] = {
    notify_pb2.URGENCY_UNSPECIFIED: "normal",
    notify_pb2.URGENCY_NORMAL: "normal",
    notify_pb2.URGENCY_URGENT: "urgent",
}
URGENCY_ENUMS: dict[str, Any] = {
    "normal": notify_pb2.URGENCY_NORMAL,
    "urgent": notify_pb2.URGENCY_URGENT,
}

STATE_NAMES: dict[int, str] = {
    notify_pb2.DELIVERY_STATE_QUEUED: "queued",
    notify_pb2.DELIVERY_STATE_SENT: "sent",
    notify_pb2.DELIVERY_STATE_DELIVERED: "delivered",
    notify_pb2.DELIVERY_STATE_FAILED: "failed",
    notify_pb2.DELIVERY_STATE_EXPIRED: "expired",
    notify_pb2.DELIVERY_STATE_DEAD_LETTER: "dead_letter",
}
STATE_ENUMS: dict[str, Any] = {name: number for number, name in STATE_NAMES.items()}

VARIABLE_TYPE_NAMES: dict[int, str] = {
    notify_pb2.VARIABLE_TYPE_STRING: "string",
    notify_pb2.VARIABLE_TYPE_MONEY: "money",
    notify_pb2.VARIABLE_TYPE_DATE: "date",
    notify_pb2.VARIABLE_TYPE_NUMBER: "number",
    notify_pb2.VARIABLE_TYPE_PERCENT: "percent",
}
VARIABLE_TYPE_ENUMS: dict[str, Any] = {name: number for number, name in VARIABLE_TYPE_NAMES.items()}

TOPIC_KIND_NAMES: dict[int, str] = {
    notify_pb2.TOPIC_KIND_RATE_CHANGE: "rate_change",
    notify_pb2.TOPIC_KIND_POLICY_INTERPRETATION: "policy_interpretation",
    notify_pb2.TOPIC_KIND_INDUSTRY_NEWS: "industry_news",
    notify_pb2.TOPIC_KIND_PRODUCT_OFFER: "product_offer",
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


def message_message(row: Any) -> notify_pb2.Message:
    """Return a Message for a notify_message row (ORM object or Core row)."""
    message = notify_pb2.Message(
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


def push_message(row: Any) -> notify_pb2.PushMessage:
    """Return the push-stream form of a notify_message row."""
    message = notify_pb2.PushMessage(
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


def attempt_message(row: Any, message_id: str) -> notify_pb2.DeliveryAttempt:
    """Return a DeliveryAttempt for a notify_attempt row."""
    attempt = notify_pb2.DeliveryAttempt(
        message=f"messages/{message_id}",
        attempt_number=row.attempt_number,
        state=STATE_ENUMS.get(row.state, 0),
        error=row.error,
        provider_message_id=row.provider_message_id,
    )
    _set_time(attempt, "attempt_time", row.attempt_time)
    return attempt


def task_message(row: Any) -> notify_pb2.Task:
    """Return a Task for a notify_task row."""
    task = notify_pb2.Task(
        name=f"tasks/{row.id}",
        assignee=row.assignee,
        title=row.title,
        body=row.body,
        category=CATEGORY_ENUMS.get(row.category, 0),
        state=notify_pb2.TASK_STATE_OPEN
        if row.state == "open"
        else notify_pb2.TASK_STATE_COMPLETED,
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
