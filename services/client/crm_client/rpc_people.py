"""Key-person RPCs. Personal data is encrypted at rest, masked by default, audited when shown."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client
from crm_client.mapping import key_person_message
from crm_client.models import KeyPersonRow
from crm_client.people import check_people, person_row
from crm_client.store.facts import OWNER_ROLES
from crm_client.store.people import delete_key_person, key_person, key_persons_of
from crm_client.validation import Violations
from crm_runtime import idempotency, names
from crm_runtime.audit import record_personal_data_access
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import InvalidArgument, NotFound, PermissionDenied
from crm_runtime.pagination import keyset_page, page_size

PERSONAL_FIELDS = ["display_name", "id_number", "mobile_number", "income_band"]


def _person_not_found(name: str) -> NotFound:
    return NotFound(f"{name} does not exist", reason="KEY_PERSON_NOT_FOUND")


class PeopleRpc:
    """Create, read, list and delete key persons."""

    ctx: ClientContext

    async def CreateKeyPerson(  # noqa: N802
        self,
        request: client_service_pb2.CreateKeyPersonRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_pb2.KeyPerson:
        """Store a key person with personal fields encrypted."""
        principal = require_roles(*access.UPDATE_ROLES)
        now = self.ctx.clock()
        v = Violations()
        check_people(v, [request.key_person], today=now.date(), prefix="key_person")
        v.raise_if_any()
        client_id = names.parse(request, "parent")["client"]

        async def create(session: AsyncSession) -> client_pb2.KeyPerson:
            client = await load_client(session, client_id, principal)
            assert client.seq is not None
            row = person_row(
                request.key_person, client_seq=client.seq, cipher=self.ctx.cipher, now=now
            )
            session.add(row)
            await session.flush()
            if row.role in OWNER_ROLES:  # Only owners' facts feed segment rules.
                await self.ctx.resegment(
                    session, client, cause="key_person_added", actor=principal.subject, now=now
                )
            return key_person_message(row, client.id)

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method="crm.client.v1.ClientService/CreateKeyPerson",
            subject=principal.subject,
            response_type=client_pb2.KeyPerson,
            work=create,
        )

    async def GetKeyPerson(  # noqa: N802
        self, request: client_service_pb2.GetKeyPersonRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.KeyPerson:
        """Return a key person; unmasked only for allowed roles with a reason, and audited."""
        principal = current_principal()
        ids = names.parse(request, "name")
        if request.unmask and not request.access_reason.strip():
            raise InvalidArgument.of("access_reason", "is required to unmask personal data")
        delivery_only = request.unmask and access.unmasks_for_delivery(
            principal, request.access_reason
        )
        if request.unmask and not delivery_only and not principal.has(*access.UNMASK_ROLES):
            await self._refuse_unmask(request, principal)
        sessions = self.ctx.db.write() if request.unmask else self.ctx.db.read()
        async with sessions as session:
            client = await load_client(session, ids["client"], principal)
            row = await key_person(session, client.seq, ids["key_person"])
            if row is None:
                raise _person_not_found(request.name)
            if not request.unmask:
                return key_person_message(row, client.id)
            # Audited in the same transaction: if the audit write fails, nothing is shown.
            record_personal_data_access(
                session,
                principal=principal,
                action="unmask",
                resource=request.name,
                fields=list(access.DELIVERY_UNMASK_FIELDS) if delivery_only else PERSONAL_FIELDS,
                reason=request.access_reason,
            )
            if delivery_only:
                # Everything stays masked except the one field delivery needs.
                person = key_person_message(row, client.id)
                person.mobile_number = self._decrypt(row).get("mobile_number", "")
                return person
            return key_person_message(row, client.id, plain=self._decrypt(row))

    async def _refuse_unmask(
        self, request: client_service_pb2.GetKeyPersonRequest, principal: Principal
    ) -> None:
        """Audit the refused attempt (in its own transaction), then refuse it."""
        async with self.ctx.db.write() as session:
            record_personal_data_access(
                session,
                principal=principal,
                action="unmask",
                resource=request.name,
                fields=PERSONAL_FIELDS,
                reason=request.access_reason,
                outcome="denied",
            )
        raise PermissionDenied(
            "the caller's role may not see personal data", reason="PERSONAL_DATA_DENIED"
        )

    def _decrypt(self, row: KeyPersonRow) -> dict[str, str]:
        cipher = self.ctx.cipher
        plain = {"display_name": cipher.decrypt(row.name_enc, context="key_person.name")}
        if row.id_number_enc:
            plain["id_number"] = cipher.decrypt(row.id_number_enc, context="key_person.id_number")
        if row.mobile_enc:
            plain["mobile_number"] = cipher.decrypt(row.mobile_enc, context="key_person.mobile")
        if row.income_band_enc:
            plain["income_band"] = cipher.decrypt(
                row.income_band_enc, context="key_person.income_band"
            )
        return plain

    async def ListKeyPersons(  # noqa: N802
        self,
        request: client_service_pb2.ListKeyPersonsRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListKeyPersonsResponse:
        """Return the client's key persons, masked."""
        principal = current_principal()
        client_id = names.parse(request, "parent")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            client = await load_client(session, client_id, principal)
            page = await keyset_page(
                session,
                key_persons_of(client.seq),
                key=col(KeyPersonRow.seq),
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=size,
                query={"m": "ListKeyPersons", "c": request.parent},
            )
        return client_service_pb2.ListKeyPersonsResponse(
            key_persons=[key_person_message(r, client.id) for r in page.rows],
            next_page_token=page.next_page_token,
        )

    async def DeleteKeyPerson(  # noqa: N802
        self,
        request: client_service_pb2.DeleteKeyPersonRequest,
        context: grpc.aio.ServicerContext,
    ) -> empty_pb2.Empty:
        """Delete a key person (its encrypted data goes with it)."""
        principal = require_roles(*access.UPDATE_ROLES)
        ids = names.parse(request, "name")

        async def remove(session: AsyncSession) -> empty_pb2.Empty:
            client = await load_client(session, ids["client"], principal)
            if not await delete_key_person(session, client.seq, ids["key_person"]):
                raise _person_not_found(request.name)
            await self.ctx.resegment(
                session, client, cause="key_person_removed", actor=principal.subject
            )
            return empty_pb2.Empty()

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method="crm.client.v1.ClientService/DeleteKeyPerson",
            subject=principal.subject,
            response_type=empty_pb2.Empty,
            work=remove,
        )
