"""Reconciles what callers were told with what the stores hold, reading each store directly.

Mutations: every acknowledged call must have left exactly one row (its natural key is the
client the scenario was about). Events: every outbox row (one per event and subscriber) must
be in that subscriber's inbox; where an event has a countable effect at the consumer (a
notification, an alert, a recorded rating change), effects per client may not outnumber the
events delivered for that client. The figures are cumulative over the run; the caller takes
differences between phases.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from chaos_platform import SERVICES, StoreUrls
from chaos_workload import CAMPAIGN_RECIPIENTS, RM, Ledger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm.events.v1 import event_pb2

# Kind of acknowledged mutation → (store, SQL giving the client id of each stored row).
STORED = {
    "CreateClient": ("client", "SELECT id FROM client WHERE relationship_manager = :rm"),
    "CreateKeyPerson": ("client", "SELECT c.id FROM key_person k JOIN client c "
                                  "ON c.seq = k.client_seq WHERE c.relationship_manager = :rm"),
    "CreateFinancialStatement": ("risk", "SELECT client_id FROM risk_statement"),
    "RateClient": ("risk", "SELECT client_id FROM risk_rating WHERE rated_by = 'staff/ro-chaos'"),
    "CreateFacility": ("risk", "SELECT client_id FROM risk_facility"),
    "MonitorTransactions": ("risk", "SELECT client_id FROM risk_warning "
                                    "WHERE rule = 'round_trip'"),
    "SendMessage": ("notify", "SELECT substr(body, 7) FROM notify_message "
                              "WHERE template = 'chaos-note' AND campaign IS NULL"),
    "SendSurvey": ("feedback", "SELECT substr(client, 9) FROM feedback_dispatch"),
    "CreateCampaign": ("notify", "SELECT substr(display_name, 7) FROM notify_campaign"),
    # A campaign's fan-out: one push message per recipient, whatever kills the dispatcher.
    "CampaignMessages": ("notify", "SELECT substr(c.display_name, 7) FROM notify_message m "
                                   "JOIN notify_campaign c ON m.campaign = c.id"),
}
# Rows expected per acknowledged key, where not one.
EXPECTED = {"CampaignMessages": len(CAMPAIGN_RECIPIENTS)}

# (event type, consumer) → SQL giving the client name of each effect row the event makes.
_NOTES = "SELECT extra_json FROM notify_message WHERE channel = 'push' AND template = '{}'"
EFFECTS = {
    ("ClientCreated", "notify"): _NOTES.format("client-assigned"),
    ("RatingChanged", "notify"): _NOTES.format("rating-changed"),
    ("WarningRaised", "notify"): _NOTES.format("warning-raised"),
    ("SurveyDispatched", "notify"): _NOTES.format("survey-invitation"),
    ("RatingChanged", "feedback"): "SELECT client FROM feedback_rating_change",
    ("WarningRaised", "feedback"): "SELECT client FROM feedback_warning",
    ("WarningRaised", "client"): "SELECT 'clients/' || c.id FROM client_open_warning w "
                                 "JOIN client c ON c.seq = w.client_seq",
}


@dataclass
class Row:
    """One line of the table: a mutation kind or an event kind towards one consumer."""

    acknowledged: int = 0
    stored: int | None = None
    delivered: int | None = None
    duplicated: int | None = 0
    lost: int = 0


class Stores:
    """An engine per service store (read-only use)."""

    def __init__(self, urls: StoreUrls) -> None:
        self.engines: dict[str, AsyncEngine] = {
            name: create_async_engine(urls[name], pool_pre_ping=True) for name in SERVICES
        }

    async def rows(self, store: str, sql: str, **params: object) -> list[tuple[object, ...]]:
        """Run a query on one store."""
        async with self.engines[store].connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]

    async def undelivered(self) -> int:
        """Return how many outbox rows, over every store, are not yet delivered, plus the
        campaigns notify has not finished fanning out."""
        ((campaigns,),) = await self.rows(
            "notify", "SELECT count(*) FROM notify_campaign WHERE state <> 'dispatched'")
        total = int(str(campaigns))
        for store in SERVICES:
            ((count,),) = await self.rows(
                store, "SELECT count(*) FROM outbox_message WHERE delivered_time IS NULL")
            total += int(str(count))
        return total

    async def dispose(self) -> None:
        """Close every engine."""
        for engine in self.engines.values():
            await engine.dispose()


def _client_of(value: object) -> str:
    raw = str(value)
    return str(json.loads(raw).get("client", "")) if raw.startswith("{") else raw


async def mutations(stores: Stores, ledger: Ledger, warnings_per_batch: int) -> dict[str, Row]:
    """Acknowledged / stored / duplicated / lost per kind of mutation."""
    table: dict[str, Row] = {}
    for kind, (store, sql) in STORED.items():
        counts = Counter(str(r[0]) for r in await stores.rows(store, sql, rm=f"staff/{RM}"))
        expected = warnings_per_batch if kind == "MonitorTransactions" else EXPECTED.get(kind, 1)
        # A campaign's messages are owed once its creation was acknowledged.
        keys = ledger.acknowledged.get("CreateCampaign" if kind == "CampaignMessages" else kind,
                                       [])
        acknowledged = set(keys)
        table[kind] = Row(
            acknowledged=len(keys) * expected,
            stored=sum(min(counts[k], expected) for k in keys),
            delivered=None,
            duplicated=sum(max(0, counts[k] - expected) for k in keys)
            + sum(c for k, c in counts.items() if k not in acknowledged),
            lost=sum(max(0, expected - counts[k]) for k in keys),
        )
    return table


async def events(stores: Stores) -> dict[str, Row]:
    """Per event type and consumer: outbox rows, delivered to the inbox, extra effects, lost."""
    inboxes = {
        store: {str(r[0]) for r in await stores.rows(store, "SELECT event_id FROM inbox_message")}
        for store in SERVICES
    }
    table: dict[str, Row] = {}
    delivered_per_client: dict[tuple[str, str], Counter[str]] = {}
    for producer in SERVICES:
        outbox = await stores.rows(
            producer, "SELECT event_id, subscriber, event_type, envelope FROM outbox_message")
        for event_id, subscriber, event_type, envelope in outbox:
            kind = str(event_type).rsplit(".", 1)[-1]
            row = table.setdefault(f"{kind} → {subscriber}", Row(delivered=0, duplicated=None))
            row.acknowledged += 1
            if str(event_id) in inboxes[str(subscriber)]:
                row.delivered = (row.delivered or 0) + 1
                subject = event_pb2.EventEnvelope.FromString(bytes(envelope)).subject  # type: ignore[arg-type]
                delivered_per_client.setdefault((kind, str(subscriber)), Counter())[subject] += 1
            else:
                row.lost += 1
    for (kind, consumer), sql in EFFECTS.items():
        row = table.get(f"{kind} → {consumer}")
        if row is None:
            continue
        effects = Counter(_client_of(r[0]) for r in await stores.rows(consumer, sql))
        delivered = delivered_per_client.get((kind, consumer), Counter())
        row.duplicated = sum(max(0, n - delivered[c]) for c, n in effects.items())
    return table


def difference(now: dict[str, Row], before: dict[str, Row]) -> dict[str, Row]:
    """Counts added since `before`; duplicated and lost stay cumulative (they must stay 0)."""
    out: dict[str, Row] = {}
    for key, row in now.items():
        old = before.get(key, Row())
        out[key] = Row(
            acknowledged=row.acknowledged - old.acknowledged,
            stored=None if row.stored is None else row.stored - (old.stored or 0),
            delivered=None if row.delivered is None else row.delivered - (old.delivered or 0),
            duplicated=row.duplicated,
            lost=row.lost,
        )
    return out


def table_lines(title: str, phases: list[tuple[str, int, dict[str, Row]]]) -> list[str]:
    """Format the per-phase rows as a Markdown table."""
    show = lambda v: "–" if v is None else str(v)  # noqa: E731
    lines = [f"### {title}", "",
             "| killed | kills | kind | acknowledged | stored | delivered | duplicated | lost |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for killed, kills, rows in phases:
        for key, r in rows.items():
            lines.append(f"| {killed} | {kills} | {key} | {r.acknowledged} | {show(r.stored)} "
                         f"| {show(r.delivered)} | {show(r.duplicated)} | {r.lost} |")
    return lines



def summary(rows: dict[str, Row]) -> dict[str, Row]:
    """Fold the rows: every mutation kind into one line, each event type over its consumers
    ("duplicated" stays "–" for an event type none of whose consumers has a countable effect)."""
    out: dict[str, Row] = {}
    for key, r in rows.items():
        kind, arrow, _ = key.partition(" → ")
        if arrow:
            consumers = sum(1 for k in rows if k.startswith(f"{kind} → "))
            s = out.setdefault(f"{kind} (× {consumers} consumers)",
                               Row(delivered=0, duplicated=None))
        else:
            s = out.setdefault(f"calls ({len(STORED)} checks)", Row(stored=0))
        s.acknowledged += r.acknowledged
        s.stored = None if r.stored is None else (s.stored or 0) + r.stored
        s.delivered = None if r.delivered is None else (s.delivered or 0) + r.delivered
        if r.duplicated is not None:
            s.duplicated = (s.duplicated or 0) + r.duplicated
        s.lost += r.lost
    return out
