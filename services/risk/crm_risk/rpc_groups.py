"""Group RPCs of the risk service: the portfolio's guarantee circles."""

from __future__ import annotations

import grpc

from crm.risk.v1 import risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.groups.report import guarantee_circles
from crm_runtime.auth import require_roles
from crm_runtime.pagination import offset_page, page_size


class GroupsRpc:
    """Guarantee circles (担保圈) as a portfolio risk."""

    ctx: RiskContext

    async def ListGuaranteeCircles(  # noqa: N802
        self,
        request: risk_service_pb2.ListGuaranteeCirclesRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.ListGuaranteeCirclesResponse:
        """Return the cycles of the current guarantee graph, largest amount first."""
        require_roles(*access.PORTFOLIO_ROLES)
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            found = await guarantee_circles(session)
        page = offset_page(found, tokens=self.ctx.tokens, page_token=request.page_token,
                           size=size, query={"m": "ListGuaranteeCircles"})
        return risk_service_pb2.ListGuaranteeCirclesResponse(
            circles=page.rows, next_page_token=page.next_page_token
        )
