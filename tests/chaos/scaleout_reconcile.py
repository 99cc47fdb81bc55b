"""Counts, per event kind and consumer, what was committed, applied, applied twice and lost,
and how many messages the stream holds per event, reading the stores and JetStream directly.

Committed: the producers' outbox rows (one per event on JetStream). Applied: the consumer's
inbox rows for those events (its primary key makes a second inbox row impossible, so a second
application shows in the effects instead: effects per client may not outnumber the events
applied for that client). Stream: messages on the event's subject; one per event means every
publish after the first (a killed relay's rows taken over by another) was dropped as a
duplicate by its Nats-Msg-Id.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from chaos_platform import SERVICES
from chaos_reconcile import EFFECTS, Stores
from nats.js import JetStreamContext

from crm.events.v1 import event_pb2
from crm_runtime.broker import EVENT_STREAM
from crm_runtime.jetstream import subject_for

# Event kind → the services whose handlers consume it (their `event_handlers`). A kind missing
# here that a service does apply shows as "unexpected" in the table.
CONSUMERS: dict[str, tuple[str, ...]] = {
    "ClientCreated": ("risk", "notify", "feedback"),
    "ClientUpdated": ("risk",),
    "ClientAssigned": ("risk", "notify", "feedback"),
    "SegmentMembershipChanged": ("feedback",),
    "RatingChanged": ("client", "notify", "feedback"),
    "WarningRaised": ("client", "notify", "feedback"),
    "WarningStatusChanged": ("client", "notify", "feedback"),
    "SurveyDispatched": ("notify",),
    "FollowupOverdue": ("notify",),
    "PlaybookActionChanged": ("feedback",),
    "VisitRecorded": ("risk",),
    "ExternalSignalRaised": ("risk",),
    "GroupRecorded": ("risk",),
    "GroupMembershipChanged": ("risk",),
    "GuaranteeRecorded": ("risk",),
    "GuaranteeEnded": ("risk",),
}


@dataclass
class EventRow:
    """One event kind towards one consumer."""

    committed: int = 0
    applied: int = 0
    duplicated: int | None = None
    lost: int = 0
    stream: int = 0


def _client_of(value: object) -> str:
    raw = str(value)
    return str(json.loads(raw).get("client", "")) if raw.startswith("{") else raw


async def _committed(stores: Stores) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Return event ids per kind over every producer, and each event's subject (its client)."""
    per_kind: dict[str, set[str]] = {}
    subjects: dict[str, str] = {}
    for producer in SERVICES:
        rows = await stores.rows(
            producer, "SELECT event_id, event_type, envelope FROM outbox_message")
        for event_id, event_type, envelope in rows:
            kind = str(event_type).rsplit(".", 1)[-1]
            per_kind.setdefault(kind, set()).add(str(event_id))
            envelope_bytes = bytes(envelope)  # type: ignore[arg-type]
            subjects[str(event_id)] = event_pb2.EventEnvelope.FromString(envelope_bytes).subject
    return per_kind, subjects


async def stream_counts(js: JetStreamContext) -> Counter[str]:
    """Return the stream's messages per subject."""
    info = await js.stream_info(EVENT_STREAM, subjects_filter=">")
    return Counter(dict(info.state.subjects or {}))


async def event_table(stores: Stores, js: JetStreamContext) -> dict[str, EventRow]:
    """Return a row per "kind → consumer" (and "kind → unexpected consumer" if any)."""
    per_kind, subjects = await _committed(stores)
    inboxes = {
        name: {str(r[0]): str(r[1]).rsplit(".", 1)[-1] for r in await stores.rows(
            name, "SELECT event_id, event_type FROM inbox_message")}
        for name in SERVICES
    }
    on_stream = await stream_counts(js)
    table: dict[str, EventRow] = {}
    for kind, ids in sorted(per_kind.items()):
        stream = on_stream[subject_for(f"crm.events.v1.{kind}")]
        for consumer in CONSUMERS.get(kind, ()):
            applied = ids & inboxes[consumer].keys()
            row = EventRow(len(ids), len(applied), None, len(ids - applied), stream)
            effects_sql = EFFECTS.get((kind, consumer))
            if effects_sql is not None:
                per_client = Counter(subjects[e] for e in applied)
                effects = Counter(_client_of(r[0])
                                  for r in await stores.rows(consumer, effects_sql))
                row.duplicated = sum(max(0, n - per_client[c]) for c, n in effects.items())
            table[f"{kind} → {consumer}"] = row
        for name in SERVICES:
            extra = ids & inboxes[name].keys()
            if extra and name not in CONSUMERS.get(kind, ()):
                table[f"{kind} → {name} (unexpected)"] = EventRow(len(ids), len(extra))
    return table


def problems(table: dict[str, EventRow]) -> list[str]:
    """Return what is wrong: losses, second applications, stream messages ≠ events."""
    found = [f"{k}: lost={r.lost} duplicated={r.duplicated}"
             for k, r in table.items() if r.lost or r.duplicated]
    found += [f"{k}: {r.stream} stream messages for {r.committed} events"
              for k, r in table.items() if "unexpected" not in k and r.stream != r.committed]
    return found


def table_lines(title: str, table: dict[str, EventRow]) -> list[str]:
    """Format the table as Markdown."""
    show = lambda v: "–" if v is None else str(v)  # noqa: E731
    lines = [f"### {title}", "",
             "| event kind → consumer | committed | applied | applied twice | lost "
             "| stream messages per event |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, r in table.items():
        per_event = f"{r.stream / r.committed:.2f}" if r.committed else "–"
        lines.append(f"| {key} | {r.committed} | {r.applied} | {show(r.duplicated)} "
                     f"| {r.lost} | {per_event} |")
    return lines
