"""Playbook actions: list a client's, and lift a limit freeze with four eyes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import playbook_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.models_playbooks import PlaybookActionRow
from crm_risk.playbook_actions.actions import approve_lift, request_lift
from crm_risk.playbook_actions.mapping import action_message
from crm_risk.playbook_actions.store import action_page, load_action, steps_of
from crm_risk.validation import Violations
from crm_runtime import idempotency, names
from crm_runtime.auth import Principal, Role, current_principal, require_roles
from crm_runtime.pagination import page_size

# Lifting a freeze is a credit-risk decision: risk officers only, two different ones.
LIFT_ROLES = (Role.RISK_OFFICER,)
Change = Callable[[AsyncSession, PlaybookActionRow], Awaitable[None]]
LiftRequest = risk_service_pb2.RequestLimitLiftRequest | risk_service_pb2.ApproveLimitLiftRequest


class PlaybooksRpc:
    """What warnings' playbooks did, and lifting a freeze."""

    ctx: RiskContext

    async def ListPlaybookActions(  # noqa: N802
        self,
        request: risk_service_pb2.ListPlaybookActionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.ListPlaybookActionsResponse:
        """Return a page of the client's actions with their steps, newest first."""
        client_id = names.parse(request, "parent")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), client_id)
            page = await action_page(session, client_id, tokens=self.ctx.tokens,
                                     page_token=request.page_token, size=size)
            steps = await steps_of(session, page.rows)
        return risk_service_pb2.ListPlaybookActionsResponse(
            playbook_actions=[action_message(r, steps[r.seq or 0]) for r in page.rows],
            next_page_token=page.next_page_token,
        )

    async def RequestLimitLift(  # noqa: N802
        self,
        request: risk_service_pb2.RequestLimitLiftRequest,
        context: grpc.aio.ServicerContext,
    ) -> playbook_pb2.PlaybookAction:
        """First risk officer: ask for the freeze to be lifted; it stays in force."""
        principal = require_roles(*LIFT_ROLES)
        v = Violations()
        v.text("reason", request.reason, required=True)
        v.raise_if_any()
        now = self.ctx.clock()

        async def change(session: AsyncSession, row: PlaybookActionRow) -> None:
            await request_lift(session, self.ctx.outbox, row, actor=principal.subject,
                               reason=request.reason, now=now)

        return await self._change(request, principal, "RequestLimitLift", change)

    async def ApproveLimitLift(  # noqa: N802
        self,
        request: risk_service_pb2.ApproveLimitLiftRequest,
        context: grpc.aio.ServicerContext,
    ) -> playbook_pb2.PlaybookAction:
        """Second, different risk officer: approve the lift; drawdowns go through again."""
        principal = require_roles(*LIFT_ROLES)
        v = Violations()
        v.text("comment", request.comment, required=False)
        v.raise_if_any()
        now = self.ctx.clock()

        async def change(session: AsyncSession, row: PlaybookActionRow) -> None:
            await approve_lift(session, self.ctx.outbox, row, actor=principal.subject,
                               comment=request.comment, now=now)

        return await self._change(request, principal, "ApproveLimitLift", change)

    async def _change(
        self,
        request: LiftRequest,
        principal: Principal,
        method: str,
        change: Change,
    ) -> playbook_pb2.PlaybookAction:
        """Load the named action for update, apply `change` and return it, idempotently."""
        ids = names.parse(request, "name")

        async def work(session: AsyncSession) -> playbook_pb2.PlaybookAction:
            await access.check_client(session, principal, ids["client"])
            row = await load_action(session, ids["client"], ids["playbook_action"],
                                    for_update=True)
            await change(session, row)
            return action_message(row, (await steps_of(session, [row]))[row.seq or 0])

        return await idempotency.mutation(
            self.ctx.db, request, method=f"crm.risk.v1.RiskService/{method}",
            subject=principal.subject, response_type=playbook_pb2.PlaybookAction, work=work,
        )
