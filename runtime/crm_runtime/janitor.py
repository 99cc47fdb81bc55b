"""Periodic housekeeping: expired idempotency records and long-delivered outbox rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from crm_runtime.db import Database
from crm_runtime.idempotency import purge_expired
from crm_runtime.logging import get_logger
from crm_runtime.outbox_relay import Relay

log = get_logger("janitor")

DEFAULT_INTERVAL_SECONDS = 3600.0


async def purge_once(database: Database, relay: Relay | None) -> tuple[int, int]:
    """Purge once; return (idempotency records, outbox rows) removed."""
    async with database.write() as session:
        records = await purge_expired(session)
    rows = await relay.purge_delivered() if relay is not None else 0
    return records, rows


def janitor(
    database: Database, relay: Relay | None, *, interval: float = DEFAULT_INTERVAL_SECONDS
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Return a background coroutine function that purges every `interval` seconds."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                records, rows = await purge_once(database, relay)
            except Exception as exc:
                log.warning("purge failed", error=type(exc).__name__)
                continue
            if records or rows:
                log.info("purged", idempotency_records=records, outbox_rows=rows)

    return run
