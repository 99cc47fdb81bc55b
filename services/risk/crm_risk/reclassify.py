"""Five-category classification of a client's facilities, with history (DOMAIN §4).

All facilities of a client are classified together, because a non-performing facility is a
cross-default for the client's other facilities ("the same debtor has an NPL at this or any
other bank"). An external cross-default signal counts the same way. Each move is recorded
with the triggers behind it; a facility turning non-performing asks for a re-rating (an NPL
facility caps the rating at D).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.models import ClassificationChangeRow, ClientFactRow, FacilityRow
from crm_risk.models_monitoring import ExternalSignalRow
from crm_risk.rating.model.classification import (
    CATEGORIES,
    Category,
    Classification,
    FacilityFacts,
    classify,
    is_npl,
)

CROSS_DEFAULT_LOOKBACK = timedelta(days=365)
CHANGES: Any = ClassificationChangeRow.__table__  # type: ignore[attr-defined]


def facts_of(row: FacilityRow, *, cross_default: bool) -> FacilityFacts:
    """Return the classification facts recorded on a facility."""
    previous: Category | None = row.category if row.category in CATEGORIES else None  # type: ignore[assignment]
    return FacilityFacts(
        days_past_due=row.days_past_due,
        technical_delay=row.technical_delay,
        restructured=row.restructured,
        restructure_observation_failed=row.restructure_observation_failed,
        previous_class=previous,
        cross_default_npl_elsewhere=cross_default,
        share_of_debt_over_90dpd_all_banks=row.share_90dpd_all_banks,
        unauthorised_purpose_change=row.purpose_changed,
        new_loan_repays_old=row.new_loan_repays_old,
        borrower_finances_normal=row.borrower_finances_normal,
        credit_impaired=row.credit_impaired,
        ecl_ratio=row.ecl_ratio,
        evades_debt=row.evades_debt,
        external_rating_sharply_cut=row.external_rating_cut,
    )


async def _external_cross_defaults(
    session: AsyncSession, client_ids: list[str], now: datetime
) -> set[str]:
    """Return the clients with a cross-default signal from another bank in the lookback."""
    rows = await session.execute(
        select(col(ExternalSignalRow.client_id)).where(
            col(ExternalSignalRow.client_id).in_(client_ids),
            col(ExternalSignalRow.signal_type) == "cross_default",
            col(ExternalSignalRow.occur_time) >= now - CROSS_DEFAULT_LOOKBACK,
        ).distinct()
    )
    return set(rows.scalars())


async def reclassify_client(
    session: AsyncSession,
    client_id: str,
    *,
    cause: str,
    actor: str,
    now: datetime,
    force_record: frozenset[str] = frozenset(),
) -> list[ClassificationChangeRow]:
    """Classify every facility of the client; record and return the moves.

    Facilities whose id is in `force_record` get a history row even without a move (a new
    facility's first classification).
    """
    return await reclassify_clients(session, [client_id], cause=cause, actor=actor, now=now,
                                    force_record=force_record)


async def reclassify_clients(
    session: AsyncSession,
    client_ids: list[str],
    *,
    cause: str,
    actor: str,
    now: datetime,
    force_record: frozenset[str] = frozenset(),
) -> list[ClassificationChangeRow]:
    """Classify every facility of several clients with two queries; record the moves."""
    changes = [ClassificationChangeRow(**values) for values in await _reclassify(
        session, client_ids, cause=cause, actor=actor, now=now, force_record=force_record)]
    session.add_all(changes)
    return changes


async def classify_registered(
    session: AsyncSession, client_ids: list[str], *, new: frozenset[str], actor: str,
    now: datetime,
) -> None:
    """Classify the clients' facilities after facilities ``new`` were registered, as
    reclassify_clients does, storing the history rows with one multi-row INSERT (a batch
    registers up to a thousand: building each as a model object cost more than the rest
    of its classification)."""
    values = await _reclassify(session, client_ids, cause="registered", actor=actor, now=now,
                               force_record=new)
    if values:
        await session.execute(insert(CHANGES), values)


async def _reclassify(
    session: AsyncSession, client_ids: list[str], *, cause: str, actor: str, now: datetime,
    force_record: frozenset[str],
) -> list[dict[str, Any]]:
    facilities = list(
        (
            await session.execute(
                select(FacilityRow)
                .where(col(FacilityRow.client_id).in_(client_ids))
                .order_by(col(FacilityRow.seq))
            )
        ).scalars()
    )
    external = await _external_cross_defaults(session, client_ids, now)
    by_client: dict[str, list[FacilityRow]] = {c: [] for c in client_ids}
    for facility in facilities:
        by_client[facility.client_id].append(facility)
    changes: list[dict[str, Any]] = []
    for client_id, mine in by_client.items():
        found, turned_npl = _classify_client(mine, client_id in external, cause=cause,
                                             actor=actor, now=now, force_record=force_record)
        changes += found
        if turned_npl:
            fact = await session.get(ClientFactRow, client_id)
            if fact is not None:
                fact.rerate_requested = True
                fact.rerate_reason = "a facility became non-performing"
    return changes


def _classify_client(
    facilities: list[FacilityRow], external: bool, *, cause: str, actor: str, now: datetime,
    force_record: frozenset[str],
) -> tuple[list[dict[str, Any]], bool]:
    """Classify one client's facilities in memory; return the moves (history rows' values)
    and whether one turned non-performing."""
    first_pass = {
        f.id: classify(facts_of(f, cross_default=external)) for f in facilities
    }
    npl = {fid for fid, result in first_pass.items() if is_npl(result.category)}
    changes: list[dict[str, Any]] = []
    turned_npl = False
    for facility in facilities:
        result = first_pass[facility.id]
        if not external and npl - {facility.id}:
            result = classify(facts_of(facility, cross_default=True))
        moved = result.category != facility.category
        if not moved and facility.id not in force_record:
            continue
        previous = "" if facility.id in force_record else facility.category
        changes.append(_record(facility, result, previous, cause=cause, actor=actor, now=now))
        if not moved:
            continue  # a new facility's first classification: recorded, the row unchanged
        turned_npl |= is_npl(result.category) and not is_npl(facility.category)
        facility.category = result.category
        facility.version += 1
        facility.update_time = now
    return changes, turned_npl


def _record(
    facility: FacilityRow,
    result: Classification,
    previous: str,
    *,
    cause: str,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    assert facility.seq is not None
    return {
        "facility_seq": facility.seq,
        "category": result.category,
        "previous_category": previous,
        "triggers_json": json.dumps([asdict(t) for t in result.triggers], ensure_ascii=False),
        "cause": cause,
        "actor": actor,
        "change_time": now,
    }
