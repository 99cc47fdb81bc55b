"""Who may see and change what: method-level roles and object-level client ownership.

The client service owns assignments; the risk service learns them from ClientCreated and
ClientAssigned events. An RM or team lead sees a client's risk data only when the client is
assigned to them or their team (the one rule, `crm_runtime.ownership`, applied to the RM and
team the facts recorded). Like the client service, the same PERMISSION_DENIED answers
for a client that is not theirs and for one the risk service does not know (AIP-211).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.models import ClientFactRow
from crm_runtime import ownership
from crm_runtime.auth import Principal, Role
from crm_runtime.errors import PermissionDenied

READ_ROLES = tuple(Role)
FACILITY_ROLES = (Role.SYSTEM, Role.OPS, Role.RISK_OFFICER, Role.CREDIT_APPROVER)
STATEMENT_ROLES = (Role.SYSTEM, Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD, Role.RISK_OFFICER)
RATE_ROLES = (Role.SYSTEM, Role.RISK_OFFICER, Role.CREDIT_APPROVER)
PROPOSE_ROLES = (Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD, Role.RISK_OFFICER, Role.CREDIT_APPROVER)
APPROVE_ROLES = (Role.CREDIT_APPROVER,)
MONITOR_ROLES = (Role.SYSTEM,)
PROFILE_ROLES = (Role.SYSTEM, Role.OPS, Role.RISK_OFFICER)
RULESET_ROLES = (Role.RISK_OFFICER,)
SIGNAL_ROLES = (Role.SYSTEM, Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD, Role.RISK_OFFICER)
HANDLE_WARNING_ROLES = (Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD, Role.RISK_OFFICER)
DISMISS_ROLES = (Role.RISK_OFFICER,)
PORTFOLIO_ROLES = (Role.SYSTEM, Role.RISK_OFFICER, Role.CREDIT_APPROVER, Role.AUDITOR, Role.OPS)


def denied() -> PermissionDenied:
    """Return the one error used for invisible and unknown clients alike."""
    return PermissionDenied("the caller may not access this client", reason="CLIENT_ACCESS_DENIED")


async def check_client(session: AsyncSession, principal: Principal, client_id: str) -> None:
    """Raise PERMISSION_DENIED unless the caller may see the client's risk data."""
    if principal.sees_whole_portfolio:
        return
    fact = await session.get(ClientFactRow, client_id)
    if fact is None or not ownership.owns(principal, fact.relationship_manager, fact.team):
        raise denied()


def visible_client_ids(principal: Principal) -> object | None:
    """Return a subquery of client ids the caller may see, or None for every client."""
    clause = ownership.visible_clause(
        principal, col(ClientFactRow.relationship_manager), col(ClientFactRow.team)
    )
    if clause is None:
        return None
    return select(col(ClientFactRow.client_id)).where(clause)
