"""A unary call cancelled while its handler writes (the caller's deadline passed, the caller or
the gateway went away) does not leave the store locked: the interceptor cancels the handler
only once it is out of its write transaction (`to_completion`, `cancel_outside_writes`), so
the writes after it succeed at once. Cancelled outside a write, a handler stops at once
(test_runtime_channels' deadline tests). Found by the
chaos suite: with the gateway SIGKILLed mid-call, the client service answered its next writes
INTERNAL "database is locked"."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from crm_runtime.db import SQLITE_BUSY_TIMEOUT_MS, Database
from crm_runtime.interceptors import to_completion

SLOW_COUNT = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) "
    "SELECT count(*) FROM n"
)


async def _cancel_mid_statement(
    database: Database, run: Callable[[Awaitable[Any]], Awaitable[Any]], label: int
) -> float:
    """Cancel a handler inside its slow statement; return how long the next write took."""

    async def handler() -> None:
        async with database.write() as session:
            await session.execute(text("INSERT INTO item (label) VALUES (:l)"), {"l": label})
            await session.execute(text(SLOW_COUNT))

    call = asyncio.ensure_future(run(handler()))
    await asyncio.sleep(0.05)
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    started = time.perf_counter()
    async with database.write() as session:
        await session.execute(text("INSERT INTO item (label) VALUES (-1)"))
    return time.perf_counter() - started


@pytest.fixture
async def database(sqlite_url):
    db = Database(sqlite_url)
    async with db.write() as session:
        await session.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, label INT)"))
    yield db
    await db.dispose()


async def test_a_handler_cancelled_mid_statement_leaves_no_lock_behind(database):
    """Five rounds: each next write is immediate, and each cancelled handler's own insert
    committed (its transaction finished before the cancellation took effect). Without
    `to_completion` the next write waited out the busy timeout and failed "database is
    locked" in most rounds (4 of 5 in one run)."""
    for label in range(5):
        took = await _cancel_mid_statement(database, to_completion, label)
        assert took < SQLITE_BUSY_TIMEOUT_MS / 1000 / 2
    await asyncio.sleep(1.0)  # The last handler finishes its statement and commits.
    async with database.read() as session:
        labels = (await session.execute(text("SELECT label FROM item WHERE label >= 0"))).all()
    assert sorted(row.label for row in labels) == [0, 1, 2, 3, 4]
