"""Group exposure for the concentration report and the what-if, and the circles' listing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import portfolio_pb2
from crm_risk.concentration.model import Limits
from crm_risk.groups.exposure import REASON, GroupExposure, group_exposures
from crm_risk.groups.graph import circles
from crm_risk.groups.store import Graph, client_exposures, load_graph
from crm_runtime.wire import money_message


def _clients(ids: tuple[str, ...]) -> list[str]:
    return [f"clients/{c}" for c in ids]


def exposure_message(found: GroupExposure, limits: Limits) -> portfolio_pb2.GroupExposure:
    """Return a GroupExposure message."""
    limit = Decimal(str(limits.group)) * limits.net_capital
    return portfolio_pb2.GroupExposure(
        group=f"groups/{found.group}", member_exposure=money_message(found.member_exposure),
        guaranteed_exposure=money_message(found.guaranteed_exposure),
        exposure=money_message(found.exposure), limit=money_message(limit),
        headroom=money_message(found.use.headroom), used_share=found.use.used_share,
        near_limit=found.use.near_limit, breached=found.use.breached,
        members=_clients(found.members),
    )


async def _exposures(
    session: AsyncSession, limits: Limits, extra: dict[str, Decimal] | None = None,
) -> tuple[Graph, list[GroupExposure]]:
    graph = await load_graph(session)
    members = set().union(*graph.groups.values()) if graph.groups else set()
    amounts = await client_exposures(session, members)
    found = group_exposures(graph.groups, amounts, [g for _, g in graph.guarantees], limits,
                            extra=extra)
    return graph, found


async def report_groups(
    session: AsyncSession, limits: Limits, top_n: int
) -> list[portfolio_pb2.GroupExposure]:
    """Return the `top_n` largest groups' exposure and limit use."""
    _, found = await _exposures(session, limits)
    return [exposure_message(e, limits) for e in found[:top_n]]


async def proposal_group_uses(
    session: AsyncSession, limits: Limits, client_id: str, amount: Decimal
) -> list[portfolio_pb2.LimitUsage]:
    """Return the group limits a proposed facility of `client_id` counts against, after it;
    a breach carries the reason GROUP_LIMIT_BREACH."""
    _, found = await _exposures(session, limits, {client_id: amount})
    uses = []
    for e in found:
        if client_id not in e.members:
            continue
        uses.append(portfolio_pb2.LimitUsage(
            dimension=portfolio_pb2.CONCENTRATION_DIMENSION_GROUP, key=f"groups/{e.group}",
            limit_share=e.use.limit_share, used_share=e.use.used_share,
            headroom=money_message(e.use.headroom), near_limit=e.use.near_limit,
            breached=e.use.breached, reason=REASON if e.use.breached else "",
        ))
    return uses


async def guarantee_circles(session: AsyncSession) -> list[portfolio_pb2.GuaranteeCircle]:
    """Return every guarantee circle with its guarantees and their sum, largest first."""
    graph = await load_graph(session)
    found = []
    for circle in circles(graph.edges):
        inside = set(circle)
        mine = [(gid, g) for gid, g in graph.guarantees
                if g.guarantor in inside and g.beneficiary in inside]
        found.append(portfolio_pb2.GuaranteeCircle(
            clients=_clients(circle),
            guarantees=[f"clients/{g.guarantor}/guarantees/{gid}" for gid, g in mine],
            amount=money_message(sum((g.amount for _, g in mine), Decimal(0))),
        ))
    return sorted(found, key=lambda c: (-c.amount.units, list(c.clients)))
