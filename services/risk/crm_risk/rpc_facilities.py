"""Facility RPCs: CreateFacility, GetFacility, ListFacilities."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import facility_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.concentration.store import check_after_facilities
from crm_risk.context import RiskContext
from crm_risk.facility_input import FacilityInput, GuaranteeInput, parse_facility
from crm_risk.mapping import facility_message
from crm_risk.models import FacilityRow, GuaranteeRow
from crm_risk.monitoring.store.lookups import facility_context
from crm_risk.reclassify import classify_registered
from crm_risk.store.facilities import (
    facilities_page,
    facility_values,
    guarantees_of,
    insert_facilities,
    load_facility,
)
from crm_runtime import idempotency, names
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import FieldViolation, InvalidArgument
from crm_runtime.pagination import page_size
from crm_runtime.pii import mask_name

GUARANTOR_NAME_CONTEXT = "risk_guarantee.name"


MAX_BATCH = 1000


class FacilitiesRpc:
    """Registration and reading of facilities."""

    ctx: RiskContext

    async def CreateFacility(  # noqa: N802
        self, request: risk_service_pb2.CreateFacilityRequest, context: grpc.aio.ServicerContext
    ) -> facility_pb2.Facility:
        """Validate and register a facility; classify it and check concentration limits."""
        principal = require_roles(*access.FACILITY_ROLES)
        client_id = names.parse(request, "parent")["client"]
        parsed = parse_facility(request.facility, self.ctx.settings.fx_rates())
        made: list[FacilityRow] = []

        async def register(session: AsyncSession) -> facility_pb2.Facility:
            ((row, guarantees),) = await self._register(session, principal, [(client_id, parsed)])
            made.append(row)
            return facility_message(row, guarantees)

        response = await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/CreateFacility",
            subject=principal.subject, response_type=facility_pb2.Facility, work=register,
        )
        # Not on a replay: the first call already told the monitoring pipeline.
        if made:
            self.ctx.monitoring().facilities_added([facility_context(made[0])], prefetch=True)
        return response

    async def BatchCreateFacilities(  # noqa: N802
        self, request: risk_service_pb2.BatchCreateFacilitiesRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.BatchCreateFacilitiesResponse:
        """Register up to 1,000 facilities in one transaction: all of them or none."""
        principal = require_roles(*access.FACILITY_ROLES)
        items = self._parse_batch(request)
        made: list[FacilityRow] = []

        async def register(session: AsyncSession) -> risk_service_pb2.BatchCreateFacilitiesResponse:
            registered = await self._register(session, principal, items)
            made.extend(row for row, _ in registered)
            return risk_service_pb2.BatchCreateFacilitiesResponse(
                facilities=[facility_message(row, guarantees) for row, guarantees in registered])

        response = await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/BatchCreateFacilities",
            subject=principal.subject,
            response_type=risk_service_pb2.BatchCreateFacilitiesResponse, work=register,
        )
        if made:
            self.ctx.monitoring().facilities_added([facility_context(row) for row in made],
                                                   prefetch=False)
        return response

    def _parse_batch(
        self, request: risk_service_pb2.BatchCreateFacilitiesRequest
    ) -> list[tuple[str, FacilityInput]]:
        """Return each request's client and validated facility, or INVALID_ARGUMENT naming
        every bad field as requests[i].…"""
        any_client = request.parent == "clients/-"
        parent = "" if any_client else names.parse(request, "parent")["client"]
        if not 1 <= len(request.requests) <= MAX_BATCH:
            raise InvalidArgument.of("requests", f"1 to {MAX_BATCH} facilities")
        items: list[tuple[str, FacilityInput]] = []
        violations: list[FieldViolation] = []
        fx = self.ctx.settings.fx_rates()
        for index, item in enumerate(request.requests):
            path = f"requests[{index}]"
            try:
                client_id = names.parse(item, "parent", path=f"{path}.parent")["client"]
                if not any_client and client_id != parent:
                    raise InvalidArgument.of(f"{path}.parent", "must match the batch's parent")
                items.append((client_id, parse_facility(item.facility, fx)))
            except InvalidArgument as bad:
                violations += [FieldViolation(v.field if v.field.startswith(path)
                                              else f"{path}.{v.field}", v.description)
                               for v in bad.violations]
        if violations:
            raise InvalidArgument(f"{len(violations)} invalid field(s)", violations=violations)
        return items

    async def _register(
        self, session: AsyncSession, principal: Principal,
        items: list[tuple[str, FacilityInput]],
    ) -> list[tuple[FacilityRow, list[GuaranteeRow]]]:
        """Store facilities, classify their clients and add them to the concentration totals
        (a constant number of statements per client, whatever the size of the book)."""
        now = self.ctx.clock()
        clients = list(dict.fromkeys(client_id for client_id, _ in items))
        for client_id in clients:
            await access.check_client(session, principal, client_id)
        rows = await insert_facilities(
            session, [facility_values(client_id, parsed, now) for client_id, parsed in items])
        made = []
        for row, (_, parsed) in zip(rows, items, strict=True):
            guarantees = self._guarantee_rows(row, parsed.guarantees)
            session.add_all(guarantees)
            made.append((row, guarantees))
        await classify_registered(session, clients, new=frozenset(r.id for r in rows),
                                  actor=principal.subject, now=now)
        amounts: dict[str, Decimal] = {}
        for row in rows:
            amounts[row.client_id] = amounts.get(row.client_id, Decimal(0)) + row.amount_cny
        await check_after_facilities(session, self.ctx, amounts, now=now)
        await session.flush()
        return made

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
                name_masked=mask_name(g.name) if individual else g.name,
                guarantor_client=g.guarantor_client,
                amount=g.amount,
            ))
        return rows

    async def GetFacility(  # noqa: N802
        self, request: risk_service_pb2.GetFacilityRequest, context: grpc.aio.ServicerContext
    ) -> facility_pb2.Facility:
        """Return one facility."""
        ids = names.parse(request, "name")
        async with self.ctx.db.read() as session:
            row = await load_facility(session, ids, current_principal())
            return facility_message(row, await guarantees_of(session, row.seq))

    async def ListFacilities(  # noqa: N802
        self, request: risk_service_pb2.ListFacilitiesRequest, context: grpc.aio.ServicerContext
    ) -> risk_service_pb2.ListFacilitiesResponse:
        """Return a page of a client's facilities in registration order."""
        client_id = names.parse(request, "parent")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), client_id)
            page = await facilities_page(session, client_id, tokens=self.ctx.tokens,
                                         page_token=request.page_token, size=size)
            return risk_service_pb2.ListFacilitiesResponse(
                facilities=[facility_message(r, await guarantees_of(session, r.seq))
                            for r in page.rows],
                next_page_token=page.next_page_token,
            )
