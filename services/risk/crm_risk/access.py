"""Who may see and change what: method-level roles and object-level client ownership.

The client service owns assignments; the risk service learns them from ClientCreated and
ClientAssigned events. An RM or team lead sees a client's risk data only when the client is
assigned to them or their team. Like the client service, the same PERMISSION_DENIED answers
for a client that is not theirs and for one the risk service does not know (AIP-211).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.models import ClientFactRow
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


def owns(principal: Principal, fact: ClientFactRow | None) -> bool:
    """Return True if the client is assigned to the caller or one of the caller's teams."""
    if fact is None or not principal.has(Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD):
        return False
    return fact.relationship_manager == principal.subject or (
        bool(fact.team) and fact.team in principal.teams
    )


async def check_client(session: AsyncSession, principal: Principal, client_id: str) -> None:
    """Raise PERMISSION_DENIED unless the caller may see the client's risk data."""
    if principal.sees_whole_portfolio:
        return
    if not owns(principal, await session.get(ClientFactRow, client_id)):
        raise denied()


def visible_clients_clause(principal: Principal) -> ColumnElement[bool] | None:
    """Return a condition on a client_id column's subquery, or None for every client."""
    if principal.sees_whole_portfolio:
        return None
    if not principal.has(Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD):
        return false()
    conditions = [col(ClientFactRow.relationship_manager) == principal.subject]
    if principal.teams:
        conditions.append(col(ClientFactRow.team).in_(sorted(principal.teams)))
    return or_(*conditions)


def visible_client_ids(principal: Principal) -> object | None:
    """Return a subquery of client ids the caller may see, or None for every client."""
    clause = visible_clients_clause(principal)
    if clause is None:
        return None
    return select(col(ClientFactRow.client_id)).where(clause)
