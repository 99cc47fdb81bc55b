"""Publishes outbox rows to JetStream (EVENT_TRANSPORT=nats): one row per event, any consumers.

Each pass takes the oldest pending rows, publishes them to `crm.events.<kind>` with the event id
as `Nats-Msg-Id`, and marks those the server acknowledged as delivered. On PostgreSQL the rows
are claimed with `SELECT … FOR UPDATE SKIP LOCKED` inside the transaction that marks them, so
of several replicas sharing a store exactly one publishes a given row; a replica killed after
publishing but before its commit releases the rows, another publishes them again, and the
stream's duplicate window stores that second publish once. SQLite has a single process and
needs no claim: rows are read, published and then marked, as the gRPC relay does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy import Row, Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_runtime.db import Database
from crm_runtime.jetstream import JETSTREAM_SUBSCRIBER, MSG_ID_HEADER, BrokerLink, subject_for
from crm_runtime.logging import get_logger
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import DELIVERED_RETENTION, MAX_BACKOFF_SECONDS
from crm_runtime.tables import OutboxMessage

log = get_logger("jetstream-relay")

# (id, event_id, event_type, envelope) of a pending outbox row.
PendingRow = Row[int | None, str, str, bytes]


class JetStreamRelay:
    """Background task that publishes the outbox of one service to JetStream."""

    def __init__(
        self,
        *,
        database: Database,
        outbox: Outbox,
        link: BrokerLink,
        interval: float = 0.2,
        batch_size: int = 200,
    ) -> None:
        self._db = database
        self._outbox = outbox
        # Our own flag, set after every commit that wrote events; cleared before each read so
        # a commit landing during a pass wakes the next one instead of waiting a poll.
        self._wakeup = outbox.watch()
        self._link = link
        self._interval = interval
        self._batch = batch_size
        self._stopping = asyncio.Event()
        # Counts since start: rows marked delivered, and publishes the stream found duplicate.
        self.delivered = 0
        self.duplicates = 0

    async def run(self) -> None:
        """Publish until stop() is called; then make one last pass (drain).

        A pass that fails (broker restarting, store unreachable) is logged and retried with
        backoff; its rows stay pending and are published again by a later pass.
        """
        failures = 0
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                moved = await self.deliver_once()
            except Exception as exc:
                failures += 1
                self._link.recheck_stream()
                delay = min(MAX_BACKOFF_SECONDS, self._interval * 2**failures)
                log.warning("publish pass failed", failures=failures,
                            retry_in_s=round(delay, 2), error=f"{type(exc).__name__}: {exc}"[:200])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                continue
            failures = 0
            if not moved:
                await self._idle()
        with contextlib.suppress(Exception):
            await self.deliver_once()

    async def _idle(self) -> None:
        """Sleep until an emit, stop() or the poll interval, whichever comes first."""
        waiter = asyncio.ensure_future(self._wakeup.wait())
        stopper = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait(
            {waiter, stopper}, timeout=self._interval, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        stopper.cancel()

    async def stop(self) -> None:
        """Ask the loop to finish after a final drain."""
        self._stopping.set()

    async def close(self) -> None:
        """Nothing of its own to close: the broker connection belongs to the process."""

    def _pending(self) -> Select[int | None, str, str, bytes]:
        return (
            select(
                col(OutboxMessage.id), col(OutboxMessage.event_id),
                col(OutboxMessage.event_type), col(OutboxMessage.envelope),
            )
            .where(col(OutboxMessage.subscriber) == JETSTREAM_SUBSCRIBER)
            .where(col(OutboxMessage.delivered_time).is_(None))
            .order_by(col(OutboxMessage.id))
            .limit(self._batch)
        )

    async def deliver_once(self) -> int:
        """Publish one batch of pending rows; return how many the stream acknowledged."""
        js = await self._link.jetstream()
        if self._db.is_sqlite:
            async with self._db.read() as session:
                rows = (await session.execute(self._pending())).all()
            if not rows:
                return 0
            acked = await self._publish(js, rows)
            async with self._db.write() as session:
                await self._mark(session, acked)
            return len(acked)
        async with self._db.write() as session:
            claim = self._pending().with_for_update(skip_locked=True)
            rows = (await session.execute(claim)).all()
            if not rows:
                return 0
            acked = await self._publish(js, rows)
            await self._mark(session, acked)
        return len(acked)

    async def _publish(self, js: JetStreamContext, rows: Sequence[PendingRow]) -> list[int]:
        """Publish rows in order without waiting for each ack; return the ids acknowledged."""
        timeout = self._link.settings.jetstream_api_timeout_seconds
        futures: list[tuple[int, asyncio.Future[PubAck]]] = []
        for row_id, event_id, event_type, body in rows:
            assert row_id is not None  # A stored row always has its id.
            future = await js.publish_async(
                subject_for(event_type), body, wait_stall=timeout,
                headers={MSG_ID_HEADER: event_id},
            )
            futures.append((row_id, future))
        _, late = await asyncio.wait([f for _, f in futures], timeout=timeout)
        for future in late:
            future.cancel()
        acked: list[int] = []
        for row_id, future in futures:
            if future.cancelled() or future.exception() is not None:
                continue
            if future.result().duplicate:
                self.duplicates += 1
            acked.append(row_id)
        if len(acked) < len(futures):
            failed = next(f for _, f in futures if f.cancelled() or f.exception() is not None)
            reason = "timeout" if failed.cancelled() else repr(failed.exception())
            log.warning("publishes not acknowledged", events=len(futures) - len(acked),
                        error=reason[:200])
        return acked

    async def _mark(self, session: AsyncSession, ids: list[int]) -> None:
        if not ids:
            return
        await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(ids))
            .values(delivered_time=datetime.now(UTC), attempts=col(OutboxMessage.attempts) + 1)
        )
        self.delivered += len(ids)

    async def purge_delivered(self, *, now: datetime | None = None) -> int:
        """Delete rows published longer ago than the retention period."""
        cutoff = (now or datetime.now(UTC)).astimezone(UTC) - DELIVERED_RETENTION
        async with self._db.write() as session:
            result = await session.execute(
                delete(OutboxMessage).where(col(OutboxMessage.delivered_time) < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)
