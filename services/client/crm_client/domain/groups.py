"""Rules of credit groups and guarantees between clients (pure: no store).

- A group's parent chain may not lead back to the group (a group cannot be its own ancestor).
- One client's shares across the groups it is a current member of add up to 100 % at most.
- A client cannot guarantee itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_SHARE_PERCENT = 100.0
# Parent chains deeper than this are refused (a real group tree is a handful of levels).
MAX_GROUP_DEPTH = 16


def ancestry_problem(group_id: str, parent_id: str, parents: Mapping[str, str]) -> str:
    """Return why `parent_id` cannot be `group_id`'s parent ("" when it can).

    `parents` maps each known group to its parent ("" for top-level groups).
    """
    if not parent_id:
        return ""
    if parent_id not in parents:
        return "the parent group does not exist"
    seen = {group_id}
    current = parent_id
    for _ in range(MAX_GROUP_DEPTH):
        if current in seen:
            return "a group cannot be its own ancestor"
        if not current:
            return ""
        seen.add(current)
        current = parents.get(current, "")
    return f"the group tree may be at most {MAX_GROUP_DEPTH} levels deep"


def share_problem(current_shares: Iterable[float], new_share: float) -> str:
    """Return why a new membership's share is refused given the client's current ones."""
    if not 0.0 <= new_share <= MAX_SHARE_PERCENT:
        return "must be between 0 and 100"
    total = sum(current_shares) + new_share
    # Shares arrive as decimals from registration data; a rounding hair is not a breach.
    if total > MAX_SHARE_PERCENT + 1e-9:
        return f"the client's shares across groups would total {total:.2f} % (at most 100 %)"
    return ""


def guarantee_problem(guarantor: str, beneficiary: str) -> str:
    """Return why a guarantee between these clients is refused ("" when it is fine)."""
    if guarantor == beneficiary:
        return "a client cannot guarantee itself"
    return ""
