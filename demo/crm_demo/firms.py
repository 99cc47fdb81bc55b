"""Draw firm-level facts: ownership, founding date, registration category and groups.

Ownership follows the sector: energy, construction and mining lean state-owned; the
rest of the book is mostly private, with some mixed, foreign-invested and collective
firms, for about 20% state-owned overall. About 15% of clients belong to a group of two
to six members that share a brand, an ownership type and (for non-state groups) an
actual controller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from crm.client.v1 import client_pb2
from crm_client.domain.size_class import SizeClassName
from crm_demo.behaviours import Behaviour
from crm_demo.financials import weighted_choice
from crm_demo.identity import FirmIdentities
from crm_demo.people import years_before
from crm_demo.reference import DEFAULT_STATE_OWNED_SHARE, STATE_OWNED_SHARE

STATE_OWNED: Final = client_pb2.OWNERSHIP_TYPE_STATE_OWNED
PRIVATE: Final = client_pb2.OWNERSHIP_TYPE_PRIVATE
MIXED: Final = client_pb2.OWNERSHIP_TYPE_MIXED
FOREIGN: Final = client_pb2.OWNERSHIP_TYPE_FOREIGN
COLLECTIVE: Final = client_pb2.OWNERSHIP_TYPE_COLLECTIVE

# Mix of the firms that are not state-owned.
_NON_STATE_MIX: Final[tuple[tuple[client_pb2.OwnershipType, float], ...]] = (
    (PRIVATE, 75.0), (MIXED, 12.0), (FOREIGN, 7.0), (COLLECTIVE, 6.0),
)  # fmt: skip
# Project companies are set up by utilities and local governments, with some private sponsors.
_PROJECT_FINANCE_MIX: Final[tuple[tuple[client_pb2.OwnershipType, float], ...]] = (
    (STATE_OWNED, 50.0), (MIXED, 30.0), (PRIVATE, 20.0),
)  # fmt: skip
_GROUP_MIX: Final[tuple[tuple[client_pb2.OwnershipType, float], ...]] = (
    (STATE_OWNED, 20.0), (PRIVATE, 63.0), (MIXED, 12.0), (FOREIGN, 5.0),
)  # fmt: skip

GROUP_SHARE: Final = 0.15
GROUP_SIZES: Final = (2, 6)
EARLIEST_FOUNDING: Final = date(1985, 1, 1)
_TYPICAL_FOUNDING: Final = date(2012, 1, 1)  # the book's founding years peak around here
_YOUNG_MIN_AGE_DAYS: Final = 200  # young firms have at least two activity periods of history


@dataclass
class GroupPlan:
    """A corporate group: its resource name, shared brand, ownership and controller."""

    name: str
    brand: str
    ownership: client_pb2.OwnershipType
    members: list[int]


def draw_ownership(
    rng: random.Random, *, section: str, project_finance: bool
) -> client_pb2.OwnershipType:
    """Return an OwnershipType value for a firm in ``section``."""
    if project_finance:
        return weighted_choice(rng, _PROJECT_FINANCE_MIX)
    if rng.random() < STATE_OWNED_SHARE.get(section, DEFAULT_STATE_OWNED_SHARE):
        return STATE_OWNED
    return weighted_choice(rng, _NON_STATE_MIX)


def registration_prefix(
    rng: random.Random, *, section: str, division: str, size_class: SizeClassName, grouped: bool
) -> str:
    """Return positions 1-2 of the credit code: 91 for companies, a few 92 and 93."""
    if grouped or size_class not in ("micro", "small"):
        return "91"
    if section == "A" and rng.random() < 0.5:
        return "93"  # farmers' cooperative
    if size_class == "micro" and (division == "52" or section == "H") and rng.random() < 0.35:
        return "92"  # individual business: a shop or a restaurant
    return "91"


def founding_date(rng: random.Random, *, behaviour: Behaviour, as_of: date) -> date:
    """Return a founding date fitting the archetype; young firms are under three years old."""
    # Founding years stop at the year before the as-of date: this year's registrations
    # have no full year of figures yet.
    latest = min(as_of - timedelta(days=_YOUNG_MIN_AGE_DAYS), date(as_of.year - 1, 12, 31))
    three_years_ago = years_before(as_of, 3)
    if behaviour == "young":
        low = three_years_ago + timedelta(days=30)
    elif behaviour == "project_finance":
        low = years_before(as_of, 9)
        latest = min(latest, as_of - timedelta(days=365))
    else:
        low = EARLIEST_FOUNDING
        latest = three_years_ago - timedelta(days=30)
    mode = min(max(_TYPICAL_FOUNDING, low), latest)
    if behaviour in {"young", "project_finance"}:
        mode = latest  # project companies and start-ups are mostly recent
    ordinal = rng.triangular(low.toordinal(), latest.toordinal(), mode.toordinal())
    return date.fromordinal(round(ordinal))


def plan_groups(
    rng: random.Random, identities: FirmIdentities, n_clients: int
) -> dict[int, GroupPlan]:
    """Return the group of each grouped client index; about 15% of clients are grouped."""
    target = round(n_clients * GROUP_SHARE)
    sizes: list[int] = []
    while sum(sizes) < target:
        remaining = target - sum(sizes)
        if remaining < GROUP_SIZES[0]:
            break
        sizes.append(min(rng.randint(*GROUP_SIZES), remaining))
    chosen = rng.sample(range(n_clients), sum(sizes))
    plans: dict[int, GroupPlan] = {}
    slugs: set[str] = set()
    start = 0
    for size in sizes:
        brand, pinyin = identities.brand()
        slug = f"{pinyin}-group"
        suffix = 2
        while slug in slugs:
            slug, suffix = f"{pinyin}-group-{suffix}", suffix + 1
        slugs.add(slug)
        members = sorted(chosen[start : start + size])
        start += size
        plan = GroupPlan(f"groups/{slug}", brand, weighted_choice(rng, _GROUP_MIX), members)
        plans.update(dict.fromkeys(members, plan))
    return plans
