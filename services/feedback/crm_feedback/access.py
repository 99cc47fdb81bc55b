"""Who may do what in the feedback service.

Relationship managers and team leads see only what concerns their own clients (the RM and
team recorded on the dispatch, facility or warning); portfolio-wide roles see everything.
Records that a caller may not see are reported as PERMISSION_DENIED whether or not they
exist, so errors do not reveal which facilities the bank finances. The ownership rule itself
is the runtime's one (`crm_runtime.ownership`); this module keeps the roles and the error.
"""

from __future__ import annotations

from crm_runtime.auth import Role
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


def denied(what: str = "record") -> PermissionDenied:
    """Return the one error used for invisible and nonexistent records alike."""
    return PermissionDenied(f"the caller may not access this {what}", reason="ACCESS_DENIED")
