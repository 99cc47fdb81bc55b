"""Push counters for many streams at once: one store read serves every stream waiting for it.

Each push stream reads its recipients' counters when it opens and on every heartbeat. Alone,
each read took a pooled read connection; 10,000 streams opening together (or their heartbeats
falling due together) queued 10,000 sessions behind a pool of 4 (SQLite) and waited past the
pool's 30 s timeout: streams failed with "QueuePool limit reached" (the `load` suite, issue 11).
Here the reads that arrive while one is running are gathered and answered by the next, in one
session with a query per `CHUNK` recipients: the store sees a handful of queries however many
streams there are. A read always starts after the request was made, so no answer is older than
its question.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from crm_notify.push_store import counters
from crm_runtime.db import Database

CHUNK = 500  # recipients per IN list: well under SQLite's and PostgreSQL's parameter limits
Counters = dict[str, tuple[int, int]]


class PushCounterReader:
    """Gathers concurrent counter reads into a few queries."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: list[tuple[list[str], asyncio.Future[Counters]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def read(self, recipients: Sequence[str]) -> Counters:
        """Return recipient → (last sequence, acknowledged sequence) for `recipients`."""
        future: asyncio.Future[Counters] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(recipients), future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            wanted = sorted({name for names, _ in batch for name in names})
            try:
                found: Counters = {}
                async with self._db.read() as session:
                    for start in range(0, len(wanted), CHUNK):
                        found.update(await counters(session, wanted[start : start + CHUNK]))
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for names, future in batch:
                if not future.done():
                    future.set_result({n: found[n] for n in names if n in found})
