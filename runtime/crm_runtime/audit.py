"""Audit records of personal-data access, written in the accessing transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from crm_runtime.auth import Principal
from crm_runtime.requestctx import current_request_id
from crm_runtime.tables import PersonalDataAccess


def record_personal_data_access(
    session: AsyncSession,
    *,
    principal: Principal,
    action: str,
    resource: str,
    fields: list[str],
    reason: str,
    outcome: str = "granted",
) -> None:
    """Add an access record to the session; it commits (or not) with the access itself."""
    span = trace.get_current_span().get_span_context()
    session.add(
        PersonalDataAccess(
            actor=principal.subject,
            action=action,
            resource=resource,
            fields=",".join(sorted(fields)),
            reason=reason,
            outcome=outcome,
            request_id=current_request_id(),
            trace_id=format(span.trace_id, "032x") if span.is_valid else "",
            access_time=datetime.now(UTC),
        )
    )
