"""A warning's lifecycle after it was raised: open → acknowledged → resolved / dismissed.

Every transition is audited (risk_warning_action) and announced (WarningStatusChanged).
Closing a warning frees its dedupe key, so a later hit opens a new warning.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import risk_events_pb2
from crm_risk.models_monitoring import WarningActionRow, WarningRow
from crm_runtime.outbox import Outbox
from crm_runtime.wire import timestamp

OPEN_STATES = frozenset({"open", "acknowledged"})


def change_state(
    session: AsyncSession,
    outbox: Outbox,
    row: WarningRow,
    to_state: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    confirmed: bool = False,
) -> None:
    """Move a warning along its lifecycle: the row, its audit trail and WarningStatusChanged."""
    from_state = row.state
    row.state = to_state
    row.update_time = now
    row.version += 1
    if to_state == "acknowledged":
        row.acknowledge_time = now
    else:
        row.open_key = None
        row.close_time, row.closed_by, row.close_reason = now, actor, reason
        row.confirmed = confirmed
    session.add(row)
    assert row.seq is not None
    session.add(WarningActionRow(
        warning_seq=row.seq, action=to_state, from_state=from_state, to_state=to_state,
        level=row.level, actor=actor, reason=reason[:2000], action_time=now,
    ))
    client = f"clients/{row.client_id}"
    outbox.emit(
        session,
        risk_events_pb2.WarningStatusChanged(
            warning=f"warnings/{row.id}", client=client, state=to_state, level=row.level,
            actor=actor, reason=reason[:500], change_time=timestamp(now),
        ),
        subject=client,
    )


async def supersede(
    session: AsyncSession,
    outbox: Outbox,
    *,
    client_id: str,
    rule: str,
    before_scope: str,
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Resolve a client's open warnings of `rule` whose scope sorts before `before_scope`.

    For rules scoped by period (statement ratios): a newer period's figures replace the
    older ones, so the older warning must neither stay open nor escalate the new one.
    """
    rows = (await session.execute(
        select(WarningRow).where(
            col(WarningRow.client_id) == client_id,
            col(WarningRow.rule) == rule,
            col(WarningRow.state).in_(OPEN_STATES),
        )
    )).scalars().all()
    closed = 0
    for row in rows:
        if row.dedupe_key.rsplit("|", 1)[-1] < before_scope:
            change_state(session, outbox, row, "resolved", actor=actor, reason=reason, now=now)
            closed += 1
    return closed
