"""Task inbox RPCs: list a staff member's tasks, complete one."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.notify.v1 import notify_service_pb2, task_pb2
from crm_notify import access
from crm_notify.alerts import acknowledge, alert_by_id
from crm_notify.context import NotifyContext
from crm_notify.mapping import task_message
from crm_notify.names import is_staff
from crm_notify.tasks_store import task_by_id, tasks_page
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal
from crm_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from crm_runtime.pagination import page_size

_STATES = {task_pb2.TASK_STATE_OPEN: "open", task_pb2.TASK_STATE_COMPLETED: "completed"}
_METHOD = "crm.notify.v1.NotificationService/CompleteTask"


class TasksRpc:
    """ListTasks and CompleteTask."""

    ctx: NotifyContext

    async def ListTasks(  # noqa: N802
        self, request: notify_service_pb2.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListTasksResponse:
        """Return a staff member's tasks, soonest due first."""
        principal = current_principal()
        assignee = request.assignee or principal.subject
        if not is_staff(assignee):
            raise InvalidArgument.of("assignee", "must be staff/{staff}")
        if request.state and request.state not in _STATES:
            raise InvalidArgument.of("state", "is not a task state")
        if not access.may_read(principal, assignee):
            raise access.recipient_denied()
        async with self.ctx.db.read() as session:
            page = await tasks_page(
                session,
                assignee=assignee,
                state=_STATES.get(request.state, ""),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=page_size(request.page_size),
                query={"m": "ListTasks", "a": assignee, "s": request.state},
            )
        return notify_service_pb2.ListTasksResponse(
            tasks=[task_message(r) for r in page.rows], next_page_token=page.next_page_token
        )

    async def CompleteTask(  # noqa: N802
        self, request: notify_service_pb2.CompleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> task_pb2.Task:
        """Mark a task done; completing a warning's task also acknowledges the alert."""
        principal = current_principal()
        task_id = names.parse(request, "name")["task"]
        now = self.ctx.clock()

        async def work(session: AsyncSession) -> task_pb2.Task:
            row = await task_by_id(session, task_id)
            if row is None or not access.may_act_for(principal, row.assignee):
                if principal.has(*access.ANY_RECIPIENT_ROLES):
                    raise NotFound(f"{request.name} does not exist", reason="TASK_NOT_FOUND")
                raise access.recipient_denied()
            if row.state == "completed":
                raise FailedPrecondition("the task is already completed", reason="TASK_COMPLETED")
            row.state, row.complete_time = "completed", now
            row.completed_by, row.resolution = principal.subject, request.resolution[:2000]
            session.add(row)
            alert = await alert_by_id(session, row.alert) if row.alert else None
            if alert is not None and acknowledge(alert, actor=principal.subject, now=now):
                session.add(alert)
            return task_message(row)

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=_METHOD,
            subject=principal.subject,
            response_type=task_pb2.Task,
            work=work,
        )
