"""Async database access: SQLite by default (WAL, synchronous=FULL), PostgreSQL in production.

SQLite allows one writer at a time. Write transactions therefore start with BEGIN IMMEDIATE
on a single pooled connection (no SQLITE_BUSY half-way through a transaction), while reads use
a separate pool with deferred transactions so they never queue behind writes.

Hot single-row reads (`fetch_one`) skip the ORM session. On SQLite they run on one long-lived,
query-only connection inside the event loop: an indexed lookup takes tens of microseconds,
less than the thread hand-offs of the async driver would cost, and WAL readers never wait for
writers. On PostgreSQL they go through the async driver as Core statements.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, Row, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from crm_runtime.errors import Aborted

SQLITE_BUSY_TIMEOUT_MS = 5000

# Tasks inside a write transaction, and those of them whose cancellation waits until it ends
# (see cancel_outside_writes).
_writing: set[asyncio.Task[Any]] = set()
_cancel_after_write: set[asyncio.Task[Any]] = set()


def cancel_outside_writes(task: asyncio.Task[Any]) -> None:
    """Cancel `task` now or, if it is inside a write transaction, as soon as that ends.

    Cancelled inside one of the driver's statements, a task leaves its connection behind with
    the transaction still open (the driver's thread finishes the statement on its own), and on
    SQLite every later writer then waits out the busy timeout. A call past its deadline
    therefore finishes the transaction it is in (committing or rolling back) and stops there.
    """
    if task in _writing:
        _cancel_after_write.add(task)
    else:
        task.cancel()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Durability settings are per connection, so they are set on every new one."""
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it otherwise).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _make_sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=False)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


class Database:
    """A service's store: one write path and one read path."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = _make_sqlite_engine(url, immediate=True, pool_size=1)
            self.read_engine = _make_sqlite_engine(url, immediate=False, pool_size=4)
        else:
            self.write_engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.read_engine = self.write_engine
        self._fast_connection: Connection | None = None
        self._open_writes = 0
        self._no_open_writes = asyncio.Event()
        self._no_open_writes.set()
        self._writes_open = asyncio.Event()  # Cleared while shutdown holds new writes back.
        self._writes_open.set()
        self._write_sessions = async_sessionmaker(
            self.write_engine, class_=AsyncSession, expire_on_commit=False
        )
        self._read_sessions = async_sessionmaker(
            self.read_engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """Yield a session in a write transaction; commit on success, roll back on error."""
        if not self._writes_open.is_set():
            await self._writes_open.wait()
        self._open_writes += 1
        self._no_open_writes.clear()
        task = asyncio.current_task()
        outermost = task if task is not None and task not in _writing else None
        if outermost is not None:
            _writing.add(outermost)
        try:
            async with self._write_sessions() as session, session.begin():
                yield session
        except IntegrityError as exc:
            if "idempotency_record" in str(exc.orig):
                # The same request_id is being processed by a concurrent call that committed
                # first; a retry will get that call's response (AIP-155, RELIABILITY §7.3).
                raise Aborted(
                    "a request with this request_id is in flight; retry",
                    reason="REQUEST_IN_FLIGHT",
                    retry_after_seconds=0.2,
                ) from exc
            raise
        finally:
            self._open_writes -= 1
            if not self._open_writes:
                self._no_open_writes.set()
            if outermost is not None:
                _writing.discard(outermost)
                if outermost in _cancel_after_write:
                    _cancel_after_write.discard(outermost)
                    outermost.cancel()

    @asynccontextmanager
    async def writes_paused(self, wait_seconds: float) -> AsyncIterator[bool]:
        """Hold new write transactions at the door and wait (up to `wait_seconds`) for the
        open ones to finish; yield True if none is open. Writes resume when the block ends.

        Shutdown cancels its background tasks inside this block. A task cancelled while the
        driver runs one of its statements leaves that connection behind with the transaction
        still open (the driver's thread finishes the statement on its own), and on SQLite the
        next writer, such as a stop hook saving state, then waits out the busy timeout and
        fails with "database is locked". Paused, a task can only be cancelled outside a write
        or while waiting at the door, holding no connection.
        """
        self._writes_open.clear()
        try:
            yield await self._settle(wait_seconds)
        finally:
            self._writes_open.set()

    async def _settle(self, wait_seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._no_open_writes.wait(), wait_seconds)
        except TimeoutError:
            return False
        return True

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Yield a session for reads (a consistent snapshot, never blocking writers)."""
        async with self._read_sessions() as session, session.begin():
            yield session

    def _sqlite_reader(self) -> Connection:
        if self._fast_connection is None or self._fast_connection.closed:
            sync_url = make_url(self.url).set(drivername="sqlite")
            engine = create_engine(sync_url)
            event.listen(engine, "connect", _sqlite_pragmas)
            connection = engine.connect()
            connection.exec_driver_sql("PRAGMA query_only=ON")
            self._fast_connection = connection
        return self._fast_connection

    async def fetch_one(self, statement: Executable) -> Row[Any] | None:
        """Return the first row of a read-only Core statement, outside any ORM session."""
        if self.is_sqlite:
            connection = self._sqlite_reader()
            # Autocommit mode (isolation_level None): each statement sees the latest commit.
            return connection.execute(statement).first()
        async with self.read_engine.connect() as conn:
            return (await conn.execute(statement)).first()

    async def ping(self) -> bool:
        """Return True if the store answers a trivial query."""
        try:
            async with self.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._fast_connection is not None:
            engine = self._fast_connection.engine
            self._fast_connection.close()
            engine.dispose()
            self._fast_connection = None
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
