"""Idempotent inbox: each event is applied once, in the same transaction as its effects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry import trace
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import event_pb2, event_pb2_grpc
from crm_runtime.auth import Role, require_roles
from crm_runtime.db import Database
from crm_runtime.errors import InvalidArgument
from crm_runtime.logging import get_logger
from crm_runtime.metrics import counter
from crm_runtime.tables import InboxMessage
from crm_runtime.telemetry import extract_context

log = get_logger("inbox")
tracer = trace.get_tracer("crm_runtime.inbox")

MAX_EVENTS_PER_CALL = 500
_events = counter(
    "crm.inbox.events",
    unit="{event}",
    description="Events offered to this consumer, by outcome: applied, or duplicate (dropped)",
)

ApplyFn = Callable[[AsyncSession, Any, event_pb2.EventEnvelope], Awaitable[None]]


@dataclass(frozen=True)
class EventHandler:
    """How a consumer applies one event type."""

    message_type: type[Message]
    apply: ApplyFn


class EventSink(event_pb2_grpc.EventSinkServiceServicer):
    """The EventSinkService of a consuming service."""

    def __init__(self, database: Database, handlers: Mapping[str, EventHandler]) -> None:
        self._db = database
        self._handlers = dict(handlers)
        # Counts since start; duplicates are redeliveries the inbox absorbed.
        self.applied = 0
        self.duplicates = 0
        # Metric attributes per (producer, outcome), built once.
        self._by_source: dict[tuple[str, bool], dict[str, str]] = {}

    async def DeliverEvents(  # noqa: N802 - gRPC method name.
        self, request: event_pb2.DeliverEventsRequest, context: grpc.aio.ServicerContext
    ) -> event_pb2.DeliverEventsResponse:
        """Apply each event once, in order."""
        require_roles(Role.SYSTEM)
        if len(request.events) > MAX_EVENTS_PER_CALL:
            raise InvalidArgument.of("events", f"at most {MAX_EVENTS_PER_CALL} per call")
        response = event_pb2.DeliverEventsResponse()
        for index, envelope in enumerate(request.events):
            if not envelope.event_id or not envelope.event_type:
                raise InvalidArgument.of(f"events[{index}]", "event_id and event_type are required")
            applied = await self.record(envelope)
            target = response.applied_event_ids if applied else response.duplicate_event_ids
            target.append(envelope.event_id)
        return response

    @property
    def handled_types(self) -> frozenset[str]:
        """Return the event types this consumer has handlers for."""
        return frozenset(self._handlers)

    async def record(self, envelope: event_pb2.EventEnvelope) -> bool:
        """Apply one event and count the outcome (any transport); return True if applied."""
        applied = await self.apply(envelope)
        if applied:
            self.applied += 1
        else:
            self.duplicates += 1
        _events.add(1, self._attributes(envelope.source, applied))
        return applied

    def _attributes(self, source: str, applied: bool) -> dict[str, str]:
        key = (source, applied)
        cached = self._by_source.get(key)
        if cached is None:
            if len(self._by_source) >= 64:  # Producers are few; never let a label run away.
                return self._attributes("other", applied)
            cached = self._by_source[key] = {
                "crm.source": source[:64],
                "crm.outcome": "applied" if applied else "duplicate",
            }
        return cached

    async def apply(self, envelope: event_pb2.EventEnvelope) -> bool:
        """Apply one event; return False if it had been applied before."""
        parent = extract_context(
            {"traceparent": envelope.traceparent, "tracestate": envelope.tracestate}
        )
        with tracer.start_as_current_span(
            f"apply {envelope.event_type}",
            context=parent,
            attributes={"crm.event.id": envelope.event_id, "crm.event.source": envelope.source},
        ):
            try:
                async with self._db.write() as session:
                    if await session.get(InboxMessage, envelope.event_id) is not None:
                        return False
                    session.add(
                        InboxMessage(
                            event_id=envelope.event_id,
                            event_type=envelope.event_type,
                            source=envelope.source,
                            received_time=datetime.now(UTC),
                        )
                    )
                    await session.flush()
                    handler = self._handlers.get(envelope.event_type)
                    if handler is None:
                        # Recorded so it is not offered again; this consumer has no use for it.
                        log.debug("event type not handled", event_type=envelope.event_type)
                        return True
                    payload = handler.message_type()
                    if not envelope.payload.Unpack(payload):
                        raise InvalidArgument.of("payload", "does not match event_type")
                    await handler.apply(session, payload, envelope)
            except IntegrityError:
                # Another worker applied it between our check and insert: same outcome.
                return False
        return True
