"""Delivers outbox rows to subscribers over gRPC, in order, with retries and backoff.

Rows are marked delivered only after the subscriber confirmed; a crash in between means the
same events are sent again, which the subscriber's inbox turns into no-ops (at least once on
the wire, once in effect). Backoff is per subscriber so a later event never overtakes an
earlier one that is waiting for a retry.

Each subscriber is served by its own task: a subscriber that hangs (a stopped process answers
nothing until the call's deadline) holds back only its own events. Before, subscribers were
served one after another and a stalled client service delayed notify's alerts by seconds.

Several replicas of a service share one PostgreSQL store, and so one outbox. A relay serves a
subscriber only while it holds that subscriber's claim: a transaction-scoped advisory lock held
from reading the rows, across the send, until they are marked delivered. Another replica
skips a claimed subscriber and looks again shortly, so each row is sent by one relay and the
subscriber still receives its events in order (claiming rows with SKIP LOCKED would let a
second relay send later rows while the first still sends earlier ones). SQLite has one process
per store, so there the rows are read, sent and marked without holding the write transaction.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
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
# How soon a relay looks again at a subscriber another replica is serving: the other relay
# may have read just before our commit and be about to let go.
CLAIMED_RETRY_SECONDS = 0.05
_CLAIM_NAMESPACE = "crm-outbox-relay"


def _int32(value: str) -> int:
    """Return a stable signed 32-bit key for `value` (advisory locks take two int4 keys)."""
    digest = zlib.crc32(value.encode())
    return digest - 2**32 if digest >= 2**31 else digest


@dataclass
class _Subscriber:
    name: str
    stub: event_pb2_grpc.EventSinkServiceStub
    channel: grpc.aio.Channel
    claim_key: int
    failures: int = 0
    next_attempt: float = 0.0


@dataclass
class RelayCounters:
    """Why idle relay loops woke up: a commit's signal or the poll interval running out."""

    signal_wakeups: int = 0
    poll_wakeups: int = 0
    # Passes that found the subscriber claimed by another replica's relay.
    claimed_elsewhere: int = 0


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
        delivery_timeout: float = DELIVERY_TIMEOUT_SECONDS,
    ) -> None:
        self._db = database
        self._outbox = outbox
        self._signer = signer
        self._interval = interval
        self._batch = batch_size
        self._delivery_timeout = delivery_timeout
        self._subscribers = {
            name: _Subscriber(
                name,
                event_pb2_grpc.EventSinkServiceStub(channel),
                channel,
                _int32(f"{outbox.source}/{name}"),
            )
            for name, channel in ((n, open_channel(a)) for n, a in addresses.items())
        }
        self._stopping = asyncio.Event()
        self._claim_namespace = _int32(_CLAIM_NAMESPACE)
        self.delivered = 0
        self.counters = RelayCounters()

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if self._signer is None:
            return ()
        token = self._signer.mint(f"systems/{self._outbox.source}-relay", [Role.SYSTEM])
        return ((IDENTITY_METADATA_KEY, token),)

    async def run(self) -> None:
        """Serve every subscriber in its own task until stop() is called; then drain once."""
        if not self._subscribers:
            await self._stopping.wait()
            return
        async with asyncio.TaskGroup() as group:
            for sub in self._subscribers.values():
                group.create_task(self._serve(sub, self._outbox.watch()))
        await self.deliver_once()

    async def _serve(self, sub: _Subscriber, wake: asyncio.Event) -> None:
        """Deliver to one subscriber whenever a commit wakes us or the interval passes.

        A pass that fails on the store (PostgreSQL restarting) is logged and retried with
        backoff: before, the exception ended the task and the service never delivered another
        event until it was restarted (found by the chaos suite's PostgreSQL restart).
        """
        loop = asyncio.get_running_loop()
        store_failures = 0
        while not self._stopping.is_set():
            backoff = sub.next_attempt - loop.time()
            if backoff > 0:
                # A failing subscriber is retried on its own schedule, not on every commit.
                await self._pause(backoff)
                continue
            # Cleared before reading, so a commit landing during the pass wakes the next wait.
            wake.clear()
            try:
                moved = await self._deliver_to(sub)
            except Exception:
                store_failures += 1
                delay = min(MAX_BACKOFF_SECONDS, self._interval * 2**store_failures)
                log.error("relay pass failed", subscriber=sub.name, failures=store_failures,
                          retry_in_s=round(delay, 2), exc_info=True)
                await self._pause(delay)
                continue
            store_failures = 0
            if moved is None:
                self.counters.claimed_elsewhere += 1
                await self._pause(min(self._interval, CLAIMED_RETRY_SECONDS))
            elif not moved:
                await self._idle(wake)

    async def _idle(self, wake: asyncio.Event) -> None:
        try:
            # asyncio.timeout, not wait_for: no extra task per wait.
            async with asyncio.timeout(self._interval):
                await wake.wait()
        except TimeoutError:
            self.counters.poll_wakeups += 1
        else:
            self.counters.signal_wakeups += 1

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the relay is asked to stop."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass

    async def stop(self) -> None:
        """Ask the subscriber loops to finish; run() then makes one last pass (drain)."""
        self._stopping.set()
        self._outbox.wake()

    async def close(self) -> None:
        """Close subscriber channels."""
        for sub in self._subscribers.values():
            await sub.channel.close()

    async def deliver_once(self) -> int:
        """Deliver one batch to each subscriber that is due, concurrently; return how many."""
        now = asyncio.get_running_loop().time()
        due = [sub for sub in self._subscribers.values() if sub.next_attempt <= now]
        moved = await asyncio.gather(*(self._deliver_to(sub) for sub in due))
        return sum(n or 0 for n in moved)

    async def _deliver_to(self, sub: _Subscriber) -> int | None:
        """Send the subscriber's oldest pending batch; return how many were delivered, or None
        when another replica's relay holds the subscriber's claim."""
        if self._db.is_sqlite:
            async with self._db.read() as session:
                rows = await self._pending(session, sub)
            if not rows:
                return 0
            error = await self._send(sub, rows)
            async with self._db.write() as session:
                return await self._settle(session, sub, [row_id for row_id, _ in rows], error)
        async with self._db.write() as session:
            if not await self._claim(session, sub):
                return None
            rows = await self._pending(session, sub)
            if not rows:
                return 0
            error = await self._send(sub, rows)
            return await self._settle(session, sub, [row_id for row_id, _ in rows], error)

    async def _claim(self, session: AsyncSession, sub: _Subscriber) -> bool:
        """Take the subscriber's claim for this transaction; False if another relay has it."""
        result = await session.execute(
            text("SELECT pg_try_advisory_xact_lock(:namespace, :key)"),
            {"namespace": self._claim_namespace, "key": sub.claim_key},
        )
        return bool(result.scalar_one())

    async def _pending(self, session: AsyncSession, sub: _Subscriber) -> list[tuple[int, bytes]]:
        rows = (
            await session.execute(
                select(col(OutboxMessage.id), col(OutboxMessage.envelope))
                .where(col(OutboxMessage.subscriber) == sub.name)
                .where(col(OutboxMessage.delivered_time).is_(None))
                .order_by(col(OutboxMessage.id))
                .limit(self._batch)
            )
        ).all()
        return [(row_id, body) for row_id, body in rows if row_id is not None]

    async def _send(self, sub: _Subscriber, rows: Sequence[tuple[int, bytes]]) -> str | None:
        """Send one DeliverEvents call; return None on success, else the error."""
        request = event_pb2.DeliverEventsRequest()
        for _, body in rows:
            request.events.add().ParseFromString(body)
        try:
            await sub.stub.DeliverEvents(
                request, timeout=self._delivery_timeout, metadata=self._metadata()
            )
        except grpc.aio.AioRpcError as exc:
            return f"{exc.code().name}: {exc.details()}"
        return None

    async def _settle(
        self, session: AsyncSession, sub: _Subscriber, ids: list[int], error: str | None
    ) -> int:
        """Mark the sent rows delivered, or record the failure and back off; return how many
        were delivered."""
        if error is not None:
            self._back_off(sub, len(ids), error)
            await session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == ids[0])
                .values(attempts=col(OutboxMessage.attempts) + 1, last_error=error[:500])
            )
            return 0
        await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(ids))
            .values(delivered_time=datetime.now(UTC), attempts=col(OutboxMessage.attempts) + 1)
        )
        sub.failures = 0
        sub.next_attempt = 0.0
        self.delivered += len(ids)
        return len(ids)

    def _back_off(self, sub: _Subscriber, events: int, error: str) -> None:
        sub.failures += 1
        # Full jitter keeps many relays from retrying a recovering subscriber in lockstep.
        delay = random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.2 * 2**sub.failures))  # noqa: S311
        sub.next_attempt = asyncio.get_running_loop().time() + delay
        log.warning(
            "event delivery failed",
            subscriber=sub.name,
            events=events,
            failures=sub.failures,
            retry_in_s=round(delay, 2),
            error=error[:200],
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
