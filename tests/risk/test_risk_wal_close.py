"""Closing the WAL checkpointer while a checkpoint is still running in its worker thread.

A stop cancels the checkpoint loop, but the thread it handed `checkpoint()` to keeps running;
`close()` then ran on another thread and closed the sqlite3 connection under it, which killed
a loaded test run with a segmentation fault. The race runs in a child process so a crash fails
this test instead of the test runner.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import asyncio, sys, threading
    from crm_runtime.db import Database
    from crm_risk.monitoring.store.wal import WalCheckpointer

    async def main(path: str) -> None:
        database = Database(f"sqlite+aiosqlite:///{path}")
        async with database.write_engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        closes = 0
        for _ in range(300):
            wal = WalCheckpointer(database)
            wal.checkpoint()
            barrier = threading.Barrier(2)
            def spin() -> None:
                barrier.wait()
                for _ in range(20):
                    wal.checkpoint()
            worker = threading.Thread(target=spin)
            worker.start()
            barrier.wait()
            wal.close()
            closes += 1
            worker.join()
            wal.close()
        await database.dispose()
        print("closes", closes)

    asyncio.run(main(sys.argv[1]))
    """
)


def test_close_waits_for_a_running_checkpoint(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "risk.db")],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "closes 300" in result.stdout
