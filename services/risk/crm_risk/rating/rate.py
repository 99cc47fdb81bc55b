"""Rating a client from the store: gather the scorecard's inputs, rate, record, announce.

Used by RateClient and approved overrides; the review task (periodic and event-triggered
re-ratings) and BatchRateClients rate many clients at once with the same functions
(``rating/batch.py``). Every rating records the scorecard, master-scale and ratio-threshold
versions and the inputs it saw, so it can be reproduced and explained.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import risk_events_pb2
from crm_risk.linked import Linked
from crm_risk.models import ClientFactRow, RatingOverrideRow, RatingRow
from crm_risk.rating.evidence import gather_evidence, inputs_of
from crm_risk.rating.model.caps import worst
from crm_risk.rating.model.policy import review_due
from crm_risk.rating.model.ratio_warnings import DEFAULT_RATIO_THRESHOLDS
from crm_risk.rating.model.scale import falls_to
from crm_risk.rating.model.scorecard import RatingInputs, RatingResult, rate
from crm_runtime.errors import FailedPrecondition
from crm_runtime.outbox import Outbox
from crm_runtime.wire import timestamp

WATCH_LEVELS = frozenset({"yellow", "orange", "red"})


async def latest_rating(session: AsyncSession, client_id: str) -> RatingRow | None:
    """Return the rating in force (the newest)."""
    return (
        (await session.execute(
            select(RatingRow).where(col(RatingRow.client_id) == client_id)
            .order_by(col(RatingRow.seq).desc()).limit(1)
        )).scalars().first()
    )


def _on_watch_list(inputs: RatingInputs) -> bool:
    """Return True for a quarterly review: any yellow or worse warning open, or an NPL."""
    level = worst([w.level for w in inputs.open_warnings])
    return level in WATCH_LEVELS or inputs.has_npl_facility


async def prepare_rating(
    session: AsyncSession,
    client_id: str,
    *,
    trigger: str,
    actor: str,
    now: datetime,
    floating: float | None = None,
    fx: float | None = None,
) -> RatingRow:
    """Return a new (unsaved) rating of the client; raise FAILED_PRECONDITION if unknown.

    Only reads, so callers run it outside the write transaction: on SQLite the single writer
    is then held only for the few statements of `commit_rating`, not for the whole gathering
    (which would stall the monitoring stream's commits).
    """
    fact = await session.get(ClientFactRow, client_id)
    if fact is None or not fact.industry_code:
        raise FailedPrecondition(
            "the risk service has not learned this client's industry yet",
            reason="CLIENT_FACTS_MISSING",
        )
    evidence = (await gather_evidence(session, [client_id], now=now))[client_id]
    previous = evidence.previous
    if floating is None:
        floating = previous.floating_rate_share if previous is not None else 0.0
    if fx is None:
        fx = previous.fx_revenue_share if previous is not None else 0.0
    inputs = inputs_of(evidence, industry_code=fact.industry_code, size_class=fact.size_class,
                       floating=floating, fx=fx)
    return RatingRow(**rating_values(
        client_id, rate(inputs), inputs, evidence.statement_id,
        previous.grade if previous is not None else "", trigger=trigger, actor=actor, now=now))


async def commit_rating(
    session: AsyncSession, outbox: Outbox, row: RatingRow, *, now: datetime,
    contagion: Linked | None = None,
) -> RatingRow:
    """Record a prepared rating against the rating in force at commit time."""
    fact = await session.get(ClientFactRow, row.client_id)
    if fact is None:
        raise FailedPrecondition("the client is unknown", reason="CLIENT_FACTS_MISSING")
    previous = await latest_rating(session, row.client_id)
    row.previous_grade = previous.grade if previous is not None else ""
    if previous is None:
        row.trigger = "initial"
    return await record_rating(session, outbox, fact, row, previous, now=now,
                               contagion=contagion)


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    """Return a dataclass's field names (dataclasses.fields rebuilds its answer per call)."""
    return tuple(f.name for f in fields(kind))


def _plain(value: object) -> object:
    """Return a dataclass as its fields (json.dumps walks on), anything else as text."""
    if is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    return str(value)


def inputs_record(inputs: RatingInputs) -> str:
    """Return the inputs as stored with a rating: the JSON of ``asdict(inputs)`` with other
    values as text, written without ``asdict``'s deep copy (a third of a re-rating's time
    per client went there)."""
    return json.dumps(inputs, default=_plain)


def rating_values(
    client_id: str,
    result: RatingResult,
    inputs: RatingInputs,
    statement_id: str,
    previous_grade: str,
    *,
    trigger: str,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Return the column values of a new rating (RateClient and the re-rating store the
    same values; the re-rating writes them without building ORM objects)."""
    factors = [f.as_record() for f in result.factors]
    return {
        "id": uuid.uuid4().hex,
        "client_id": client_id,
        "grade": result.grade,
        "pd": result.pd,
        "score": result.score,
        "model_grade": result.model_grade,
        "model_pd": result.model_pd,
        "dimension_scores_json": json.dumps(result.dimension_scores),
        # Flat dataclasses of scalars: _plain gives what asdict gives, without its deep copy.
        "reason_codes_json": json.dumps([_plain(r) for r in result.reason_codes],
                                        ensure_ascii=False),
        "caps_json": json.dumps(result.caps_applied),
        "inputs_json": inputs_record(inputs),
        "factors_json": json.dumps(factors, ensure_ascii=False),
        "scorecard_version": result.scorecard_version,
        "master_scale_version": result.master_scale_version,
        "ratio_thresholds_version": DEFAULT_RATIO_THRESHOLDS,
        "trigger": trigger,
        "statement_id": statement_id,
        "previous_grade": previous_grade,
        "override_id": "",
        "floating_rate_share": inputs.floating_rate_debt_share,
        "fx_revenue_share": inputs.fx_revenue_share,
        "rated_by": actor,
        "effective_time": now,
        "next_review_date": review_due(
            last_rated=now.date(), grade=result.grade, on_watch_list=_on_watch_list(inputs),
            scale_version=result.master_scale_version,
        ),
    }


async def record_rating(
    session: AsyncSession, outbox: Outbox, fact: ClientFactRow, row: RatingRow,
    previous: RatingRow | None, *, now: datetime, contagion: Linked | None = None,
) -> RatingRow:
    """Store a new rating, supersede pending overrides, schedule the review, announce it;
    a fall to the contagion grade warns the client's related clients."""
    session.add(row)
    await session.execute(
        update(RatingOverrideRow)
        .where(col(RatingOverrideRow.client_id) == fact.client_id,
               col(RatingOverrideRow.state) == "proposed")
        .values(state="superseded", decide_time=now)
    )
    fact.next_review_date = row.next_review_date
    fact.rerate_requested = False
    fact.rerate_reason = ""
    fact.update_time = now
    session.add(fact)
    changed = previous is None or (previous.grade, round(previous.pd, 8)) != (
        row.grade, round(row.pd, 8)
    )
    if changed:
        client = f"clients/{fact.client_id}"
        outbox.emit(
            session,
            risk_events_pb2.RatingChanged(
                client=client,
                rating=f"{client}/ratings/{row.id}",
                grade=row.grade,
                previous_grade=previous.grade if previous is not None else "",
                probability_of_default=row.pd,
                reason_codes=[r["code"] for r in json.loads(row.reason_codes_json)],
                trigger=row.trigger,
                effective_time=timestamp(now),
            ),
            subject=client,
        )
    await session.flush()
    if contagion is not None and previous is not None and falls_to(
            previous.grade, row.grade, contagion.grade):
        await contagion.spread(session, outbox, fact.client_id, now=now,
                               cause=f"downgraded from {previous.grade} to {row.grade}")
    return row
