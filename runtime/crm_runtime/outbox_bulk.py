"""Many outbox events in one statement, for bulk writes (re-rating a book, imports).

``Outbox.emit`` adds one ORM row per subscriber, which is right for a single change; a
transaction that announces thousands of changes would spend more time building and flushing
those objects than on the change itself. ``emit_many`` writes the same rows (same envelopes,
one per event and subscriber) with one multi-row INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_runtime.outbox import Outbox, make_envelope
from crm_runtime.tables import OutboxMessage

OUTBOX_TABLE: Any = OutboxMessage.__table__  # type: ignore[attr-defined]


async def emit_many(
    session: AsyncSession,
    outbox: Outbox,
    events: Sequence[tuple[Message, str]],
    *,
    occurred: datetime | None = None,
) -> list[str]:
    """Add each (payload, subject) as an event for every subscriber; return the event ids."""
    when = occurred or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    for payload, subject in events:
        envelope = make_envelope(payload, source=outbox.source, subject=subject, occurred=when)
        body = envelope.SerializeToString()
        ids.append(envelope.event_id)
        rows += [{"event_id": envelope.event_id, "subscriber": subscriber,
                  "event_type": envelope.event_type, "envelope": body, "created_time": when,
                  "attempts": 0, "delivered_time": None, "last_error": ""}
                 for subscriber in outbox.subscribers]
    if rows:
        await session.execute(insert(OUTBOX_TABLE), rows)
        outbox.pending.set()
    return ids
