"""What the scorecard reads about clients, gathered for many clients at once.

RateClient and the book-wide re-rating (``rating/batch.py``) both call ``gather_evidence``:
RateClient with one client, the re-rating with a chunk of up to a few thousand. Each kind of
evidence is one query for the whole chunk (statements, the rating in force, facilities,
past-due events, signals, open warnings), so a chunk costs six statements whatever its
size, and both paths turn the evidence into scorecard inputs with the same ``inputs_of``:
a client gets the same rating from either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.models import FacilityEventRow, FacilityRow, RatingRow, StatementRow
from crm_risk.models_monitoring import ExternalSignalRow, WarningRow
from crm_risk.rating.model.caps import OpenWarning, WarningLevel
from crm_risk.rating.model.classification import NPL_CATEGORIES, TECHNICAL_DELAY_MAX_DAYS
from crm_risk.rating.model.features import MAX_STATEMENTS, rating_features
from crm_risk.rating.model.scorecard import RatingInputs, RepaymentHistory, SignalCounts
from crm_risk.rating.statement_input import statement_of

YEAR = timedelta(days=365)
STATEMENTS: Any = StatementRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PreviousRating:
    """The rating in force: what a new rating is compared with and inherits shares from."""

    grade: str
    pd: float
    floating_rate_share: float
    fx_revenue_share: float


@dataclass
class Evidence:
    """One client's stored evidence; ``statements`` newest first (at most MAX_STATEMENTS)."""

    statements: list[Any] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    current_dpd: int | None = None
    past_due: list[tuple[int, bool]] = field(default_factory=list)
    signal_counts: dict[str, int] = field(default_factory=dict)
    open_warnings: list[OpenWarning] = field(default_factory=list)
    previous: PreviousRating | None = None

    @property
    def statement_id(self) -> str:
        """Return the id of the latest statement ("" when none is on file)."""
        return str(self.statements[0].id) if self.statements else ""


def inputs_of(
    evidence: Evidence, *, industry_code: str, size_class: str, floating: float, fx: float,
) -> RatingInputs:
    """Return the scorecard inputs of one client from its evidence."""
    statements = evidence.statements
    latest = statements[0] if statements else None
    real = [d for d, technical in evidence.past_due
            if d > 0 and not (technical and d <= TECHNICAL_DELAY_MAX_DAYS)]
    counts = evidence.signal_counts
    return RatingInputs(
        industry_code=industry_code,
        size_class=size_class,  # the MIIT class, for a version that scores it
        features=rating_features([statement_of(r) for r in statements]) if statements else None,
        repayment=RepaymentHistory(
            max_dpd_12m=max([*real, int(evidence.current_dpd or 0)], default=0),
            late_payments_12m=len(real),
        ),
        signals=SignalCounts(**{k: counts.get(k, 0) for k in SignalCounts.__dataclass_fields__}),
        floating_rate_debt_share=floating, fx_revenue_share=fx,
        open_warnings=tuple(evidence.open_warnings),
        has_npl_facility=any(c in NPL_CATEGORIES for c in evidence.categories),
        audit_opinion=latest.audit_opinion if latest is not None else "none",
    )


async def previous_ratings(
    session: AsyncSession, client_ids: Sequence[str]
) -> dict[str, PreviousRating]:
    """Return the rating in force (the newest) of each client that has one."""
    newest = (select(func.max(col(RatingRow.seq)))
              .where(col(RatingRow.client_id).in_(client_ids))
              .group_by(col(RatingRow.client_id)))
    rows = (await session.execute(
        select(col(RatingRow.client_id), col(RatingRow.grade), col(RatingRow.pd),
               col(RatingRow.floating_rate_share), col(RatingRow.fx_revenue_share))
        .where(col(RatingRow.seq).in_(newest))
    )).all()
    return {cid: PreviousRating(grade, pd, floating, fx)
            for cid, grade, pd, floating, fx in rows}


async def gather_evidence(
    session: AsyncSession, client_ids: Sequence[str], *, now: datetime
) -> dict[str, Evidence]:
    """Return the evidence of every client in ``client_ids`` (six queries in all)."""
    found = {cid: Evidence() for cid in client_ids}
    await _statements(session, found)
    for cid, previous in (await previous_ratings(session, client_ids)).items():
        found[cid].previous = previous
    # Every result is fetched whole (.all()): iterating one row at a time costs a call into
    # the driver per row, and the aiosqlite adapter takes each from the front of a list.
    for cid, category, dpd in (await session.execute(
        select(col(FacilityRow.client_id), col(FacilityRow.category),
               col(FacilityRow.days_past_due))
        .where(col(FacilityRow.client_id).in_(client_ids))
    )).all():
        mine = found[cid]
        mine.categories.append(category)
        mine.current_dpd = dpd if mine.current_dpd is None else max(mine.current_dpd, dpd)
    for cid, dpd, technical in (await session.execute(
        select(col(FacilityRow.client_id), col(FacilityEventRow.days_past_due),
               col(FacilityEventRow.technical_delay))
        .join(FacilityRow, col(FacilityRow.seq) == col(FacilityEventRow.facility_seq))
        .where(col(FacilityRow.client_id).in_(client_ids),
               col(FacilityEventRow.event_type) == "past_due",
               col(FacilityEventRow.effective_date) >= (now - YEAR).date())
    )).all():
        found[cid].past_due.append((dpd, technical))
    for cid, kind, count in (await session.execute(
        select(col(ExternalSignalRow.client_id), col(ExternalSignalRow.signal_type), func.count())
        .where(col(ExternalSignalRow.client_id).in_(client_ids),
               col(ExternalSignalRow.occur_time) >= now - YEAR)
        .group_by(col(ExternalSignalRow.client_id), col(ExternalSignalRow.signal_type))
    )).all():
        found[cid].signal_counts[kind] = int(count)
    for cid, source, rule, level in (await session.execute(
        select(col(WarningRow.client_id), col(WarningRow.source), col(WarningRow.rule),
               col(WarningRow.base_level))
        .where(col(WarningRow.client_id).in_(client_ids), col(WarningRow.open_key).is_not(None))
        .order_by(col(WarningRow.seq))
    )).all():  # each warning at its own level (before escalation by others)
        found[cid].open_warnings.append(OpenWarning(source, rule, cast(WarningLevel, level)))
    return found


async def _statements(session: AsyncSession, found: dict[str, Evidence]) -> None:
    """Add each client's latest MAX_STATEMENTS statements, newest first (one query: a
    window numbers each client's statements, so old years are never read)."""
    t = STATEMENTS
    place = func.row_number().over(partition_by=t.c.client_id,
                                   order_by=(t.c.period_end.desc(), t.c.seq.desc()))
    ranked = (select(t.c.id, t.c.client_id, t.c.period_start, t.c.period_end, t.c.audited,
                     t.c.audit_opinion, t.c.amounts_json, place.label("place"))
              .where(t.c.client_id.in_(list(found))).subquery())
    rows = (await session.execute(
        select(ranked).where(ranked.c.place <= MAX_STATEMENTS)
        .order_by(ranked.c.client_id, ranked.c.place)
    )).all()
    for row in rows:
        found[row.client_id].statements.append(row)
