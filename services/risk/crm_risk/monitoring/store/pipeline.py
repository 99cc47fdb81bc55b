"""The monitoring pipeline: batches from the stream → engine → one transaction → ack.

Per group of batches, in one store transaction: refuse the postings that cannot be used (each
on its own, named in the acknowledgement), split the rest by partition (``routing``), apply
the rows other replicas logged for this replica's partitions, then the pieces of partitions it
owns (dropping postings the engine has seen), log each piece as one row with its position and
result, turn the alerts into warnings (WarningRaised through the outbox in the same
transaction) and advance each partition's position under its lease's epoch
(``leases.advance``: a replica that lost the lease fails here and stores nothing). Pieces of
partitions another replica owns are logged without a position; their acknowledgement waits
for the owner's result. Dirty unit states are checkpointed when no batch is waiting.

A batch that cannot be processed as a whole (too large, the store unavailable, the state being
rebuilt) is answered with an error status in its acknowledgement; nothing of it is stored, the
stream stays open and the sender may resend it. Groups commit one at a time (an asyncio
lock), so the engine and the store advance together; if a commit fails after the engine ran,
the engine is rebuilt from the store before the next batch (``durable``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from google.protobuf import timestamp_pb2

from crm_risk.early_warnings import raise_signals
from crm_risk.linked import Linked
from crm_risk.monitoring.engine.model import Alert, Transaction
from crm_risk.monitoring.engine.ruleset import Ruleset
from crm_risk.monitoring.store import batch_log, leases
from crm_risk.monitoring.store.batch_log import Outcome
from crm_risk.monitoring.store.convert import to_transactions
from crm_risk.monitoring.store.durable import DurableEngine
from crm_risk.monitoring.store.metrics import record_batch, record_warnings
from crm_risk.monitoring.store.routing import (
    Pending,
    Request,
    Response,
    fresh_positions,
    owners_response,
    refused,
    signal_of,
)
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database
from crm_runtime.errors import InvalidArgument, Unavailable
from crm_runtime.logging import get_logger

log = get_logger("monitoring")
ACTOR = "systems/risk-monitoring"
BACKLOG_SECONDS = 10.0
PURGE_EVERY = 256
Foreign = tuple[int, str, list[Transaction]]  # a row another replica logged: seq, partition


class MonitoringPipeline(DurableEngine):
    """Takes batches off the stream and commits them with their warnings; one per process."""

    def __init__(
        self, *, database: Database, outbox: Any, cipher: FieldCipher, ruleset: Ruleset,
        max_batch: int, checkpoint_ms: float, checkpoint_interval: float,
        partitions: Sequence[str], member: str, clock: Callable[[], datetime],
        on_rerate: Callable[[], None] = lambda: None, history_days: float = 90.0,
        contagion: Linked | None = None,  # a RED alert spreads to the client's related clients
        drain_interval: float = 0.02, result_wait: float = 30.0,
    ) -> None:
        super().__init__(database=database, cipher=cipher, ruleset=ruleset,
                         partitions=partitions, member=member, clock=clock,
                         history_days=history_days)
        self._outbox, self._contagion = outbox, contagion
        self._on_rerate = on_rerate
        self._max_batch = max_batch
        self._checkpoint_seconds = checkpoint_ms / 1000
        self._checkpoint_interval = checkpoint_interval
        self._drain_interval, self._result_wait = drain_interval, result_wait
        self._last_checkpoint = time.monotonic()
        self.waiting: list[Pending] = []
        self.batches = 0
        self.last_batch_time = float("-inf")  # time.monotonic() of the last batch received

    async def process(self, request: Request, *, received: float) -> Response:
        """Process one batch and return its acknowledgement (after commit, or with an error).

        Group commit: batches that arrive while another group commits wait for the lock; the
        first of them to get it commits all waiting batches in one transaction (in arrival
        order), which spreads the per-posting cost under load and adds nothing when batches
        come one at a time.
        """
        self.last_batch_time = time.monotonic()
        if len(request.transactions) > self._max_batch:
            return refused(request, InvalidArgument.of(
                "transactions", f"at most {self._max_batch} per batch",
                reason="BATCH_TOO_LARGE"))
        txns, indexes, rejected = to_transactions(request.transactions)
        item = Pending(request, txns, indexes, rejected,
                       asyncio.get_running_loop().create_future())
        self.waiting.append(item)
        async with self._lock:
            if not item.future.done():
                group, self.waiting = self.waiting, []
                await self._commit_group(group)
        response = item.future.result()
        if item.waits and not response.HasField("error"):
            response = await owners_response(self._db, item, response, self._result_wait)
        elapsed = (time.perf_counter() - received) * 1000
        response.receipt_to_commit_ms = elapsed
        if not response.HasField("error"):
            record_batch(elapsed, response.accepted, len(response.rejected))
            self.batches += 1
            if self.batches % PURGE_EVERY == 0:
                await self.purge()
        return response

    async def _reload_for_facilities(self, txns: Iterable[Transaction]) -> None:
        """Reload clients whose postings name a facility not in their loaded context (it
        may have been registered through another replica since)."""
        stale = {t.client_id for t in txns if t.facility_id is not None
                 and not self.contexts.has_facility(t.client_id, t.facility_id)}
        for client_id in stale:
            self.contexts.invalidate(client_id)
        await self._refresh(stale)

    async def _foreign(self) -> list[Foreign]:
        """Return the rows other replicas logged for this replica's partitions, decoded."""
        rows = await batch_log.pending(self._db, list(self.owned))
        decoded = [(seq, name, await self.decode(body)) for seq, name, body in rows]
        await self._reload_for_facilities(t for _, _, txns in decoded for t in txns)
        return decoded

    async def drain_loop(self) -> None:
        """Apply rows other replicas logged for this replica's partitions (a background
        task; batches arriving here apply them first anyway)."""
        while True:
            await asyncio.sleep(self._drain_interval)
            if not self.owned or self.waiting or self._lock.locked():
                continue
            try:
                if not await batch_log.pending(self._db, list(self.owned)):
                    continue
            except Exception:
                log.warning("pending monitoring rows not read", exc_info=True)
                continue
            async with self._lock:
                await self._commit_group([])

    async def checkpoint_loop(self) -> None:
        """Checkpoint dirty unit states when no batch is waiting (a background task).

        Batches then rarely pay for checkpoints; under a flood with no idle moment the group
        commit checkpoints once the last checkpoint is older than BACKLOG_SECONDS.
        """
        while True:
            await asyncio.sleep(self._checkpoint_interval)
            if not self._dirty or self.waiting or self._lock.locked():
                continue
            async with self._lock:
                if self._behind_store:
                    continue
                try:
                    async with self._db.write() as session:
                        saved = await self._checkpoint(session, self._clock(),
                                                       budget=self._checkpoint_seconds)
                except Exception:
                    log.warning("idle checkpoint failed", exc_info=True)
                    continue
                self._saved(saved)
                self._last_checkpoint = time.monotonic()

    def busy(self, within: float = 1.0) -> bool:
        """Return True if a batch arrived in the last `within` seconds."""
        return time.monotonic() - self.last_batch_time < within

    async def _commit_group(self, group: list[Pending]) -> None:
        """Commit waiting batches in one transaction and settle each one's future."""
        try:
            if self._behind_store:
                await self._restore()
            await self._refresh({t.client_id for item in group for t in item.txns})
            await self._reload_for_facilities(t for item in group for t in item.txns)
            for item in group:
                item.refuse_unknown_facilities(self.contexts.has_facility)
                item.split(self.partition_of_client)
            foreign = await self._foreign()
        except Exception:
            log.error("monitoring state could not be prepared", exc_info=True)
            for item in group:
                item.future.set_result(refused(item.request, Unavailable(
                    "the monitoring state is being rebuilt; resend", reason="RESTORING")))
            return
        before = {name: leases.Lease(lease.epoch, lease.applied)
                  for name, lease in self.owned.items()}
        now = self._clock()
        try:
            async with self._db.write() as session:
                alerted = await self._apply_all(session, group, foreign, before, now)
        except Exception as exc:
            for name, lease in before.items():
                if name in self.owned:
                    self.owned[name].applied = lease.applied
            if isinstance(exc, leases.Fenced):
                log.warning("monitoring partition lost to another replica",
                            partition=exc.partition)
                self._behind_store = True
                self._forget(exc.partition)
            else:
                log.error("monitoring batches not committed", batches=len(group), exc_info=True)
            for item in group:
                item.future.set_result(refused(item.request, Unavailable(
                    "the batch was not stored; resend it", reason="BATCH_NOT_STORED")))
            return
        self._behind_store = False
        if alerted:
            self._on_rerate()  # red or orange warnings asked for re-ratings
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(now)
        for item in group:
            response = item.response() if not item.waits else Response(batch_id="")
            response.commit_time.CopyFrom(stamp)
            item.future.set_result(response)

    def _run(self, name: str, txns: list[Transaction]) -> tuple[int, Outcome, list[Alert],
                                                                   list[int]]:
        """Apply postings of an owned partition to the engine at its next position."""
        fresh = fresh_positions(txns, self.engine.has_seen)
        batch = [txns[i] for i in fresh]
        lease = self.owned[name]
        lease.applied += 1
        alerts: list[Alert] = []
        if batch:
            self._behind_store = True
            alerts = self.engine.process_batch(batch)
            unit_of = self.engine.unit_of
            self._mark_dirty((unit_of(t.client_id) for t in batch), lease.applied)
        outcome = Outcome(accepted=len(batch), duplicates=len(txns) - len(batch),
                          alerts=len(alerts))
        return lease.applied, outcome, alerts, fresh

    async def _apply_all(self, session: Any, group: list[Pending], foreign: list[Foreign],
                         before: dict[str, leases.Lease], now: datetime) -> bool:
        """Apply, log and warn for a group in ``session``; return whether anything alerted."""
        applied: list[tuple[Outcome, list[Alert]]] = []
        writes: list[Callable[[], Awaitable[object]]] = []
        for seq, name, txns in foreign:
            if name not in self.owned:
                continue
            position, outcome, alerts, _ = self._run(name, txns)
            applied.append((outcome, alerts))
            writes.append(partial(batch_log.mark_applied, session, seq, name, position, outcome))
        for item in group:
            for piece in item.pieces:
                txns = [item.txns[i] for i in piece.positions]
                if piece.partition not in self.owned:
                    piece.seq = await batch_log.append(
                        session, partition=piece.partition, batch_id=item.request.batch_id,
                        count=len(txns), body=item.body(piece.positions), now=now)
                    continue
                position, outcome, alerts, fresh = self._run(piece.partition, txns)
                piece.outcome = outcome
                applied.append((outcome, alerts))
                if fresh:
                    body = item.body([piece.positions[i] for i in fresh])
                    writes.append(partial(
                        batch_log.append, session, partition=piece.partition,
                        batch_id=item.request.batch_id, count=len(fresh), body=body, now=now,
                        applied=(position, outcome)))
                else:
                    self.owned[piece.partition].applied -= 1  # nothing new: no log row
        await self._warn(session, applied, now)
        for write in writes:
            await write()
        for name, lease in self.owned.items():
            if name in before and lease.applied != before[name].applied:
                await leases.advance(session, name, self.member, before[name], lease.applied)
        if time.monotonic() - self._last_checkpoint > BACKLOG_SECONDS:
            # No idle moment for a while (a flood): checkpoint with the batches.
            self._last_checkpoint = time.monotonic()
            self._saved(await self._checkpoint(session, now, budget=self._checkpoint_seconds))
        return any(outcome.warnings for outcome, _ in applied)

    async def _warn(self, session: Any, applied: list[tuple[Outcome, list[Alert]]],
                    now: datetime) -> None:
        """Turn every alert of the group into warnings; name them in each outcome."""
        signals = [signal_of(alert) for _, alerts in applied for alert in alerts]
        outcomes = iter(await raise_signals(session, self._outbox, signals, now=now,
                                            actor=ACTOR, contagion=self._contagion))
        for outcome, alerts in applied:
            names = [f"warnings/{next(outcomes).warning.id}" for _ in alerts]
            outcome.warnings = list(dict.fromkeys(names))
        record_warnings(len(signals))
