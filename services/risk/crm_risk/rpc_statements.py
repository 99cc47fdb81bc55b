"""Statement RPCs: submit, read, list and the ratios of a statement."""

from __future__ import annotations

import math
import uuid
from datetime import datetime

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import risk_service_pb2, statement_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.early_warnings import Signal, raise_signal
from crm_risk.groups.contagion import Contagion
from crm_risk.models import ClientFactRow, StatementRow
from crm_risk.rating.model.ratio_warnings import RatioAssessment, assess
from crm_risk.rating.model.ratios import RATIO_NAMES, Ratios, compute_ratios
from crm_risk.rating.model.statement_checks import statement_violations
from crm_risk.rating.statement_input import (
    parse_statement,
    statement_message,
    statement_of,
    violations_error,
)
from crm_risk.store.statements import (
    load_statement,
    previous_statement,
    statements_of,
    statements_slice,
)
from crm_risk.warning_lifecycle import supersede
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.pagination import page_size

RATIO_RULE = "financial_ratios"
STATEMENTS_ACTOR = "systems/risk-statements"


async def assess_ratios(session: AsyncSession, client_id: str, ratios: Ratios
                        ) -> RatioAssessment:
    """Judge ratios against the client's peer group and size class (as learned from events)."""
    fact = await session.get(ClientFactRow, client_id)
    return assess(ratios, industry_code=fact.industry_code if fact is not None else "",
                  size_class=fact.size_class if fact is not None else "")


def ratios_message(
    row: StatementRow, previous: StatementRow | None, ratios: Ratios, found: RatioAssessment
) -> statement_pb2.StatementRatios:
    """Return the StatementRatios message."""
    message = statement_pb2.StatementRatios(
        statement=f"clients/{row.client_id}/statements/{row.id}",
        previous_statement=(
            f"clients/{row.client_id}/statements/{previous.id}" if previous else ""
        ),
        thresholds_version=found.version,
        ocf_negative_years=ratios.ocf_negative_years,
        warning_level=found.level,
        evidence=found.evidence,
    )
    for name in RATIO_NAMES:
        value, change = ratios.value(name), ratios.yoy.get(name)
        message.ratios.add(
            ratio=name,
            defined=value is not None and not math.isnan(value),
            value=value if value is not None else 0.0,
            change_defined=change is not None,
            change=change if change is not None else 0.0,
        )
    for s in found.signals:
        message.signals.add(code=s.code, severity=s.severity, ratio=s.ratio, value=s.value,
                            threshold=s.threshold, family=s.family, evidence=s.evidence)
    return message


class StatementsRpc:
    """Financial statements and their ratios."""

    ctx: RiskContext

    async def CreateFinancialStatement(  # noqa: N802
        self,
        request: risk_service_pb2.CreateFinancialStatementRequest,
        context: grpc.aio.ServicerContext,
    ) -> statement_pb2.FinancialStatement:
        """Validate and store a statement; warn on its ratio signals; ask for a re-rating."""
        principal = require_roles(*access.STATEMENT_ROLES)
        client_id = names.parse(request, "parent")["client"]
        statement, document = parse_statement(request.statement)
        now = self.ctx.clock()

        async def store(session: AsyncSession) -> statement_pb2.FinancialStatement:
            await access.check_client(session, principal, client_id)
            existing = await statements_of(session, client_id)
            found = statement_violations(
                statement, existing_periods=[(r.period_start, r.period_end) for r in existing]
            )
            if found:
                raise violations_error(found)
            row = StatementRow(
                id=uuid.uuid4().hex, client_id=client_id, period_start=statement.period_start,
                period_end=statement.period_end, audited=statement.audited,
                audit_opinion=statement.audit_opinion, amounts_json=document,
                submitted_by=principal.subject, create_time=now,
            )
            session.add(row)
            await session.flush()
            if all(r.period_end < row.period_end for r in existing):
                await self._on_latest(session, row, now=now, actor=principal.subject)
            return statement_message(row)

        response = await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/CreateFinancialStatement",
            subject=principal.subject, response_type=statement_pb2.FinancialStatement,
            work=store,
        )
        self.ctx.review_wakeup.set()
        return response

    async def _on_latest(
        self, session: AsyncSession, row: StatementRow, *, now: datetime, actor: str
    ) -> None:
        """Raise a warning for the new latest statement's signals and request a re-rating.

        Open ratio warnings of earlier periods are resolved first: the new period's figures
        replace theirs, and they must not escalate the new period's warning.
        """
        period = row.period_end.isoformat()
        await supersede(
            session, self.ctx.outbox, client_id=row.client_id, rule=RATIO_RULE,
            before_scope=period, actor=STATEMENTS_ACTOR, now=now,
            reason=f"superseded by the statement for the period ending {period}",
        )
        previous = await previous_statement(session, row.client_id, row)
        ratios = compute_ratios(statement_of(row), statement_of(previous) if previous else None)
        found = await assess_ratios(session, row.client_id, ratios)
        # Signals whose combined evidence stays below yellow raise nothing: they are the
        # book's ordinary tails, and the scorecard already prices them.
        if found.level != "none":
            await raise_signal(
                session, self.ctx.outbox,
                Signal(
                    client_id=row.client_id, rule=RATIO_RULE, source="statements",
                    level=found.level, scope=period,
                    message=f"{len(found.signals)} ratio signal(s) for the period ending "
                            f"{period} (evidence {found.evidence:.2f}): "
                            + ", ".join(f"{s.code} ({s.severity})" for s in found.signals),
                    rule_version=found.version, detect_time=now,
                    facts={"evidence": round(found.evidence, 4),
                           **{s.code: round(s.value, 6) for s in found.signals}},
                ),
                now=now, actor=actor, contagion=Contagion.of(self.ctx.settings),
            )
        fact = await session.get(ClientFactRow, row.client_id)
        if fact is not None:
            fact.rerate_requested = True
            fact.rerate_reason = "new financial statement"
            fact.update_time = now

    async def _load(self, session: AsyncSession, request: Message) -> StatementRow:
        ids = names.parse(request, "name")
        await access.check_client(session, current_principal(), ids["client"])
        return await load_statement(session, ids)

    async def GetFinancialStatement(  # noqa: N802
        self,
        request: risk_service_pb2.GetFinancialStatementRequest,
        context: grpc.aio.ServicerContext,
    ) -> statement_pb2.FinancialStatement:
        """Return one statement."""
        async with self.ctx.db.read() as session:
            return statement_message(await self._load(session, request))

    async def ListFinancialStatements(  # noqa: N802
        self,
        request: risk_service_pb2.ListFinancialStatementsRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.ListFinancialStatementsResponse:
        """Return a page of a client's statements, latest period first."""
        client_id = names.parse(request, "parent")["client"]
        size = page_size(request.page_size)
        query = {"m": "ListFinancialStatements", "c": client_id}
        offset = int(str(self.ctx.tokens.decode(request.page_token, query=query) or 0))
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), client_id)
            rows = await statements_slice(session, client_id, offset=offset, limit=size + 1)
        response = risk_service_pb2.ListFinancialStatementsResponse(
            statements=[statement_message(r) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(offset + size, query=query)
        return response

    async def GetStatementRatios(  # noqa: N802
        self, request: risk_service_pb2.GetStatementRatiosRequest, context: grpc.aio.ServicerContext
    ) -> statement_pb2.StatementRatios:
        """Return the statement's ratios against the one before, and their signals."""
        async with self.ctx.db.read() as session:
            row = await self._load(session, request)
            previous = await previous_statement(session, row.client_id, row)
            ratios = compute_ratios(statement_of(row),
                                    statement_of(previous) if previous else None)
            found = await assess_ratios(session, row.client_id, ratios)
        return ratios_message(row, previous, ratios, found)
