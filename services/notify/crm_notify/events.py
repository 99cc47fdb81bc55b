"""Events notify consumes (inbox handlers): warnings, ratings, clients, surveys, follow-ups.

Each handler runs inside the inbox transaction, so the messages it writes exist exactly when
the event is recorded as applied; a redelivered event changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import timestamp_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import client_events_pb2, event_pb2, feedback_events_pb2, risk_events_pb2
from crm_notify.alerts import client_entry, client_name
from crm_notify.context import NotifyContext
from crm_notify.dispatch import Target, dispatch
from crm_notify.models import ClientDirectoryRow
from crm_notify.names import is_recipient, is_staff
from crm_notify.templates_store import load_template
from crm_notify.warning_flow import RaisedWarning, warning_acknowledged, warning_arrives
from crm_runtime.inbox import EventHandler
from crm_runtime.logging import get_logger

log = get_logger("notify-events")

_CHANNEL_HINTS = {"email": "email", "sms": "sms", "in_app": "push", "push": "push", "chat": "chat"}
WARNING_LEVELS = frozenset({"blue", "yellow", "orange", "red"})


def _time(value: timestamp_pb2.Timestamp) -> datetime | None:
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC)


class NotifyEventHandlers:
    """Inbox handlers; each method applies one event type inside the inbox transaction."""

    def __init__(self, ctx: NotifyContext) -> None:
        self.ctx = ctx

    async def remember_client(
        self, session: AsyncSession, client: str, *, name: str | None, rm: str, team: str
    ) -> ClientDirectoryRow:
        row = await session.get(ClientDirectoryRow, client)
        if row is None:
            row = ClientDirectoryRow(client=client, update_time=self.ctx.clock())
        if name is not None:
            row.display_name = name
        row.relationship_manager, row.team, row.update_time = rm, team, self.ctx.clock()
        session.add(row)
        return row

    async def tell_rm(self, session: AsyncSession, rm: str, client: str, display_name: str) -> None:
        if not is_staff(rm):
            return
        template = await load_template(session, self.ctx.templates, "templates/client-assigned")
        now = self.ctx.clock()
        await dispatch(
            session,
            self.ctx,
            template=template,
            targets=[Target(rm)],
            shared={"client_name": display_name or client},
            urgency="normal",
            now=now,
            default_channels=("task", "push"),
            client=client,
            task_due=now + timedelta(days=3),
        )

    async def client_created(
        self,
        session: AsyncSession,
        event: client_events_pb2.ClientCreated,
        _: event_pb2.EventEnvelope,
    ) -> None:
        await self.remember_client(
            session,
            event.client,
            name=event.display_name,
            rm=event.relationship_manager,
            team=event.team,
        )
        await self.tell_rm(session, event.relationship_manager, event.client, event.display_name)

    async def client_assigned(
        self,
        session: AsyncSession,
        event: client_events_pb2.ClientAssigned,
        _: event_pb2.EventEnvelope,
    ) -> None:
        row = await self.remember_client(
            session, event.client, name=None, rm=event.relationship_manager, team=event.team
        )
        if event.relationship_manager != event.previous_relationship_manager:
            await self.tell_rm(session, event.relationship_manager, event.client, row.display_name)

    async def rating_changed(
        self,
        session: AsyncSession,
        event: risk_events_pb2.RatingChanged,
        _: event_pb2.EventEnvelope,
    ) -> None:
        entry = await client_entry(session, event.client)
        if entry is None or not is_staff(entry.relationship_manager):
            log.warning("rating for a client without a known RM", client=event.client)
            return
        template = await load_template(session, self.ctx.templates, "templates/rating-changed")
        await dispatch(
            session,
            self.ctx,
            template=template,
            targets=[Target(entry.relationship_manager)],
            shared={
                "client_name": entry.display_name or event.client,
                "grade": event.grade,
                "previous_grade": event.previous_grade,
                "pd": repr(event.probability_of_default),
            },
            urgency="normal",
            now=self.ctx.clock(),
            client=event.client,
        )

    async def warning_raised(
        self,
        session: AsyncSession,
        event: risk_events_pb2.WarningRaised,
        _: event_pb2.EventEnvelope,
    ) -> None:
        if event.level not in WARNING_LEVELS:
            log.warning("warning with an unknown level", warning=event.warning, level=event.level)
            return
        now = self.ctx.clock()
        warning = RaisedWarning(
            warning=event.warning,
            client=event.client,
            level=event.level,
            rule=event.rule,
            summary=event.summary,
            owner=event.owner,
            raise_time=_time(event.raise_time) or now,
            sla_due=_time(event.sla_due_time),
        )
        await warning_arrives(session, self.ctx, warning, now)

    async def warning_status_changed(
        self,
        session: AsyncSession,
        event: risk_events_pb2.WarningStatusChanged,
        _: event_pb2.EventEnvelope,
    ) -> None:
        if event.state not in ("acknowledged", "resolved", "dismissed"):
            return
        await warning_acknowledged(
            session,
            event.warning,
            actor=event.actor or "systems/risk",
            when=_time(event.change_time) or self.ctx.clock(),
        )

    async def survey_dispatched(
        self,
        session: AsyncSession,
        event: feedback_events_pb2.SurveyDispatched,
        _: event_pb2.EventEnvelope,
    ) -> None:
        if not is_recipient(event.recipient):
            log.warning("survey for an unknown recipient kind", dispatch=event.dispatch)
            return
        template = await load_template(session, self.ctx.templates, "templates/survey-invitation")
        due = _time(event.due_time)
        hint = _CHANNEL_HINTS.get(event.channel_hint.lower())
        await dispatch(
            session,
            self.ctx,
            template=template,
            targets=[Target(event.recipient)],
            shared={
                "answer_url": self.ctx.settings.survey_answer_base_url + event.answer_token,
                "due_date": (due or self.ctx.clock() + timedelta(days=14)).date().isoformat(),
            },
            urgency="normal",
            now=self.ctx.clock(),
            default_channels=(hint,) if hint else (),
            client=event.client,
        )

    async def followup_overdue(
        self,
        session: AsyncSession,
        event: feedback_events_pb2.FollowupOverdue,
        _: event_pb2.EventEnvelope,
    ) -> None:
        if not is_staff(event.relationship_manager):
            return
        entry = await client_entry(session, event.client)
        template = await load_template(session, self.ctx.templates, "templates/followup-overdue")
        now = self.ctx.clock()
        await dispatch(
            session,
            self.ctx,
            template=template,
            targets=[Target(event.relationship_manager)],
            shared={
                "client_name": client_name(entry, event.client),
                "kind": event.kind,
                "due_date": event.due_date,
                "days_overdue": str(event.days_overdue),
            },
            urgency="normal",
            now=now,
            default_channels=("task", "push"),
            client=event.client,
            task_due=now + timedelta(days=1),
        )


def handlers(ctx: NotifyContext) -> dict[str, EventHandler]:
    """Return the inbox handlers keyed by event type."""
    h = NotifyEventHandlers(ctx)
    return {
        "crm.events.v1.ClientCreated": EventHandler(
            client_events_pb2.ClientCreated, h.client_created
        ),
        "crm.events.v1.ClientAssigned": EventHandler(
            client_events_pb2.ClientAssigned, h.client_assigned
        ),
        "crm.events.v1.RatingChanged": EventHandler(
            risk_events_pb2.RatingChanged, h.rating_changed
        ),
        "crm.events.v1.WarningRaised": EventHandler(
            risk_events_pb2.WarningRaised, h.warning_raised
        ),
        "crm.events.v1.WarningStatusChanged": EventHandler(
            risk_events_pb2.WarningStatusChanged, h.warning_status_changed
        ),
        "crm.events.v1.SurveyDispatched": EventHandler(
            feedback_events_pb2.SurveyDispatched, h.survey_dispatched
        ),
        "crm.events.v1.FollowupOverdue": EventHandler(
            feedback_events_pb2.FollowupOverdue, h.followup_overdue
        ),
    }
