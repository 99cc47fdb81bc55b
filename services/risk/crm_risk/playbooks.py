"""Warning playbooks and SLA clocks by level (DOMAIN §7).

SLA days are working days in Beijing time (weekends skipped; public holidays are not known
here, so the clock is slightly strict around them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from crm_risk.levels import LEVEL_RANK

BEIJING: Final = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Playbook:
    """What a level requires and how long the owner has."""

    level: str
    response_working_days: int
    actions: tuple[str, ...]


PLAYBOOKS: Final[dict[str, Playbook]] = {
    "red": Playbook("red", 3, (
        "freeze the unused limit (冻结额度) and stop drawdowns",
        "demand additional collateral",
        "prepare early recall of the loan (提前收回) and litigation preservation (诉讼保全)",
        "downgrade the five-category class and the rating",
        "move the client to the risk-asset workflow",
    )),
    "orange": Playbook("orange", 5, (
        "reduce or exit the limit (压缩退出)",
        "check the client monthly",
        "obtain extra guarantees",
        "escalate to senior credit review",
    )),
    "yellow": Playbook("yellow", 10, (
        "verify the signal with the client",
        "raise the post-loan check frequency",
        "put the client on the watch-list (关注名单)",
    )),
    "blue": Playbook("blue", 10, (
        "business unit confirms the signal",
        "log the outcome and close with evidence",
    )),
}


def add_working_days(start: datetime, days: int) -> datetime:
    """Return `start` moved forward by `days` Beijing working days (Mon-Fri)."""
    local = start.astimezone(BEIJING)
    moved = 0
    while moved < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            moved += 1
    return local.astimezone(start.tzinfo)


def sla_due(level: str, raised: datetime) -> datetime:
    """Return when a warning of `level` raised at `raised` must be handled by."""
    return add_working_days(raised, PLAYBOOKS[level].response_working_days)


def worse(first: str, second: str) -> str:
    """Return the higher of two levels."""
    return first if LEVEL_RANK[first] >= LEVEL_RANK[second] else second
