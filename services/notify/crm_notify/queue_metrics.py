"""Delivery queue depth and dead letters, sampled from the message table.

One grouped count every few seconds (METRICS_SAMPLE_SECONDS) over `ix_notify_due`
(state, next_attempt_time), limited to the two states it reports; the gauges answer scrapes
from the last sample. Messages in any other state (sent, delivered, expired) are not read.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from crm_notify.context import NotifyContext
from crm_notify.enqueue import MESSAGE_TABLE
from crm_runtime.metrics import Attributes, gauge, sample_every

_queued = gauge(
    "crm.notify.queue.depth",
    unit="{message}",
    description="Messages waiting for delivery (due now or waiting for a retry)",
)
_dead = gauge(
    "crm.notify.dead_letters",
    unit="{message}",
    description="Messages given up on after their last retry, kept for operators",
)
_REPORTED = ("queued", "dead_letter")


class DeliveryQueueGauges:
    """Counts queued and dead-lettered messages for the gauges."""

    def __init__(self, ctx: NotifyContext) -> None:
        self._ctx = ctx
        self.counts = dict.fromkeys(_REPORTED, 0)
        _queued.add(self._queued_values)
        _dead.add(self._dead_values)

    async def sample(self) -> None:
        """Count the messages in each reported state."""
        statement = (
            select(MESSAGE_TABLE.c.state, func.count())
            .where(MESSAGE_TABLE.c.state.in_(_REPORTED))
            .group_by(MESSAGE_TABLE.c.state)
        )
        async with self._ctx.db.read() as session:
            rows = (await session.execute(statement)).all()
        found = {str(state): int(count) for state, count in rows}
        self.counts = {state: found.get(state, 0) for state in _REPORTED}

    async def run(self) -> None:
        """Sample until cancelled."""
        await sample_every(self._ctx.settings.metrics_sample_seconds, self.sample, "notify-queue")

    def _queued_values(self) -> Iterable[tuple[float, Attributes]]:
        return ((float(self.counts["queued"]), {}),)

    def _dead_values(self) -> Iterable[tuple[float, Attributes]]:
        return ((float(self.counts["dead_letter"]), {}),)
