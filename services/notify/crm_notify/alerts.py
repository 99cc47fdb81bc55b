"""Alert rows: opening, the next escalation time, acknowledging, and the Alert message.

The ladder comes from domain.escalation: a step falls due a fixed time after the warning was
raised unless the alert was acknowledged first. Each alert row keeps `next_step_time`, so the
escalator reads only alerts with a step due, and every fired step is recorded as a row. The
path of a warning through these pieces is told in warning_flow.py.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.notify.v1 import alert_pb2
from crm_notify.context import NotifyContext
from crm_notify.domain.escalation import CURRENT_POLICY_VERSION, escalation_steps
from crm_notify.mapping import timestamp
from crm_notify.models import AlertEscalationRow, AlertRow, ClientDirectoryRow, TaskRow
from crm_runtime.pagination import Page, PageTokens, keyset_page

URGENT_LEVELS = frozenset({"orange", "red"})


def next_step_time(alert: AlertRow, done: set[int]) -> datetime | None:
    """Return when the alert's next unfired step falls due, or None."""
    steps = escalation_steps(
        level=alert.level, raised_at=alert.raise_time, policy_version=alert.policy_version
    )
    pending = [s.at for s in steps if s.step_no not in done]
    return min(pending) if pending else None


def local_time_text(ctx: NotifyContext, value: datetime | None) -> str:
    """Return a time as 'YYYY-MM-DD HH:MM' in the bank's zone (for message text)."""
    if value is None:
        return "-"
    return value.astimezone(ZoneInfo(ctx.settings.default_time_zone)).strftime("%Y-%m-%d %H:%M")


async def client_entry(session: AsyncSession, client: str) -> ClientDirectoryRow | None:
    """Return what notify knows about a client."""
    return await session.get(ClientDirectoryRow, client)


def client_name(entry: ClientDirectoryRow | None, client: str) -> str:
    """Return the client's display name for message text, or its resource name."""
    return entry.display_name if entry is not None and entry.display_name else client


def targets_for_role(ctx: NotifyContext, role: str, team: str) -> list[str]:
    """Return the staff who fill `role` for a team (team lead) or bank-wide (risk officer)."""
    if role == "team_lead":
        lead = ctx.settings.team_lead_map().get(team) or ctx.settings.default_team_lead
        return [lead] if lead else []
    if role == "risk_officer":
        return ctx.settings.risk_officer_list()
    return []


async def alert_steps(session: AsyncSession, alert_seq: int) -> list[AlertEscalationRow]:
    """Return the fired steps of an alert, in order."""
    rows = await session.execute(
        select(AlertEscalationRow)
        .where(col(AlertEscalationRow.alert_seq) == alert_seq)
        .order_by(col(AlertEscalationRow.step_number))
    )
    return list(rows.scalars())


def alert_message(row: AlertRow, steps: list[AlertEscalationRow]) -> alert_pb2.Alert:
    """Return the Alert for a row and its fired steps."""
    alert = alert_pb2.Alert(
        name=f"alerts/{row.id}",
        warning=row.warning,
        client=row.client,
        level=row.level,
        rule=row.rule,
        summary=row.summary,
        owner=row.owner,
        raise_time=timestamp(row.raise_time),
        sla_due_time=timestamp(row.sla_due_time),
        state=alert_pb2.ALERT_STATE_OPEN
        if row.state == "open"
        else alert_pb2.ALERT_STATE_ACKNOWLEDGED,
        acknowledge_time=timestamp(row.acknowledge_time),
        acknowledged_by=row.acknowledged_by,
        escalation_policy=row.policy_version,
    )
    for step in steps:
        alert.escalations.add(
            step_number=step.step_number,
            target_role=step.target_role,
            recipients=[r for r in step.recipients.split(",") if r],
            due_time=timestamp(step.due_time),
            fire_time=timestamp(step.fire_time),
        )
    return alert


def acknowledge(alert: AlertRow, *, actor: str, now: datetime) -> bool:
    """Mark an open alert acknowledged; return False if it already was."""
    if alert.state != "open":
        return False
    alert.state, alert.acknowledge_time = "acknowledged", now
    alert.acknowledged_by, alert.next_step_time = actor, None
    return True


def new_alert_row(
    *,
    alert_id: str,
    warning: str,
    client: str,
    level: str,
    rule: str,
    summary: str,
    owner: str,
    team: str,
    raise_time: datetime,
    sla_due: datetime | None,
) -> AlertRow:
    """Return a fresh open alert on the current escalation policy."""
    row = AlertRow(
        id=alert_id,
        warning=warning,
        client=client,
        level=level,
        rule=rule,
        summary=summary,
        owner=owner,
        team=team,
        raise_time=raise_time,
        sla_due_time=sla_due,
        state="open",
        policy_version=CURRENT_POLICY_VERSION,
    )
    row.next_step_time = next_step_time(row, set())
    return row


async def alert_by_id(session: AsyncSession, alert_id: str) -> AlertRow | None:
    """Return the alert with this id, if any."""
    found = await session.execute(select(AlertRow).where(col(AlertRow.id) == alert_id))
    return found.scalars().first()


async def alerts_page(
    session: AsyncSession,
    *,
    owner: str,
    state: str,
    tokens: PageTokens,
    page_token: str,
    size: int,
    query: object,
) -> Page[AlertRow]:
    """Return alerts newest first, of one owner and in one state when given."""
    statement = select(AlertRow)
    if owner:
        statement = statement.where(col(AlertRow.owner) == owner)
    if state:
        statement = statement.where(col(AlertRow.state) == state)
    return await keyset_page(
        session,
        statement,
        key=col(AlertRow.seq),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query=query,
        descending=True,
    )


async def complete_alert_tasks(
    session: AsyncSession, alert_id: str, *, actor: str, resolution: str, now: datetime
) -> None:
    """Complete the open tasks an alert filed: acknowledging the alert settles them."""
    tasks = await session.execute(
        select(TaskRow).where(col(TaskRow.alert) == alert_id, col(TaskRow.state) == "open")
    )
    for task in tasks.scalars():
        task.state, task.complete_time = "completed", now
        task.completed_by, task.resolution = actor, resolution
        session.add(task)
