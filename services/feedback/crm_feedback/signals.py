"""Risk signals found in visits and answers, stored and sent to risk as ExternalSignalRaised."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from google.protobuf import timestamp_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import feedback_events_pb2
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.risk_signals import RISK_CODES, RiskSignal
from crm_feedback.models import SignalRow

_RANK = {"low": 0, "medium": 1, "high": 2}


def merge_signals(found: Iterable[RiskSignal], reported: Iterable[RiskSignal]) -> list[RiskSignal]:
    """Return one signal per code (highest severity, all evidence), in RISK_CODES order."""
    best: dict[str, RiskSignal] = {}
    for signal in [*found, *reported]:
        kept = best.get(signal.code)
        if kept is None:
            best[signal.code] = signal
            continue
        stronger = _RANK[signal.severity] > _RANK[kept.severity]
        severity = signal.severity if stronger else kept.severity
        evidence = kept.evidence
        if signal.evidence not in evidence:
            evidence = f"{evidence}; {signal.evidence}"
        best[signal.code] = RiskSignal(signal.code, severity, evidence)
    return [best[code] for code in RISK_CODES if code in best]


def raise_signals(
    ctx: FeedbackContext,
    session: AsyncSession,
    signals: Iterable[RiskSignal],
    *,
    client: str,
    facility: str,
    source: str,
    occurred: datetime,
) -> int:
    """Store each signal and emit it to the risk service in the caller's transaction."""
    count = 0
    for signal in signals:
        signal_id = uuid.uuid4().hex
        session.add(
            SignalRow(
                id=signal_id,
                client=client,
                facility=facility,
                code=signal.code,
                severity=signal.severity,
                evidence=signal.evidence,
                source=source,
                occurred_time=occurred,
            )
        )
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(occurred)
        ctx.outbox.emit(
            session,
            feedback_events_pb2.ExternalSignalRaised(
                client=client,
                facility=facility,
                code=signal.code,
                severity=signal.severity,
                evidence=signal.evidence,
                source=source,
                occurred_time=stamp,
                signal_id=signal_id,
            ),
            subject=client,
        )
        count += 1
    return count
