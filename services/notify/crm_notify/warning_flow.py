"""A risk warning's path through notify, top to bottom.

A warning arrives (the risk service's WarningRaised event, inside the inbox transaction):

1. Whose client is it: the directory row notify keeps from the client service's events gives
   the relationship manager, the team and the display name.
2. The alert: the warning opens one alert (a re-raise finds the same one and may move it to a
   higher level); the alert's escalation ladder counts from when the warning was raised.
3. Who is told: the owner, and for orange and red warnings every risk officer too.
4. On which channel, when: `dispatch` plans each recipient from their preferences (channels,
   quiet hours, caps; an urgent warning goes through quiet hours), renders and writes the
   messages; the delivery worker sends them.
5. Escalated if not acknowledged: a step of the ladder falls due a fixed time after the raise;
   the escalator fires due steps to the team lead, then the risk officers, unless the warning
   was acknowledged first (WarningStatusChanged, or the RM acknowledging the alert or its task).
   A warning that arrives late fires its already-due steps at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_notify.alerts import (
    URGENT_LEVELS,
    acknowledge,
    alert_steps,
    client_entry,
    client_name,
    local_time_text,
    new_alert_row,
    next_step_time,
    targets_for_role,
)
from crm_notify.context import NotifyContext
from crm_notify.dispatch import Target, dispatch
from crm_notify.domain.escalation import Step, due_steps
from crm_notify.models import AlertEscalationRow, AlertRow, ClientDirectoryRow
from crm_notify.names import is_staff
from crm_notify.templates_store import load_template


@dataclass(frozen=True)
class RaisedWarning:
    """What notify needs of a raised warning."""

    warning: str
    client: str
    level: str
    rule: str
    summary: str
    owner: str
    raise_time: datetime
    sla_due: datetime | None


async def warning_arrives(
    session: AsyncSession, ctx: NotifyContext, warning: RaisedWarning, now: datetime
) -> AlertRow:
    """Open (or raise) the warning's alert, tell who must know, and catch up on escalation."""
    # 1. Whose client it is.
    entry = await client_entry(session, warning.client)
    owner = warning.owner if is_staff(warning.owner) else ""
    if not owner and entry is not None:
        owner = entry.relationship_manager
    # 2. The alert, whose ladder counts from the raise.
    alert = await open_alert(session, warning, entry, owner)
    # 3. Who is told; 4. on which channel and when (dispatch plans each recipient).
    told = who_is_told(ctx, warning.level, owner)
    template = await load_template(session, ctx.templates, "templates/warning-raised")
    await dispatch(
        session,
        ctx,
        template=template,
        targets=[Target(t) for t in told],
        shared={
            "client_name": client_name(entry, warning.client),
            "level": warning.level,
            "rule": warning.rule,
            "summary": warning.summary,
            "sla_due": local_time_text(ctx, warning.sla_due),
        },
        urgency="urgent" if warning.level in URGENT_LEVELS else "normal",
        now=now,
        alert=alert.id,
        client=warning.client,
        task_due=warning.sla_due,
    )
    # 5. Escalated if not acknowledged: steps already due fire now, later ones on the
    # escalator's pass.
    due = alert.next_step_time
    if alert.state == "open" and due is not None and due <= now:
        await escalate(session, ctx, alert, now)  # A late event: catch up at once.
    return alert


async def warning_acknowledged(
    session: AsyncSession, warning: str, *, actor: str, when: datetime
) -> None:
    """Stop the warning's escalation: the risk service says someone took it in hand."""
    alert = await alert_of(session, warning)
    if alert is not None and acknowledge(alert, actor=actor, now=when):
        session.add(alert)


async def alert_of(session: AsyncSession, warning: str) -> AlertRow | None:
    """Return the alert a warning opened, if any."""
    found = await session.execute(select(AlertRow).where(col(AlertRow.warning) == warning))
    return found.scalars().first()


async def open_alert(
    session: AsyncSession, warning: RaisedWarning, entry: ClientDirectoryRow | None, owner: str
) -> AlertRow:
    """Return the warning's alert: a new one, or the existing one updated by a re-raise."""
    alert = await alert_of(session, warning.warning)
    if alert is None:
        alert = new_alert_row(
            alert_id=alert_id_for(warning.warning),
            warning=warning.warning,
            client=warning.client,
            level=warning.level,
            rule=warning.rule,
            summary=warning.summary,
            owner=owner,
            team=entry.team if entry is not None else "",
            raise_time=warning.raise_time,
            sla_due=warning.sla_due,
        )
        session.add(alert)
        await session.flush()
        return alert
    # The level went up: the new level's ladder applies from the original raise.
    alert.level, alert.summary, alert.sla_due_time = warning.level, warning.summary, warning.sla_due
    if alert.state == "open":
        alert.next_step_time = next_step_time(alert, set())
    session.add(alert)
    return alert


def who_is_told(ctx: NotifyContext, level: str, owner: str) -> list[str]:
    """Return the owner (when staff), plus every risk officer for orange and red warnings."""
    told = [owner] if is_staff(owner) else []
    if level in URGENT_LEVELS:
        told += [r for r in ctx.settings.risk_officer_list() if r not in told]
    return told


async def escalate(
    session: AsyncSession, ctx: NotifyContext, alert: AlertRow, now: datetime
) -> list[Step]:
    """Fire every step of an open alert that is due now; record each; return them."""
    assert alert.seq is not None
    done = {s.step_number for s in await alert_steps(session, alert.seq)}
    steps = due_steps(
        level=alert.level,
        raised_at=alert.raise_time,
        acknowledged_at=alert.acknowledge_time,
        now=now,
        already_done=done,
        policy_version=alert.policy_version,
    )
    if steps:
        template = await load_template(session, ctx.templates, "templates/warning-escalated")
        entry = await client_entry(session, alert.client)
        for step in steps:
            recipients = targets_for_role(ctx, step.target_role, alert.team)
            await dispatch(
                session,
                ctx,
                template=template,
                targets=[Target(r) for r in recipients],
                shared={
                    "client_name": client_name(entry, alert.client),
                    "level": alert.level,
                    "owner": alert.owner,
                    "step": str(step.step_no),
                    "raised": local_time_text(ctx, alert.raise_time),
                },
                urgency="urgent",
                now=now,
                default_channels=("push",),
                alert=alert.id,
                client=alert.client,
            )
            session.add(
                AlertEscalationRow(
                    alert_seq=alert.seq,
                    step_number=step.step_no,
                    target_role=step.target_role,
                    recipients=",".join(recipients),
                    due_time=step.at,
                    fire_time=now,
                )
            )
            done.add(step.step_no)
    alert.next_step_time = next_step_time(alert, done)
    session.add(alert)
    return steps


def alert_id_for(warning: str) -> str:
    """Return the alert id of a warning: stable, so a re-raise finds the same alert."""
    return hashlib.sha256(warning.encode()).hexdigest()[:32]
