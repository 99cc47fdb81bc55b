"""Delivers outbox rows to subscribers over gRPC, in order, with retries and backoff.

Rows are marked delivered only after the subscriber confirmed; a crash in between means the
same events are sent again, which the subscriber's inbox turns into no-ops (at least once on
the wire, once in effect). Backoff is per subscriber so a later event never overtakes an
earlier one that is waiting for a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from sqlalchemy import delete, select, update
from sqlmodel import col

from crm.events.v1 import event_pb2, event_pb2_grpc
from crm_runtime.auth import IDENTITY_METADATA_KEY, Role, TokenSigner
from crm_runtime.channels import open_channel
from crm_runtime.db import Database
from crm_runtime.logging import get_logger
from crm_runtime.outbox import Outbox
from crm_runtime.tables import OutboxMessage

log = get_logger("outbox-relay")

DELIVERY_TIMEOUT_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 30.0
DELIVERED_RETENTION = timedelta(days=7)


@dataclass
class _Subscriber:
    name: str
    stub: event_pb2_grpc.EventSinkServiceStub
    channel: grpc.aio.Channel
    failures: int = 0
    next_attempt: float = 0.0


class Relay:
    """Background task that drains the outbox of one service."""

    def __init__(
        self,
        *,
        database: Database,
        outbox: Outbox,
        addresses: Mapping[str, str],
        signer: TokenSigner | None,
        interval: float = 0.2,
        batch_size: int = 200,
    ) -> None:
        self._db = database
        self._outbox = outbox
        self._signer = signer
        self._interval = interval
        self._batch = batch_size
        self._subscribers = {
            name: _Subscriber(name, event_pb2_grpc.EventSinkServiceStub(ch), ch)
            for name, ch in ((n, open_channel(a)) for n, a in addresses.items())
        }
        self._stopping = asyncio.Event()
        self.delivered = 0

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if self._signer is None:
            return ()
        token = self._signer.mint(f"systems/{self._outbox.source}-relay", [Role.SYSTEM])
        return ((IDENTITY_METADATA_KEY, token),)

    async def run(self) -> None:
        """Deliver until stop() is called; then make one last pass (drain).

        A pass that fails on the store (PostgreSQL restarting) is logged and retried with
        backoff: before, the exception ended the task and the service never delivered another
        event until it was restarted (found by the chaos suite's PostgreSQL restart).
        """
        store_failures = 0
        while not self._stopping.is_set():
            try:
                moved = await self.deliver_once()
            except Exception:
                store_failures += 1
                delay = min(MAX_BACKOFF_SECONDS, self._interval * 2**store_failures)
                log.error("relay pass failed", failures=store_failures,
                          retry_in_s=round(delay, 2), exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                continue
            store_failures = 0
            if moved:
                continue
            self._outbox.pending.clear()
            waiter = asyncio.ensure_future(self._outbox.pending.wait())
            stopper = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait(
                {waiter, stopper}, timeout=self._interval, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            stopper.cancel()
        await self.deliver_once()

    async def stop(self) -> None:
        """Ask the loop to finish after a final drain, and close channels."""
        self._stopping.set()

    async def close(self) -> None:
        """Close subscriber channels."""
        for sub in self._subscribers.values():
            await sub.channel.close()

    async def deliver_once(self) -> int:
        """Deliver one batch to each subscriber that is due; return how many were delivered."""
        total = 0
        loop = asyncio.get_running_loop()
        for sub in self._subscribers.values():
            if sub.next_attempt > loop.time():
                continue
            total += await self._deliver_to(sub)
        return total

    async def _deliver_to(self, sub: _Subscriber) -> int:
        async with self._db.read() as session:
            rows = (
                await session.execute(
                    select(col(OutboxMessage.id), col(OutboxMessage.envelope))
                    .where(col(OutboxMessage.subscriber) == sub.name)
                    .where(col(OutboxMessage.delivered_time).is_(None))
                    .order_by(col(OutboxMessage.id))
                    .limit(self._batch)
                )
            ).all()
        if not rows:
            return 0
        request = event_pb2.DeliverEventsRequest()
        for _, body in rows:
            request.events.add().ParseFromString(body)
        ids: list[int] = [row_id for row_id, _ in rows if row_id is not None]
        try:
            await sub.stub.DeliverEvents(
                request, timeout=DELIVERY_TIMEOUT_SECONDS, metadata=self._metadata()
            )
        except grpc.aio.AioRpcError as exc:
            await self._record_failure(sub, ids, f"{exc.code().name}: {exc.details()}")
            return 0
        async with self._db.write() as session:
            await session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(ids))
                .values(delivered_time=datetime.now(UTC), attempts=col(OutboxMessage.attempts) + 1)
            )
        sub.failures = 0
        sub.next_attempt = 0.0
        self.delivered += len(ids)
        return len(ids)

    async def _record_failure(self, sub: _Subscriber, ids: list[int], error: str) -> None:
        sub.failures += 1
        # Full jitter keeps many relays from retrying a recovering subscriber in lockstep.
        delay = random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.2 * 2**sub.failures))  # noqa: S311
        sub.next_attempt = asyncio.get_running_loop().time() + delay
        log.warning(
            "event delivery failed",
            subscriber=sub.name,
            events=len(ids),
            failures=sub.failures,
            retry_in_s=round(delay, 2),
            error=error[:200],
        )
        async with self._db.write() as session:
            await session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == ids[0])
                .values(attempts=col(OutboxMessage.attempts) + 1, last_error=error[:500])
            )

    async def purge_delivered(self, *, now: datetime | None = None) -> int:
        """Delete rows delivered longer ago than the retention period."""
        # SQLite stores timestamps as UTC text without an offset, so compare in UTC there too.
        cutoff = (now or datetime.now(UTC)).astimezone(UTC) - DELIVERED_RETENTION
        async with self._db.write() as session:
            result = await session.execute(
                delete(OutboxMessage).where(col(OutboxMessage.delivered_time) < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)
