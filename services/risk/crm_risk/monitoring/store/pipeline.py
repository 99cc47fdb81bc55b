"""The monitoring pipeline: batches from the stream → engine → one transaction → ack.

Per batch, in one store transaction: refuse the postings that cannot be used (each on its own,
named in the acknowledgement), drop those the engine has seen (its per-unit seen ids, which
checkpoints and replay restore exactly), run the rest through the engine, append them to the
batch log as one row, and turn the engine's alerts into warnings (WarningRaised goes out
through the outbox in the same transaction). Dirty unit states are checkpointed in separate
short transactions when no batch is waiting (``checkpoint_loop``).

A batch that cannot be processed as a whole (too large, the store unavailable, the state being
rebuilt) is answered with an error status in its acknowledgement; nothing of it is stored, the
stream stays open and the sender may resend it.

Durability (checkpoints, the batch log, replay) is in ``durable``. Batches are committed in
arrival order, one group at a time (an asyncio lock), so the engine and the store advance
together; batches that queue behind a commit are committed together. If a commit fails after
the engine ran, the engine is ahead of the store; it is rebuilt from the store before the next
batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2
from opentelemetry import metrics

from crm.risk.v1 import risk_service_pb2
from crm_risk.early_warnings import Signal, raise_signals
from crm_risk.linked import Linked
from crm_risk.monitoring.engine.model import Alert, Transaction
from crm_risk.monitoring.engine.ruleset import Ruleset
from crm_risk.monitoring.store import batch_log
from crm_risk.monitoring.store.convert import Rejection, rejected_message, to_transactions
from crm_risk.monitoring.store.durable import DurableEngine
from crm_runtime.crypto import FieldCipher
from crm_runtime.db import Database
from crm_runtime.errors import DomainError, InvalidArgument, Unavailable, to_status
from crm_runtime.logging import get_logger

log = get_logger("monitoring")
_meter = metrics.get_meter("crm_risk.monitoring")
_batch_latency = _meter.create_histogram(
    "crm.risk.monitoring.batch_latency", unit="ms",
    description="Receipt of a transaction batch to commit of it and its warnings",
)
_transactions = _meter.create_counter(
    "crm.risk.monitoring.transactions", description="Postings taken from the stream"
)
_rejected = _meter.create_counter(
    "crm.risk.monitoring.rejected", description="Postings refused on the stream"
)
_warnings = _meter.create_counter(
    "crm.risk.monitoring.warnings", description="Warnings raised or fed by monitoring alerts"
)
ACTOR = "systems/risk-monitoring"
BACKLOG_SECONDS = 10.0
PURGE_EVERY = 256
Response = risk_service_pb2.MonitorTransactionsResponse


def _signal(alert: Alert) -> Signal:
    """Return the warning signal of an engine alert."""
    # window_key is client|rule|scope|window-start: the scope names what the hit is about.
    scope = alert.window_key.rsplit("|", 1)[0].split("|", 2)[-1]
    return Signal(
        client_id=alert.client_id, rule=alert.rule_id, source="transactions",
        level=alert.level, scope=scope, message=alert.message,
        rule_version=alert.rule_version, detect_time=alert.raised_at,
        facility_id=alert.facility_id or "", evidence=alert.evidence_txn_ids,
        facts=alert.facts,
    )


@dataclass
class _Pending:
    """A batch waiting for its group's commit."""

    request: risk_service_pb2.MonitorTransactionsRequest
    txns: list[Transaction]
    indexes: list[int]  # each posting's position in the request
    rejected: list[Rejection]
    future: asyncio.Future[Response]


class MonitoringPipeline(DurableEngine):
    """Takes batches off the stream and commits them with their warnings; one per process."""

    def __init__(
        self,
        *,
        database: Database,
        outbox: Any,
        cipher: FieldCipher,
        ruleset: Ruleset,
        max_batch: int,
        checkpoint_ms: float,
        checkpoint_interval: float,
        partition: str,
        clock: Callable[[], datetime],
        on_rerate: Callable[[], None] = lambda: None,
        history_days: float = 90.0,
        contagion: Linked | None = None,  # a RED alert spreads to the client's related clients
    ) -> None:
        super().__init__(database=database, cipher=cipher, ruleset=ruleset,
                         partition=partition, clock=clock, history_days=history_days)
        self._outbox, self._contagion = outbox, contagion
        self._on_rerate = on_rerate
        self._max_batch = max_batch
        self._checkpoint_seconds = checkpoint_ms / 1000
        self._checkpoint_interval = checkpoint_interval
        self._last_checkpoint = time.monotonic()
        self.waiting: list[_Pending] = []
        self.batches = 0
        self.last_batch_time = float("-inf")  # time.monotonic() of the last batch received

    async def process(
        self, request: risk_service_pb2.MonitorTransactionsRequest, *, received: float
    ) -> Response:
        """Process one batch and return its acknowledgement (after commit, or with an error).

        Group commit: batches that arrive while another group commits wait for the lock; the
        first of them to get it commits all waiting batches in one transaction (in arrival
        order, one log row each), which spreads the per-posting cost under load and adds
        nothing when batches come one at a time.
        """
        self.last_batch_time = time.monotonic()
        if len(request.transactions) > self._max_batch:
            return self._refused(request, InvalidArgument.of(
                "transactions", f"at most {self._max_batch} per batch",
                reason="BATCH_TOO_LARGE"))
        txns, indexes, rejected = to_transactions(request.transactions)
        item = _Pending(request, txns, indexes, rejected,
                        asyncio.get_running_loop().create_future())
        self.waiting.append(item)
        async with self._lock:
            if not item.future.done():
                group, self.waiting = self.waiting, []
                await self._commit_group(group)
        response = item.future.result()
        elapsed = (time.perf_counter() - received) * 1000
        response.receipt_to_commit_ms = elapsed
        if not response.HasField("error"):
            _batch_latency.record(elapsed)
            _transactions.add(response.accepted)
            _rejected.add(len(response.rejected))
            self.batches += 1
            if self.batches % PURGE_EVERY == 0:
                await self.purge()
        return response

    @staticmethod
    def _refused(request: risk_service_pb2.MonitorTransactionsRequest,
                 error: DomainError) -> Response:
        return Response(batch_id=request.batch_id,
                        error=to_status(error, domain="risk"))

    def _unknown_facilities(self, item: _Pending) -> None:
        """Refuse postings that name a facility not registered for their client."""
        kept: list[Transaction] = []
        kept_indexes: list[int] = []
        for txn, index in zip(item.txns, item.indexes, strict=True):
            if txn.facility_id is not None and not self.contexts.has_facility(
                    txn.client_id, txn.facility_id):
                item.rejected.append(Rejection(index, txn.txn_id, "facility",
                                               "UNKNOWN_FACILITY",
                                               "is not a registered facility of the client"))
                continue
            kept.append(txn)
            kept_indexes.append(index)
        item.txns, item.indexes = kept, kept_indexes

    def _fresh(self, txns: list[Transaction]) -> list[int]:
        """Return the positions of postings neither repeated in the batch nor seen before."""
        in_batch: set[str] = set()
        fresh: list[int] = []
        seen = self.engine.has_seen
        for position, txn in enumerate(txns):
            txn_id = txn.txn_id
            if txn_id in in_batch:
                continue
            in_batch.add(txn_id)
            if not seen(txn.client_id, txn_id):
                fresh.append(position)
        return fresh

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

    async def _commit_group(self, group: list[_Pending]) -> None:
        """Commit waiting batches in one transaction and settle each one's future."""
        try:
            if self._behind_store:
                await self._restore()
            await self._refresh({t.client_id for item in group for t in item.txns})
        except Exception:
            log.error("monitoring state could not be prepared", exc_info=True)
            for item in group:
                item.future.set_result(self._refused(item.request, Unavailable(
                    "the monitoring state is being rebuilt; resend", reason="RESTORING")))
            return
        for item in group:
            self._unknown_facilities(item)
        now = self._clock()
        try:
            async with self._db.write() as session:
                applied = [await self._apply(session, item, now) for item in group]
                await self._warn(session, applied, now)
                saved: list[str] = []
                if time.monotonic() - self._last_checkpoint > BACKLOG_SECONDS:
                    # No idle moment for a while (a flood): checkpoint with the batches.
                    self._last_checkpoint = time.monotonic()
                    saved = await self._checkpoint(session, now,
                                                   budget=self._checkpoint_seconds)
        except Exception:
            log.error("monitoring batches not committed", batches=len(group), exc_info=True)
            for item in group:
                item.future.set_result(self._refused(item.request, Unavailable(
                    "the batch was not stored; resend it", reason="BATCH_NOT_STORED")))
            return
        self._behind_store = False
        self._saved(saved)
        if any(response.warnings for response, _ in applied):
            self._on_rerate()  # red or orange warnings asked for re-ratings
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(now)
        for item, (response, _) in zip(group, applied, strict=True):
            response.commit_time.CopyFrom(stamp)
            item.future.set_result(response)

    async def _apply(self, session: Any, item: _Pending, now: datetime) -> tuple[Response,
                                                                             list[Alert]]:
        """Run one batch through the engine and add its log row to `session`."""
        request, txns = item.request, item.txns
        fresh = self._fresh(txns)
        batch = [txns[i] for i in fresh]
        alerts: list[Alert] = []
        if batch:
            self._behind_store = True
            alerts = self.engine.process_batch(batch)
            logged = request if len(fresh) == len(request.transactions) else (
                risk_service_pb2.MonitorTransactionsRequest(
                    batch_id=request.batch_id,
                    transactions=[request.transactions[item.indexes[i]] for i in fresh],
                )
            )
            self._last_seq = await batch_log.append(
                session, partition=self._partition, batch_id=request.batch_id,
                count=len(batch), body=logged.SerializeToString(), now=now,
            )
            unit_of = self.engine.unit_of
            self._mark_dirty((unit_of(t.client_id) for t in batch), self._last_seq)
        return Response(
            batch_id=request.batch_id,
            accepted=len(batch),
            duplicates=len(txns) - len(batch),
            alerts=len(alerts),
            rejected=[rejected_message(r) for r in sorted(item.rejected, key=lambda r: r.index)],
        ), alerts

    async def _warn(self, session: Any, applied: list[tuple[Response, list[Alert]]],
                    now: datetime) -> None:
        """Turn every alert of the group into warnings; name them in each batch's ack."""
        signals = [_signal(alert) for _, alerts in applied for alert in alerts]
        outcomes = iter(await raise_signals(session, self._outbox, signals, now=now,
                                            actor=ACTOR, contagion=self._contagion))
        for response, alerts in applied:
            names = [f"warnings/{next(outcomes).warning.id}" for _ in alerts]
            response.warnings.extend(dict.fromkeys(names))
        _warnings.add(len(signals))
