"""Alert RPCs: read alerts with their escalations, acknowledge one."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.notify.v1 import alert_pb2, notify_service_pb2
from crm_notify import access
from crm_notify.alerts import (
    acknowledge,
    alert_by_id,
    alert_message,
    alert_steps,
    alerts_page,
    complete_alert_tasks,
)
from crm_notify.context import NotifyContext
from crm_notify.models import AlertRow
from crm_notify.names import is_staff
from crm_runtime import idempotency, names
from crm_runtime.auth import Principal, current_principal
from crm_runtime.errors import InvalidArgument, NotFound, PermissionDenied
from crm_runtime.pagination import page_size

_STATES = {alert_pb2.ALERT_STATE_OPEN: "open", alert_pb2.ALERT_STATE_ACKNOWLEDGED: "acknowledged"}
_METHOD = "crm.notify.v1.NotificationService/AcknowledgeAlert"
_VIEW_ALL = (*access.ALERT_SUPERVISOR_ROLES, *access.READ_ALL_ROLES)
AlertRequest = notify_service_pb2.GetAlertRequest | notify_service_pb2.AcknowledgeAlertRequest


def _denied() -> PermissionDenied:
    return PermissionDenied("the caller may not access this alert", reason="ALERT_ACCESS_DENIED")


async def _alert(session: AsyncSession, request: AlertRequest, principal: Principal) -> AlertRow:
    """Return the named alert's row if the caller may see it (no existence oracle otherwise)."""
    row = await alert_by_id(session, names.parse(request, "name")["alert"])
    if row is None or not (principal.has(*_VIEW_ALL) or row.owner == principal.subject):
        if principal.has(*_VIEW_ALL):
            raise NotFound(f"{request.name} does not exist", reason="ALERT_NOT_FOUND")
        raise _denied()
    return row


async def _message(session: AsyncSession, row: AlertRow) -> alert_pb2.Alert:
    return alert_message(row, await alert_steps(session, row.seq or 0))


class AlertsRpc:
    """GetAlert, ListAlerts and AcknowledgeAlert."""

    ctx: NotifyContext

    async def GetAlert(  # noqa: N802
        self, request: notify_service_pb2.GetAlertRequest, context: grpc.aio.ServicerContext
    ) -> alert_pb2.Alert:
        """Return an alert and every escalation step it went through."""
        principal = current_principal()
        async with self.ctx.db.read() as session:
            return await _message(session, await _alert(session, request, principal))

    async def ListAlerts(  # noqa: N802
        self, request: notify_service_pb2.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListAlertsResponse:
        """Return alerts newest first; an RM sees only their own."""
        principal = current_principal()
        size = page_size(request.page_size)
        owner = request.owner
        if owner and not is_staff(owner):
            raise InvalidArgument.of("owner", "must be staff/{staff}")
        if request.state and request.state not in _STATES:
            raise InvalidArgument.of("state", "is not an alert state")
        if not principal.has(*_VIEW_ALL):
            if owner and owner != principal.subject:
                raise _denied()
            owner = principal.subject
        async with self.ctx.db.read() as session:
            page = await alerts_page(
                session,
                owner=owner,
                state=_STATES.get(request.state, ""),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListAlerts", "o": owner, "s": request.state},
            )
            alerts = [await _message(session, r) for r in page.rows]
        return notify_service_pb2.ListAlertsResponse(
            alerts=alerts, next_page_token=page.next_page_token
        )

    async def AcknowledgeAlert(  # noqa: N802
        self, request: notify_service_pb2.AcknowledgeAlertRequest, context: grpc.aio.ServicerContext
    ) -> alert_pb2.Alert:
        """Acknowledge an alert: escalation stops; the owner's open tasks for it complete."""
        principal = current_principal()
        now = self.ctx.clock()

        async def work(session: AsyncSession) -> alert_pb2.Alert:
            row = await _alert(session, request, principal)
            if acknowledge(row, actor=principal.subject, now=now):
                session.add(row)
                await complete_alert_tasks(
                    session,
                    row.id,
                    actor=principal.subject,
                    resolution=request.note[:2000] or "alert acknowledged",
                    now=now,
                )
            return await _message(session, row)

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=_METHOD,
            subject=principal.subject,
            response_type=alert_pb2.Alert,
            work=work,
        )
