"""A credit group's exposure against the single-group limit (pure).

The rule (see docs/GROUPS.md): a group's exposure is the committed exposure of its current
members, members of its descendant groups included, plus the amounts those members guarantee
for clients outside the group. A guarantee between two members is not added: the guaranteed
facility already counts as a member's exposure. The limit is 15 % of net capital by default
(集团客户授信业务风险管理指引 Art. 12, DOMAIN §5), measured like the single-client limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from crm_risk.concentration.model import Limits, Usage, usage

REASON = "GROUP_LIMIT_BREACH"


@dataclass(frozen=True)
class Guarantee:
    """A current guarantee: who guarantees whom, for how much (CNY)."""

    guarantor: str
    beneficiary: str
    amount: Decimal


@dataclass(frozen=True)
class GroupExposure:
    """One group's exposure, its parts and its use of the group limit."""

    group: str
    members: tuple[str, ...]
    member_exposure: Decimal
    guaranteed_exposure: Decimal
    use: Usage

    @property
    def exposure(self) -> Decimal:
        """Return member plus guaranteed exposure."""
        return self.member_exposure + self.guaranteed_exposure


def members_with_descendants(
    parents: Mapping[str, str], members: Mapping[str, Iterable[str]]
) -> dict[str, set[str]]:
    """Return each group's members together with those of every group below it."""
    found: dict[str, set[str]] = {g: set(members.get(g, ())) for g in {*parents, *members}}
    for group in list(found):
        seen = {group}
        parent = parents.get(group, "")
        while parent and parent not in seen:  # The client service refuses loops; be safe.
            seen.add(parent)
            found.setdefault(parent, set()).update(members.get(group, ()))
            parent = parents.get(parent, "")
    return found


def group_exposures(
    groups: Mapping[str, set[str]],
    client_exposure: Mapping[str, Decimal],
    guarantees: Iterable[Guarantee],
    limits: Limits,
    *,
    extra: Mapping[str, Decimal] | None = None,
) -> list[GroupExposure]:
    """Return every group's exposure and limit use, largest first.

    `extra` adds proposed amounts per client (the what-if of a new facility).
    """
    listed = list(guarantees)
    extra = extra or {}
    found = []
    for group, members in groups.items():
        if not members:
            continue
        own = sum((client_exposure.get(c, Decimal(0)) + extra.get(c, Decimal(0))
                   for c in members), Decimal(0))
        guaranteed = sum((g.amount for g in listed
                          if g.guarantor in members and g.beneficiary not in members),
                         Decimal(0))
        total = own + guaranteed
        found.append(GroupExposure(
            group=group, members=tuple(sorted(members)), member_exposure=own,
            guaranteed_exposure=guaranteed,
            use=usage("group", group, total, total, limits),
        ))
    return sorted(found, key=lambda e: (-e.exposure, e.group))
