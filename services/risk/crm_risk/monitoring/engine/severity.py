"""A warning's level from what is at stake: traced loan money as a share of the facility.

RED is reserved for what would justify the red playbook (freeze the undrawn limit, recall
early): a material share of a facility traced into a prohibited use, or corroborated by a
second pattern on the same facility. Small or weakly linked amounts stay yellow.
"""

from __future__ import annotations

from crm_risk.levels import LEVEL_RANK, up


def graded(
    *, at_stake: float, facility_amount: float, red_from: float, orange_from: float,
    ceiling: str, corroborated: bool = False,
) -> str:
    """Return the level of a hit with ``at_stake`` loan money of a facility of that amount.

    The share of the facility picks yellow, orange (``orange_from``) or red (``red_from``),
    never above ``ceiling``; a hit corroborated by another rule on the same facility goes one
    level up, and may then exceed the ceiling by one.
    """
    share = at_stake / facility_amount if facility_amount > 0 else 1.0
    level = "red" if share >= red_from else "orange" if share >= orange_from else "yellow"
    cap = ceiling
    if corroborated:
        level, cap = up(level), up(ceiling)
    return level if LEVEL_RANK[level] <= LEVEL_RANK[cap] else cap
