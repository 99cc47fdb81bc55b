"""Writing messages: one row per channel, push sequences and task rows in the same transaction.

Every message is created together with its delivery-queue entry (its `state` and
`next_attempt_time` columns *are* the queue), so a message exists exactly when its delivery
is scheduled. A push message gets its per-recipient sequence from a counter row in the same
transaction; the counter row is locked for the rest of the transaction, so sequences commit
in order and the stream never sees a later number before an earlier one. A deferred push
message gets its number only when it is released (delivery.py), so a message held back by
quiet hours never blocks the recipient's later urgent ones.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_notify.models import MessageRow, RecipientStateRow, TaskRow

if TYPE_CHECKING:
    from crm_notify.context import NotifyContext

MESSAGE_TABLE: Table = MessageRow.__table__  # type: ignore[attr-defined]
STATE_TABLE: Table = RecipientStateRow.__table__  # type: ignore[attr-defined]
TASK_TABLE: Table = TaskRow.__table__  # type: ignore[attr-defined]
DEFAULT_TASK_DUE = timedelta(days=3)
_IN_CHUNK = 500


@dataclass
class Outgoing:
    """One notification to one recipient, to be written on each of its channels."""

    recipient: str
    category: str
    urgency: str
    locale: str
    subject: str
    body: str
    template: str
    channels: list[str]
    not_before: datetime | None = None
    campaign: str | None = None
    alert: str = ""
    client: str = ""
    task_due: datetime | None = None


@dataclass
class Written:
    """What a write produced, for the reply and for the post-commit wake-ups."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)
    push_recipients: set[str] = field(default_factory=set)
    queued: int = 0


async def allocate_sequences(session: AsyncSession, counts: Counter[str]) -> dict[str, int]:
    """Reserve `counts[r]` consecutive push sequences per recipient; return each first one.

    Rows are locked in sorted order (PostgreSQL), so concurrent writers cannot deadlock.
    """
    first: dict[str, int] = {}
    recipients = sorted(counts)
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(recipients), _IN_CHUNK):
        chunk = recipients[start : start + _IN_CHUNK]
        current = await _counters(session, chunk, lock=postgres)
        missing = [r for r in chunk if r not in current]
        if missing:
            # New recipients start with their final counter; a concurrent writer that created
            # one of the rows first makes the insert skip it, and it is updated below instead.
            dialect_insert = pg_insert if postgres else sqlite_insert
            inserted = await session.execute(
                dialect_insert(STATE_TABLE)
                .on_conflict_do_nothing()
                .returning(STATE_TABLE.c.recipient),
                [
                    {"recipient": r, "last_sequence": counts[r], "acked_sequence": 0}
                    for r in missing
                ],
            )
            created = set(inserted.scalars().all())
            first.update((r, 1) for r in created)
            raced = [r for r in missing if r not in created]
            if raced:
                current.update(await _counters(session, raced, lock=postgres))
        existing = [r for r in chunk if r in current]
        if existing:
            await session.execute(
                update(STATE_TABLE)
                .where(STATE_TABLE.c.recipient == bindparam("b_recipient"))
                .values(last_sequence=bindparam("b_last")),
                [{"b_recipient": r, "b_last": current[r] + counts[r]} for r in existing],
            )
            first.update((r, current[r] + 1) for r in existing)
    return first


async def _counters(session: AsyncSession, recipients: list[str], *, lock: bool) -> dict[str, int]:
    statement = (
        select(STATE_TABLE.c.recipient, STATE_TABLE.c.last_sequence)
        .where(STATE_TABLE.c.recipient.in_(recipients))
        .order_by(STATE_TABLE.c.recipient)
    )
    if lock:
        statement = statement.with_for_update()
    return {r: int(s) for r, s in (await session.execute(statement)).all()}


async def write_notifications(
    session: AsyncSession, items: Sequence[Outgoing], *, now: datetime, ttl: timedelta
) -> Written:
    """Write every item's messages (and task rows) into the session."""
    written = Written()
    immediate_push: Counter[str] = Counter(
        item.recipient
        for item in items
        if "push" in item.channels and (item.not_before is None or item.not_before <= now)
    )
    next_sequence = await allocate_sequences(session, immediate_push) if immediate_push else {}
    tasks: list[dict[str, Any]] = []
    for item in items:
        notification = os.urandom(16).hex()
        written.notifications.append(notification)
        due = item.not_before if item.not_before is not None and item.not_before > now else None
        for channel in item.channels:
            row = _message_row(item, channel, notification, now=now, due=due, ttl=ttl)
            if channel == "push" and due is None:
                row["sequence"] = next_sequence[item.recipient]
                next_sequence[item.recipient] += 1
                row["next_attempt_time"] = None
                written.push_recipients.add(item.recipient)
            elif channel == "task" and due is None:
                row["state"] = "delivered"
                row["deliver_time"] = now
                row["next_attempt_time"] = None
                tasks.append(task_row(item, row["id"], now=now))
            else:
                written.queued += 1
            written.rows.append(row)
    if written.rows:
        await session.execute(insert(MESSAGE_TABLE), written.rows)
    if tasks:
        await session.execute(insert(TASK_TABLE), tasks)
    return written


def _message_row(
    item: Outgoing,
    channel: str,
    notification: str,
    *,
    now: datetime,
    due: datetime | None,
    ttl: timedelta,
) -> dict[str, Any]:
    extra: dict[str, str] = {}
    if item.client:
        extra["client"] = item.client
    if item.task_due is not None:
        extra["task_due"] = item.task_due.isoformat()
    extra_json = json.dumps(extra, sort_keys=True) if extra else "{}"
    return {
        "id": os.urandom(16).hex(),
        "notification": notification,
        "recipient": item.recipient,
        "channel": channel,
        "category": item.category,
        "urgency": item.urgency,
        "sequence": None,
        "locale": item.locale,
        "subject": item.subject,
        "body": item.body,
        "template": item.template,
        "campaign": item.campaign,
        "alert": item.alert,
        "extra_json": extra_json,
        "state": "queued",
        "attempt_count": 0,
        "not_before": due,
        "next_attempt_time": due or now,
        "expire_time": (due or now) + ttl,
        "last_error": "",
        "provider_message_id": "",
        "create_time": now,
        "update_time": now,
        "deliver_time": None,
    }


def task_row(item: Outgoing, message_id: str, *, now: datetime) -> dict[str, Any]:
    """Return the task a task-channel message files in the staff member's inbox."""
    return {
        "id": os.urandom(16).hex(),
        "assignee": item.recipient,
        "title": item.subject,
        "body": item.body,
        "category": item.category,
        "due_time": item.task_due or now + DEFAULT_TASK_DUE,
        "state": "open",
        "client": item.client,
        "alert": item.alert,
        "message": message_id,
        "create_time": now,
        "complete_time": None,
        "completed_by": "",
        "resolution": "",
    }


def wake_after_commit(ctx: NotifyContext, written: Written) -> None:
    """Wake push streams and delivery workers once the transaction committed."""
    if written.push_recipients:
        ctx.hub.notify(written.push_recipients)
    if written.queued:
        ctx.delivery_wakeup.set()


def recipients_of(items: Iterable[Outgoing]) -> list[str]:
    """Return the distinct recipients of `items`, in first-seen order."""
    return list(dict.fromkeys(item.recipient for item in items))
