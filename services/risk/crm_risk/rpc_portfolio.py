"""Portfolio RPCs: the concentration report and the what-if for a proposed facility."""

from __future__ import annotations

from decimal import Decimal

import grpc

from crm.risk.v1 import portfolio_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.concentration.model import (
    DIMENSIONS,
    Dimension,
    Usage,
    exposures,
    hhi,
    top_share,
    total,
    usages,
)
from crm_risk.concentration.store import (
    holding_for,
    limits_from,
    load_holdings,
    proposal_usages,
)
from crm_risk.context import RiskContext
from crm_risk.groups.report import proposal_group_uses, report_groups
from crm_risk.models import ClientFactRow
from crm_risk.validation import Violations, check_money
from crm_runtime import names
from crm_runtime.auth import require_roles
from crm_runtime.wire import money_message, timestamp

DIMENSION_NUMBERS: dict[Dimension, int] = {
    "client": portfolio_pb2.CONCENTRATION_DIMENSION_CLIENT,
    "group": portfolio_pb2.CONCENTRATION_DIMENSION_GROUP,
    "industry": portfolio_pb2.CONCENTRATION_DIMENSION_INDUSTRY,
    "region": portfolio_pb2.CONCENTRATION_DIMENSION_REGION,
}
MAX_TOP_N = 100
DEFAULT_TOP_N = 10


def _key(dimension: Dimension, key: str) -> str:
    return f"clients/{key}" if dimension == "client" else key


def usage_message(use: Usage) -> portfolio_pb2.LimitUsage:
    """Return a LimitUsage message."""
    return portfolio_pb2.LimitUsage(
        dimension=DIMENSION_NUMBERS[use.dimension],  # type: ignore[arg-type]
        key=_key(use.dimension, use.key),
        limit_share=use.limit_share,
        used_share=use.used_share,
        headroom=money_message(use.headroom if use.headroom.is_finite() else None),
        near_limit=use.near_limit,
        breached=use.breached,
    )


class PortfolioRpc:
    """Concentration of the portfolio against the configured limits."""

    ctx: RiskContext

    async def GetConcentrationReport(  # noqa: N802
        self,
        request: risk_service_pb2.GetConcentrationReportRequest,
        context: grpc.aio.ServicerContext,
    ) -> portfolio_pb2.ConcentrationReport:
        """Return exposures, HHI, top-10 share and the most used limits per dimension."""
        require_roles(*access.PORTFOLIO_ROLES)
        if not 0 <= request.top_n <= MAX_TOP_N:
            v = Violations()
            v.add("top_n", f"must be 0 to {MAX_TOP_N}")
            v.raise_if_any()
        top_n = request.top_n or DEFAULT_TOP_N
        limits = limits_from(self.ctx.settings)
        async with self.ctx.db.read() as session:
            holdings = await load_holdings(session)
            groups = await report_groups(session, limits, top_n)
        whole = total(holdings)
        base = max(whole, limits.loan_book)
        net = limits.net_capital
        top10 = top_share(holdings)
        report = portfolio_pb2.ConcentrationReport(
            net_capital=money_message(net),
            total_exposure=money_message(whole),
            client_hhi=hhi(holdings),
            top10_share=float(top10 / whole) if whole > 0 else 0.0,
            top10_share_of_net_capital=float(top10 / net),
            compute_time=timestamp(self.ctx.clock()),
            group_exposures=groups,
        )
        for dimension, amounts in exposures(holdings).items():
            for key, amount in sorted(amounts.items(), key=lambda kv: -kv[1])[:top_n]:
                report.exposures.add(
                    dimension=DIMENSION_NUMBERS[dimension],  # type: ignore[arg-type]
                    key=_key(dimension, key), amount=money_message(amount),
                    share_of_total=float(amount / base) if base > 0 else 0.0,
                    share_of_net_capital=float(amount / net),
                )
        all_uses = usages(holdings, limits)
        for dimension in DIMENSIONS:
            mine = [u for u in all_uses if u.dimension == dimension]
            mine.sort(key=lambda u: -(u.used_share / u.limit_share))
            report.limits.extend(usage_message(u) for u in mine[:top_n])
        return report

    async def EvaluateProposedFacility(  # noqa: N802
        self,
        request: risk_service_pb2.EvaluateProposedFacilityRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.EvaluateProposedFacilityResponse:
        """Return the limits a proposed facility counts against, after it, and breaches."""
        require_roles(*access.PORTFOLIO_ROLES)
        client_id = names.parse(request, "client")["client"]
        rates = self.ctx.settings.fx_rates()
        v = Violations()
        amount = check_money(v, "amount", request.amount, required=True,
                             currencies=frozenset(rates), positive=True)
        v.raise_if_any()
        assert amount is not None
        amount_cny = amount * rates[request.amount.currency_code]
        limits = limits_from(self.ctx.settings)
        async with self.ctx.db.read() as session:
            fact = await session.get(ClientFactRow, client_id)
            proposal = holding_for(client_id, Decimal(amount_cny), fact)
            found = await proposal_usages(session, limits, proposal)
            groups = await proposal_group_uses(session, limits, client_id, Decimal(amount_cny))
        uses = [usage_message(u) for u in found] + groups
        response = risk_service_pb2.EvaluateProposedFacilityResponse(
            limits=uses, breaches=[u for u in uses if u.breached],
        )
        response.would_breach = bool(response.breaches)
        return response
