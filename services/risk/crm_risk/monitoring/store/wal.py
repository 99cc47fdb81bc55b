"""SQLite only: WAL checkpoints off the commit path.

SQLite checkpoints its write-ahead log from inside the commit that crosses
`wal_autocheckpoint` pages; with synchronous=FULL that commit then also copies pages into the
database file and fsyncs it, which stalled a monitoring batch for up to ~600 ms (measured on a
shared 2-core VM). The risk service therefore turns automatic checkpoints off on its write
connection and runs a PASSIVE checkpoint every second from a separate connection in a worker
thread: PASSIVE never blocks writers or readers, and the fsync happens outside the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url

from crm_runtime.db import SQLITE_BUSY_TIMEOUT_MS, Database
from crm_runtime.logging import get_logger

log = get_logger("wal")
INTERVAL_SECONDS = 1.0


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class WalCheckpointer:
    """Checkpoints a SQLite store's WAL in the background; does nothing for PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._path: Path | None = None
        if database.is_sqlite:
            name = make_url(database.url).database
            if name and name != ":memory:":
                self._path = Path(name)
                event.listen(database.write_engine.sync_engine, "connect", _no_autocheckpoint)
        self._connection: sqlite3.Connection | None = None
        # A cancelled run() leaves its worker thread inside checkpoint(); close() on the loop
        # thread must wait for it: closing a sqlite3 connection another thread is executing on
        # crashed the process (segmentation fault in a loaded test run).
        self._lock = threading.Lock()
        self.checkpoints = 0

    @property
    def active(self) -> bool:
        """Return True for a file-backed SQLite store."""
        return self._path is not None

    def checkpoint(self) -> tuple[int, int, int]:
        """Run one PASSIVE checkpoint (blocking); return (busy, log frames, checkpointed)."""
        assert self._path is not None
        with self._lock:
            if self._connection is None:
                self._connection = sqlite3.connect(self._path, isolation_level=None,
                                                   check_same_thread=False)
                self._connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            row = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            return int(row[0]), int(row[1]), int(row[2])

    async def run(self) -> None:
        """Checkpoint every second until cancelled."""
        if self._path is None:
            return
        while True:
            await asyncio.sleep(INTERVAL_SECONDS)
            try:
                await asyncio.to_thread(self.checkpoint)
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed", error=str(exc))

    def close(self) -> None:
        """Run a last checkpoint and close the connection."""
        if self._path is None:
            return
        try:
            self.checkpoint()
        except sqlite3.Error as exc:
            log.warning("final WAL checkpoint failed", error=str(exc))
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
