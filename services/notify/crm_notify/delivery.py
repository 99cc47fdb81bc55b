"""Delivery worker: claims due messages in batches, hands them to providers, records outcomes.

A claim is a lease: the claiming transaction moves the messages' next_attempt_time one lease
ahead, so a worker that dies mid-send leaves them to be claimed again when the lease ends
(FOR UPDATE SKIP LOCKED keeps PostgreSQL replicas off each other's rows). A crash between a
provider's acceptance and the recorded outcome therefore sends again with the same
idempotency key, which receivers dedupe on: at least once on the wire, once in effect.

Deferred push and task messages are "delivered" here by releasing them: a push message gets
its sequence number, a task message files its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_notify.channels.result import SendResult
from crm_notify.context import NotifyContext
from crm_notify.enqueue import MESSAGE_TABLE, TASK_TABLE, Outgoing, allocate_sequences, task_row
from crm_notify.models import AttemptRow
from crm_notify.senders import ChannelSenders
from crm_runtime.logging import get_logger

log = get_logger("delivery")

ATTEMPT_TABLE = AttemptRow.__table__  # type: ignore[attr-defined]
_UPDATE_COLUMNS = (
    "state",
    "attempt_count",
    "next_attempt_time",
    "last_error",
    "provider_message_id",
    "deliver_time",
    "update_time",
)
_CONFIRMED_ON_ACCEPT = frozenset({"sms", "chat"})


@dataclass
class DeliveryCounters:
    """Totals since start, for tests and logs."""

    attempts: int = 0
    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0
    expired: int = 0
    released: int = 0


class DeliveryWorker:
    """Background task delivering provider messages and releasing deferred ones."""

    def __init__(self, ctx: NotifyContext, senders: ChannelSenders) -> None:
        self.ctx = ctx
        self.senders = senders
        self.counters = DeliveryCounters()
        self._limit = asyncio.Semaphore(ctx.settings.delivery_concurrency)

    async def run(self) -> None:
        """Deliver until cancelled; sleep until woken or the poll interval passes."""
        interval = self.ctx.settings.delivery_interval_seconds
        while True:
            try:
                moved = await self.run_once()
            except Exception as exc:  # Keep delivering after a store or provider surprise.
                log.error("delivery pass failed", exc_info=exc)
                moved = 0
                await asyncio.sleep(interval)
            if moved:
                continue
            self.ctx.delivery_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ctx.delivery_wakeup.wait(), timeout=interval)

    async def run_once(self) -> int:
        """Claim and process one batch; return how many messages it held."""
        now = self.ctx.clock()
        claimed = await self._claim(now)
        if not claimed:
            return 0
        releases = [r for r in claimed if r.channel in ("push", "task")]
        expired = [r for r in claimed if r.channel not in ("push", "task") and r.expire_time <= now]
        expired_ids = {r.seq for r in expired}
        sends = [
            r for r in claimed if r.channel not in ("push", "task") and r.seq not in expired_ids
        ]
        results = await asyncio.gather(*(self._send(r) for r in sends))
        pushed = await self._record(releases, expired, list(zip(sends, results, strict=True)))
        if pushed:
            self.ctx.hub.notify(pushed)
        return len(claimed)

    async def _send(self, row: Row[Any]) -> SendResult:
        async with self._limit:
            try:
                return await self.senders.send(row)
            except Exception as exc:  # An adapter bug must not lose the message: retry it.
                log.error("channel adapter raised", channel=row.channel, exc_info=exc)
                return SendResult(False, None, retryable=True, error=f"internal: {exc}"[:300])

    async def _claim(self, now: datetime) -> list[Row[Any]]:
        lease = now + timedelta(seconds=self.ctx.settings.delivery_lease_seconds)
        async with self.ctx.db.write() as session:
            statement = (
                select(MESSAGE_TABLE)
                .where(
                    MESSAGE_TABLE.c.state == "queued",
                    MESSAGE_TABLE.c.next_attempt_time <= now,
                )
                .order_by(MESSAGE_TABLE.c.next_attempt_time, MESSAGE_TABLE.c.seq)
                .limit(self.ctx.settings.delivery_batch_size)
            )
            if session.get_bind().dialect.name == "postgresql":
                statement = statement.with_for_update(skip_locked=True)
            rows = list((await session.execute(statement)).all())
            if rows:
                await session.execute(
                    update(MESSAGE_TABLE)
                    .where(MESSAGE_TABLE.c.seq.in_([r.seq for r in rows]))
                    .values(next_attempt_time=lease)
                )
        return rows

    async def _record(
        self,
        releases: list[Row[Any]],
        expired: list[Row[Any]],
        outcomes: list[tuple[Row[Any], SendResult]],
    ) -> set[str]:
        now = self.ctx.clock()
        updates: list[dict[str, Any]] = []
        attempts: list[dict[str, Any]] = []
        for row in expired:
            updates.append(_changes(row, state="expired", now=now, error="time to live elapsed"))
            attempts.append(_attempt(row, "expired", now, "time to live elapsed"))
            self.counters.expired += 1
        for row, result in outcomes:
            change, attempt = self._outcome(row, result, now)
            updates.append(change)
            attempts.append(attempt)
        async with self.ctx.db.write() as session:
            pushed = await self._release(session, releases, now)
            if updates:
                await session.execute(
                    update(MESSAGE_TABLE)
                    .where(MESSAGE_TABLE.c.seq == bindparam("b_seq"))
                    .values({c: bindparam(f"b_{c}") for c in _UPDATE_COLUMNS}),
                    updates,
                )
            if attempts:
                await session.execute(insert(ATTEMPT_TABLE), attempts)
        return pushed

    def _outcome(
        self, row: Row[Any], result: SendResult, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self.counters.attempts += 1
        if result.accepted:
            state = "delivered" if row.channel in _CONFIRMED_ON_ACCEPT else "sent"
            self.counters.delivered += 1
            change = _changes(row, state=state, now=now, provider=result.provider_message_id or "")
            change["b_deliver_time"] = now
            return change, _attempt(row, state, now, "", result.provider_message_id or "")
        error = (result.error or "failed")[:500]
        outcome = self.ctx.retry_policy.after_failure(
            attempt=row.attempt_count + 1,
            now=now,
            created=row.create_time,
            retryable=result.retryable,
            rng=self.ctx.rng,
        )
        self.counters.failed += 1
        if outcome.kind == "retry" and outcome.at is not None:
            at = outcome.at
            if result.retry_after_s is not None:
                at = max(at, now + timedelta(seconds=result.retry_after_s))
            change = _changes(row, state="queued", now=now, error=error)
            change["b_next_attempt_time"] = at
            return change, _attempt(row, "failed", now, error)
        if outcome.kind == "dead_letter":
            self.counters.dead_lettered += 1
        else:
            self.counters.expired += 1
        final = "dead_letter" if outcome.kind == "dead_letter" else "expired"
        detail = f"{error} ({outcome.reason})"
        return _changes(row, state=final, now=now, error=detail), _attempt(
            row, "failed", now, error
        )

    async def _release(
        self, session: AsyncSession, rows: list[Row[Any]], now: datetime
    ) -> set[str]:
        """Give deferred push messages their sequence and file deferred tasks."""
        if not rows:
            return set()
        pushes = sorted((r for r in rows if r.channel == "push"), key=lambda r: r.seq)
        first = await allocate_sequences(session, Counter(r.recipient for r in pushes))
        for row in pushes:
            await session.execute(
                update(MESSAGE_TABLE)
                .where(MESSAGE_TABLE.c.seq == row.seq)
                .values(sequence=first[row.recipient], next_attempt_time=None, update_time=now)
            )
            first[row.recipient] += 1
        for row in (r for r in rows if r.channel == "task"):
            extra = json.loads(row.extra_json)
            due = datetime.fromisoformat(extra["task_due"]) if "task_due" in extra else None
            item = Outgoing(
                recipient=row.recipient,
                category=row.category,
                urgency=row.urgency,
                locale=row.locale,
                subject=row.subject,
                body=row.body,
                template=row.template,
                channels=["task"],
                alert=row.alert,
                client=extra.get("client", ""),
                task_due=due,
            )
            await session.execute(insert(TASK_TABLE), [task_row(item, row.id, now=now)])
            await session.execute(
                update(MESSAGE_TABLE)
                .where(MESSAGE_TABLE.c.seq == row.seq)
                .values(
                    state="delivered", deliver_time=now, next_attempt_time=None, update_time=now
                )
            )
        self.counters.released += len(rows)
        return {r.recipient for r in pushes}


def _changes(
    row: Row[Any], *, state: str, now: datetime, error: str = "", provider: str = ""
) -> dict[str, Any]:
    return {
        "b_seq": row.seq,
        "b_state": state,
        "b_attempt_count": row.attempt_count + 1,
        "b_next_attempt_time": None,
        "b_last_error": error or row.last_error,
        "b_provider_message_id": provider or row.provider_message_id,
        "b_deliver_time": row.deliver_time,
        "b_update_time": now,
    }


def _attempt(
    row: Row[Any], state: str, now: datetime, error: str, provider: str = ""
) -> dict[str, Any]:
    return {
        "message_seq": row.seq,
        "attempt_number": row.attempt_count + 1,
        "state": state,
        "error": error,
        "provider_message_id": provider,
        "attempt_time": now,
    }
