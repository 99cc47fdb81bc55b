"""The one ownership rule: who may see a client's records.

Portfolio-wide roles (risk officers, approvers, auditors, operations, systems) see everything.
A relationship manager or team lead sees a record only when the client it concerns is
assigned to them or to one of their teams. Every service applies this rule to the RM and team
it recorded for the client (its own copy, kept current by ClientAssigned events).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_

from crm_runtime.auth import Principal, Role


def owns(principal: Principal, relationship_manager: str, team: str) -> bool:
    """Return True if the caller may see a record of a client served by this RM and team."""
    if principal.sees_whole_portfolio:
        return True
    if not principal.has(Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD):
        return False
    return relationship_manager == principal.subject or (bool(team) and team in principal.teams)


def visible_clause(
    principal: Principal, rm_column: Any, team_column: Any
) -> ColumnElement[bool] | None:
    """Return a WHERE clause keeping the caller's rows, or None when every row is visible."""
    if principal.sees_whole_portfolio:
        return None
    if not principal.has(Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD):
        return false()
    conditions: list[ColumnElement[bool]] = [rm_column == principal.subject]
    if principal.teams:
        conditions.append(team_column.in_(sorted(principal.teams)))
    return or_(*conditions)
