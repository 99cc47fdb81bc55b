"""Segment memberships: evaluate each definition over a client's facts, record the moves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import client_events_pb2
from crm_client.models import (
    ClientRow,
    MembershipRow,
    SegmentMoveRow,
    SegmentRow,
)
from crm_client.segmentation.builtin import BUILTIN_SEGMENTS
from crm_client.segmentation.engine import (
    CompiledSegment,
    diff_memberships,
    evaluate_memberships,
)
from crm_client.segmentation.expr import compile_expression
from crm_client.segmentation.features import KNOWN_FEATURES
from crm_client.store.facts import client_features
from crm_client.store.segments import add_version
from crm_runtime.crypto import FieldCipher
from crm_runtime.outbox import Outbox


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
        row = SegmentRow(
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
        session.add(row)
        add_version(session, row, changed_by="systems/client-builtin", now=now)
        added += 1
    return added


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
    event = membership_event(client.id, diff.joined, diff.left, cause=cause, moment=moment)
    outbox.emit(session, event, subject=f"clients/{client.id}", occurred=moment)
    return len(diff.joined) + len(diff.left)


def membership_event(
    client_id: str, joined: set[str], left: set[str], *, cause: str, moment: datetime
) -> client_events_pb2.SegmentMembershipChanged:
    """Return the event announcing a client's segment joins and leaves."""
    event = client_events_pb2.SegmentMembershipChanged(
        client=f"clients/{client_id}",
        joined=[f"segments/{s}" for s in sorted(joined)],
        left=[f"segments/{s}" for s in sorted(left)],
        cause=cause,
    )
    event.change_time.FromDatetime(moment)
    return event
