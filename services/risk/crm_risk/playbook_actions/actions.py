"""Playbooks that act (DOMAIN §7): what RED and ORANGE warnings do, and lifting a freeze.

- RED freezes the client's undrawn limits: every drawdown is refused (and the refusal is kept
  as an action) until one risk officer asks for a lift and a second, different one approves.
- ORANGE requires a visit within the warning's SLA; feedback turns the WarningRaised into a
  planned visit for the RM, and the visit it records (VisitRecorded) marks the action done.

Lower levels act through the warning itself (owner, SLA), so they take no action here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from crm_risk.models import FacilityRow
from crm_risk.models_monitoring import WarningRow
from crm_risk.models_playbooks import PlaybookActionRow
from crm_risk.playbook_actions.store import (
    FREEZE,
    REFUSAL,
    VISIT,
    freeze_in_force,
    open_visits,
    step,
    visit_for_warning,
)
from crm_runtime.errors import FailedPrecondition, PermissionDenied
from crm_runtime.outbox import Outbox


class LimitFrozen(Exception):
    """A drawdown met a freeze; raised inside the drawdown's transaction so that it rolls back
    before the refusal is recorded in a transaction of its own (plain values: the facility row
    is gone with the rolled-back session)."""

    def __init__(self, freeze: PlaybookActionRow, facility: FacilityRow, amount: Decimal) -> None:
        super().__init__(freeze.id)
        self.freeze_id, self.warning_id = freeze.id, freeze.warning_id
        self.client_id, self.facility_id = facility.client_id, facility.id
        self.currency, self.amount = facility.currency, amount

    def error(self) -> FailedPrecondition:
        """Return the error the caller sees, naming the warning behind the freeze."""
        return FailedPrecondition(
            f"the client's undrawn limits are frozen by warning warnings/{self.warning_id}; "
            "a risk officer must request a lift and a second risk officer approve it",
            reason="LIMIT_FROZEN_BY_WARNING",
            metadata={"warning": f"warnings/{self.warning_id}",
                      "freeze": f"clients/{self.client_id}/playbookActions/{self.freeze_id}"},
        )


def _action(warning: WarningRow, kind: str, actor: str, summary: str,
            now: datetime) -> PlaybookActionRow:
    return PlaybookActionRow(
        id=uuid.uuid4().hex, client_id=warning.client_id, warning_id=warning.id, kind=kind,
        state="", level=warning.level, summary=summary, actor=actor, create_time=now,
        update_time=now,
    )


async def act_on_warnings(
    session: AsyncSession, outbox: Outbox, warnings: Sequence[WarningRow], *, now: datetime,
    actor: str,
) -> None:
    """Carry out the playbook of warnings just raised or escalated (flushed, with their ids)."""
    for warning in warnings:
        if warning.level == "red" and await freeze_in_force(session, warning.client_id) is None:
            row = _action(warning, FREEZE, actor,
                          f"undrawn limits frozen: red warning {warning.rule}", now)
            await step(session, outbox, row, "freeze", "active", actor=actor,
                       reason=warning.summary, now=now)
        elif warning.level == "orange" and await visit_for_warning(session, warning.id) is None:
            row = _action(warning, VISIT, actor,
                          f"visit the client by the SLA: orange warning {warning.rule}", now)
            row.due_time, row.facility_id = warning.sla_due_time, warning.facility_id
            await step(session, outbox, row, "visit_required", "open", actor=actor,
                       reason=warning.summary, now=now)


async def check_not_frozen(session: AsyncSession, facility: FacilityRow, amount: Decimal) -> None:
    """Raise LimitFrozen when a freeze of the client's limits is in force."""
    freeze = await freeze_in_force(session, facility.client_id)
    if freeze is not None:
        raise LimitFrozen(freeze, facility, amount)


async def record_refusal(
    session: AsyncSession, outbox: Outbox, frozen: LimitFrozen, *, actor: str, now: datetime
) -> None:
    """Keep a refused drawdown as an action of its own, naming the freeze's warning."""
    row = PlaybookActionRow(
        id=uuid.uuid4().hex, client_id=frozen.client_id, warning_id=frozen.warning_id,
        kind=REFUSAL, state="", level="red", facility_id=frozen.facility_id,
        amount=frozen.amount, currency=frozen.currency, actor=actor, create_time=now,
        update_time=now,
        summary=f"drawdown of {frozen.amount} {frozen.currency} refused: limits frozen by "
                f"warnings/{frozen.warning_id}",
    )
    await step(session, outbox, row, "drawdown_refused", "recorded", actor=actor,
               reason=f"freeze {frozen.freeze_id} in force", now=now)


async def request_lift(session: AsyncSession, outbox: Outbox, row: PlaybookActionRow, *,
                       actor: str, reason: str, now: datetime) -> None:
    """First risk officer: ask for the freeze to be lifted (it stays in force)."""
    if row.kind != FREEZE:
        raise FailedPrecondition("only a limit freeze can be lifted", reason="NOT_A_FREEZE")
    if row.state != "active":
        raise FailedPrecondition(f"the freeze is {row.state}, not active",
                                 reason="FREEZE_NOT_ACTIVE")
    row.lift_requested_by, row.lift_reason = actor, reason
    await step(session, outbox, row, "lift_requested", "lift_requested", actor=actor,
               reason=reason, now=now)


async def approve_lift(session: AsyncSession, outbox: Outbox, row: PlaybookActionRow, *,
                       actor: str, comment: str, now: datetime) -> None:
    """Second risk officer: approve the lift; drawdowns are accepted again."""
    if row.kind != FREEZE or row.state != "lift_requested":
        raise FailedPrecondition("no lift of this freeze is waiting for approval",
                                 reason="NO_LIFT_REQUESTED")
    if actor.casefold() == row.lift_requested_by.casefold():
        raise PermissionDenied("the officer who requested the lift cannot approve it",
                               reason="SAME_PERSON_APPROVAL")
    row.lift_approved_by = actor
    await step(session, outbox, row, "lift_approved", "lifted", actor=actor,
               reason=comment or "lift approved", now=now)


async def visit_made(
    session: AsyncSession, outbox: Outbox, client_id: str, *, visit: str, visited_on: date,
    actor: str, now: datetime,
) -> int:
    """Mark the client's open required visits done by a visit made after they were required."""
    done = 0
    for row in await open_visits(session, client_id):
        if visited_on < row.create_time.date():
            continue  # a visit made before the warning does not answer it
        row.done_by = visit[:200]
        await step(session, outbox, row, "visit_recorded", "done", actor=actor,
                   reason=f"visit {visit} on {visited_on.isoformat()}", now=now)
        done += 1
    return done
