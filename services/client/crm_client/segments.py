"""Segment memberships: load a client's facts, evaluate every definition, record the moves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import client_events_pb2
from crm_client.models import (
    ActivityRow,
    ClientRow,
    KeyPersonRow,
    MembershipRow,
    SegmentMoveRow,
    SegmentRow,
    SegmentVersionRow,
)
from crm_client.segmentation.builtin import BUILTIN_SEGMENTS
from crm_client.segmentation.engine import (
    CompiledSegment,
    build_features,
    diff_memberships,
    evaluate_memberships,
)
from crm_client.segmentation.expr import compile_expression
from crm_client.segmentation.features import (
    KNOWN_FEATURES,
    ActivityFacts,
    ClientFacts,
    CreditFacts,
    OwnerFacts,
)
from crm_runtime.crypto import FieldCipher
from crm_runtime.outbox import Outbox

WAN = Decimal(10_000)
OWNER_ROLES = ("legal_representative", "actual_controller")


def _wan(amount: Decimal | None) -> Decimal:
    return (amount or Decimal(0)) / WAN


class SegmentCatalog:
    """Compiled segment definitions, recompiled only when a definition's version changes."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, int], CompiledSegment] = {}

    async def load(self, session: AsyncSession) -> list[CompiledSegment]:
        """Return every current definition, compiled."""
        rows = (
            await session.execute(
                select(
                    col(SegmentRow.segment_id), col(SegmentRow.version), col(SegmentRow.expression)
                )
            )
        ).all()
        result = []
        for segment_id, version, expression in rows:
            key = (segment_id, version)
            if key not in self._compiled:
                compiled = compile_expression(expression, known_features=KNOWN_FEATURES)
                self._compiled[key] = CompiledSegment(segment_id, version, compiled)
            result.append(self._compiled[key])
        return result


async def seed_builtin_segments(session: AsyncSession, *, now: datetime) -> int:
    """Insert built-in definitions that are missing; return how many were added."""
    existing = set((await session.execute(select(col(SegmentRow.segment_id)))).scalars())
    added = 0
    for definition in BUILTIN_SEGMENTS:
        if definition.segment_id in existing:
            continue
        session.add(
            SegmentRow(
                segment_id=definition.segment_id,
                display_name=definition.display_name,
                display_name_zh=definition.display_name_zh,
                kind=definition.kind,
                description=definition.description,
                expression=definition.expression,
                version=1,
                built_in=True,
                update_time=now,
            )
        )
        session.add(
            SegmentVersionRow(
                segment_id=definition.segment_id,
                version=1,
                expression=definition.expression,
                changed_by="systems/client-builtin",
                change_time=now,
            )
        )
        added += 1
    return added


async def client_features(
    session: AsyncSession,
    client: ClientRow,
    cipher: FieldCipher,
    *,
    today: date,
    fresh: bool = False,
) -> dict[str, object]:
    """Return the feature mapping segment rules and recommendations read for a client."""
    facts = ClientFacts(
        size_class=client.size_class,
        industry_code=client.industry_code,
        region_code=client.region_code,
        ownership_type=client.ownership_type,
        founded=min(client.founding_date, today),
        employees=client.employee_count,
        revenue_wan=_wan(client.annual_revenue),
        assets_wan=_wan(client.total_assets),
        registered_capital_wan=_wan(client.registered_capital),
        is_project_finance=client.project_finance,
        lifecycle_state=client.state,
        revenue_prev_wan=None
        if client.previous_annual_revenue is None
        else _wan(client.previous_annual_revenue),
    )
    # A client created in this transaction has no key persons or activity yet.
    owner = None if fresh else await _owner_facts(session, client, cipher)
    activity = None if fresh else await _activity_facts(session, client)
    credit = CreditFacts(
        grade=client.credit_grade or None,
        pd=client.credit_pd,
        potential_risk=client.potential_risk,
        warning_level=client.warning_level or None,
    )
    return build_features(client=facts, owner=owner, activity=activity, credit=credit, today=today)


async def _owner_facts(
    session: AsyncSession, client: ClientRow, cipher: FieldCipher
) -> OwnerFacts | None:
    rows = (
        (
            await session.execute(
                select(KeyPersonRow)
                .where(col(KeyPersonRow.client_seq) == client.seq)
                .where(col(KeyPersonRow.role).in_(OWNER_ROLES))
                .order_by(col(KeyPersonRow.role).desc(), col(KeyPersonRow.seq))
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return None
    person = rows[0]
    income = (
        cipher.decrypt(person.income_band_enc, context="key_person.income_band")
        if person.income_band_enc
        else None
    )
    return OwnerFacts(
        birth_date=person.birth_date,
        gender=person.gender or None,
        education=person.education or None,
        occupation=person.occupation or None,
        income_band=income,
    )


async def _activity_facts(session: AsyncSession, client: ClientRow) -> ActivityFacts | None:
    rows: Sequence[ActivityRow] = (
        (
            await session.execute(
                select(ActivityRow)
                .where(col(ActivityRow.client_seq) == client.seq)
                .order_by(col(ActivityRow.period_end).desc())
                .limit(2)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return None
    latest = rows[0]
    previous = rows[1] if len(rows) > 1 else None
    return ActivityFacts(
        txn_count_90d=latest.transaction_count,
        txn_count_prev_90d=previous.transaction_count if previous else 0,
        inflow_90d_wan=_wan(latest.inflow),
        outflow_90d_wan=_wan(latest.outflow),
        avg_balance_wan=_wan(latest.average_balance),
        prev_avg_balance_wan=_wan(previous.average_balance) if previous else None,
        end_balance_wan=_wan(latest.end_balance),
        products_used=latest.products_used,
        loan_products_used=latest.loan_products_used,
        last_txn_date=latest.last_transaction_date,
    )


async def recompute(
    session: AsyncSession,
    client: ClientRow,
    *,
    catalog: SegmentCatalog,
    cipher: FieldCipher,
    outbox: Outbox,
    cause: str,
    actor: str,
    now: datetime | None = None,
    only: Sequence[CompiledSegment] | None = None,
    fresh: bool = False,
) -> int:
    """Re-evaluate a client's segments, record joins and leaves; return the number of moves.

    `fresh` marks a client created in the same transaction: it has no memberships, key persons
    or activity yet, so those lookups are skipped.
    """
    moment = now or datetime.now(UTC)
    assert client.seq is not None
    definitions = list(only) if only is not None else await catalog.load(session)
    features = await client_features(session, client, cipher, today=moment.date(), fresh=fresh)
    new = evaluate_memberships(definitions, features)
    scope = {d.segment_id for d in definitions}
    current: dict[str, MembershipRow] = {}
    if not fresh:
        current = {
            row.segment_id: row
            for row in (
                await session.execute(
                    select(MembershipRow).where(col(MembershipRow.client_seq) == client.seq)
                )
            ).scalars()
            if row.segment_id in scope
        }
    diff = diff_memberships(set(current), new)
    if not diff.changed:
        return 0
    versions = {d.segment_id: d.version for d in definitions}
    for segment_id in sorted(diff.joined):
        session.add(
            MembershipRow(
                client_seq=client.seq,
                segment_id=segment_id,
                segment_version=versions[segment_id],
                join_time=moment,
            )
        )
    if diff.left:
        await session.execute(
            delete(MembershipRow).where(
                col(MembershipRow.client_seq) == client.seq,
                col(MembershipRow.segment_id).in_(sorted(diff.left)),
            )
        )
    for direction, ids in (("joined", diff.joined), ("left", diff.left)):
        for segment_id in sorted(ids):
            session.add(
                SegmentMoveRow(
                    client_seq=client.seq,
                    segment_id=segment_id,
                    direction=direction,
                    segment_version=versions[segment_id],
                    cause=cause,
                    actor=actor,
                    move_time=moment,
                )
            )
    event = client_events_pb2.SegmentMembershipChanged(
        client=f"clients/{client.id}",
        joined=[f"segments/{s}" for s in sorted(diff.joined)],
        left=[f"segments/{s}" for s in sorted(diff.left)],
        cause=cause,
    )
    event.change_time.FromDatetime(moment)
    outbox.emit(session, event, subject=f"clients/{client.id}", occurred=moment)
    return len(diff.joined) + len(diff.left)
