"""Re-rating many clients at once: BatchRateClients and the periodic review.

Per chunk of clients: the evidence is read with a fixed number of queries
(``evidence.gather_evidence``), every client is scored by the same ``scorecard.rate`` and
turned into the same column values (``rate.rating_values``) as RateClient, and the write is a
handful of statements for the whole chunk: one multi-row INSERT of the ratings, one UPDATE of
the facts (review dates), one UPDATE superseding pending overrides and one multi-row INSERT
of RatingChanged events into the outbox. Scoring only reads, so it runs outside the write
transaction, as RateClient's does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import risk_events_pb2
from crm_risk.linked import Linked
from crm_risk.models import ClientFactRow, RatingOverrideRow, RatingRow
from crm_risk.rating.evidence import gather_evidence, inputs_of, previous_ratings
from crm_risk.rating.model.scale import falls_to
from crm_risk.rating.model.scorecard import rate
from crm_risk.rating.rate import rating_values
from crm_runtime.outbox import Outbox
from crm_runtime.wire import timestamp

RATINGS: Any = RatingRow.__table__  # type: ignore[attr-defined]
FACTS: Any = ClientFactRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Rated:
    """One stored rating of a batch, as the batch's answer reports it."""

    client_id: str
    rating_id: str
    grade: str
    pd: float
    reason_codes: tuple[str, ...]
    previous_grade: str


@dataclass(frozen=True)
class Scored:
    """A chunk's new ratings (column values, in request order) and the clients without the
    facts a rating needs (unknown, or no industry yet)."""

    ratings: list[dict[str, Any]]
    missing: list[str]


async def score_clients(
    session: AsyncSession, triggers: dict[str, str], *, actor: str, now: datetime,
) -> Scored:
    """Score every client of ``triggers`` (client id -> trigger); only reads."""
    client_ids = list(triggers)
    facts = {cid: (industry, size) for cid, industry, size in (await session.execute(
        select(col(ClientFactRow.client_id), col(ClientFactRow.industry_code),
               col(ClientFactRow.size_class))
        .where(col(ClientFactRow.client_id).in_(client_ids))
    )).all() if industry}
    known = [cid for cid in client_ids if cid in facts]
    evidence = await gather_evidence(session, known, now=now) if known else {}
    ratings = []
    for cid in known:
        mine = evidence[cid]
        previous = mine.previous
        industry, size = facts[cid]
        inputs = inputs_of(
            mine, industry_code=industry, size_class=size,
            floating=previous.floating_rate_share if previous is not None else 0.0,
            fx=previous.fx_revenue_share if previous is not None else 0.0,
        )
        ratings.append(rating_values(
            cid, rate(inputs), inputs, mine.statement_id,
            previous.grade if previous is not None else "", trigger=triggers[cid],
            actor=actor, now=now))
    return Scored(ratings, [cid for cid in client_ids if cid not in facts])


async def commit_ratings(
    session: AsyncSession, outbox: Outbox, ratings: list[dict[str, Any]], *, now: datetime,
    contagion: Linked | None = None,
) -> list[Rated]:
    """Store scored ratings against the ratings in force at commit time, as ``record_rating``
    does one by one: supersede pending overrides, schedule reviews, announce changes."""
    if not ratings:
        return []
    client_ids = [r["client_id"] for r in ratings]
    previous = await previous_ratings(session, client_ids)
    events: list[tuple[Message, str]] = []
    for row in ratings:
        before = previous.get(row["client_id"])
        row["previous_grade"] = before.grade if before is not None else ""
        if before is None:
            row["trigger"] = "initial"
        if before is None or (before.grade, round(before.pd, 8)) != (row["grade"],
                                                                      round(row["pd"], 8)):
            events.append(_changed(row, now))
    await session.execute(insert(RATINGS), ratings)
    await session.execute(
        update(RatingOverrideRow)
        .where(col(RatingOverrideRow.client_id).in_(client_ids),
               col(RatingOverrideRow.state) == "proposed")
        .values(state="superseded", decide_time=now)
    )
    await session.execute(
        update(FACTS).where(FACTS.c.client_id == bindparam("b_client"))
        .values(next_review_date=bindparam("b_review"), rerate_requested=False,
                rerate_reason="", update_time=now)
        .execution_options(synchronize_session=False),
        [{"b_client": r["client_id"], "b_review": r["next_review_date"]} for r in ratings],
    )
    await outbox.emit_many(session, events)
    if contagion is not None:
        for row in ratings:
            before = previous.get(row["client_id"])
            if before is not None and falls_to(before.grade, row["grade"], contagion.grade):
                await contagion.spread(
                    session, outbox, row["client_id"], now=now,
                    cause=f"downgraded from {before.grade} to {row['grade']}")
    return [Rated(r["client_id"], r["id"], r["grade"], r["pd"],
                  tuple(code["code"] for code in json.loads(r["reason_codes_json"])),
                  r["previous_grade"]) for r in ratings]


def _changed(row: dict[str, Any], now: datetime) -> tuple[Message, str]:
    """Return the RatingChanged event of a new rating and its subject."""
    client = f"clients/{row['client_id']}"
    return risk_events_pb2.RatingChanged(
        client=client,
        rating=f"{client}/ratings/{row['id']}",
        grade=row["grade"],
        previous_grade=row["previous_grade"],
        probability_of_default=row["pd"],
        reason_codes=[r["code"] for r in json.loads(row["reason_codes_json"])],
        trigger=row["trigger"],
        effective_time=timestamp(now),
    ), client


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    """Return ``items`` in consecutive lists of at most ``size``."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
