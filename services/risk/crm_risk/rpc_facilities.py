"""Facility RPCs: CreateFacility, GetFacility, ListFacilities."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.risk.v1 import facility_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.concentration_check import check_after_facility
from crm_risk.context import RiskContext
from crm_risk.facility_input import GuaranteeInput, parse_facility
from crm_risk.mapping import facility_message
from crm_risk.models import FacilityRow, GuaranteeRow
from crm_risk.reclassify import reclassify_client
from crm_risk.validation import FACILITY_RE, client_id_of, parse_name
from crm_runtime import idempotency
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import NotFound
from crm_runtime.pagination import page_size

GUARANTOR_NAME_CONTEXT = "risk_guarantee.name"


def mask_person_name(name: str) -> str:
    """Return a natural person's name masked as bank practice shows it, e.g. 张*."""
    return name[:1] + "*" * max(1, len(name) - 1)


async def guarantees_of(session: AsyncSession, facility_seq: int | None) -> list[GuaranteeRow]:
    """Return a facility's guarantees in entry order."""
    return list(
        (
            await session.execute(
                select(GuaranteeRow)
                .where(col(GuaranteeRow.facility_seq) == facility_seq)
                .order_by(col(GuaranteeRow.seq))
            )
        ).scalars()
    )


async def load_facility(
    session: AsyncSession,
    name: str,
    principal: Principal,
    *,
    field: str = "name",
    for_update: bool = False,
) -> FacilityRow:
    """Return the named facility if the caller may see its client."""
    client_id, facility_id = parse_name(name, FACILITY_RE, field)
    await access.check_client(session, principal, client_id)
    statement = select(FacilityRow).where(
        col(FacilityRow.id) == facility_id, col(FacilityRow.client_id) == client_id
    )
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        raise NotFound(f"{name} does not exist", reason="FACILITY_NOT_FOUND")
    return row


class FacilitiesRpc:
    """Registration and reading of facilities."""

    ctx: RiskContext

    async def CreateFacility(  # noqa: N802
        self, request: risk_service_pb2.CreateFacilityRequest, context: grpc.aio.ServicerContext
    ) -> facility_pb2.Facility:
        """Validate and register a facility; classify it and check concentration limits."""
        principal = require_roles(*access.FACILITY_ROLES)
        idempotency.check_request_id(request.request_id)
        client_id = client_id_of(request.parent, "parent")
        parsed = parse_facility(request.facility, self.ctx.settings.fx_rates())
        now = self.ctx.clock()
        method = "crm.risk.v1.RiskService/CreateFacility"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=facility_pb2.Facility,
            )
            if replay is not None:
                return replay
            await access.check_client(session, principal, client_id)
            row = FacilityRow(
                id=uuid.uuid4().hex,
                client_id=client_id,
                facility_type=parsed.facility_type,
                amount=parsed.amount,
                currency=parsed.currency,
                amount_cny=parsed.amount_cny,
                term_months=parsed.term_months,
                purpose_category=parsed.purpose_category,
                drawdown_account=parsed.drawdown_account,
                entrusted_json=parsed.entrusted_json,
                collaterals_json=parsed.collaterals_json,
                total_project_investment=parsed.total_project_investment,
                start_date=parsed.start_date,
                create_time=now,
                update_time=now,
            )
            session.add(row)
            await session.flush()
            guarantees = self._guarantee_rows(row, parsed.guarantees)
            session.add_all(guarantees)
            await reclassify_client(
                session, client_id, cause="registered", actor=principal.subject, now=now,
                force_record=frozenset({row.id}),
            )
            await check_after_facility(session, self.ctx, client_id, now=now)
            await session.flush()
            response = facility_message(row, guarantees)
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
        self.ctx.monitoring().invalidate(client_id)
        return response

    def _guarantee_rows(
        self, row: FacilityRow, guarantees: Sequence[GuaranteeInput]
    ) -> list[GuaranteeRow]:
        assert row.seq is not None
        rows = []
        for g in guarantees:
            individual = g.kind == "individual"
            rows.append(GuaranteeRow(
                facility_seq=row.seq,
                guarantor_kind=g.kind,
                name_plain="" if individual else g.name,
                name_enc=(
                    self.ctx.cipher.encrypt(g.name, context=GUARANTOR_NAME_CONTEXT)
                    if individual else None
                ),
                name_masked=mask_person_name(g.name) if individual else g.name,
                guarantor_client=g.guarantor_client,
                amount=g.amount,
            ))
        return rows

    async def GetFacility(  # noqa: N802
        self, request: risk_service_pb2.GetFacilityRequest, context: grpc.aio.ServicerContext
    ) -> facility_pb2.Facility:
        """Return one facility."""
        principal = current_principal()
        async with self.ctx.db.read() as session:
            row = await load_facility(session, request.name, principal)
            return facility_message(row, await guarantees_of(session, row.seq))

    async def ListFacilities(  # noqa: N802
        self, request: risk_service_pb2.ListFacilitiesRequest, context: grpc.aio.ServicerContext
    ) -> risk_service_pb2.ListFacilitiesResponse:
        """Return a page of a client's facilities in registration order."""
        principal = current_principal()
        client_id = client_id_of(request.parent, "parent")
        size = page_size(request.page_size)
        query = {"m": "ListFacilities", "c": client_id}
        after = self.ctx.tokens.decode(request.page_token, query=query) or 0
        async with self.ctx.db.read() as session:
            await access.check_client(session, principal, client_id)
            rows = list(
                (
                    await session.execute(
                        select(FacilityRow)
                        .where(col(FacilityRow.client_id) == client_id,
                               col(FacilityRow.seq) > after)
                        .order_by(col(FacilityRow.seq))
                        .limit(size + 1)
                    )
                ).scalars()
            )
            response = risk_service_pb2.ListFacilitiesResponse(
                facilities=[facility_message(r, await guarantees_of(session, r.seq))
                            for r in rows[:size]]
            )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query)
        return response
