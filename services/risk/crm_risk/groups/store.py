"""Reads of risk's group and guarantee copy: the graph, group members, circles' guarantees."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.groups.exposure import Guarantee, members_with_descendants
from crm_risk.groups.graph import Edge
from crm_risk.groups.models import ClientGuaranteeRow, CreditGroupRow, RiskGroupMemberRow
from crm_risk.models import FacilityRow


@dataclass(frozen=True)
class Graph:
    """Current groups (members of descendants included) and current guarantees."""

    groups: dict[str, set[str]]
    direct: dict[str, set[str]]
    guarantees: list[tuple[str, Guarantee]]

    @property
    def edges(self) -> list[Edge]:
        """Return the guarantee edges (guarantor, beneficiary)."""
        return [(g.guarantor, g.beneficiary) for _, g in self.guarantees]


async def load_graph(session: AsyncSession) -> Graph:
    """Return the current groups and guarantees (the book's, in one pass each)."""
    parents: dict[str, str] = {str(gid): str(parent) for gid, parent in (
        await session.execute(select(col(CreditGroupRow.id), col(CreditGroupRow.parent_id)))
    ).all()}
    direct: dict[str, set[str]] = {}
    for group_id, client_id in (await session.execute(
        select(col(RiskGroupMemberRow.group_id), col(RiskGroupMemberRow.client_id))
        .where(col(RiskGroupMemberRow.ended).is_(False))
    )).all():
        direct.setdefault(group_id, set()).add(client_id)
    guarantees = [
        (gid, Guarantee(guarantor, beneficiary, Decimal(amount)))
        for gid, guarantor, beneficiary, amount in (await session.execute(
            select(col(ClientGuaranteeRow.id), col(ClientGuaranteeRow.guarantor_id),
                   col(ClientGuaranteeRow.beneficiary_id), col(ClientGuaranteeRow.amount_cny))
            .where(col(ClientGuaranteeRow.ended).is_(False))
            .order_by(col(ClientGuaranteeRow.id))
        )).all()
    ]
    return Graph(members_with_descendants(parents, direct), direct, guarantees)


async def client_exposures(session: AsyncSession, clients: set[str]) -> dict[str, Decimal]:
    """Return the committed exposure (CNY) of these clients."""
    if not clients:
        return {}
    rows = await session.execute(
        select(col(FacilityRow.client_id), func.sum(col(FacilityRow.amount_cny)))
        .where(col(FacilityRow.client_id).in_(sorted(clients)))
        .group_by(col(FacilityRow.client_id))
    )
    return {client_id: Decimal(amount or 0) for client_id, amount in rows.all()}
