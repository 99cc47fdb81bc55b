"""Assignment RPCs: AssignClient and ListAssignments (history)."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm.events.v1 import client_events_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client
from crm_client.mapping import assignment_message, client_message
from crm_client.models import AssignmentRow
from crm_client.store.clients import assignment_history, reassign
from crm_client.validation import STAFF_RE, TEAM_RE, Violations
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import Aborted, InvalidArgument
from crm_runtime.pagination import keyset_page, page_size
from crm_runtime.wire import etag


class AssignRpc:
    """Relationship-manager and team assignment with history."""

    ctx: ClientContext

    async def AssignClient(  # noqa: N802
        self, request: client_service_pb2.AssignClientRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Client:
        """Replace the client's RM/team; the old assignment gets an end time."""
        principal = require_roles(*access.ASSIGN_ROLES)
        v = Violations()
        if not STAFF_RE.match(request.relationship_manager):
            v.add("relationship_manager", "is required and must look like staff/{staff}")
        if request.team and not TEAM_RE.match(request.team):
            v.add("team", "must look like teams/{team}")
        if not request.reason.strip():
            v.add("reason", "is required")
        v.raise_if_any()
        client_id = names.parse(request, "name")["client"]

        async def assign(session: AsyncSession) -> client_pb2.Client:
            row = await load_client(session, client_id, principal, for_update=True)
            if request.etag and request.etag != etag(row.id, row.version):
                raise Aborted("the client changed since it was read", reason="ETAG_MISMATCH")
            team = request.team or row.team
            if row.project_finance and not team:
                raise InvalidArgument.of("team", "project-finance clients need a dedicated team")
            event = client_events_pb2.ClientAssigned(
                client=f"clients/{row.id}",
                relationship_manager=request.relationship_manager,
                team=team,
                previous_relationship_manager=row.relationship_manager,
                previous_team=row.team,
                reason=request.reason,
            )
            await reassign(
                session,
                row,
                relationship_manager=request.relationship_manager,
                team=team,
                reason=request.reason,
                assigned_by=principal.subject,
                now=self.ctx.clock(),
            )
            self.ctx.outbox.emit(session, event, subject=f"clients/{row.id}")
            return client_message(row)

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method="crm.client.v1.ClientService/AssignClient",
            subject=principal.subject,
            response_type=client_pb2.Client,
            work=assign,
        )

    async def ListAssignments(  # noqa: N802
        self,
        request: client_service_pb2.ListAssignmentsRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListAssignmentsResponse:
        """Return the client's assignments, newest first."""
        principal = current_principal()
        client_id = names.parse(request, "parent")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            client = await load_client(session, client_id, principal)
            page = await keyset_page(
                session,
                assignment_history(client.seq),
                key=col(AssignmentRow.seq),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListAssignments", "c": request.parent},
                descending=True,
            )
        return client_service_pb2.ListAssignmentsResponse(
            assignments=[assignment_message(r, client.id) for r in page.rows],
            next_page_token=page.next_page_token,
        )
