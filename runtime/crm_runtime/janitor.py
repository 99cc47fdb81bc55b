"""Periodic housekeeping: expired idempotency records, long-delivered outbox rows, and each
service's own purges (e.g. notify's delivered messages past retention).

Every service built with crm_runtime.kit runs the janitor: housekeeping is there by
construction, not by each service remembering to start it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_runtime.db import Database
from crm_runtime.event_transport import EventRelay
from crm_runtime.idempotency import purge_expired
from crm_runtime.logging import get_logger

log = get_logger("janitor")

DEFAULT_INTERVAL_SECONDS = 3600.0
# A service's own purge: delete what its retention rules allow as of `now`; return the count.
Purge = Callable[[AsyncSession, datetime], Awaitable[int]]


async def purge_once(database: Database, relay: EventRelay | None) -> tuple[int, int]:
    """Purge once; return (idempotency records, outbox rows) removed."""
    async with database.write() as session:
        records = await purge_expired(session)
    rows = await relay.purge_delivered() if relay is not None else 0
    return records, rows


async def run_purges(
    database: Database, purges: Sequence[Purge], *, now: datetime | None = None
) -> int:
    """Run a service's own purges, each in its own transaction; return the rows removed."""
    removed = 0
    for purge in purges:
        async with database.write() as session:
            removed += await purge(session, now or datetime.now(UTC))
    return removed


def janitor(
    database: Database,
    relay: EventRelay | None,
    *,
    interval: float = DEFAULT_INTERVAL_SECONDS,
    purges: Sequence[Purge] = (),
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Return a background coroutine function that purges every `interval` seconds."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                records, rows = await purge_once(database, relay)
                own = await run_purges(database, purges)
            except Exception as exc:
                log.warning("purge failed", error=type(exc).__name__)
                continue
            if records or rows or own:
                log.info("purged", idempotency_records=records, outbox_rows=rows, own_rows=own)

    return run
