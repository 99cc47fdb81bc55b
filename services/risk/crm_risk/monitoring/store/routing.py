"""A stream batch split by monitoring partition, and its acknowledgement put back together.

Any replica takes any batch. Its postings are grouped by the partition of their tracing unit
(``Piece``): the pieces of partitions this replica owns are applied and logged in one
transaction; the others are logged for their owner, and the acknowledgement waits until the
owner has applied them and written what they gave (``batch_log.results``). The counts and
warnings of every piece are added up, so the caller sees the same acknowledgement whichever
replica it reached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from crm.risk.v1 import risk_service_pb2
from crm_risk.early_warnings import Signal
from crm_risk.monitoring.engine.model import Alert, Transaction
from crm_risk.monitoring.store import batch_log
from crm_risk.monitoring.store.batch_log import Outcome
from crm_risk.monitoring.store.convert import Rejection, rejected_message
from crm_runtime.db import Database
from crm_runtime.errors import DomainError, Unavailable, to_status

Request = risk_service_pb2.MonitorTransactionsRequest
Response = risk_service_pb2.MonitorTransactionsResponse
FIRST_POLL_SECONDS = 0.005
LAST_POLL_SECONDS = 0.05


def signal_of(alert: Alert) -> Signal:
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
class Piece:
    """The postings of one batch that belong to one partition."""

    partition: str
    positions: list[int]  # positions in the batch's kept postings
    seq: int | None = None  # its log row, when stored for another replica to apply
    outcome: Outcome | None = None


@dataclass
class Pending:
    """A batch waiting for its group's commit."""

    request: Request
    txns: list[Transaction]
    indexes: list[int]  # each posting's position in the request
    rejected: list[Rejection]
    future: asyncio.Future[Response]
    repeated: int = 0  # postings repeated within the batch itself
    pieces: list[Piece] = field(default_factory=list)

    def split(self, partition_of: Callable[[str], str]) -> None:
        """Drop postings repeated in the batch and group the rest by partition."""
        seen: set[str] = set()
        kept: list[int] = []
        for position, txn in enumerate(self.txns):
            if txn.txn_id not in seen:
                seen.add(txn.txn_id)
                kept.append(position)
        self.repeated = len(self.txns) - len(kept)
        by_partition: dict[str, list[int]] = {}
        for position in kept:
            by_partition.setdefault(partition_of(self.txns[position].client_id), []).append(
                position)
        self.pieces = [Piece(name, positions) for name, positions in by_partition.items()]

    def refuse_unknown_facilities(self, has_facility: Callable[[str, str], bool]) -> None:
        """Refuse postings that name a facility not registered for their client."""
        kept: list[Transaction] = []
        kept_indexes: list[int] = []
        for txn, index in zip(self.txns, self.indexes, strict=True):
            if txn.facility_id is not None and not has_facility(txn.client_id, txn.facility_id):
                self.rejected.append(Rejection(index, txn.txn_id, "facility",
                                               "UNKNOWN_FACILITY",
                                               "is not a registered facility of the client"))
                continue
            kept.append(txn)
            kept_indexes.append(index)
        self.txns, self.indexes = kept, kept_indexes

    def body(self, positions: list[int]) -> bytes:
        """Return the serialized request of the postings at ``positions``."""
        request = self.request
        if len(positions) == len(request.transactions):
            return request.SerializeToString()  # the whole batch: no copy
        return Request(batch_id=request.batch_id,
                       transactions=[request.transactions[self.indexes[i]]
                                     for i in positions]).SerializeToString()

    @property
    def waits(self) -> list[int]:
        """Return the log rows of pieces another replica applies."""
        return [piece.seq for piece in self.pieces if piece.seq is not None]

    def response(self) -> Response:
        """Return the acknowledgement of the pieces' outcomes (all must be known)."""
        outcomes = [piece.outcome or Outcome() for piece in self.pieces]
        warnings = [name for outcome in outcomes for name in outcome.warnings]
        return Response(
            batch_id=self.request.batch_id,
            accepted=sum(o.accepted for o in outcomes),
            duplicates=self.repeated + sum(o.duplicates for o in outcomes),
            alerts=sum(o.alerts for o in outcomes),
            warnings=list(dict.fromkeys(warnings)),
            rejected=[rejected_message(r) for r in sorted(self.rejected, key=lambda r: r.index)],
        )


def fresh_positions(txns: list[Transaction], seen: Callable[[str, str], bool]) -> list[int]:
    """Return the positions of postings the engine has not seen (nor earlier in ``txns``)."""
    earlier: set[str] = set()
    fresh: list[int] = []
    for position, txn in enumerate(txns):
        if txn.txn_id in earlier:
            continue
        earlier.add(txn.txn_id)
        if not seen(txn.client_id, txn.txn_id):
            fresh.append(position)
    return fresh


async def owners_results(database: Database, item: Pending, wait: float) -> bool:
    """Wait up to ``wait`` seconds until the owners of the batch's other partitions have
    applied their pieces; return whether they all have (their outcomes are then set)."""
    deadline = time.monotonic() + wait
    delay = FIRST_POLL_SECONDS
    while True:
        outcomes = await batch_log.results(database, item.waits)
        for piece in item.pieces:
            if piece.seq is not None and piece.seq in outcomes:
                piece.outcome = outcomes[piece.seq]
        if all(piece.outcome is not None for piece in item.pieces):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, LAST_POLL_SECONDS)


def refused(request: Request, error: DomainError) -> Response:
    """Return the acknowledgement of a batch that was not taken."""
    return Response(batch_id=request.batch_id, error=to_status(error, domain="risk"))


async def owners_response(database: Database, item: Pending, committed: Response,
                          wait: float) -> Response:
    """Return the batch's acknowledgement once the owners of its other partitions applied
    their pieces, or AWAITING_OWNER after ``wait`` seconds (the pieces stay stored)."""
    if not await owners_results(database, item, wait):
        return refused(item.request, Unavailable(
            "the batch is stored but its partition's owner has not applied it yet; "
            "resend it to learn the result", reason="AWAITING_OWNER"))
    response = item.response()
    response.commit_time.CopyFrom(committed.commit_time)
    return response
