"""RecordExternalSignal: litigation, tax arrears, negative news, management change and
cross-default at other banks become warnings (one open warning per client and signal type)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import risk_service_pb2, warning_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.early_warnings import Signal, raise_signal
from crm_risk.groups.contagion import Contagion
from crm_risk.mapping import LEVELS, warning_message
from crm_risk.models_monitoring import ExternalSignalRow
from crm_risk.reclassify import reclassify_client
from crm_risk.store.warnings import signals_of
from crm_risk.validation import Violations
from crm_runtime import idempotency, names
from crm_runtime.auth import require_roles

SIGNAL_TYPES = {
    warning_pb2.EXTERNAL_SIGNAL_TYPE_LITIGATION: "litigation",
    warning_pb2.EXTERNAL_SIGNAL_TYPE_TAX_ARREARS: "tax_arrears",
    warning_pb2.EXTERNAL_SIGNAL_TYPE_NEGATIVE_NEWS: "negative_news",
    warning_pb2.EXTERNAL_SIGNAL_TYPE_MANAGEMENT_CHANGE: "management_change",
    warning_pb2.EXTERNAL_SIGNAL_TYPE_CROSS_DEFAULT: "cross_default",
}
# DOMAIN §7: cross-default is red; major litigation is material deterioration (orange);
# tax arrears and management changes are early deterioration (yellow); news is unconfirmed.
DEFAULT_LEVELS = {
    "litigation": "orange",
    "tax_arrears": "yellow",
    "negative_news": "blue",
    "management_change": "yellow",
    "cross_default": "red",
}
SIGNAL_RULE_VERSION = "EXT-2026.1"
SIG = "signal"


def _parse_signal(
    signal: warning_pb2.ExternalSignal, now: datetime
) -> tuple[str, str, datetime]:
    """Return the signal's type, level and time, or INVALID_ARGUMENT naming every bad field."""
    v = Violations()
    kind = SIGNAL_TYPES.get(signal.signal_type)
    if kind is None:
        v.add(f"{SIG}.signal_type", "is required")
    if signal.level and signal.level not in LEVELS:
        v.add(f"{SIG}.level", "is not a known level")
    v.text(f"{SIG}.summary", signal.summary, required=True, limit=500)
    v.text(f"{SIG}.evidence", signal.evidence, required=False)
    v.text(f"{SIG}.source_system", signal.source_system, required=False, limit=64)
    v.raise_if_any()
    assert kind is not None
    occurred = signal.occur_time.ToDatetime(UTC) if signal.HasField("occur_time") else now
    if occurred > now:
        v.add(f"{SIG}.occur_time", "must not be in the future")
        v.raise_if_any()
    return kind, LEVELS[signal.level] if signal.level else DEFAULT_LEVELS[kind], occurred


class SignalsRpc:
    """External risk signals."""

    ctx: RiskContext

    async def RecordExternalSignal(  # noqa: N802
        self,
        request: risk_service_pb2.RecordExternalSignalRequest,
        context: grpc.aio.ServicerContext,
    ) -> warning_pb2.Warning:
        """Store the signal, raise or fold its warning; a cross-default reclassifies."""
        principal = require_roles(*access.SIGNAL_ROLES)
        idempotency.check_request_id(request.request_id)
        client_id = names.parse(request, "client")["client"]
        signal = request.signal
        now = self.ctx.clock()
        kind, level, occurred = _parse_signal(signal, now)

        async def record(session: AsyncSession) -> warning_pb2.Warning:
            await access.check_client(session, principal, client_id)
            outcome = await raise_signal(
                session, self.ctx.outbox,
                Signal(
                    client_id=client_id, rule=f"external_{kind}", source="external", level=level,
                    scope="", message=signal.summary, rule_version=SIGNAL_RULE_VERSION,
                    detect_time=occurred,
                    facts={"source_system": signal.source_system, "evidence": signal.evidence},
                ),
                now=now, actor=principal.subject, contagion=Contagion.of(self.ctx.settings),
            )
            warning = outcome.warning
            assert warning.seq is not None
            session.add(ExternalSignalRow(
                client_id=client_id, signal_type=kind, level=level, summary=signal.summary,
                evidence=signal.evidence, source_system=signal.source_system,
                occur_time=occurred, recorded_by=principal.subject, warning_seq=warning.seq,
                record_time=now,
            ))
            if kind == "cross_default":
                await session.flush()
                await reclassify_client(session, client_id, cause="cross_default_signal",
                                        actor=principal.subject, now=now)
            signals = await signals_of(session, [warning.seq])
            return warning_message(warning, signals[warning.seq])

        response = await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/RecordExternalSignal",
            subject=principal.subject, response_type=warning_pb2.Warning, work=record,
        )
        self.ctx.review_wakeup.set()
        return response
