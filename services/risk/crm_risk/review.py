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
from crm_risk.rating.batch import commit_ratings, score_clients
from crm_runtime.logging import get_logger

log = get_logger("review")
ACTOR = "systems/risk-review"
BATCH = 500


async def review_once(ctx: RiskContext, *, limit: int = BATCH) -> int:
    """Re-rate up to `limit` clients that asked for it or are due; return how many.

    The chunk is rated as BatchRateClients rates (one read, one short write transaction);
    the pause after it leaves the store to the monitoring stream."""
    now = ctx.clock()
    async with ctx.db.read() as session:
        due = (await session.execute(
            select(col(ClientFactRow.client_id), col(ClientFactRow.rerate_requested))
            .where(col(ClientFactRow.industry_code) != "",
                   or_(col(ClientFactRow.rerate_requested).is_(True),
                       col(ClientFactRow.next_review_date) <= now.date()))
            .order_by(col(ClientFactRow.rerate_requested).desc(),
                      col(ClientFactRow.next_review_date))
            .limit(limit)
        )).all()
        if not due:
            return 0
        scored = await score_clients(
            session, {cid: "event" if requested else "periodic" for cid, requested in due},
            actor=ACTOR, now=now)
    for client_id in scored.missing:
        log.warning("re-rating skipped", client=client_id, reason="CLIENT_FACTS_MISSING")
    async with ctx.db.write() as session:
        await commit_ratings(session, ctx.outbox, scored.ratings, now=now,
                             contagion=Contagion.of(ctx.settings))
    busy = ctx.pipeline is not None and ctx.pipeline.busy()
    await asyncio.sleep(ctx.settings.review_busy_pause_seconds if busy
                        else ctx.settings.review_pause_seconds)
    return len(scored.ratings)


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
