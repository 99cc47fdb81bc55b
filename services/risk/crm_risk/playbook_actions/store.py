"""Stored playbook actions: loading, listing, and the step that audits and announces a change.

Every change of an action goes through `step`: the action row, one risk_playbook_step row (the
audit trail: who moved it from which state to which, and why) and a PlaybookActionChanged
event commit in the caller's transaction, so none exists without the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import risk_events_pb2
from crm_risk.models_playbooks import PlaybookActionRow, PlaybookStepRow
from crm_runtime.errors import NotFound
from crm_runtime.outbox import Outbox
from crm_runtime.pagination import Page, PageTokens, keyset_page
from crm_runtime.wire import timestamp

FREEZE, REFUSAL, VISIT = "freeze_limits", "drawdown_refused", "visit_required"
# A freeze stays in force until the lift is approved (a requested lift does not lift it).
FREEZE_IN_FORCE = ("active", "lift_requested")


def action_name(row: PlaybookActionRow) -> str:
    """Return the action's resource name."""
    return f"clients/{row.client_id}/playbookActions/{row.id}"


async def step(
    session: AsyncSession,
    outbox: Outbox,
    row: PlaybookActionRow,
    name: str,
    to_state: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """Move `row` to `to_state` as step `name`: the row, its audit step and the event."""
    from_state = "" if row.seq is None else row.state
    row.state, row.update_time = to_state, now
    if row.seq is not None:
        row.version += 1
    session.add(row)
    await session.flush()  # a new action needs its seq before its first step
    assert row.seq is not None
    session.add(PlaybookStepRow(
        action_seq=row.seq, step=name, from_state=from_state, to_state=to_state,
        actor=actor, reason=reason[:2000], step_time=now,
    ))
    client = f"clients/{row.client_id}"
    outbox.emit(
        session,
        risk_events_pb2.PlaybookActionChanged(
            action=action_name(row), client=client,
            warning=f"warnings/{row.warning_id}" if row.warning_id else "",
            kind=row.kind, step=name, state=to_state, actor=actor, reason=reason[:500],
            due_time=timestamp(row.due_time),
            change_time=timestamp(now),
            facility=f"{client}/facilities/{row.facility_id}" if row.facility_id else "",
        ),
        subject=client,
    )


async def freeze_in_force(session: AsyncSession, client_id: str) -> PlaybookActionRow | None:
    """Return the client's oldest limit freeze still in force, if any."""
    return (await session.execute(
        select(PlaybookActionRow)
        .where(col(PlaybookActionRow.client_id) == client_id,
               col(PlaybookActionRow.kind) == FREEZE,
               col(PlaybookActionRow.state).in_(FREEZE_IN_FORCE))
        .order_by(col(PlaybookActionRow.seq))
    )).scalars().first()


async def open_visits(session: AsyncSession, client_id: str) -> list[PlaybookActionRow]:
    """Return the client's required visits not yet made, oldest first."""
    return list((await session.execute(
        select(PlaybookActionRow)
        .where(col(PlaybookActionRow.client_id) == client_id,
               col(PlaybookActionRow.kind) == VISIT, col(PlaybookActionRow.state) == "open")
        .order_by(col(PlaybookActionRow.seq))
    )).scalars())


async def visit_for_warning(session: AsyncSession, warning_id: str) -> PlaybookActionRow | None:
    """Return the visit a warning already required, if any (an escalation asks no second)."""
    return (await session.execute(
        select(PlaybookActionRow).where(col(PlaybookActionRow.warning_id) == warning_id,
                                        col(PlaybookActionRow.kind) == VISIT)
    )).scalars().first()


async def load_action(
    session: AsyncSession, client_id: str, action_id: str, *, for_update: bool = False
) -> PlaybookActionRow:
    """Return the client's action, or NOT_FOUND (the caller checked access to the client)."""
    statement = select(PlaybookActionRow).where(
        col(PlaybookActionRow.id) == action_id, col(PlaybookActionRow.client_id) == client_id
    )
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        raise NotFound(f"clients/{client_id}/playbookActions/{action_id} does not exist",
                       reason="PLAYBOOK_ACTION_NOT_FOUND")
    return row


async def steps_of(
    session: AsyncSession, rows: Sequence[PlaybookActionRow]
) -> dict[int, list[PlaybookStepRow]]:
    """Return each action's steps, oldest first, keyed by the action's seq."""
    seqs = [r.seq for r in rows if r.seq is not None]
    found: dict[int, list[PlaybookStepRow]] = {s: [] for s in seqs}
    if seqs:
        for item in (await session.execute(
            select(PlaybookStepRow).where(col(PlaybookStepRow.action_seq).in_(seqs))
            .order_by(col(PlaybookStepRow.seq))
        )).scalars():
            found[item.action_seq].append(item)
    return found


async def action_page(
    session: AsyncSession, client_id: str, *, tokens: PageTokens, page_token: str, size: int
) -> Page[PlaybookActionRow]:
    """Return one page of a client's actions, newest first."""
    return await keyset_page(
        session, select(PlaybookActionRow).where(col(PlaybookActionRow.client_id) == client_id),
        key=col(PlaybookActionRow.seq), tokens=tokens, page_token=page_token, size=size,
        query={"m": "ListPlaybookActions", "c": client_id}, descending=True,
    )
