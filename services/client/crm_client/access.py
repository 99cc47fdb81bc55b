"""Who may do what with clients: method-level roles and object-level ownership.

An RM or team lead sees a client only when it is assigned to them or to one of their teams;
that rule is crm_runtime.ownership, shared by every service. This module keeps what is the
client service's own: its role lists, its error and the personal-data unmask rule. Callers
that may not see a client get PERMISSION_DENIED whether or not it exists (AIP-211), so
errors do not reveal which clients the bank has.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement
from sqlmodel import col

from crm_client.models import ClientRow
from crm_runtime import ownership
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
# Loading a bank's book is an administrative act: operations staff or a migration system.
IMPORT_ROLES = (Role.OPS, Role.SYSTEM)

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


class Assigned(Protocol):
    """Anything that knows a client's relationship manager and team."""

    @property
    def relationship_manager(self) -> str: ...

    @property
    def team(self) -> str: ...


def can_see(principal: Principal, client: Assigned) -> bool:
    """Return True if the caller may see this client (the runtime's one ownership rule)."""
    return ownership.owns(principal, client.relationship_manager, client.team)


def visible_clause(principal: Principal) -> ColumnElement[bool] | None:
    """Return a WHERE clause restricting clients to the caller's, or None for all."""
    return ownership.visible_clause(
        principal, col(ClientRow.relationship_manager), col(ClientRow.team)
    )


def denied() -> PermissionDenied:
    """Return the one error used for invisible and nonexistent clients alike."""
    return PermissionDenied("the caller may not access this client", reason="CLIENT_ACCESS_DENIED")


def unmasks_for_delivery(principal: Principal, reason: str) -> bool:
    """Return True for a system asking for a mobile number to deliver a notification."""
    return principal.has(Role.SYSTEM) and reason.strip() == DELIVERY_UNMASK_REASON


# Credit groups: recorded by whoever records client data, plus risk officers (group master
# data often comes from the credit review).
GROUP_ROLES = (*UPDATE_ROLES, Role.RISK_OFFICER)


def group_denied() -> PermissionDenied:
    """Return the one error for a group the caller may not see and one that does not exist."""
    return PermissionDenied("the caller may not access this group", reason="GROUP_ACCESS_DENIED")
