"""Warning RPCs: read, list and the lifecycle open → acknowledged → resolved / dismissed.

Every transition is audited (risk_warning_action) and announced (WarningStatusChanged).
Closing a warning frees its dedupe key, so a later hit opens a new warning. Resolving a
diversion warning as confirmed marks the facility's purpose as changed without authorisation,
which floors its classification at special mention.
"""

from __future__ import annotations

from datetime import datetime

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.risk.v1 import risk_service_pb2, warning_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.early_warnings import OPEN_STATES, change_state
from crm_risk.mapping import SOURCE_NAMES, STATE_NAMES, etag, warning_message
from crm_risk.models import FacilityRow
from crm_risk.models_monitoring import WarningRow, WarningSignalRow
from crm_risk.reclassify import reclassify_client
from crm_risk.validation import WARNING_RE, Violations, client_id_of, parse_name
from crm_runtime import idempotency
from crm_runtime.auth import Principal, current_principal, require_roles
from crm_runtime.errors import Aborted, FailedPrecondition, NotFound, PermissionDenied
from crm_runtime.pagination import page_size

DIVERSION_RULES = frozenset({
    "round_trip", "fast_in_fast_out", "securities_investment", "real_estate", "related_party",
    "entrusted_mismatch", "disguised_repayment",
})


async def signals_of(session: AsyncSession, seqs: list[int]) -> dict[int, list[WarningSignalRow]]:
    """Return the signals of several warnings, oldest first, keyed by warning seq."""
    found: dict[int, list[WarningSignalRow]] = {s: [] for s in seqs}
    if seqs:
        rows = (await session.execute(
            select(WarningSignalRow).where(col(WarningSignalRow.warning_seq).in_(seqs))
            .order_by(col(WarningSignalRow.seq))
        )).scalars()
        for row in rows:
            found[row.warning_seq].append(row)
    return found


async def load_warning(
    session: AsyncSession, name: str, principal: Principal, *, for_update: bool = False
) -> WarningRow:
    """Return the named warning if the caller may see its client.

    Being the warning's owner is not enough: a closed warning keeps the owner it had when it
    closed, and that RM loses the client's risk data once the client is reassigned.
    """
    (warning_id,) = parse_name(name, WARNING_RE, "name")
    statement = select(WarningRow).where(col(WarningRow.id) == warning_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        if principal.sees_whole_portfolio:
            raise NotFound(f"{name} does not exist", reason="WARNING_NOT_FOUND")
        raise access.denied()
    await access.check_client(session, principal, row.client_id)
    return row


class WarningsRpc:
    """Reading warnings and moving them through their lifecycle."""

    ctx: RiskContext

    async def GetWarning(  # noqa: N802
        self, request: risk_service_pb2.GetWarningRequest, context: grpc.aio.ServicerContext
    ) -> warning_pb2.Warning:
        """Return one warning with its signals."""
        async with self.ctx.db.read() as session:
            row = await load_warning(session, request.name, current_principal())
            assert row.seq is not None
            return warning_message(row, (await signals_of(session, [row.seq]))[row.seq])

    async def ListWarnings(  # noqa: N802
        self, request: risk_service_pb2.ListWarningsRequest, context: grpc.aio.ServicerContext
    ) -> risk_service_pb2.ListWarningsResponse:
        """Return a page of the warnings the caller may see, newest first."""
        principal = current_principal()
        size = page_size(request.page_size)
        statement = select(WarningRow)
        if request.client:
            statement = statement.where(
                col(WarningRow.client_id) == client_id_of(request.client, "client")
            )
        if request.state:
            if request.state not in STATE_NAMES:
                raise_invalid("state", "is not a known state")
            statement = statement.where(col(WarningRow.state) == STATE_NAMES[request.state])
        if request.source:
            if request.source not in SOURCE_NAMES:
                raise_invalid("source", "is not a known source")
            statement = statement.where(col(WarningRow.source) == SOURCE_NAMES[request.source])
        if request.rule:
            statement = statement.where(col(WarningRow.rule) == request.rule)
        visible = access.visible_client_ids(principal)
        if visible is not None:
            statement = statement.where(col(WarningRow.client_id).in_(visible))  # type: ignore[arg-type]
        query = {"m": "ListWarnings", "c": request.client, "s": request.state, "r": request.rule,
                 "o": request.source, "p": principal.subject}
        before = self.ctx.tokens.decode(request.page_token, query=query)
        if before is not None:
            statement = statement.where(col(WarningRow.seq) < before)
        async with self.ctx.db.read() as session:
            rows = list((await session.execute(
                statement.order_by(col(WarningRow.seq).desc()).limit(size + 1)
            )).scalars())
            page = rows[:size]
            signals = await signals_of(session, [r.seq for r in page if r.seq is not None])
        response = risk_service_pb2.ListWarningsResponse(
            warnings=[warning_message(r, signals[r.seq]) for r in page if r.seq is not None]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query)
        return response

    async def AcknowledgeWarning(  # noqa: N802
        self, request: risk_service_pb2.AcknowledgeWarningRequest,
        context: grpc.aio.ServicerContext,
    ) -> warning_pb2.Warning:
        """The owner (or their team lead, or a risk officer) acknowledges an open warning."""
        require_roles(*access.HANDLE_WARNING_ROLES)
        v = Violations()
        v.text("comment", request.comment, required=False)
        v.raise_if_any()
        return await self._transition(request, "acknowledged", frozenset({"open"}),
                                      request.comment, "AcknowledgeWarning")

    async def ResolveWarning(  # noqa: N802
        self, request: risk_service_pb2.ResolveWarningRequest, context: grpc.aio.ServicerContext
    ) -> warning_pb2.Warning:
        """Close a warning with evidence; confirmed diversion marks the purpose as changed."""
        require_roles(*access.HANDLE_WARNING_ROLES)
        v = Violations()
        v.text("reason", request.reason, required=True)
        v.raise_if_any()
        return await self._transition(request, "resolved", OPEN_STATES, request.reason,
                                      "ResolveWarning", confirmed=request.confirmed)

    async def DismissWarning(  # noqa: N802
        self, request: risk_service_pb2.DismissWarningRequest, context: grpc.aio.ServicerContext
    ) -> warning_pb2.Warning:
        """Close a warning as a false alarm; only a risk officer may."""
        principal = current_principal()
        if not principal.has(*access.DISMISS_ROLES):
            raise PermissionDenied("only a risk officer may dismiss a warning",
                                   reason="ROLE_NOT_ALLOWED")
        v = Violations()
        v.text("reason", request.reason, required=True)
        v.raise_if_any()
        return await self._transition(request, "dismissed", OPEN_STATES, request.reason,
                                      "DismissWarning")

    async def _transition(
        self,
        request: risk_service_pb2.AcknowledgeWarningRequest
        | risk_service_pb2.ResolveWarningRequest
        | risk_service_pb2.DismissWarningRequest,
        to_state: str,
        allowed_from: frozenset[str],
        reason: str,
        rpc: str,
        *,
        confirmed: bool = False,
    ) -> warning_pb2.Warning:
        principal = current_principal()
        idempotency.check_request_id(request.request_id)
        now = self.ctx.clock()
        method = f"crm.risk.v1.RiskService/{rpc}"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=warning_pb2.Warning,
            )
            if replay is not None:
                return replay
            row = await load_warning(session, request.name, principal, for_update=True)
            if request.etag and request.etag != etag(row.id, row.version):
                raise Aborted("the warning changed since it was read", reason="ETAG_MISMATCH")
            if row.state not in allowed_from:
                raise FailedPrecondition(f"the warning is {row.state}",
                                         reason="WARNING_STATE_CONFLICT")
            await self._apply(session, row, to_state, actor=principal.subject, reason=reason,
                              now=now, confirmed=confirmed)
            assert row.seq is not None
            response = warning_message(row, (await signals_of(session, [row.seq]))[row.seq])
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
        return response

    async def _apply(
        self, session: AsyncSession, row: WarningRow, to_state: str, *, actor: str, reason: str,
        now: datetime, confirmed: bool,
    ) -> None:
        change_state(session, self.ctx.outbox, row, to_state, actor=actor, reason=reason,
                     now=now, confirmed=confirmed)
        if confirmed and row.facility_id and row.rule in DIVERSION_RULES:
            facility = (await session.execute(
                select(FacilityRow).where(col(FacilityRow.id) == row.facility_id)
            )).scalars().first()
            if facility is not None:
                facility.purpose_changed = True
                session.add(facility)
                await reclassify_client(session, row.client_id, cause="purpose_change_confirmed",
                                        actor=actor, now=now)


def raise_invalid(field: str, description: str) -> None:
    """Raise INVALID_ARGUMENT for one field."""
    v = Violations()
    v.add(field, description)
    v.raise_if_any()



