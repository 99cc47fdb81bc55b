"""Warning RPCs: read, list and the lifecycle open → acknowledged → resolved / dismissed.

Every transition is audited (risk_warning_action) and announced (WarningStatusChanged).
Closing a warning frees its dedupe key, so a later hit opens a new warning. Resolving a
diversion warning as confirmed marks the facility's purpose as changed without authorisation,
which floors its classification at special mention.
"""

from __future__ import annotations

from datetime import datetime

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import risk_service_pb2, warning_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.mapping import SOURCE_NAMES, STATE_NAMES, warning_message
from crm_risk.models_monitoring import WarningRow
from crm_risk.reclassify import reclassify_client
from crm_risk.store.facilities import facility_by_id
from crm_risk.store.warnings import WarningFilter, load_warning, signals_of, warnings_page
from crm_risk.validation import Violations
from crm_risk.warning_lifecycle import OPEN_STATES, change_state
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import Aborted, FailedPrecondition, PermissionDenied
from crm_runtime.pagination import page_size
from crm_runtime.wire import etag

DIVERSION_RULES = frozenset({
    "round_trip", "fast_in_fast_out", "securities_investment", "real_estate", "related_party",
    "entrusted_mismatch", "disguised_repayment",
})


class WarningsRpc:
    """Reading warnings and moving them through their lifecycle."""

    ctx: RiskContext

    async def GetWarning(  # noqa: N802
        self, request: risk_service_pb2.GetWarningRequest, context: grpc.aio.ServicerContext
    ) -> warning_pb2.Warning:
        """Return one warning with its signals."""
        async with self.ctx.db.read() as session:
            row = await load_warning(session, names.parse(request, "name")["warning"],
                                     current_principal())
            assert row.seq is not None
            return warning_message(row, (await signals_of(session, [row.seq]))[row.seq])

    async def ListWarnings(  # noqa: N802
        self, request: risk_service_pb2.ListWarningsRequest, context: grpc.aio.ServicerContext
    ) -> risk_service_pb2.ListWarningsResponse:
        """Return a page of the warnings the caller may see, newest first."""
        principal = current_principal()
        size = page_size(request.page_size)
        if request.state and request.state not in STATE_NAMES:
            raise_invalid("state", "is not a known state")
        if request.source and request.source not in SOURCE_NAMES:
            raise_invalid("source", "is not a known source")
        only = WarningFilter(
            client_id=names.parse(request, "client")["client"] if request.client else "",
            state=STATE_NAMES.get(request.state, ""), source=SOURCE_NAMES.get(request.source, ""),
            rule=request.rule,
        )
        query = {"m": "ListWarnings", "c": request.client, "s": request.state, "r": request.rule,
                 "o": request.source, "p": principal.subject}
        async with self.ctx.db.read() as session:
            page = await warnings_page(session, principal, only, query=query,
                                       tokens=self.ctx.tokens, page_token=request.page_token,
                                       size=size)
            signals = await signals_of(session, [r.seq for r in page.rows if r.seq is not None])
        return risk_service_pb2.ListWarningsResponse(
            warnings=[warning_message(r, signals[r.seq]) for r in page.rows if r.seq is not None],
            next_page_token=page.next_page_token,
        )

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
        warning_id = names.parse(request, "name")["warning"]
        now = self.ctx.clock()

        async def transition(session: AsyncSession) -> warning_pb2.Warning:
            row = await load_warning(session, warning_id, principal, for_update=True)
            if request.etag and request.etag != etag(row.id, row.version):
                raise Aborted("the warning changed since it was read", reason="ETAG_MISMATCH")
            if row.state not in allowed_from:
                raise FailedPrecondition(f"the warning is {row.state}",
                                         reason="WARNING_STATE_CONFLICT")
            await self._apply(session, row, to_state, actor=principal.subject, reason=reason,
                              now=now, confirmed=confirmed)
            assert row.seq is not None
            return warning_message(row, (await signals_of(session, [row.seq]))[row.seq])

        return await idempotency.mutation(
            self.ctx.db, request, method=f"crm.risk.v1.RiskService/{rpc}",
            subject=principal.subject, response_type=warning_pb2.Warning, work=transition,
        )

    async def _apply(
        self, session: AsyncSession, row: WarningRow, to_state: str, *, actor: str, reason: str,
        now: datetime, confirmed: bool,
    ) -> None:
        change_state(session, self.ctx.outbox, row, to_state, actor=actor, reason=reason,
                     now=now, confirmed=confirmed)
        if confirmed and row.facility_id and row.rule in DIVERSION_RULES:
            facility = await facility_by_id(session, row.facility_id)
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



