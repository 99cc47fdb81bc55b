"""Who may do what with clients: method-level roles and object-level ownership.

An RM or team lead sees a client only when it is assigned to them or to one of their teams.
Callers that may not see a client get PERMISSION_DENIED whether or not it exists (AIP-211), so
errors do not reveal which clients the bank has.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, Row, false, or_
from sqlmodel import col

from crm_client.models import ClientRow
from crm_runtime.auth import Principal, Role
from crm_runtime.errors import PermissionDenied

CREATE_ROLES = (Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD, Role.OPS, Role.SYSTEM)
UPDATE_ROLES = (Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD, Role.OPS, Role.SYSTEM)
ASSIGN_ROLES = (Role.TEAM_LEAD, Role.OPS, Role.SYSTEM)
UNMASK_ROLES = (Role.RISK_OFFICER, Role.CREDIT_APPROVER, Role.AUDITOR)
# A system (the notification service) may see one field for one stated purpose: the mobile
# number, to deliver an SMS. Every such read is audited like any other unmasking.
DELIVERY_UNMASK_REASON = "notification delivery"
DELIVERY_UNMASK_FIELDS = ("mobile_number",)
SEGMENT_ADMIN_ROLES = (Role.OPS, Role.SYSTEM)
ACTIVITY_ROLES = (Role.SYSTEM,)

# Fields that change only through their own workflow, never through UpdateClient.
PROTECTED_FIELDS = frozenset(
    {
        "relationship_manager",
        "team",
        "credit_grade",
        "credit_tier",
        "potential_risk",
        "state",
        "size_class",
        "size_standard_version",
        "size_class_reason",
    }
)


def can_see(principal: Principal, row: ClientRow | Row[Any] | Assigned) -> bool:
    """Return True if the caller may see this client (anything with its RM and team)."""
    if principal.sees_whole_portfolio:
        return True
    return row.relationship_manager == principal.subject or (
        bool(row.team) and row.team in principal.teams
    )


class Assigned(Protocol):
    """Anything that knows a client's relationship manager and team."""

    @property
    def relationship_manager(self) -> str: ...

    @property
    def team(self) -> str: ...


def denied() -> PermissionDenied:
    """Return the one error used for invisible and nonexistent clients alike."""
    return PermissionDenied("the caller may not access this client", reason="CLIENT_ACCESS_DENIED")


def visible_clause(principal: Principal) -> ColumnElement[bool] | None:
    """Return a WHERE clause restricting clients to the caller's, or None for all."""
    if principal.sees_whole_portfolio:
        return None
    if not principal.has(Role.RELATIONSHIP_MANAGER, Role.TEAM_LEAD):
        return false()
    conditions = [col(ClientRow.relationship_manager) == principal.subject]
    if principal.teams:
        conditions.append(col(ClientRow.team).in_(sorted(principal.teams)))
    return or_(*conditions)


def unmasks_for_delivery(principal: Principal, reason: str) -> bool:
    """Return True for a system asking for a mobile number to deliver a notification."""
    return principal.has(Role.SYSTEM) and reason.strip() == DELIVERY_UNMASK_REASON
