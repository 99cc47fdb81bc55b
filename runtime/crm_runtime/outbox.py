"""Transactional outbox: events are rows written in the same transaction as the change.

`Outbox.emit` adds one row per subscriber to the caller's session, so the event exists exactly
when the change does. `Relay` (outbox_relay.py) delivers the rows.

The relay is woken when the transaction that wrote the rows commits, never while it is still
open: woken earlier, it read before the commit, found nothing, cleared the flag and slept a
whole poll interval, so every event waited one interval (issue 18).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm.events.v1 import event_pb2
from crm_runtime.tables import OutboxMessage
from crm_runtime.telemetry import inject_context

OUTBOX_TABLE: Table = OutboxMessage.__table__  # type: ignore[attr-defined]


def make_envelope(
    payload: Message, *, source: str, subject: str, occurred: datetime | None = None
) -> event_pb2.EventEnvelope:
    """Return an envelope for `payload` carrying the current trace context."""
    packed = any_pb2.Any()
    packed.Pack(payload)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(occurred or datetime.now(UTC))
    carrier = inject_context()
    return event_pb2.EventEnvelope(
        event_id=str(uuid.uuid4()),
        event_type=payload.DESCRIPTOR.full_name,
        source=source,
        subject=subject,
        occurrence_time=stamp,
        payload=packed,
        traceparent=carrier.get("traceparent", ""),
        tracestate=carrier.get("tracestate", ""),
    )


class Outbox:
    """Writes events of one producing service for its subscribers."""

    def __init__(self, source: str, subscribers: Iterable[str]) -> None:
        self.source = source
        self.subscribers = tuple(subscribers)
        # Flags set after each commit that wrote events, so a relay wakes at once instead of
        # waiting for its poll. `watch()` gives each consumer (one per subscriber, or the
        # JetStream relay) its own: one shared flag cleared by one consumer would hide the news
        # from the others.
        self._watchers: list[asyncio.Event] = []
        self._marker = f"crm_outbox_wake:{id(self)}"

    def watch(self) -> asyncio.Event:
        """Return a new flag that is set after every commit that wrote events of this outbox."""
        flag = asyncio.Event()
        self._watchers.append(flag)
        return flag

    def wake(self) -> None:
        """Set every flag: rows may be waiting (called after commit, and by a stopping relay)."""
        for flag in self._watchers:
            flag.set()

    def _wake_after_commit(self, session: AsyncSession) -> None:
        """Wake the consumers once `session`'s transaction commits (not on rollback).

        One listener per transaction however many events it emits: a marker in the session's
        info says one is registered, and the listener removes the marker when it fires. A
        transaction that rolls back leaves its listener for the session's next commit.
        """
        sync: Session = session.sync_session
        if sync.info.get(self._marker):
            return
        sync.info[self._marker] = True

        def committed(_session: Session) -> None:
            sync.info.pop(self._marker, None)
            self.wake()

        event.listen(sync, "after_commit", committed, once=True)

    def emit(
        self,
        session: AsyncSession,
        payload: Message,
        *,
        subject: str,
        occurred: datetime | None = None,
    ) -> str:
        """Add `payload` as an event about `subject` to the session; return the event id."""
        when = occurred or datetime.now(UTC)
        envelope = make_envelope(payload, source=self.source, subject=subject, occurred=when)
        event_id = envelope.event_id
        body = envelope.SerializeToString()
        for subscriber in self.subscribers:
            session.add(
                OutboxMessage(
                    event_id=event_id,
                    subscriber=subscriber,
                    event_type=envelope.event_type,
                    envelope=body,
                    created_time=when,
                )
            )
        self._wake_after_commit(session)
        return event_id

    async def emit_many(
        self,
        session: AsyncSession,
        events: Sequence[tuple[Message, str]],
        *,
        occurred: datetime | None = None,
    ) -> int:
        """Add many (payload, subject) events in one multi-row insert; return how many.

        The same rows `emit` adds, written as one executemany instead of ORM objects: bulk
        paths (imports) announce thousands of changes per transaction.
        """
        when = occurred or datetime.now(UTC)
        rows: list[dict[str, object]] = []
        for payload, subject in events:
            envelope = make_envelope(payload, source=self.source, subject=subject, occurred=when)
            body = envelope.SerializeToString()
            rows.extend(
                {
                    "event_id": envelope.event_id,
                    "subscriber": subscriber,
                    "event_type": envelope.event_type,
                    "envelope": body,
                    "created_time": when,
                    "attempts": 0,
                    "delivered_time": None,
                    "last_error": "",
                }
                for subscriber in self.subscribers
            )
        if rows:
            await session.execute(insert(OUTBOX_TABLE), rows)
            self._wake_after_commit(session)
        return len(events)
