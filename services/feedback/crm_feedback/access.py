"""Who may do what in the feedback service.

Relationship managers and team leads see only what concerns their own clients (the RM and
team recorded on the dispatch, facility or warning); portfolio-wide roles see everything.
Records that a caller may not see are reported as PERMISSION_DENIED whether or not they
exist, so errors do not reveal which facilities the bank finances.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.orm import Mapped

from crm_runtime.auth import Principal, Role
from crm_runtime.errors import PermissionDenied

SURVEY_ADMIN_ROLES = (Role.OPS, Role.SYSTEM)
SEND_ROLES = (Role.OPS, Role.SYSTEM, Role.TEAM_LEAD)
# The answering app is a bank system; the one-time token proves who the answerer is.
ANSWER_ROLES = (Role.SYSTEM,)
LOAN_EVENT_ROLES = (Role.SYSTEM, Role.OPS)
PLAN_ROLES = (Role.SYSTEM, Role.OPS, Role.TEAM_LEAD, Role.RELATIONSHIP_MANAGER)
VISIT_ROLES = (Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD, Role.OPS, Role.SYSTEM)
SNAPSHOT_ROLES = (Role.OPS, Role.SYSTEM)
RANK_ROLES = (Role.TEAM_LEAD, Role.OPS, Role.AUDITOR, Role.SYSTEM)
STAGE_EVENT_ROLES = (Role.SYSTEM, Role.OPS)
APPROVAL_READ_ROLES = (
    Role.TEAM_LEAD,
    Role.RISK_OFFICER,
    Role.CREDIT_APPROVER,
    Role.OPS,
    Role.AUDITOR,
    Role.SYSTEM,
)


def owns(principal: Principal, relationship_manager: str, team: str) -> bool:
    """Return True if the caller may see a record served by this RM and team."""
    if principal.sees_whole_portfolio:
        return True
    return relationship_manager == principal.subject or (bool(team) and team in principal.teams)


def denied(what: str = "record") -> PermissionDenied:
    """Return the one error used for invisible and nonexistent records alike."""
    return PermissionDenied(f"the caller may not access this {what}", reason="ACCESS_DENIED")


def visible_clause(
    principal: Principal,
    rm_column: Mapped[str],
    team_column: Mapped[str],
) -> ColumnElement[bool] | None:
    """Return a WHERE clause limiting rows to the caller's, or None for all rows."""
    if principal.sees_whole_portfolio:
        return None
    if not principal.has(Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD):
        return false()
    conditions: list[ColumnElement[bool]] = [rm_column == principal.subject]
    if principal.teams:
        conditions.append(team_column.in_(sorted(principal.teams)))
    return or_(*conditions)
