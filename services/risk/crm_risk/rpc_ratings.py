"""Rating RPCs: RateClient, GetRating, ListRatings."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import rating_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.groups.contagion import Contagion
from crm_risk.mapping import rating_message
from crm_risk.rating.batch import commit_ratings, score_clients
from crm_risk.rating.rate import commit_rating, prepare_rating
from crm_risk.store.ratings import load_rating, ratings_page
from crm_risk.validation import CLIENT_NAME, Violations
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import FailedPrecondition, InvalidArgument
from crm_runtime.pagination import page_size

MAX_BATCH_RATINGS = 5000


def _batch_clients(request: risk_service_pb2.BatchRateClientsRequest) -> list[str]:
    """Return the distinct client ids of a batch, or INVALID_ARGUMENT naming the bad one."""
    if not 1 <= len(request.clients) <= MAX_BATCH_RATINGS:
        raise InvalidArgument.of("clients", f"1 to {MAX_BATCH_RATINGS} clients")
    found: dict[str, None] = {}
    for index, name in enumerate(request.clients):
        client_id = CLIENT_NAME.parse(name, f"clients[{index}]")["client"]
        if client_id in found:
            raise InvalidArgument.of(f"clients[{index}]", "names a client already in the batch")
        found[client_id] = None
    return list(found)


class RatingsRpc:
    """Rating a client and reading its rating history."""

    ctx: RiskContext

    async def RateClient(  # noqa: N802
        self, request: risk_service_pb2.RateClientRequest, context: grpc.aio.ServicerContext
    ) -> rating_pb2.Rating:
        """Rate the client now; the new rating takes effect and RatingChanged goes out."""
        principal = require_roles(*access.RATE_ROLES)
        idempotency.check_request_id(request.request_id)
        client_id = names.parse(request, "client")["client"]
        v = Violations()
        for name in ("floating_rate_debt_share", "fx_revenue_share"):
            if request.HasField(name) and not 0.0 <= getattr(request, name) <= 1.0:
                v.add(name, "must be a fraction between 0 and 1")
        v.raise_if_any()
        now = self.ctx.clock()
        # Scoring reads much and writes nothing: it runs before the short write transaction.
        async with self.ctx.db.read() as session:
            await access.check_client(session, principal, client_id)
            prepared = await prepare_rating(
                session, client_id, trigger="manual", actor=principal.subject, now=now,
                floating=(request.floating_rate_debt_share
                          if request.HasField("floating_rate_debt_share") else None),
                fx=request.fx_revenue_share if request.HasField("fx_revenue_share") else None,
            )

        async def commit(session: AsyncSession) -> rating_pb2.Rating:
            return rating_message(await commit_rating(
                session, self.ctx.outbox, prepared, now=now,
                contagion=Contagion.of(self.ctx.settings)))

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/RateClient",
            subject=principal.subject, response_type=rating_pb2.Rating, work=commit,
        )

    async def BatchRateClients(  # noqa: N802
        self, request: risk_service_pb2.BatchRateClientsRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.BatchRateClientsResponse:
        """Rate many clients as RateClient does, in one transaction: all of them or none."""
        principal = require_roles(*access.RATE_ROLES)
        idempotency.check_request_id(request.request_id)
        client_ids = _batch_clients(request)
        now = self.ctx.clock()
        async with self.ctx.db.read() as session:
            for client_id in client_ids:
                await access.check_client(session, principal, client_id)
            scored = await score_clients(session, dict.fromkeys(client_ids, "manual"),
                                         actor=principal.subject, now=now)
        if scored.missing:
            raise FailedPrecondition(
                f"the risk service has not learned the industry of clients/{scored.missing[0]}"
                f" (and {len(scored.missing) - 1} more)", reason="CLIENT_FACTS_MISSING")

        async def commit(session: AsyncSession) -> risk_service_pb2.BatchRateClientsResponse:
            rated = await commit_ratings(session, self.ctx.outbox, scored.ratings, now=now,
                                         contagion=Contagion.of(self.ctx.settings))
            return risk_service_pb2.BatchRateClientsResponse(ratings=[
                risk_service_pb2.RatedClient(
                    client=f"clients/{r.client_id}",
                    rating=f"clients/{r.client_id}/ratings/{r.rating_id}", grade=r.grade,
                    probability_of_default=r.pd, reason_codes=r.reason_codes,
                    previous_grade=r.previous_grade)
                for r in rated])

        return await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/BatchRateClients",
            subject=principal.subject, response_type=risk_service_pb2.BatchRateClientsResponse,
            work=commit,
        )

    async def GetRating(  # noqa: N802
        self, request: risk_service_pb2.GetRatingRequest, context: grpc.aio.ServicerContext
    ) -> rating_pb2.Rating:
        """Return one rating."""
        ids = names.parse(request, "name")
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), ids["client"])
            return rating_message(await load_rating(session, ids))

    async def ListRatings(  # noqa: N802
        self, request: risk_service_pb2.ListRatingsRequest, context: grpc.aio.ServicerContext
    ) -> risk_service_pb2.ListRatingsResponse:
        """Return a page of the client's ratings, newest first."""
        client_id = names.parse(request, "parent")["client"]
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            await access.check_client(session, current_principal(), client_id)
            page = await ratings_page(session, client_id, tokens=self.ctx.tokens,
                                      page_token=request.page_token, size=size)
        return risk_service_pb2.ListRatingsResponse(
            ratings=[rating_message(r) for r in page.rows], next_page_token=page.next_page_token
        )
