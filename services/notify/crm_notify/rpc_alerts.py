"""Alert RPCs: read alerts with their escalations, acknowledge one."""

from __future__ import annotations

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.notify.v1 import notify_pb2, notify_service_pb2
from crm_notify import access
from crm_notify.alerts import acknowledge, alert_message, alert_steps
from crm_notify.context import NotifyContext
from crm_notify.models import AlertRow, TaskRow
from crm_notify.names import ALERT_NAME_RE, STAFF_RE, parse_name
from crm_runtime import idempotency
from crm_runtime.auth import Principal, current_principal
from crm_runtime.errors import InvalidArgument, NotFound, PermissionDenied
from crm_runtime.pagination import page_size

_STATES = {notify_pb2.ALERT_STATE_OPEN: "open", notify_pb2.ALERT_STATE_ACKNOWLEDGED: "acknowledged"}
_METHOD = "crm.notify.v1.NotificationService/AcknowledgeAlert"
_VIEW_ALL = (*access.ALERT_SUPERVISOR_ROLES, *access.READ_ALL_ROLES)


def _denied() -> PermissionDenied:
    return PermissionDenied("the caller may not access this alert", reason="ALERT_ACCESS_DENIED")


async def _alert(session: AsyncSession, name: str, principal: Principal) -> AlertRow:
    alert_id = parse_name(name, ALERT_NAME_RE, "name")
    row = (
        (await session.execute(select(AlertRow).where(col(AlertRow.id) == alert_id)))
        .scalars()
        .first()
    )
    if row is None or not (principal.has(*_VIEW_ALL) or row.owner == principal.subject):
        if principal.has(*_VIEW_ALL):
            raise NotFound(f"{name} does not exist", reason="ALERT_NOT_FOUND")
        raise _denied()
    return row


class AlertsRpc:
    """GetAlert, ListAlerts and AcknowledgeAlert."""

    ctx: NotifyContext

    async def GetAlert(  # noqa: N802
        self, request: notify_service_pb2.GetAlertRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Alert:
        """Return an alert and every escalation step it went through."""
        principal = current_principal()
        async with self.ctx.db.read() as session:
            row = await _alert(session, request.name, principal)
            assert row.seq is not None
            return alert_message(row, await alert_steps(session, row.seq))

    async def ListAlerts(  # noqa: N802
        self, request: notify_service_pb2.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListAlertsResponse:
        """Return alerts newest first; an RM sees only their own."""
        principal = current_principal()
        size = page_size(request.page_size)
        owner = request.owner
        if owner and not STAFF_RE.match(owner):
            raise InvalidArgument.of("owner", "must be staff/{staff}")
        if request.state and request.state not in _STATES:
            raise InvalidArgument.of("state", "is not an alert state")
        if not principal.has(*_VIEW_ALL):
            if owner and owner != principal.subject:
                raise _denied()
            owner = principal.subject
        query = {"m": "ListAlerts", "o": owner, "s": request.state}
        before = self.ctx.tokens.decode(request.page_token, query=query)
        statement = select(AlertRow).order_by(col(AlertRow.seq).desc()).limit(size + 1)
        if before is not None:
            statement = statement.where(col(AlertRow.seq) < before)
        if owner:
            statement = statement.where(col(AlertRow.owner) == owner)
        if request.state:
            statement = statement.where(col(AlertRow.state) == _STATES[request.state])
        async with self.ctx.db.read() as session:
            rows = list((await session.execute(statement)).scalars())
            alerts = [alert_message(r, await alert_steps(session, r.seq or 0)) for r in rows[:size]]
        response = notify_service_pb2.ListAlertsResponse(alerts=alerts)
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query)
        return response

    async def AcknowledgeAlert(  # noqa: N802
        self, request: notify_service_pb2.AcknowledgeAlertRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Alert:
        """Acknowledge an alert: escalation stops; the owner's open tasks for it complete."""
        principal = current_principal()
        idempotency.check_request_id(request.request_id)
        now = self.ctx.clock()
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=_METHOD,
                request=request,
                subject=principal.subject,
                response_type=notify_pb2.Alert,
            )
            if replay is not None:
                return replay
            row = await _alert(session, request.name, principal)
            if acknowledge(row, actor=principal.subject, now=now):
                session.add(row)
                tasks = await session.execute(
                    select(TaskRow).where(
                        col(TaskRow.alert) == row.id, col(TaskRow.state) == "open"
                    )
                )
                for task in tasks.scalars():
                    task.state, task.complete_time = "completed", now
                    task.completed_by = principal.subject
                    task.resolution = request.note[:2000] or "alert acknowledged"
                    session.add(task)
            assert row.seq is not None
            response = alert_message(row, await alert_steps(session, row.seq))
            await idempotency.remember(
                session,
                method=_METHOD,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response
