"""Guarantee RPCs: guarantees one client gives for another's facility, kept as history."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client
from crm_client.groups.mapping import GUARANTEE_TYPE, guarantee_message
from crm_client.groups.validation import check_guarantee
from crm_client.models_groups import GuaranteeRow
from crm_client.store.clients import client_by_id
from crm_client.store.groups import add_guarantee, end_guarantee, guarantee, guarantees_of
from crm_client.store.segments import client_ids
from crm_client.validation import to_date
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import NotFound
from crm_runtime.pagination import keyset_page, page_size
from crm_runtime.wire import money_to_decimal


class GuaranteesRpc:
    """Record, list and end guarantees between clients."""

    ctx: ClientContext

    async def CreateGuarantee(  # noqa: N802
        self,
        request: client_service_pb2.CreateGuaranteeRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_pb2.Guarantee:
        """Record a guarantee given by a client the caller may see for another client."""
        principal = require_roles(*access.GROUP_ROLES)
        guarantor_id = names.parse(request, "parent")["client"]
        beneficiary_id = check_guarantee(request)
        g = request.guarantee
        now = self.ctx.clock()

        async def create(session: AsyncSession) -> client_pb2.Guarantee:
            guarantor = await load_client(session, guarantor_id, principal)
            # The beneficiary is often another RM's client: it must exist, not be visible.
            beneficiary = await client_by_id(session, beneficiary_id)
            if beneficiary is None:
                raise NotFound(f"{g.beneficiary} does not exist", reason="CLIENT_NOT_FOUND")
            row = await add_guarantee(
                session, self.ctx.outbox, guarantor, beneficiary, facility=g.facility,
                amount=money_to_decimal(g.amount),
                guarantee_type=GUARANTEE_TYPE[g.guarantee_type],
                valid_from=to_date(g.valid_from) or now.date(), actor=principal.subject,
                now=now,
            )
            return guarantee_message(row, guarantor.id, beneficiary.id)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.client.v1.ClientService/CreateGuarantee",
            subject=principal.subject, response_type=client_pb2.Guarantee, work=create,
        )

    async def ListGuarantees(  # noqa: N802
        self,
        request: client_service_pb2.ListGuaranteesRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListGuaranteesResponse:
        """Return the guarantees a client the caller may see gives or receives."""
        principal = current_principal()
        client_id = names.parse(request, "parent")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            client = await load_client(session, client_id, principal)
            page = await keyset_page(
                session, guarantees_of(client.seq), key=col(GuaranteeRow.seq),
                tokens=self.ctx.tokens, page_token=request.page_token, size=size,
                query={"m": "ListGuarantees", "c": client_id},
            )
            seqs = [r.guarantor_seq for r in page.rows] + [r.beneficiary_seq for r in page.rows]
            ids = await client_ids(session, seqs)
        return client_service_pb2.ListGuaranteesResponse(
            guarantees=[guarantee_message(r, ids[r.guarantor_seq], ids[r.beneficiary_seq])
                        for r in page.rows],
            next_page_token=page.next_page_token,
        )

    async def EndGuarantee(  # noqa: N802
        self, request: client_service_pb2.EndGuaranteeRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Guarantee:
        """End a guarantee given by a client the caller may see; the row stays as history."""
        principal = require_roles(*access.GROUP_ROLES)
        ids = names.parse(request, "name")
        now = self.ctx.clock()
        valid_to = to_date(request.valid_to) or now.date()

        async def end(session: AsyncSession) -> client_pb2.Guarantee:
            guarantor = await load_client(session, ids["client"], principal)
            row = await guarantee(session, guarantor.seq, ids["guarantee"])
            if row is None:
                raise NotFound(f"{request.name} does not exist", reason="GUARANTEE_NOT_FOUND")
            beneficiary = (await client_ids(session, [row.beneficiary_seq]))[row.beneficiary_seq]
            await end_guarantee(session, self.ctx.outbox, row, guarantor.id, beneficiary,
                                valid_to=valid_to, now=now)
            return guarantee_message(row, guarantor.id, beneficiary)

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.client.v1.ClientService/EndGuarantee",
            subject=principal.subject, response_type=client_pb2.Guarantee, work=end,
        )
