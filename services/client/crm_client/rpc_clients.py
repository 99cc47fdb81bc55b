"""Client RPCs: Get, List, Create, Update."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import grpc
from google.type import money_pb2
from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm.events.v1 import client_events_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client, read_client
from crm_client.domain.industry import miit_sector_of
from crm_client.domain.size_class import SizeResult, classify_size, yuan_to_wan
from crm_client.mapping import OWNERSHIP, client_message, etag
from crm_client.models import AssignmentRow, ClientRow
from crm_client.people import check_people, person_row
from crm_client.segmentation.features import credit_tier
from crm_client.segments import recompute
from crm_client.validation import (
    STAFF_RE,
    TEAM_RE,
    Violations,
    check_client_fields,
    money_to_decimal,
    to_date,
)
from crm_runtime import idempotency
from crm_runtime.auth import Role, current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists, InvalidArgument, PermissionDenied
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pagination import page_size

CREATE_FIELDS = (
    "display_name",
    "credit_code",
    "industry_code",
    "region_code",
    "ownership_type",
    "founding_date",
    "registered_capital",
    "employee_count",
    "annual_revenue",
    "total_assets",
    "previous_annual_revenue",
    "group",
)
MUTABLE_FIELDS = frozenset({*CREATE_FIELDS, "project_finance"} - {"credit_code"})
CREATE_METHOD = "crm.client.v1.ClientService/CreateClient"
_MEASURE_FIELDS = {
    "employees": "client.employee_count",
    "revenue_wan": "client.annual_revenue",
    "assets_wan": "client.total_assets",
}


def _wan(money: money_pb2.Money) -> Decimal | None:
    """Return an amount in 万 yuan, or None when the field is unset."""
    amount = money_to_decimal(money)
    return None if amount == 0 and not money.currency_code else yuan_to_wan(amount)


def size_of(client: client_pb2.Client) -> SizeResult:
    """Derive the size class, naming the missing measure's field when it cannot."""
    try:
        return classify_size(
            sector=miit_sector_of(client.industry_code),
            employees=client.employee_count,
            revenue_wan=_wan(client.annual_revenue),
            assets_wan=_wan(client.total_assets),
        )
    except ValueError as exc:
        text = str(exc)
        field = next((f for m, f in _MEASURE_FIELDS.items() if m in text), "client.industry_code")
        raise InvalidArgument.of(field, text, reason="SIZE_CLASS_UNDETERMINED") from exc


def apply_fields(row: ClientRow, client: client_pb2.Client, paths: set[str]) -> None:
    """Copy the named fields from a message onto a row."""
    for path in paths:
        if path in {
            "registered_capital",
            "annual_revenue",
            "total_assets",
            "previous_annual_revenue",
        }:
            money = getattr(client, path)
            empty = not money.currency_code and money.units == 0 and money.nanos == 0
            setattr(row, path, None if empty else money_to_decimal(money))
        elif path == "ownership_type":
            row.ownership_type = OWNERSHIP[client.ownership_type]
        elif path == "founding_date":
            founded = to_date(client.founding_date)
            assert founded is not None
            row.founding_date = founded
        elif path == "group":
            row.group_name = client.group
        else:
            setattr(row, path, getattr(client, path))


class ClientsRpc:
    """Get, List, Create and Update of clients."""

    ctx: ClientContext

    def _message(self, row: ClientRow | Row[Any]) -> client_pb2.Client:
        return client_message(row, credit_tier=credit_tier(row.credit_grade or None))

    async def GetClient(  # noqa: N802
        self, request: client_service_pb2.GetClientRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Client:
        """Return one client visible to the caller."""
        return await read_client(self.ctx, request.name, current_principal())

    async def ListClients(  # noqa: N802
        self, request: client_service_pb2.ListClientsRequest, context: grpc.aio.ServicerContext
    ) -> client_service_pb2.ListClientsResponse:
        """Return a page of the clients visible to the caller, in creation order."""
        principal = current_principal()
        size = page_size(request.page_size)
        if request.relationship_manager and not STAFF_RE.match(request.relationship_manager):
            raise InvalidArgument.of("relationship_manager", "must look like staff/{staff}")
        query_key = {"m": "ListClients", "rm": request.relationship_manager, "p": principal.subject}
        after = self.ctx.tokens.decode(request.page_token, query=query_key) or 0
        statement = select(ClientRow).where(col(ClientRow.seq) > after)
        clause = access.visible_clause(principal)
        if clause is not None:
            statement = statement.where(clause)
        if request.relationship_manager:
            statement = statement.where(
                col(ClientRow.relationship_manager) == request.relationship_manager
            )
        statement = statement.order_by(col(ClientRow.seq)).limit(size + 1)
        async with self.ctx.db.read() as session:
            rows = list((await session.execute(statement)).scalars())
        response = client_service_pb2.ListClientsResponse(
            clients=[self._message(r) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query_key)
        return response

    async def _replay_create(
        self,
        session: AsyncSession,
        request: client_service_pb2.CreateClientRequest,
        subject: str,
    ) -> client_pb2.Client | None:
        """Return the stored reply of an earlier CreateClient with this request_id, if any."""
        return await idempotency.replay(
            session,
            method=CREATE_METHOD,
            request=request,
            subject=subject,
            response_type=client_pb2.Client,
        )

    async def CreateClient(  # noqa: N802
        self, request: client_service_pb2.CreateClientRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Client:
        """Validate and store a new client with its first assignment."""
        principal = require_roles(*access.CREATE_ROLES)
        idempotency.check_request_id(request.request_id)
        now = self.ctx.clock()
        v = Violations()
        check_client_fields(v, request.client, CREATE_FIELDS, today=now.date())
        rm = request.relationship_manager or (
            principal.subject if principal.has(Role.RELATIONSHIP_MANAGER) else ""
        )
        if not STAFF_RE.match(rm):
            v.add("relationship_manager", "is required and must look like staff/{staff}")
        if request.team and not TEAM_RE.match(request.team):
            v.add("team", "must look like teams/{team}")
        if request.client.project_finance and not request.team:
            v.add("team", "project-finance clients need a dedicated team")
        check_people(v, list(request.key_persons), today=now.date(), prefix="key_persons")
        v.raise_if_any()
        if not principal.sees_whole_portfolio and not (
            rm == principal.subject or (request.team and request.team in principal.teams)
        ):
            raise PermissionDenied(
                "RMs may create clients only for themselves or their team",
                reason="CLIENT_ACCESS_DENIED",
            )
        size = size_of(request.client)
        method = CREATE_METHOD
        try:
            async with self.ctx.db.write() as session:
                replay = await self._replay_create(session, request, principal.subject)
                if replay is not None:
                    return replay
                existing = (
                    await session.execute(
                        select(col(ClientRow.seq)).where(
                            col(ClientRow.credit_code) == request.client.credit_code
                        )
                    )
                ).first()
                if existing is not None:
                    # Under READ COMMITTED a concurrent twin of this very request may have
                    # committed since the replay check above: answer with its response.
                    replay = await self._replay_create(session, request, principal.subject)
                    if replay is not None:
                        return replay
                    raise AlreadyExists(
                        "a client with this credit code exists", reason="CREDIT_CODE_EXISTS"
                    )
                row = ClientRow(
                    id=uuid.uuid4().hex,
                    display_name="",
                    credit_code="",
                    industry_code="",
                    region_code="",
                    ownership_type="",
                    founding_date=date.min,
                    size_class=size.size_class,
                    size_standard_version=size.version,
                    size_class_reason=size.reason,
                    project_finance=request.client.project_finance,
                    relationship_manager=rm,
                    team=request.team,
                    create_time=now,
                    update_time=now,
                )
                apply_fields(row, request.client, set(CREATE_FIELDS))
                session.add(row)
                await session.flush()
                assert row.seq is not None
                session.add(
                    AssignmentRow(
                        client_seq=row.seq,
                        relationship_manager=rm,
                        team=request.team,
                        reason="initial assignment",
                        assigned_by=principal.subject,
                        start_time=now,
                    )
                )
                for person in request.key_persons:
                    session.add(
                        person_row(person, client_seq=row.seq, cipher=self.ctx.cipher, now=now)
                    )
                if request.key_persons:
                    await session.flush()
                await recompute(
                    session,
                    row,
                    catalog=self.ctx.catalog,
                    cipher=self.ctx.cipher,
                    outbox=self.ctx.outbox,
                    cause="client_created",
                    actor=principal.subject,
                    now=now,
                    fresh=not request.key_persons,
                )
                self.ctx.outbox.emit(
                    session,
                    client_events_pb2.ClientCreated(
                        client=f"clients/{row.id}",
                        display_name=row.display_name,
                        credit_code=row.credit_code,
                        industry_code=row.industry_code,
                        region_code=row.region_code,
                        size_class=row.size_class,
                        group=row.group_name,
                        relationship_manager=rm,
                        team=request.team,
                        project_finance=row.project_finance,
                    ),
                    subject=f"clients/{row.id}",
                )
                response = self._message(row)
                await idempotency.remember(
                    session,
                    method=method,
                    request=request,
                    subject=principal.subject,
                    response=response,
                )
                return response
        except IntegrityError as exc:
            # A concurrent create won the race. If it was this very request (same request_id,
            # e.g. a client retry that overtook the first attempt), answer with its response.
            async with self.ctx.db.read() as session:
                replay = await self._replay_create(session, request, principal.subject)
            if replay is not None:
                return replay
            raise AlreadyExists(
                "a client with this credit code exists", reason="CREDIT_CODE_EXISTS"
            ) from exc

    async def UpdateClient(  # noqa: N802
        self, request: client_service_pb2.UpdateClientRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.Client:
        """Change the fields named in the mask, checking the etag."""
        principal = require_roles(*access.UPDATE_ROLES)
        idempotency.check_request_id(request.request_id)
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
        method = "crm.client.v1.ClientService/UpdateClient"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=client_pb2.Client,
            )
            if replay is not None:
                return replay
            row = await load_client(
                session, request.client.name, principal, field_name="client.name", for_update=True
            )
            if request.client.etag and request.client.etag != etag(row.id, row.version):
                raise Aborted("the client changed since it was read", reason="ETAG_MISMATCH")
            merged = self._message(row)
            for path in paths:
                setattr_proto(merged, request.client, path)
            size = size_of(merged)
            apply_fields(row, request.client, paths)
            row.size_class, row.size_standard_version = size.size_class, size.version
            row.size_class_reason = size.reason
            row.version += 1
            row.update_time = now
            session.add(row)
            await recompute(
                session,
                row,
                catalog=self.ctx.catalog,
                cipher=self.ctx.cipher,
                outbox=self.ctx.outbox,
                cause="client_updated",
                actor=principal.subject,
                now=now,
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
            response = self._message(row)
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response


_MESSAGE_FIELDS = frozenset(
    {
        "founding_date",
        "registered_capital",
        "annual_revenue",
        "total_assets",
        "previous_annual_revenue",
    }
)


def setattr_proto(target: client_pb2.Client, source: client_pb2.Client, path: str) -> None:
    """Copy one top-level field between Client messages."""
    if path in _MESSAGE_FIELDS:
        getattr(target, path).CopyFrom(getattr(source, path))
    else:
        setattr(target, path, getattr(source, path))
