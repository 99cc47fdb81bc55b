"""Background escalation of unacknowledged warning alerts, on the service clock."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import col

from crm_notify.context import NotifyContext
from crm_notify.models import AlertRow
from crm_notify.warning_flow import escalate
from crm_runtime.logging import get_logger

log = get_logger("escalation")
BATCH = 100


class Escalator:
    """Fires due escalation steps; one transaction per alert."""

    def __init__(self, ctx: NotifyContext) -> None:
        self.ctx = ctx
        self.fired = 0

    async def run(self) -> None:
        """Escalate until cancelled."""
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # Keep escalating after a surprise; steps are idempotent.
                log.error("escalation pass failed", exc_info=exc)
            await asyncio.sleep(self.ctx.settings.escalation_interval_seconds)

    async def run_once(self) -> int:
        """Fire every step due now; return how many fired."""
        now = self.ctx.clock()
        async with self.ctx.db.read() as session:
            due = list(
                (
                    await session.execute(
                        select(col(AlertRow.seq))
                        .where(col(AlertRow.state) == "open", col(AlertRow.next_step_time) <= now)
                        .order_by(col(AlertRow.next_step_time))
                        .limit(BATCH)
                    )
                ).scalars()
            )
        fired = 0
        for seq in due:
            async with self.ctx.db.write() as session:
                alert = await session.get(AlertRow, seq)
                # Re-checked inside the write: it may have been acknowledged meanwhile.
                if alert is None or alert.state != "open":
                    continue
                steps = await escalate(session, self.ctx, alert, now)
            for step in steps:
                log.info(
                    "alert escalated", alert=alert.id, step=step.step_no, role=step.target_role
                )
            fired += len(steps)
        self.fired += fired
        return fired
