"""Audit log of external calls: queued on the hot path, written in hash-chained batches.

A call adds one small entry to an in-memory queue (well under a microsecond); a background
writer decodes what it needs (the resource name, audit_resource.py), chains each record to the
previous one with an HMAC-SHA256 (audit_chain.py) and inserts the batch in one transaction
every AUDIT_FLUSH_SECONDS or every AUDIT_BATCH_SIZE entries. Each gateway process writes its
own chain, so replicas sharing a store never interleave one chain.

Crash window (stated plainly): entries still queued when the process dies without a graceful
stop (SIGKILL, OOM, power loss) are lost: at most AUDIT_FLUSH_SECONDS of calls, or the
backlog if the store was down. A graceful stop flushes everything. When the backlog reaches
AUDIT_MAX_BACKLOG the gateway refuses new calls (UNAVAILABLE) rather than serve them unaudited.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf import message
from sqlalchemy import Table, insert, select

from crm_gateway.audit_chain import PUBLIC_CHAIN_KEY, genesis_hash, record_hash
from crm_gateway.audit_resource import resource_of
from crm_gateway.descriptors import MethodInfo
from crm_gateway.models import AuditRow
from crm_runtime.db import Database
from crm_runtime.logging import get_logger

log = get_logger("audit")

AUDIT_TABLE: Table = AuditRow.__table__  # type: ignore[attr-defined]
# Entries hashed between two yields to the event loop.
_SLICE = 50


class AuditEntry:
    """What the hot path records about one call; the writer turns it into a row.

    The gateway's CallScope is an AuditEntry filled in as the call goes (gate.py).
    """

    __slots__ = (
        "call_time",
        "duration_micros",
        "info",
        "method",
        "origin",
        "outcome",
        "payload",
        "principal",
        "request_id",
        "resource",
        "trace_id",
        "transport",
    )

    def __init__(
        self,
        *,
        principal: str,
        method: str,
        outcome: str,
        transport: str,
        request_id: str,
        origin: str,
        call_time: float,
        duration_micros: int,
        info: MethodInfo | None = None,
        payload: bytes | message.Message | None = None,
        resource: str = "",
        trace_id: str = "",
    ) -> None:
        self.principal = principal
        self.method = method
        self.outcome = outcome
        self.transport = transport
        self.request_id = request_id
        self.origin = origin
        self.call_time = call_time
        self.duration_micros = duration_micros
        self.info = info
        self.payload = payload
        self.resource = resource
        self.trace_id = trace_id


class AuditLog:
    """The queue, the chain head and the background writer of one gateway process."""

    def __init__(
        self,
        database: Database,
        *,
        instance: str,
        key: bytes = PUBLIC_CHAIN_KEY,
        flush_seconds: float = 0.2,
        batch_size: int = 1000,
        max_backlog: int = 50_000,
    ) -> None:
        self._db = database
        self.key = key
        self._flush_seconds = flush_seconds
        self._batch_size = batch_size
        self._max_backlog = max_backlog
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.chain = f"{instance[:60]}-{stamp}-{secrets.token_hex(3)}"
        self._seq = 0
        self._last_hash = genesis_hash(key, self.chain)
        self._pending: deque[AuditEntry] = deque()
        self._batch_ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self.written = 0
        # A batch write began and its outcome is unknown (an error or a cancellation may have
        # come after the commit): the next attempt asks the store before writing it again.
        self._in_doubt = False

    @property
    def backlog(self) -> int:
        """Return the number of entries not yet written."""
        return len(self._pending)

    @property
    def full(self) -> bool:
        """Return True when new calls must be refused to keep the audit complete."""
        return len(self._pending) >= self._max_backlog

    def record(self, entry: AuditEntry) -> None:
        """Queue an entry (hot path: no I/O, no hashing)."""
        self._pending.append(entry)
        if len(self._pending) >= self._batch_size:
            self._batch_ready.set()

    def _rows(self, batch: Sequence[AuditEntry], seq: int, previous: str) -> list[dict[str, Any]]:
        rows = []
        for entry in batch:
            seq += 1
            row = {
                "chain": self.chain,
                "seq": seq,
                "principal": entry.principal[:128],
                "method": entry.method[:256],
                "resource": entry.resource or resource_of(entry.info, entry.payload),
                "outcome": entry.outcome,
                "transport": entry.transport,
                "request_id": entry.request_id[:64],
                "origin": entry.origin[:128],
                "trace_id": entry.trace_id,
                "call_time": datetime.fromtimestamp(entry.call_time, UTC),
                "duration_micros": entry.duration_micros,
                "previous_hash": previous,
            }
            row["record_hash"] = previous = record_hash(self.key, row)
            rows.append(row)
        return rows

    async def flush(self) -> int:
        """Write the entries queued when called; return how many were written.

        Entries that arrive while a batch is being written wait for the next flush: draining
        until the queue is empty would, under steady traffic, turn the writer into an endless
        run of tiny transactions (one fsync each) that costs more than the calls themselves.
        """
        written = 0
        async with self._lock:
            remaining = len(self._pending)
            while remaining:
                if self._in_doubt:
                    skipped = await self._skip_stored()
                    self._in_doubt = False
                    written, remaining = written + skipped, remaining - skipped
                    continue
                count = min(self._batch_size, remaining)
                rows: list[dict[str, Any]] = []
                seq, previous = self._seq, self._last_hash
                for start in range(0, count, _SLICE):
                    batch = [self._pending[i] for i in range(start, min(start + _SLICE, count))]
                    rows += self._rows(batch, seq, previous)
                    seq, previous = rows[-1]["seq"], rows[-1]["record_hash"]
                    await asyncio.sleep(0)  # Let calls run between slices: keeps p99 low.
                self._in_doubt = True
                async with self._db.write() as session:
                    await session.execute(insert(AUDIT_TABLE), rows)
                self._in_doubt = False
                # Only a committed batch moves the chain head and leaves the queue.
                for _ in range(count):
                    self._pending.popleft()
                self._seq, self._last_hash = seq, previous
                written += count
                remaining -= count
        self.written += written
        return written

    async def _skip_stored(self) -> int:
        """Drop from the queue what the store already holds of this chain; return how many.

        A batch whose write began may have committed before an error or a cancellation
        reached its coroutine. The store, not the batch that was being built, says how far the
        chain got: the retry's batch may be longer (entries kept arriving) and must start
        after the last stored record, from that record's hash.
        """
        async with self._db.read() as session:
            statement = (
                select(AUDIT_TABLE.c.seq, AUDIT_TABLE.c.record_hash)
                .where(AUDIT_TABLE.c.chain == self.chain)
                .order_by(AUDIT_TABLE.c.seq.desc())
                .limit(1)
            )
            last = (await session.execute(statement)).first()
        if last is None or int(last.seq) <= self._seq:
            return 0
        stored = int(last.seq) - self._seq
        for _ in range(stored):
            self._pending.popleft()
        self._seq, self._last_hash = int(last.seq), str(last.record_hash)
        return stored

    async def run(self) -> None:
        """Write batches until cancelled; on a store error keep the entries and retry."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._batch_ready.wait(), self._flush_seconds)
            self._batch_ready.clear()
            try:
                await self.flush()
            except Exception as exc:
                log.error("audit write failed; entries kept", backlog=self.backlog, error=str(exc))
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        """Flush what is left (graceful stop) and log the chain head as an external anchor."""
        while self._pending:
            await self.flush()
        log.info("audit chain head", chain=self.chain, seq=self._seq, hash=self._last_hash)
