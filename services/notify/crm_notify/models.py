"""Tables of the notification service (SQLModel). Every table name starts with notify_.

Personal data: no mobile numbers or email addresses of client contacts are stored; they are
fetched from the client service when a message is handed to its provider.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_runtime.tables import utc_column


class TemplateRow(SQLModel, table=True):
    """A template; variables and variants are JSON (compiled and checked on every save)."""

    __tablename__ = "notify_template"

    template_id: str = Field(primary_key=True, max_length=63)
    display_name: str = Field(default="", max_length=200)
    category: str = Field(max_length=16)
    variables_json: str = Field(sa_column=Column(Text, nullable=False))
    variants_json: str = Field(sa_column=Column(Text, nullable=False))
    fallback_locale: str = Field(max_length=8)
    version: int = 1
    built_in: bool = False
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())


class RecipientStateRow(SQLModel, table=True):
    """Per-recipient push counter: the last sequence assigned and the last acknowledged."""

    __tablename__ = "notify_recipient_state"

    recipient: str = Field(primary_key=True, max_length=200)
    last_sequence: int = 0
    acked_sequence: int = 0


class PushAckRow(SQLModel, table=True):
    """One acknowledgement step: the recipient received (from_sequence, to_sequence] at ack_time.

    Acknowledging writes this row and moves the counter; message rows are not rewritten, so an
    ack costs one row per recipient however many messages it covers. A push message's state
    is derived: delivered when its sequence is at or below the recipient's acknowledged one.
    """

    __tablename__ = "notify_push_ack"

    recipient: str = Field(primary_key=True, max_length=200)
    to_sequence: int = Field(primary_key=True)
    from_sequence: int
    ack_time: datetime = Field(sa_column=utc_column())


class MessageRow(SQLModel, table=True):
    """One message to one recipient on one channel; `id` is the idempotency key."""

    __tablename__ = "notify_message"
    __table_args__ = (
        # Push sequences are unique per recipient: the stream relies on it.
        Index("ux_notify_push_seq", "recipient", "sequence", unique=True),
        Index("ix_notify_due", "state", "next_attempt_time"),
        # Serves ListMessages by recipient and the frequency-cap count of recent sends.
        Index("ix_notify_recipient", "recipient", "seq"),
        UniqueConstraint("campaign", "recipient", "channel", name="ux_notify_campaign_target"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=32, unique=True)
    notification: str = Field(max_length=32)
    recipient: str = Field(max_length=200)
    channel: str = Field(max_length=8)
    category: str = Field(max_length=16)
    urgency: str = Field(max_length=8)
    # Push only; NULL elsewhere so the unique index ignores other channels.
    sequence: int | None = None
    locale: str = Field(max_length=8)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    template: str = Field(max_length=63)
    # Looked up through ux_notify_campaign_target, whose first column it is.
    campaign: str | None = Field(default=None, max_length=32)
    alert: str = Field(default="", max_length=32)
    # Channel-specific extras that are not personal data (e.g. task due time, client).
    extra_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    state: str = Field(max_length=12)
    attempt_count: int = 0
    not_before: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    next_attempt_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    expire_time: datetime = Field(sa_column=utc_column())
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    provider_message_id: str = Field(default="", max_length=200)
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())
    deliver_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AttemptRow(SQLModel, table=True):
    """The outcome of one delivery attempt."""

    __tablename__ = "notify_attempt"

    seq: int | None = Field(default=None, primary_key=True)
    message_seq: int = Field(index=True)
    attempt_number: int
    state: str = Field(max_length=12)
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    provider_message_id: str = Field(default="", max_length=200)
    attempt_time: datetime = Field(sa_column=utc_column())


class PreferenceRow(SQLModel, table=True):
    """A recipient's preferences; JSON columns mirror domain.preferences.Preferences."""

    __tablename__ = "notify_preference"

    recipient: str = Field(primary_key=True, max_length=200)
    locale: str = Field(default="", max_length=8)
    time_zone: str = Field(default="", max_length=64)
    quiet_start: str = Field(default="", max_length=5)
    quiet_end: str = Field(default="", max_length=5)
    channels_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    consents_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    caps_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    version: int = 1
    update_time: datetime = Field(sa_column=utc_column())


class TaskRow(SQLModel, table=True):
    """A work item in a staff member's inbox."""

    __tablename__ = "notify_task"
    __table_args__ = (Index("ix_notify_task_inbox", "assignee", "state", "due_time"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=32, unique=True)
    assignee: str = Field(max_length=200)
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(max_length=16)
    due_time: datetime = Field(sa_column=utc_column())
    state: str = Field(max_length=12)
    client: str = Field(default="", max_length=64)
    alert: str = Field(default="", max_length=32)
    message: str = Field(max_length=32, unique=True)
    create_time: datetime = Field(sa_column=utc_column())
    complete_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    completed_by: str = Field(default="", max_length=200)
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class TopicRow(SQLModel, table=True):
    """An information topic."""

    __tablename__ = "notify_topic"

    topic_id: str = Field(primary_key=True, max_length=63)
    display_name: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    create_time: datetime = Field(sa_column=utc_column())


class SubscriptionRow(SQLModel, table=True):
    """A recipient's subscription to a topic."""

    __tablename__ = "notify_subscription"
    __table_args__ = (UniqueConstraint("topic_id", "recipient"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=32, unique=True)
    topic_id: str = Field(max_length=63, index=True)
    recipient: str = Field(max_length=200)
    create_time: datetime = Field(sa_column=utc_column())


class CampaignRow(SQLModel, table=True):
    """A campaign; `cursor` is how far fan-out got, committed with each batch of messages."""

    __tablename__ = "notify_campaign"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=32, unique=True)
    display_name: str = Field(default="", max_length=200)
    template: str = Field(max_length=63)
    topic: str = Field(default="", max_length=63)
    variables_json: str = Field(sa_column=Column(Text, nullable=False))
    audience_kind: str = Field(max_length=16)
    audience: str = Field(default="", max_length=128)
    channels_json: str = Field(sa_column=Column(Text, nullable=False))
    schedule_time: datetime = Field(sa_column=utc_column(index=True))
    state: str = Field(max_length=12, index=True)
    cursor: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recipients: int = 0
    suppressed: int = 0
    render_failures: int = 0
    messages: int = 0
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by: str = Field(max_length=200)
    create_time: datetime = Field(sa_column=utc_column())
    update_time: datetime = Field(sa_column=utc_column())


class CampaignRecipientRow(SQLModel, table=True):
    """One recipient of an explicit-list campaign, in list order."""

    __tablename__ = "notify_campaign_recipient"

    campaign_seq: int = Field(primary_key=True)
    position: int = Field(primary_key=True)
    recipient: str = Field(sa_column=Column(String(200), nullable=False))
    variables_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class ClientDirectoryRow(SQLModel, table=True):
    """What notify knows about a client from events: its name and who looks after it."""

    __tablename__ = "notify_client"

    client: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(default="", max_length=200)
    relationship_manager: str = Field(default="", max_length=200)
    team: str = Field(default="", max_length=200)
    update_time: datetime = Field(sa_column=utc_column())


class AlertRow(SQLModel, table=True):
    """A warning alert and its acknowledgement; escalation steps are AlertEscalationRow."""

    __tablename__ = "notify_alert"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=32, unique=True)
    warning: str = Field(max_length=128, unique=True)
    client: str = Field(max_length=64)
    level: str = Field(max_length=8)
    rule: str = Field(default="", max_length=64)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    owner: str = Field(max_length=200, index=True)
    team: str = Field(default="", max_length=200)
    raise_time: datetime = Field(sa_column=utc_column())
    sla_due_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    state: str = Field(max_length=12, index=True)
    acknowledge_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    acknowledged_by: str = Field(default="", max_length=200)
    policy_version: str = Field(max_length=32)
    # When the next ladder step falls due; NULL once the ladder is done or acknowledged.
    next_step_time: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AlertEscalationRow(SQLModel, table=True):
    """One escalation step that fired."""

    __tablename__ = "notify_alert_escalation"

    alert_seq: int = Field(primary_key=True)
    step_number: int = Field(primary_key=True)
    target_role: str = Field(max_length=32)
    recipients: str = Field(sa_column=Column(Text, nullable=False))
    due_time: datetime = Field(sa_column=utc_column())
    fire_time: datetime = Field(sa_column=utc_column())


NOTIFY_TABLES = [
    "notify_template",
    "notify_recipient_state",
    "notify_push_ack",
    "notify_message",
    "notify_attempt",
    "notify_preference",
    "notify_task",
    "notify_topic",
    "notify_subscription",
    "notify_campaign",
    "notify_campaign_recipient",
    "notify_client",
    "notify_alert",
    "notify_alert_escalation",
]
