"""Playbook actions as messages."""

from __future__ import annotations

from typing import Any

from crm.risk.v1 import playbook_pb2
from crm_risk.models_playbooks import PlaybookActionRow, PlaybookStepRow
from crm_risk.playbook_actions.store import action_name
from crm_runtime.wire import money_message, timestamp

KINDS: dict[str, Any] = {
    "freeze_limits": playbook_pb2.PLAYBOOK_ACTION_KIND_FREEZE_LIMITS,
    "drawdown_refused": playbook_pb2.PLAYBOOK_ACTION_KIND_DRAWDOWN_REFUSED,
    "visit_required": playbook_pb2.PLAYBOOK_ACTION_KIND_VISIT_REQUIRED,
}
STATES: dict[str, Any] = {
    "active": playbook_pb2.PLAYBOOK_ACTION_STATE_ACTIVE,
    "lift_requested": playbook_pb2.PLAYBOOK_ACTION_STATE_LIFT_REQUESTED,
    "lifted": playbook_pb2.PLAYBOOK_ACTION_STATE_LIFTED,
    "recorded": playbook_pb2.PLAYBOOK_ACTION_STATE_RECORDED,
    "open": playbook_pb2.PLAYBOOK_ACTION_STATE_OPEN,
    "done": playbook_pb2.PLAYBOOK_ACTION_STATE_DONE,
}


def action_message(
    row: PlaybookActionRow, steps: list[PlaybookStepRow]
) -> playbook_pb2.PlaybookAction:
    """Return an action with its steps, oldest first."""
    client = f"clients/{row.client_id}"
    message = playbook_pb2.PlaybookAction(
        name=action_name(row),
        warning=f"warnings/{row.warning_id}" if row.warning_id else "",
        kind=KINDS.get(row.kind, 0), state=STATES.get(row.state, 0), level=row.level,
        summary=row.summary,
        facility=f"{client}/facilities/{row.facility_id}" if row.facility_id else "",
        actor=row.actor, lift_requested_by=row.lift_requested_by, lift_reason=row.lift_reason,
        lift_approved_by=row.lift_approved_by, done_by=row.done_by,
        create_time=timestamp(row.create_time), update_time=timestamp(row.update_time),
        steps=[
            playbook_pb2.PlaybookActionStep(
                step=s.step, from_state=STATES.get(s.from_state, 0),
                to_state=STATES.get(s.to_state, 0), actor=s.actor, reason=s.reason,
                step_time=timestamp(s.step_time),
            )
            for s in steps
        ],
    )
    if row.amount is not None:
        message.amount.CopyFrom(money_message(row.amount, row.currency))
    if row.due_time is not None:
        message.due_time.CopyFrom(timestamp(row.due_time))
    return message
