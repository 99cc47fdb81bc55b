"""Outbox lag and backlog per subscriber: how far behind event delivery is.

A background loop counts the undelivered rows of each subscriber every few seconds
(METRICS_SAMPLE_SECONDS) and notes when the oldest of them was written; the lag gauge is
computed from that at collection time, so it keeps rising between samples while a subscriber
is down. Both queries walk `ix_outbox_pending` (subscriber, delivered_time, id) within one
subscriber's undelivered rows; the count stops at BACKLOG_COUNT_CAP so a huge backlog cannot
make the sample itself slow.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC

from sqlalchemy import func, select
from sqlmodel import col

from crm_runtime.db import Database
from crm_runtime.metrics import Attributes, gauge, sample_every
from crm_runtime.tables import OutboxMessage

BACKLOG_COUNT_CAP = 1_000_000

_lag = gauge(
    "crm.outbox.lag",
    unit="s",
    description="Age of the oldest event not yet delivered to the subscriber (0: none waiting)",
)
_backlog = gauge(
    "crm.outbox.backlog",
    unit="{event}",
    description="Events waiting for delivery to the subscriber (capped at 1,000,000)",
)


class OutboxGauges:
    """Samples one service's outbox and reports lag and backlog per subscriber."""

    def __init__(self, database: Database, source: str, subscribers: Iterable[str]) -> None:
        self._db = database
        self._attributes = {
            name: {"crm.source": source, "subscriber": name} for name in subscribers
        }
        # Per subscriber: undelivered rows and the epoch seconds of the oldest (None: none).
        self.backlog = dict.fromkeys(self._attributes, 0)
        self.oldest: dict[str, float | None] = dict.fromkeys(self._attributes)
        _lag.add(self._lag_values)
        _backlog.add(self._backlog_values)

    async def sample(self) -> None:
        """Count each subscriber's undelivered rows and find the oldest one."""
        for name in self._attributes:
            pending = (
                select(col(OutboxMessage.created_time))
                .where(col(OutboxMessage.subscriber) == name)
                .where(col(OutboxMessage.delivered_time).is_(None))
            )
            async with self._db.read() as session:
                oldest = (
                    await session.execute(pending.order_by(col(OutboxMessage.id)).limit(1))
                ).scalar_one_or_none()
                capped = pending.limit(BACKLOG_COUNT_CAP).subquery()
                count = (await session.execute(select(func.count()).select_from(capped))).scalar()
            self.backlog[name] = int(count or 0)
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)  # SQLite returns naive UTC.
            self.oldest[name] = oldest.timestamp() if oldest is not None else None

    async def run(self, interval: float) -> None:
        """Sample every `interval` seconds until cancelled."""
        await sample_every(interval, self.sample, "outbox")

    def _lag_values(self) -> Iterable[tuple[float, Attributes]]:
        now = time.time()
        for name, attributes in self._attributes.items():
            oldest = self.oldest[name]
            yield (max(0.0, now - oldest) if oldest is not None else 0.0), attributes

    def _backlog_values(self) -> Iterable[tuple[float, Attributes]]:
        for name, attributes in self._attributes.items():
            yield float(self.backlog[name]), attributes
