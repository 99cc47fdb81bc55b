"""Behavioural activity ingestion and next-best-action recommendations."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.client.v1 import client_pb2, client_service_pb2
from crm_client import access
from crm_client.context import ClientContext, load_client
from crm_client.segmentation.recommendations import recommend
from crm_client.store.activity import upsert_activity
from crm_client.store.clients import clients_by_id
from crm_client.store.facts import client_features
from crm_client.store.segments import segment_ids_of
from crm_client.validation import Violations, check_money, to_date
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import InvalidArgument, NotFound
from crm_runtime.pagination import page_size

MAX_SUMMARIES = 1000


def _check_summary(v: Violations, index: int, s: client_pb2.ActivitySummary) -> None:
    prefix = f"summaries[{index}]"
    try:
        names.parse(s, "client", path=f"{prefix}.client")
    except InvalidArgument as error:
        v.extend("", error.violations)
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
        if len(request.summaries) > MAX_SUMMARIES:
            raise InvalidArgument.of("summaries", f"at most {MAX_SUMMARIES} per call")
        v = Violations()
        for index, summary in enumerate(request.summaries):
            _check_summary(v, index, summary)
        v.raise_if_any()

        async def record(session: AsyncSession) -> client_service_pb2.RecordActivityResponse:
            ids = [names.parse(s, "client")["client"] for s in request.summaries]
            clients = await clients_by_id(session, ids)
            for index, summary in enumerate(request.summaries):
                client = clients.get(ids[index])
                if client is None:
                    raise NotFound(
                        f"summaries[{index}].client {summary.client} does not exist",
                        reason="CLIENT_NOT_FOUND",
                    )
                await upsert_activity(session, client, summary)
            moves = 0
            for client in clients.values():
                moves += await self.ctx.resegment(
                    session, client, cause="activity_recorded", actor=principal.subject
                )
            return client_service_pb2.RecordActivityResponse(
                recorded_count=len(request.summaries), segment_move_count=moves
            )

        return await idempotency.mutation(
            self.ctx.db,
            request,
            method="crm.client.v1.ClientService/RecordActivity",
            subject=principal.subject,
            response_type=client_service_pb2.RecordActivityResponse,
            work=record,
        )

    async def ListRecommendations(  # noqa: N802
        self,
        request: client_service_pb2.ListRecommendationsRequest,
        context: grpc.aio.ServicerContext,
    ) -> client_service_pb2.ListRecommendationsResponse:
        """Return next-best actions for the client, with reasons.

        The list is computed, not stored, so it is paged by offset rather than by key.
        """
        principal = current_principal()
        size = page_size(request.page_size)
        query = {"m": "ListRecommendations", "c": request.client}
        offset = int(str(self.ctx.tokens.decode(request.page_token, query=query) or 0))
        client_id = names.parse(request, "client")["client"]
        async with self.ctx.db.read() as session:
            client = await load_client(session, client_id, principal)
            features = await client_features(
                session, client, self.ctx.cipher, today=self.ctx.clock().date()
            )
            segments = await segment_ids_of(session, client.seq)
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
