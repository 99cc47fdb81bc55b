"""Who may do what: method-level roles and the recipient rule for personal inboxes.

Bank systems (SYSTEM) and operations staff act for any recipient. A person acts only for
themselves: their own push stream, acknowledgements, preferences and task inbox. Callers that
may not act for a recipient get the same PERMISSION_DENIED whether or not it exists.
"""

from __future__ import annotations

from crm_runtime.auth import Principal, Role
from crm_runtime.errors import PermissionDenied

TEMPLATE_ADMIN_ROLES = (Role.OPS, Role.SYSTEM)
SEND_ROLES = (Role.SYSTEM, Role.OPS)
CAMPAIGN_ROLES = (Role.OPS, Role.SYSTEM)
TOPIC_ADMIN_ROLES = (Role.OPS, Role.SYSTEM)
# Roles that act for every recipient.
ANY_RECIPIENT_ROLES = (Role.SYSTEM, Role.OPS)
# Roles that may read every message, task and alert (but not act for recipients).
READ_ALL_ROLES = (Role.SYSTEM, Role.OPS, Role.AUDITOR)
# Alerts: the owner, and these roles for any alert.
ALERT_SUPERVISOR_ROLES = (Role.TEAM_LEAD, Role.RISK_OFFICER, Role.SYSTEM, Role.OPS)


def may_act_for(principal: Principal, recipient: str) -> bool:
    """Return True if the caller may act for `recipient`."""
    return principal.has(*ANY_RECIPIENT_ROLES) or principal.subject == recipient


def may_read(principal: Principal, recipient: str) -> bool:
    """Return True if the caller may read `recipient`'s messages and tasks."""
    return principal.has(*READ_ALL_ROLES) or principal.subject == recipient


def recipient_denied() -> PermissionDenied:
    """Return the one error for recipients the caller may not act for."""
    return PermissionDenied(
        "the caller may not act for this recipient", reason="RECIPIENT_ACCESS_DENIED"
    )


def require_act_for(principal: Principal, recipient: str) -> None:
    """Raise PERMISSION_DENIED unless the caller may act for `recipient`."""
    if not may_act_for(principal, recipient):
        raise recipient_denied()
