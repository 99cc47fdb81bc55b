"""Task inbox RPCs: list a staff member's tasks, complete one."""

from __future__ import annotations

from datetime import datetime

import grpc
from sqlalchemy import select, tuple_
from sqlmodel import col

from crm.notify.v1 import notify_pb2, notify_service_pb2
from crm_notify import access
from crm_notify.alerts import acknowledge
from crm_notify.context import NotifyContext
from crm_notify.mapping import as_utc, task_message
from crm_notify.models import AlertRow, TaskRow
from crm_notify.names import STAFF_RE, TASK_NAME_RE, parse_name
from crm_runtime import idempotency
from crm_runtime.auth import current_principal
from crm_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from crm_runtime.pagination import page_size

_STATES = {notify_pb2.TASK_STATE_OPEN: "open", notify_pb2.TASK_STATE_COMPLETED: "completed"}
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
        if not STAFF_RE.match(assignee):
            raise InvalidArgument.of("assignee", "must be staff/{staff}")
        if request.state and request.state not in _STATES:
            raise InvalidArgument.of("state", "is not a task state")
        if not access.may_read(principal, assignee):
            raise access.recipient_denied()
        size = page_size(request.page_size)
        query = {"m": "ListTasks", "a": assignee, "s": request.state}
        after = self.ctx.tokens.decode(request.page_token, query=query)
        statement = select(TaskRow).where(col(TaskRow.assignee) == assignee)
        if request.state:
            statement = statement.where(col(TaskRow.state) == _STATES[request.state])
        if isinstance(after, list):
            statement = statement.where(
                tuple_(col(TaskRow.due_time), col(TaskRow.seq))
                > tuple_(datetime.fromisoformat(after[0]), after[1])
            )
        statement = statement.order_by(col(TaskRow.due_time), col(TaskRow.seq)).limit(size + 1)
        async with self.ctx.db.read() as session:
            rows = list((await session.execute(statement)).scalars())
        response = notify_service_pb2.ListTasksResponse(
            tasks=[task_message(r) for r in rows[:size]]
        )
        if len(rows) > size:
            last = rows[size - 1]
            response.next_page_token = self.ctx.tokens.encode(
                [as_utc(last.due_time).isoformat(), last.seq], query=query
            )
        return response

    async def CompleteTask(  # noqa: N802
        self, request: notify_service_pb2.CompleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Task:
        """Mark a task done; completing a warning's task also acknowledges the alert."""
        principal = current_principal()
        idempotency.check_request_id(request.request_id)
        task_id = parse_name(request.name, TASK_NAME_RE, "name")
        now = self.ctx.clock()
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=_METHOD,
                request=request,
                subject=principal.subject,
                response_type=notify_pb2.Task,
            )
            if replay is not None:
                return replay
            row = (
                (await session.execute(select(TaskRow).where(col(TaskRow.id) == task_id)))
                .scalars()
                .first()
            )
            if row is None or not access.may_act_for(principal, row.assignee):
                if principal.has(*access.ANY_RECIPIENT_ROLES):
                    raise NotFound(f"{request.name} does not exist", reason="TASK_NOT_FOUND")
                raise access.recipient_denied()
            if row.state == "completed":
                raise FailedPrecondition("the task is already completed", reason="TASK_COMPLETED")
            row.state, row.complete_time = "completed", now
            row.completed_by, row.resolution = principal.subject, request.resolution[:2000]
            session.add(row)
            if row.alert:
                alert = (
                    (await session.execute(select(AlertRow).where(col(AlertRow.id) == row.alert)))
                    .scalars()
                    .first()
                )
                if alert is not None and acknowledge(alert, actor=principal.subject, now=now):
                    session.add(alert)
            response = task_message(row)
            await idempotency.remember(
                session,
                method=_METHOD,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response
