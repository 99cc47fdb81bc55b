"""Database: durable SQLite settings on every connection, immediate writes, readers not blocked."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_runtime.db import SQLITE_BUSY_TIMEOUT_MS, Database

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
# journal_mode, synchronous (2 = FULL), busy_timeout, foreign_keys.
DURABLE = ("wal", 2, SQLITE_BUSY_TIMEOUT_MS, 1)

PRAGMAS = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")


async def _pragmas(conn: AsyncConnection) -> tuple[object, ...]:
    values = []
    for name in PRAGMAS:
        values.append((await conn.exec_driver_sql(f"PRAGMA {name}")).scalar())
    return tuple(values)


def _path(url: str) -> Path:
    return Path(str(make_url(url).database))


@pytest.fixture
async def database(sqlite_url):
    """A SQLite Database with one table, disposed afterwards."""
    db = Database(sqlite_url)
    async with db.write_engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE item (id INTEGER PRIMARY KEY, label TEXT)")
        await conn.exec_driver_sql("INSERT INTO item (id, label) VALUES (1, 'first')")
    yield db
    await db.dispose()


class TestSqlitePragmas:
    async def test_every_read_pool_connection(self, database):
        """All read connections, opened at once, are WAL, FULL, busy_timeout 5000, FKs on."""
        async with contextlib.AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(database.read_engine.connect())
                     for _ in range(4)]
            raw = {id((await c.get_raw_connection()).driver_connection) for c in conns}
            values = await asyncio.gather(*(_pragmas(c) for c in conns))
        assert len(raw) == 4
        assert values == [DURABLE] * 4

    async def test_write_pool_connection(self, database):
        """The write connection has the same durability settings."""
        async with database.write_engine.connect() as conn:
            assert await _pragmas(conn) == DURABLE

    async def test_sessions_concurrently(self, database):
        """Sessions from read() and write(), many at once, all see the durable settings."""
        async def through_read() -> tuple[object, ...]:
            async with database.read() as session:
                values = await _pragmas(await session.connection())
                await asyncio.sleep(0.02)  # Hold the connection so the pool must open others.
                return values

        async def through_write() -> tuple[object, ...]:
            async with database.write() as session:
                return await _pragmas(await session.connection())

        results = await asyncio.gather(*(through_read() for _ in range(8)),
                                       *(through_write() for _ in range(3)))
        assert results == [DURABLE] * 11

    async def test_fast_reader_connection(self, database):
        """The single-row fast path reads through a connection with the same settings."""
        values = []
        for name in PRAGMAS:
            row = await database.fetch_one(text(f"PRAGMA {name}"))
            assert row is not None
            values.append(row[0])
        assert tuple(values) == DURABLE
        row = await database.fetch_one(text("SELECT label FROM item WHERE id = 1"))
        assert row is not None
        assert row[0] == "first"


class TestSqliteTransactions:
    async def test_write_transaction_takes_the_write_lock_at_begin(self, database, sqlite_url):
        """A write() transaction holds the write lock from BEGIN, even before it writes."""
        async with database.write() as session:
            await session.execute(text("SELECT 1"))
            other = sqlite3.connect(_path(sqlite_url), timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()

    async def test_readers_not_blocked_by_open_write(self, database):
        """While a write is open and uncommitted, reads answer at once with the old snapshot."""
        async def count() -> int:
            async with database.read() as session:
                return int((await session.execute(text("SELECT count(*) FROM item"))).scalar_one())

        async with database.write() as session:
            await session.execute(text("INSERT INTO item (id, label) VALUES (2, 'second')"))
            started = time.monotonic()
            assert await asyncio.wait_for(count(), timeout=2) == 1
            assert time.monotonic() - started < 1
        assert await count() == 2

    async def test_write_rolls_back_on_error(self, database):
        """An exception inside write() leaves no trace of the transaction."""
        with pytest.raises(RuntimeError):
            async with database.write() as session:
                await session.execute(text("INSERT INTO item (id, label) VALUES (3, 'lost')"))
                raise RuntimeError("abort")
        async with database.read() as session:
            rows = (await session.execute(text("SELECT id FROM item ORDER BY id"))).all()
        assert [r[0] for r in rows] == [1]


class TestPing:
    async def test_sqlite_answers(self, database):
        """A SQLite store answers the ping."""
        assert await database.ping() is True

    async def test_unreachable_postgres(self):
        """An unreachable PostgreSQL server makes ping return False, quickly."""
        db = Database(UNREACHABLE_POSTGRES)
        try:
            started = time.monotonic()
            assert await db.ping() is False
            assert time.monotonic() - started < 3
        finally:
            await db.dispose()

    @pytest.mark.postgres
    async def test_postgres_answers(self, store_url):
        """A live store on either backend answers the ping."""
        db = Database(store_url)
        try:
            assert await db.ping() is True
        finally:
            await db.dispose()

    async def test_creates_sqlite_folder(self, tmp_path):
        """A SQLite URL in a folder that does not exist yet still works."""
        db = Database(f"sqlite+aiosqlite:///{tmp_path}/deep/er/store.db")
        try:
            assert await db.ping() is True
            assert (tmp_path / "deep" / "er" / "store.db").exists()
        finally:
            await db.dispose()


SLOW_COUNT = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000) "
    "SELECT count(*) FROM n"
)


class TestSettleWrites:
    """Shutdown waits for open write transactions before it cancels background tasks."""

    async def test_a_stop_hook_writes_after_a_busy_background_writer(self, database):
        """A background task writing slow transactions in a loop; each round settles, cancels
        it and writes as a stop hook would: never "database is locked" (without settling, a
        task cancelled inside its statement intermittently left the lock held for > 5 s)."""

        async def busy_writer() -> None:
            while True:
                async with database.write() as session:
                    await session.execute(text(SLOW_COUNT))

        for _ in range(5):
            task = asyncio.create_task(busy_writer())
            await asyncio.sleep(0.05)
            async with database.writes_paused(10.0) as settled:
                assert settled
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            started = time.perf_counter()
            async with database.write() as session:
                await session.execute(text("SELECT 1"))
            assert time.perf_counter() - started < SQLITE_BUSY_TIMEOUT_MS / 1000

    async def test_reports_a_write_still_open_at_the_deadline(self, database):
        """A transaction held past the deadline: the pause reports it instead of hanging, and
        a write arriving meanwhile waits for the pause to end."""
        release = asyncio.Event()

        async def holder() -> None:
            async with database.write() as session:
                await session.execute(text("SELECT 1"))
                await release.wait()

        async def late_writer() -> None:
            async with database.write() as session:
                await session.execute(text("SELECT 1"))

        task = asyncio.create_task(holder())
        await asyncio.sleep(0.05)
        async with database.writes_paused(0.2) as settled:
            assert not settled
            late = asyncio.create_task(late_writer())
            release.set()
            await task
            await asyncio.sleep(0.05)
            assert not late.done()
        await asyncio.wait_for(late, 5)
        async with database.writes_paused(0.2) as settled:
            assert settled
