"""Rating a client from the store: gather the scorecard's inputs, rate, record, announce.

Used by RateClient, the review task (periodic and event-triggered re-ratings) and approved
overrides. Every rating records the scorecard, master-scale and ratio-threshold versions and
the inputs it saw, so it can be reproduced and explained.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import risk_events_pb2
from crm_risk.linked import Linked
from crm_risk.models import (
    ClientFactRow,
    FacilityEventRow,
    FacilityRow,
    RatingOverrideRow,
    RatingRow,
    StatementRow,
)
from crm_risk.models_monitoring import ExternalSignalRow, WarningRow
from crm_risk.rating.model.caps import OpenWarning, WarningLevel, worst
from crm_risk.rating.model.classification import NPL_CATEGORIES, TECHNICAL_DELAY_MAX_DAYS
from crm_risk.rating.model.features import MAX_STATEMENTS, rating_features
from crm_risk.rating.model.policy import review_due
from crm_risk.rating.model.ratio_warnings import DEFAULT_RATIO_THRESHOLDS
from crm_risk.rating.model.scale import falls_to
from crm_risk.rating.model.scorecard import (
    RatingInputs,
    RatingResult,
    RepaymentHistory,
    SignalCounts,
    rate,
)
from crm_risk.rating.statement_input import statement_of
from crm_runtime.db import Database
from crm_runtime.errors import FailedPrecondition
from crm_runtime.outbox import Outbox
from crm_runtime.wire import timestamp

YEAR = timedelta(days=365)
WATCH_LEVELS = frozenset({"yellow", "orange", "red"})


async def _repayment(session: AsyncSession, client_id: str, now: datetime) -> RepaymentHistory:
    """Return the worst DPD and the count of real (non-technical) delays over 12 months."""
    rows = (
        await session.execute(
            select(col(FacilityEventRow.days_past_due), col(FacilityEventRow.technical_delay))
            .join(FacilityRow, col(FacilityRow.seq) == col(FacilityEventRow.facility_seq))
            .where(
                col(FacilityRow.client_id) == client_id,
                col(FacilityEventRow.event_type) == "past_due",
                col(FacilityEventRow.effective_date) >= (now - YEAR).date(),
            )
        )
    ).all()
    current = (
        await session.execute(
            select(func.max(col(FacilityRow.days_past_due))).where(
                col(FacilityRow.client_id) == client_id
            )
        )
    ).scalar_one()
    real = [
        d for d, technical in rows
        if d > 0 and not (technical and d <= TECHNICAL_DELAY_MAX_DAYS)
    ]
    return RepaymentHistory(
        max_dpd_12m=max([*real, int(current or 0)], default=0),
        late_payments_12m=len(real),
    )


async def _signals(session: AsyncSession, client_id: str, now: datetime) -> SignalCounts:
    rows = (
        await session.execute(
            select(col(ExternalSignalRow.signal_type), func.count())
            .where(col(ExternalSignalRow.client_id) == client_id,
                   col(ExternalSignalRow.occur_time) >= now - YEAR)
            .group_by(col(ExternalSignalRow.signal_type))
        )
    ).all()
    counts = {kind: int(n) for kind, n in rows}
    return SignalCounts(**{k: counts.get(k, 0) for k in SignalCounts.__dataclass_fields__})


async def _open_warnings(session: AsyncSession, client_id: str) -> tuple[OpenWarning, ...]:
    """Return the client's open warnings at their own level (before escalation by others)."""
    rows = (await session.execute(
        select(col(WarningRow.source), col(WarningRow.rule), col(WarningRow.base_level))
        .where(col(WarningRow.client_id) == client_id, col(WarningRow.open_key).is_not(None))
    )).all()
    return tuple(OpenWarning(source, rule, cast(WarningLevel, level))
                 for source, rule, level in rows)


async def latest_rating(session: AsyncSession, client_id: str) -> RatingRow | None:
    """Return the rating in force (the newest)."""
    return (
        (await session.execute(
            select(RatingRow).where(col(RatingRow.client_id) == client_id)
            .order_by(col(RatingRow.seq).desc()).limit(1)
        )).scalars().first()
    )


async def gather_inputs(
    session: AsyncSession, fact: ClientFactRow, *, floating: float, fx: float, now: datetime
) -> tuple[RatingInputs, StatementRow | None]:
    """Return the scorecard inputs for a client and the statement they use."""
    statements = list((await session.execute(
        select(StatementRow).where(col(StatementRow.client_id) == fact.client_id)
        .order_by(col(StatementRow.period_end).desc()).limit(MAX_STATEMENTS)
    )).scalars())
    latest = statements[0] if statements else None
    features = rating_features([statement_of(r) for r in statements]) if statements else None
    categories = (await session.execute(
        select(col(FacilityRow.category)).where(col(FacilityRow.client_id) == fact.client_id)
    )).scalars()
    inputs = RatingInputs(
        industry_code=fact.industry_code,
        size_class=fact.size_class,  # the MIIT class, for a version that scores it
        features=features,
        repayment=await _repayment(session, fact.client_id, now),
        signals=await _signals(session, fact.client_id, now),
        floating_rate_debt_share=floating, fx_revenue_share=fx,
        open_warnings=await _open_warnings(session, fact.client_id),
        has_npl_facility=any(c in NPL_CATEGORIES for c in categories),
        audit_opinion=latest.audit_opinion if latest is not None else "none",  # type: ignore[arg-type]
    )
    return inputs, latest


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
    previous = await latest_rating(session, client_id)
    if floating is None:
        floating = previous.floating_rate_share if previous is not None else 0.0
    if fx is None:
        fx = previous.fx_revenue_share if previous is not None else 0.0
    inputs, statement = await gather_inputs(session, fact, floating=floating, fx=fx, now=now)
    return _rating_row(client_id, rate(inputs), inputs, statement, previous,
                       trigger=trigger, actor=actor, now=now)


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


async def rate_client(
    database: Database, outbox: Outbox, client_id: str, *, trigger: str, actor: str,
    now: datetime, floating: float | None = None, fx: float | None = None,
    contagion: Linked | None = None,
) -> RatingRow:
    """Rate the client now and record the rating (read, then a short write transaction)."""
    async with database.read() as session:
        row = await prepare_rating(session, client_id, trigger=trigger, actor=actor, now=now,
                                   floating=floating, fx=fx)
    async with database.write() as session:
        return await commit_rating(session, outbox, row, now=now, contagion=contagion)


def _rating_row(
    client_id: str,
    result: RatingResult,
    inputs: RatingInputs,
    statement: StatementRow | None,
    previous: RatingRow | None,
    *,
    trigger: str,
    actor: str,
    now: datetime,
) -> RatingRow:
    recorded = asdict(inputs)
    factors = [f.as_record() for f in result.factors]
    return RatingRow(
        id=uuid.uuid4().hex,
        client_id=client_id,
        grade=result.grade,
        pd=result.pd,
        score=result.score,
        model_grade=result.model_grade,
        model_pd=result.model_pd,
        dimension_scores_json=json.dumps(result.dimension_scores),
        reason_codes_json=json.dumps([asdict(r) for r in result.reason_codes],
                                     ensure_ascii=False),
        caps_json=json.dumps(result.caps_applied),
        inputs_json=json.dumps(recorded, default=str),
        factors_json=json.dumps(factors, ensure_ascii=False),
        scorecard_version=result.scorecard_version,
        master_scale_version=result.master_scale_version,
        ratio_thresholds_version=DEFAULT_RATIO_THRESHOLDS,
        trigger=trigger,
        statement_id=statement.id if statement is not None else "",
        previous_grade=previous.grade if previous is not None else "",
        floating_rate_share=inputs.floating_rate_debt_share,
        fx_revenue_share=inputs.fx_revenue_share,
        rated_by=actor,
        effective_time=now,
        next_review_date=review_due(
            last_rated=now.date(), grade=result.grade, on_watch_list=_on_watch_list(inputs),
            scale_version=result.master_scale_version,
        ),
    )


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
