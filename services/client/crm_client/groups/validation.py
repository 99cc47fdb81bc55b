"""Edge checks of group, membership and guarantee requests (before any store access)."""

from __future__ import annotations

import math
import re

from crm.client.v1 import client_service_pb2
from crm_client.groups.mapping import CONTROL, GUARANTEE_TYPE
from crm_client.validation import check_money, to_date
from crm_runtime import names
from crm_runtime.validation import Violations

GROUP_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FACILITY_RE = re.compile(r"^clients/[^/]+/facilities/[^/]+$")


def check_group(request: client_service_pb2.CreateGroupRequest) -> str:
    """Check a CreateGroup request; return the parent group's id ("" for none)."""
    v = Violations()
    v.text("group.display_name", request.group.display_name, required=True, limit=200)
    if request.group_id and (
        not GROUP_ID_RE.match(request.group_id) or not 3 <= len(request.group_id) <= 63
    ):
        v.add("group_id", "must be 3-63 lower-case letters, digits and hyphens")
    v.raise_if_any()
    if not request.group.parent_group:
        return ""
    return names.parse(request.group, "parent_group", path="group.parent_group")["group"]


def check_member(request: client_service_pb2.CreateGroupMemberRequest) -> str:
    """Check a CreateGroupMember request; return the member client's id."""
    m = request.member
    v = Violations()
    if m.control_type not in CONTROL:
        v.add("member.control_type", "is required")
    if not math.isfinite(m.share_percent) or not 0.0 <= m.share_percent <= 100.0:
        v.add("member.share_percent", "must be between 0 and 100")
    if to_date(m.valid_from) is None:
        v.add("member.valid_from", "is required")
    if not m.client:
        v.add("member.client", "is required")
    v.raise_if_any()
    return names.parse(m, "client", path="member.client")["client"]


def check_guarantee(request: client_service_pb2.CreateGuaranteeRequest) -> str:
    """Check a CreateGuarantee request; return the beneficiary client's id."""
    g = request.guarantee
    v = Violations()
    if g.guarantee_type not in GUARANTEE_TYPE:
        v.add("guarantee.guarantee_type", "is required")
    check_money(v, "guarantee.amount", g.amount, required=True)
    if g.HasField("amount") and g.amount.units == 0 and g.amount.nanos == 0:
        v.add("guarantee.amount", "must be positive")
    if g.facility and not FACILITY_RE.match(g.facility):
        v.add("guarantee.facility", "must be clients/{client}/facilities/{facility}")
    if to_date(g.valid_from) is None:
        v.add("guarantee.valid_from", "is required")
    if not g.beneficiary:
        v.add("guarantee.beneficiary", "is required")
    v.raise_if_any()
    return names.parse(g, "beneficiary", path="guarantee.beneficiary")["client"]
