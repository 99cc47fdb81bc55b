"""The review task: periodic re-rating when a client's review is due, and event-triggered
re-rating when a red or orange warning, an NPL classification or a new statement asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import or_, select
from sqlmodel import col

from crm_risk.context import RiskContext
from crm_risk.groups.contagion import Contagion
from crm_risk.models import ClientFactRow
from crm_risk.rating.rate import rate_client
from crm_runtime.errors import DomainError
from crm_runtime.logging import get_logger

log = get_logger("review")
ACTOR = "systems/risk-review"
BATCH = 100


async def review_once(ctx: RiskContext, *, limit: int = BATCH) -> int:
    """Re-rate up to `limit` clients that asked for it or are due; return how many."""
    today = ctx.clock().date()
    async with ctx.db.read() as session:
        due = (await session.execute(
            select(col(ClientFactRow.client_id), col(ClientFactRow.rerate_requested))
            .where(col(ClientFactRow.industry_code) != "",
                   or_(col(ClientFactRow.rerate_requested).is_(True),
                       col(ClientFactRow.next_review_date) <= today))
            .order_by(col(ClientFactRow.rerate_requested).desc(),
                      col(ClientFactRow.next_review_date))
            .limit(limit)
        )).all()
    rated = 0
    for client_id, requested in due:
        try:
            await rate_client(ctx.db, ctx.outbox, client_id,
                              trigger="event" if requested else "periodic", actor=ACTOR,
                              now=ctx.clock(), contagion=Contagion.of(ctx.settings))
            rated += 1
        except DomainError as exc:
            log.warning("re-rating skipped", client=client_id, reason=exc.reason)
        busy = ctx.pipeline is not None and ctx.pipeline.busy()
        await asyncio.sleep(ctx.settings.review_busy_pause_seconds if busy
                            else ctx.settings.review_pause_seconds)
    return rated


async def review_loop(ctx: RiskContext) -> None:
    """Run reviews forever: on every wake-up and at the configured interval."""
    while True:
        try:
            while await review_once(ctx) == BATCH:
                pass
        except Exception:
            log.error("review pass failed", exc_info=True)
        ctx.review_wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.review_wakeup.wait(),
                                   timeout=ctx.settings.review_interval_seconds)
