"""Behavioural activity ingestion and next-best-action recommendations."""

from __future__ import annotations

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client
from crm_client.models import ActivityRow, ClientRow, MembershipRow
from crm_client.segmentation.recommendations import recommend
from crm_client.segments import client_features, recompute
from crm_client.validation import CLIENT_NAME_RE, Violations, check_money, money_to_decimal, to_date
from crm_runtime import idempotency
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import InvalidArgument, NotFound
from crm_runtime.pagination import page_size

MAX_SUMMARIES = 1000


def _check_summary(v: Violations, index: int, s: client_pb2.ActivitySummary) -> None:
    prefix = f"summaries[{index}]"
    if not CLIENT_NAME_RE.match(s.client):
        v.add(f"{prefix}.client", "must look like clients/{client}")
    try:
        start, end = to_date(s.period_start), to_date(s.period_end)
    except ValueError:
        v.add(f"{prefix}.period_start", "is not a valid date")
        return
    if start is None or end is None:
        v.add(f"{prefix}.period_start", "period_start and period_end are required")
    elif end < start:
        v.add(f"{prefix}.period_end", "must not be before period_start")
    for name in ("transaction_count", "products_used", "loan_products_used"):
        if getattr(s, name) < 0:
            v.add(f"{prefix}.{name}", "must not be negative")
    for name in ("inflow", "outflow", "average_balance"):
        check_money(v, f"{prefix}.{name}", getattr(s, name), required=False)
    if s.end_balance.currency_code not in ("", "CNY"):
        v.add(f"{prefix}.end_balance.currency_code", "must be CNY")


class ActivityRpc:
    """RecordActivity and ListRecommendations."""

    ctx: ClientContext

    async def RecordActivity(  # noqa: N802
        self,
        request: client_service_pb2.RecordActivityRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.RecordActivityResponse:
        """Store activity summaries (one transaction per batch) and re-segment the clients."""
        principal = require_roles(*access.ACTIVITY_ROLES)
        idempotency.check_request_id(request.request_id)
        if len(request.summaries) > MAX_SUMMARIES:
            raise InvalidArgument.of("summaries", f"at most {MAX_SUMMARIES} per call")
        v = Violations()
        for index, summary in enumerate(request.summaries):
            _check_summary(v, index, summary)
        v.raise_if_any()
        method = "crm.client.v1.ClientService/RecordActivity"
        moves = 0
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=client_service_pb2.RecordActivityResponse,
            )
            if replay is not None:
                return replay
            ids = sorted({s.client.removeprefix("clients/") for s in request.summaries})
            clients = {
                r.id: r
                for r in (
                    await session.execute(select(ClientRow).where(col(ClientRow.id).in_(ids)))
                ).scalars()
            }
            for index, summary in enumerate(request.summaries):
                client = clients.get(summary.client.removeprefix("clients/"))
                if client is None:
                    raise NotFound(
                        f"summaries[{index}].client {summary.client} does not exist",
                        reason="CLIENT_NOT_FOUND",
                    )
                await self._upsert(session, client, summary)
            for client in clients.values():
                moves += await recompute(
                    session,
                    client,
                    catalog=self.ctx.catalog,
                    cipher=self.ctx.cipher,
                    outbox=self.ctx.outbox,
                    cause="activity_recorded",
                    actor=principal.subject,
                )
            response = client_service_pb2.RecordActivityResponse(
                recorded_count=len(request.summaries), segment_move_count=moves
            )
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response

    @staticmethod
    async def _upsert(
        session: AsyncSession, client: ClientRow, s: client_pb2.ActivitySummary
    ) -> None:
        start, end = to_date(s.period_start), to_date(s.period_end)
        assert start is not None and end is not None  # Checked by _check_summary.
        existing = (
            (
                await session.execute(
                    select(ActivityRow).where(
                        col(ActivityRow.client_seq) == client.seq,
                        col(ActivityRow.period_start) == start,
                        col(ActivityRow.period_end) == end,
                    )
                )
            )
            .scalars()
            .first()
        )
        row = existing or ActivityRow(
            client_seq=client.seq or 0,
            period_start=start,
            period_end=end,
        )
        row.transaction_count = s.transaction_count
        row.inflow, row.outflow = money_to_decimal(s.inflow), money_to_decimal(s.outflow)
        row.average_balance = money_to_decimal(s.average_balance)
        row.end_balance = money_to_decimal(s.end_balance)
        row.products_used, row.loan_products_used = s.products_used, s.loan_products_used
        row.last_transaction_date = to_date(s.last_transaction_date)
        session.add(row)

    async def ListRecommendations(  # noqa: N802
        self,
        request: client_service_pb2.ListRecommendationsRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListRecommendationsResponse:
        """Return next-best actions for the client, with reasons."""
        principal = current_principal()
        size = page_size(request.page_size)
        query = {"m": "ListRecommendations", "c": request.client}
        offset = int(str(self.ctx.tokens.decode(request.page_token, query=query) or 0))
        async with self.ctx.db.read() as session:
            client = await load_client(session, request.client, principal, field_name="client")
            features = await client_features(
                session, client, self.ctx.cipher, today=self.ctx.clock().date()
            )
            segments = set(
                (
                    await session.execute(
                        select(col(MembershipRow.segment_id)).where(
                            col(MembershipRow.client_seq) == client.seq
                        )
                    )
                ).scalars()
            )
        items = recommend(features, segments)
        page = items[offset : offset + size]
        response = client_service_pb2.ListRecommendationsResponse(
            recommendations=[
                client_pb2.Recommendation(
                    code=r.code,
                    title=r.title,
                    title_zh=r.title_zh,
                    reason=r.reason,
                    priority=r.priority,
                )
                for r in page
            ]
        )
        if offset + size < len(items):
            response.next_page_token = self.ctx.tokens.encode(offset + size, query=query)
        return response
