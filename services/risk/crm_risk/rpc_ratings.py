"""Rating RPCs: RateClient, GetRating, ListRatings."""

from __future__ import annotations

import grpc
from sqlalchemy import select
from sqlmodel import col

from crm.risk.v1 import rating_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.mapping import rating_message
from crm_risk.models import RatingRow
from crm_risk.rating_service import commit_rating, prepare_rating
from crm_risk.validation import RATING_RE, Violations, client_id_of, parse_name
from crm_runtime import idempotency
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import NotFound
from crm_runtime.pagination import page_size


class RatingsRpc:
    """Rating a client and reading its rating history."""

    ctx: RiskContext

    async def RateClient(  # noqa: N802
        self, request: risk_service_pb2.RateClientRequest, context: grpc.aio.ServicerContext
    ) -> rating_pb2.Rating:
        """Rate the client now; the new rating takes effect and RatingChanged goes out."""
        principal = require_roles(*access.RATE_ROLES)
        idempotency.check_request_id(request.request_id)
        client_id = client_id_of(request.client, "client")
        v = Violations()
        for name in ("floating_rate_debt_share", "fx_revenue_share"):
            if request.HasField(name) and not 0.0 <= getattr(request, name) <= 1.0:
                v.add(name, "must be a fraction between 0 and 1")
        v.raise_if_any()
        now = self.ctx.clock()
        method = "crm.risk.v1.RiskService/RateClient"
        async with self.ctx.db.read() as session:
            await access.check_client(session, principal, client_id)
            prepared = await prepare_rating(
                session, client_id, trigger="manual", actor=principal.subject, now=now,
                floating=(request.floating_rate_debt_share
                          if request.HasField("floating_rate_debt_share") else None),
                fx=request.fx_revenue_share if request.HasField("fx_revenue_share") else None,
            )
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=rating_pb2.Rating,
            )
            if replay is not None:
                return replay
            row = await commit_rating(session, self.ctx.outbox, prepared, now=now)
            response = rating_message(row)
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
        return response

    async def GetRating(  # noqa: N802
        self, request: risk_service_pb2.GetRatingRequest, context: grpc.aio.ServicerContext
    ) -> rating_pb2.Rating:
        """Return one rating."""
        client_id, rating_id = parse_name(request.name, RATING_RE, "name")
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), client_id)
            row = (await session.execute(
                select(RatingRow).where(col(RatingRow.id) == rating_id,
                                        col(RatingRow.client_id) == client_id)
            )).scalars().first()
        if row is None:
            raise NotFound(f"{request.name} does not exist", reason="RATING_NOT_FOUND")
        return rating_message(row)

    async def ListRatings(  # noqa: N802
        self, request: risk_service_pb2.ListRatingsRequest, context: grpc.aio.ServicerContext
    ) -> risk_service_pb2.ListRatingsResponse:
        """Return a page of the client's ratings, newest first."""
        client_id = client_id_of(request.parent, "parent")
        size = page_size(request.page_size)
        query = {"m": "ListRatings", "c": client_id}
        before = self.ctx.tokens.decode(request.page_token, query=query)
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), client_id)
            statement = select(RatingRow).where(col(RatingRow.client_id) == client_id)
            if before is not None:
                statement = statement.where(col(RatingRow.seq) < before)
            rows = list((await session.execute(
                statement.order_by(col(RatingRow.seq).desc()).limit(size + 1)
            )).scalars())
        response = risk_service_pb2.ListRatingsResponse(
            ratings=[rating_message(r) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(rows[size - 1].seq, query=query)
        return response
