"""Client RPCs: Get, List, Create, Update."""

from __future__ import annotations

import grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm.events.v1 import client_events_pb2
from crm_client import access
from crm_client.client_fields import (
    CREATE_FIELDS,
    MUTABLE_FIELDS,
    apply_fields,
    apply_size,
    client_created_event,
    merge,
    new_client_row,
    size_of,
)
from crm_client.context import ClientContext, load_client, read_client
from crm_client.domain.size_class import SizeResult
from crm_client.mapping import client_message
from crm_client.models import ClientRow
from crm_client.people import check_people, person_row
from crm_client.store.clients import (
    add_client,
    credit_code_holder_visible,
    credit_code_taken,
    visible_clients,
)
from crm_client.validation import STAFF_RE, Violations, check_assignment, check_client_fields
from crm_runtime import idempotency, names
from crm_runtime.auth import Principal, Role, current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists, InvalidArgument, PermissionDenied
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.ownership import owns
from crm_runtime.pagination import keyset_page, page_size
from crm_runtime.wire import etag

# CREATE_FIELDS is re-exported: the demo loader checks its clients against the same list.
__all__ = ["CREATE_FIELDS", "ClientsRpc"]

CREATE_METHOD = "crm.client.v1.ClientService/CreateClient"
UPDATE_METHOD = "crm.client.v1.ClientService/UpdateClient"
CLIENT_NAME = names.pattern_of(client_pb2.Client)


def _create_denied() -> PermissionDenied:
    return PermissionDenied(
        "RMs may create clients only for themselves or their team", reason="CLIENT_ACCESS_DENIED"
    )


async def _credit_code_exists(
    session: AsyncSession, credit_code: str, principal: Principal
) -> AlreadyExists | PermissionDenied:
    """Return the answer to a duplicate credit code (issue 11, defect 9).

    ALREADY_EXISTS only for a client the caller may see; for any other the answer is the
    same as any forbidden create, so no caller learns that a company it may not see banks
    here (see docs/RELIABILITY.md, "Existence oracle").
    """
    if await credit_code_holder_visible(session, credit_code, principal):
        return AlreadyExists("a client with this credit code exists", reason="CREDIT_CODE_EXISTS")
    return _create_denied()


class ClientsRpc:
    """Get, List, Create and Update of clients."""

    ctx: ClientContext

    async def GetClient(  # noqa: N802
        self, request: client_service_pb2.GetClientRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Client:
        """Return one client visible to the caller."""
        return await read_client(
            self.ctx, names.parse(request, "name")["client"], current_principal()
        )

    async def ListClients(  # noqa: N802
        self, request: client_service_pb2.ListClientsRequest, context: grpc.aio.ServicerContext
    ) -> client_service_pb2.ListClientsResponse:
        """Return a page of the clients visible to the caller, in creation order."""
        principal = current_principal()
        size = page_size(request.page_size)
        if request.relationship_manager and not STAFF_RE.match(request.relationship_manager):
            raise InvalidArgument.of("relationship_manager", "must look like staff/{staff}")
        query = {"m": "ListClients", "rm": request.relationship_manager, "p": principal.subject}
        async with self.ctx.db.read() as session:
            page = await keyset_page(
                session,
                visible_clients(principal, request.relationship_manager),
                key=col(ClientRow.seq),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query=query,
            )
        return client_service_pb2.ListClientsResponse(
            clients=[client_message(r) for r in page.rows], next_page_token=page.next_page_token
        )

    async def CreateClient(  # noqa: N802
        self, request: client_service_pb2.CreateClientRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Client:
        """Validate and store a new client with its first assignment and key persons."""
        principal = require_roles(*access.CREATE_ROLES)
        now = self.ctx.clock()
        v = Violations()
        check_client_fields(v, request.client, CREATE_FIELDS, today=now.date())
        rm = request.relationship_manager or (
            principal.subject if principal.has(Role.RELATIONSHIP_MANAGER) else ""
        )
        check_assignment(
            v,
            relationship_manager=rm,
            team=request.team,
            project_finance=request.client.project_finance,
        )
        check_people(v, list(request.key_persons), today=now.date(), prefix="key_persons")
        v.raise_if_any()
        if not owns(principal, rm, request.team):
            raise _create_denied()
        size = size_of(request.client)

        async def create(session: AsyncSession) -> client_pb2.Client:
            return await self._create(session, request, principal, rm=rm, size=size)

        try:
            return await idempotency.mutation(
                self.ctx.db,
                request,
                method=CREATE_METHOD,
                subject=principal.subject,
                response_type=client_pb2.Client,
                work=create,
            )
        except (AlreadyExists, IntegrityError) as exc:
            # A concurrent create may have won the race. If it was this very request (same
            # request_id, e.g. a retry that overtook the first attempt), answer as it did.
            async with self.ctx.db.read() as session:
                twin = await idempotency.replay(
                    session,
                    method=CREATE_METHOD,
                    request=request,
                    subject=principal.subject,
                    response_type=client_pb2.Client,
                )
                refusal = await _credit_code_exists(
                    session, request.client.credit_code, principal
                )
            if twin is not None:
                return twin
            raise refusal from exc

    async def _create(
        self,
        session: AsyncSession,
        request: client_service_pb2.CreateClientRequest,
        principal: Principal,
        *,
        rm: str,
        size: SizeResult,
    ) -> client_pb2.Client:
        """Store the client, its first assignment and key persons; segment it; announce it."""
        if await credit_code_taken(session, request.client.credit_code):
            raise await _credit_code_exists(session, request.client.credit_code, principal)
        now = self.ctx.clock()
        row = new_client_row(
            request.client, size, relationship_manager=rm, team=request.team, now=now
        )
        seq = await add_client(session, row, assigned_by=principal.subject)
        for person in request.key_persons:
            session.add(person_row(person, client_seq=seq, cipher=self.ctx.cipher, now=now))
        if request.key_persons:
            await session.flush()
        await self.ctx.resegment(
            session,
            row,
            cause="client_created",
            actor=principal.subject,
            now=now,
            fresh=not request.key_persons,
        )
        self.ctx.outbox.emit(session, client_created_event(row), subject=f"clients/{row.id}")
        return client_message(row)

    async def UpdateClient(  # noqa: N802
        self, request: client_service_pb2.UpdateClientRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Client:
        """Change the fields named in the mask, checking the etag."""
        principal = require_roles(*access.UPDATE_ROLES)
        paths = resolve_mask(
            request.update_mask,
            mutable=MUTABLE_FIELDS,
            protected=access.PROTECTED_FIELDS | {"credit_code"},
            resource=client_pb2.Client.DESCRIPTOR,
            field="update_mask",
        )
        now = self.ctx.clock()
        v = Violations()
        check_client_fields(v, request.client, paths, today=now.date())
        v.raise_if_any()
        client_id = CLIENT_NAME.parse(request.client.name, "client.name")["client"]

        async def update(session: AsyncSession) -> client_pb2.Client:
            row = await load_client(session, client_id, principal, for_update=True)
            if request.client.etag and request.client.etag != etag(row.id, row.version):
                raise Aborted("the client changed since it was read", reason="ETAG_MISMATCH")
            merged = client_message(row)
            merge(merged, request.client, paths)
            size = size_of(merged)
            apply_fields(row, request.client, paths)
            apply_size(row, size)
            row.version += 1
            row.update_time = now
            session.add(row)
            await self.ctx.resegment(
                session, row, cause="client_updated", actor=principal.subject, now=now
            )
            self.ctx.outbox.emit(
                session,
                client_events_pb2.ClientUpdated(
                    client=f"clients/{row.id}",
                    changed_fields=sorted(paths),
                    size_class=row.size_class,
                    industry_code=row.industry_code,
                    region_code=row.region_code,
                    group=row.group_name,
                ),
                subject=f"clients/{row.id}",
            )
            return client_message(row)

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=UPDATE_METHOD,
            subject=principal.subject,
            response_type=client_pb2.Client,
            work=update,
        )
